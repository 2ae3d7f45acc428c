//! Speech segments from a chain's VAD flags, inside the chain.
//!
//! The rules are those of the Python `SegmentTracker`
//! (`src/remotemedia/kernels/vad_segments.py`, whose module docstring
//! states them), frame by frame, on the integer settings it derives from
//! the node's durations ([`SegmentParams`]): the same flags give the same
//! events at the same samples. A stream whose chain ends in a VAD gets its
//! start and end events from the one native call per chunk, so the Python
//! side only turns the (rare) events into objects.

use crate::error::{Error, Result};

/// The tracker's settings in samples and frames, as the Python tracker
/// computes them (`SegmentTracker.params()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentParams {
    /// Input samples per flag.
    pub frame_length: i64,
    /// Pre-roll before the first speech frame (samples).
    pub padding: i64,
    /// Added after the last speech frame (samples).
    pub hangover: i64,
    /// Speech frames a candidate needs to become a segment.
    pub min_speech: i64,
    /// Silent frames that close a segment.
    pub close_after: i64,
    /// Longest segment (samples); None: no limit.
    pub max_len: Option<i64>,
    /// Join neighbours while the joined span is at most this (samples).
    pub merge_len: Option<i64>,
}

impl SegmentParams {
    /// The seven integers of `rm_chain_set_segments` (a negative limit: none).
    pub fn from_array(p: &[i64]) -> Result<SegmentParams> {
        let [frame_length, padding, hangover, min_speech, close_after, max_len, merge_len] = p else {
            return Err(Error::InvalidArgument(format!(
                "segment settings: 7 values expected, got {}",
                p.len()
            )));
        };
        let limit = |v: i64| (v >= 0).then_some(v);
        let s = SegmentParams {
            frame_length: *frame_length,
            padding: *padding,
            hangover: *hangover,
            min_speech: *min_speech,
            close_after: *close_after,
            max_len: limit(*max_len),
            merge_len: limit(*merge_len),
        };
        let positive = s.frame_length >= 1 && s.min_speech >= 1 && s.close_after >= 1;
        let limits = s.max_len.map_or(true, |v| v >= 1) && s.merge_len.map_or(true, |v| v >= 1);
        if !positive || s.padding < 0 || s.hangover < 0 || !limits {
            return Err(Error::InvalidArgument(format!(
                "segment settings out of range: {s:?} (frame length, minimum speech and the closing \
                 silence must be >= 1, padding and hangover >= 0, limits >= 1 or none)"
            )));
        }
        Ok(s)
    }
}

/// A segment boundary: `start` (else an end) at `sample` of the VAD's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub start: bool,
    pub sample: i64,
}

/// The incremental segmenter (Python `SegmentTracker`, frame by frame).
pub struct Segments {
    p: SegmentParams,
    frame: i64,
    last_end: i64,
    open_start: Option<i64>,
    cand_start: Option<i64>,
    cand_speech: i64,
    last_speech_end: i64,
    silence: i64,
    pauses: Vec<(i64, i64)>,
    group_start: Option<i64>,
    group_end: Option<i64>,
    next_start: Option<i64>,
    /// Samples the VAD has received (the end of the input at `finish`).
    received: i64,
    /// Events not taken yet.
    events: Vec<Event>,
}

impl Segments {
    pub fn new(p: SegmentParams) -> Segments {
        Segments {
            p,
            frame: 0,
            last_end: 0,
            open_start: None,
            cand_start: None,
            cand_speech: 0,
            last_speech_end: 0,
            silence: 0,
            pauses: Vec::new(),
            group_start: None,
            group_end: None,
            next_start: None,
            received: 0,
            events: Vec::new(),
        }
    }

    pub fn params(&self) -> SegmentParams {
        self.p
    }

    /// A new stream: every state forgotten, pending events dropped.
    pub fn reset(&mut self) {
        *self = Segments::new(self.p);
    }

    /// The stream state back to a new stream's, keeping pending events
    /// (what `finish` decided waits to be taken).
    fn restart(&mut self) {
        let events = std::mem::take(&mut self.events);
        self.reset();
        self.events = events;
    }

    /// Events decided so far and not taken yet.
    pub fn pending(&self) -> usize {
        self.events.len()
    }

    /// Moves up to `out.len()` pending events into `out`, oldest first;
    /// returns how many.
    pub fn take(&mut self, out: &mut [Event]) -> usize {
        let k = out.len().min(self.events.len());
        out[..k].copy_from_slice(&self.events[..k]);
        self.events.drain(..k);
        k
    }

    /// `samples` more input samples reached the VAD, which gave `flags`.
    pub fn push(&mut self, samples: usize, flags: &[u8]) {
        self.received += samples as i64;
        for &f in flags {
            self.push_one(f != 0);
        }
    }

    fn push_one(&mut self, speech: bool) {
        let n = self.p.frame_length;
        let a = self.frame * n;
        let b = a + n;
        self.frame += 1;
        if speech {
            if self.open_start.is_some() && self.silence > 0 && self.p.max_len.is_some() {
                self.pauses.push((self.last_speech_end, a));
            }
            self.silence = 0;
            self.last_speech_end = b;
            if self.open_start.is_none() {
                let cand = *self.cand_start.get_or_insert_with(|| {
                    self.cand_speech = 0;
                    a
                });
                self.cand_speech += 1;
                if self.cand_speech >= self.p.min_speech {
                    let start = (cand - self.p.padding).max(self.last_end).max(0);
                    self.open_start = Some(start);
                    self.cand_start = None;
                    self.raw_start(start);
                }
            }
            if self.p.max_len.is_some() && self.open_start.is_some() {
                self.enforce_max(b);
            }
        } else {
            self.silence += 1;
            if self.open_start.is_some() && self.silence >= self.p.close_after {
                self.close(self.last_speech_end + self.p.hangover);
            } else if self.open_start.is_none() && self.cand_start.is_some() && self.silence >= self.p.close_after {
                self.cand_start = None; // too little speech: dropped
            }
        }
        if self.p.merge_len.is_some() {
            self.group_overflow(b);
        }
    }

    /// End of input: closes an open segment (at most at the samples
    /// received), emits a joined group's end, then starts over for a new
    /// stream (the events stay pending).
    pub fn finish(&mut self) {
        if let Some(open) = self.open_start {
            let end = (self.last_speech_end + self.p.hangover).min(self.received);
            self.close(end.max(open));
        }
        self.cand_start = None;
        if self.group_start.is_some() {
            if let Some(end) = self.group_end {
                self.events.push(Event {
                    start: false,
                    sample: end,
                });
            }
            self.group_start = None;
            self.group_end = None;
        }
        self.restart();
    }

    fn close(&mut self, mut end: i64) {
        let Some(open) = self.open_start else { return };
        if let Some(m) = self.p.max_len {
            end = end.min(open + m);
        }
        self.raw_end(end);
        self.last_end = end;
        self.open_start = None;
        self.pauses.clear();
    }

    /// Where to cut the open segment so that its first piece ends by `limit`.
    fn cut_point(&self, open: i64, limit: i64) -> i64 {
        let (mut best, mut best_len) = (limit, 0);
        for &(p0, p1) in &self.pauses {
            let cut = ((p0 + p1).div_euclid(2)).min(limit);
            if p0 <= cut && cut > open && p1 - p0 >= best_len {
                (best, best_len) = (cut, p1 - p0);
            }
        }
        best
    }

    /// A speech frame ends at `b`: cut the open segment until no piece passes the limit.
    fn enforce_max(&mut self, b: i64) {
        let Some(max_len) = self.p.max_len else { return };
        while let Some(open) = self.open_start {
            if b - open <= max_len {
                break;
            }
            let cut = self.cut_point(open, open + max_len);
            self.raw_end(cut);
            self.raw_start(cut);
            self.open_start = Some(cut);
            self.pauses.retain(|p| p.0 >= cut);
        }
    }

    fn raw_start(&mut self, sample: i64) {
        if self.p.merge_len.is_none() {
            self.events.push(Event { start: true, sample });
        } else if self.group_start.is_none() {
            self.group_start = Some(sample);
            self.group_end = None;
            self.events.push(Event { start: true, sample });
        } else {
            self.next_start = Some(sample);
        }
    }

    fn raw_end(&mut self, sample: i64) {
        let Some(merge) = self.p.merge_len else {
            self.events.push(Event { start: false, sample });
            return;
        };
        if let (Some(_), Some(group)) = (self.next_start, self.group_start) {
            if sample - group <= merge {
                self.next_start = None; // the part fits: joined
            } else {
                self.split_group();
            }
        }
        self.group_end = Some(sample);
    }

    /// Close the group at its last part; the pending part starts a new group.
    fn split_group(&mut self) {
        if let (Some(end), Some(next)) = (self.group_end, self.next_start) {
            self.events.push(Event {
                start: false,
                sample: end,
            });
            self.events.push(Event {
                start: true,
                sample: next,
            });
            self.group_start = Some(next);
            self.group_end = None;
            self.next_start = None;
        }
    }

    /// After the frame ending at `b`: close a group that nothing more can join.
    fn group_overflow(&mut self, b: i64) {
        let (Some(limit), Some(group), Some(end)) = (self.p.merge_len, self.group_start, self.group_end) else {
            return;
        };
        if b - group <= limit {
            return;
        }
        if self.next_start.is_some() {
            // The open part ends at its hangover's end or later, unless a
            // maximum length may cut it earlier: then wait for its end.
            if self.p.max_len.is_none() && (self.last_speech_end + self.p.hangover).min(b) - group > limit {
                self.split_group();
            }
        } else if self.open_start.is_none() {
            self.events.push(Event {
                start: false,
                sample: end,
            }); // any later part ends after b
            self.group_start = None;
            self.group_end = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(max_len: Option<i64>, merge_len: Option<i64>) -> SegmentParams {
        SegmentParams {
            frame_length: 480,
            padding: 960,
            hangover: 960,
            min_speech: 3,
            close_after: 10,
            max_len,
            merge_len,
        }
    }

    fn all(s: &mut Segments) -> Vec<(bool, i64)> {
        let mut out = vec![
            Event {
                start: false,
                sample: 0
            };
            s.pending()
        ];
        let k = s.take(&mut out);
        out[..k].iter().map(|e| (e.start, e.sample)).collect()
    }

    #[test]
    fn one_segment_with_padding_and_hangover() {
        let mut s = Segments::new(params(None, None));
        let mut flags = vec![0u8; 20];
        flags.extend([1u8; 5]);
        flags.extend([0u8; 20]);
        s.push(flags.len() * 480, &flags);
        // First speech frame 20 (sample 9600) minus 960; last speech sample 25 * 480 plus 960.
        assert_eq!(all(&mut s), vec![(true, 9600 - 960), (false, 25 * 480 + 960)]);
    }

    #[test]
    fn too_short_speech_is_dropped_and_finish_clips_to_the_input() {
        let mut s = Segments::new(params(None, None));
        s.push(15 * 480, &[0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(s.pending(), 0);
        s.push(4 * 480, &[1, 1, 1, 1]);
        s.finish();
        let ev = all(&mut s);
        assert_eq!(ev, vec![(true, 15 * 480 - 960), (false, 19 * 480)]);
        // finish started a new stream: frame 0 again.
        s.push(480, &[1]);
        assert_eq!(s.frame, 1);
    }

    #[test]
    fn long_speech_is_cut_at_the_limit_or_in_a_pause() {
        let mut s = Segments::new(params(Some(480 * 20), None));
        let mut flags = vec![1u8; 8];
        flags.extend([0u8; 4]); // a pause (bridged: shorter than close_after)
        flags.extend([1u8; 30]);
        s.push(flags.len() * 480, &flags);
        let ev = all(&mut s);
        // The first cut falls in the middle of the pause (frames 8..12).
        assert_eq!(ev[0], (true, 0));
        assert_eq!(ev[1], (false, 10 * 480));
        assert_eq!(ev[2], (true, 10 * 480));
        // Later pieces have no pause: hard cuts every 20 frames.
        assert_eq!(ev[3], (false, 30 * 480));
        assert_eq!(ev[4], (true, 30 * 480));
    }

    #[test]
    fn merged_neighbours_end_once_the_next_part_cannot_fit() {
        let mut s = Segments::new(params(None, Some(480 * 30)));
        let mut flags = Vec::new();
        for _ in 0..3 {
            flags.extend([1u8; 5]);
            flags.extend([0u8; 15]);
        }
        flags.extend([0u8; 40]);
        s.push(flags.len() * 480, &flags);
        let ev = all(&mut s);
        // Parts at frames 0, 20, 40: the first two fit in 30 frames, the third does not.
        assert_eq!(ev[0], (true, 0));
        assert_eq!(ev[1], (false, 25 * 480 + 960));
        assert_eq!(ev[2], (true, 40 * 480 - 960));
        assert_eq!(ev[3], (false, 45 * 480 + 960));
        assert_eq!(ev.len(), 4);
    }

    #[test]
    fn settings_are_checked() {
        assert!(SegmentParams::from_array(&[480, 960, 960, 3, 10, -1, -1]).is_ok());
        assert!(SegmentParams::from_array(&[480, 960, 960, 0, 10, -1, -1]).is_err());
        assert!(SegmentParams::from_array(&[480, -1, 960, 3, 10, -1, -1]).is_err());
        assert!(SegmentParams::from_array(&[480, 960, 960, 3]).is_err());
    }
}
