//! Native chains: a run of pipeline stages compiled into one object.
//!
//! A pipeline's consecutive native nodes (PCM convert, downmix, resample,
//! VAD) become one [`Chain`]: it owns every stage's state and its
//! buffers, and a call pushes a block through all stages. Work is done in
//! blocks of [`BLOCK`] input frames so intermediate data stays in cache;
//! the last stage that produces audio writes straight into the caller's
//! output. `FormatConverterNode("f32")` followed by `DownmixNode` is fused
//! into one pass. Each stage's time is accumulated for the metrics.
//!
//! The result is the per-node path's, bit for bit: every stage uses the
//! same kernel and arithmetic, and the resampler and VAD are chunking
//! invariant. A VAD stage ends a chain (its flags leave with the audio).
//! With [`Chain::set_segments`] the chain also turns those flags into
//! speech start and end events ([`segments`]), so a stream gets them from
//! the same call.

mod ops;
mod segments;

pub use ops::Fmt;
use ops::{Plane, PlaneMut, Store, View, ViewMut};
pub use segments::{Event as SegmentEvent, SegmentParams, Segments};

use crate::error::{Error, Result};
use crate::resample::{Quality, Resampler, MAX_CHANNELS};
use crate::vad::Vad;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex, OnceLock, TryLockError};
use std::time::Instant;

/// Input frames per block of work.
pub const BLOCK: usize = 4096;

/// Input frames per block of a lane (a one-channel chain of a big
/// buffer's per-channel prefix): four blocks in one, so the resampler
/// takes pieces of `EXACT_PIECE` frames (resample/exact.rs; a
/// fixed cost per piece and stage, and a clock reading per stage and
/// block, paid a quarter as often); the conversion's buffer (64 KiB of
/// float32) stays in the level-2 cache. The bits do not depend on it.
pub const LANE_BLOCK: usize = 4 * BLOCK;

/// Blocks from this many frames (whole buffers, or a stream's blocks
/// once its first one was this big) run their per-channel stages (the
/// resampler, conversions) on lanes shared among threads; smaller ones
/// (real-time frames) stay on the calling thread. At 32768 frames two
/// threads took 0.84x the one-thread wall time on a lightly loaded 2-core
/// VM (benchmarks/threads.py).
pub const PARALLEL_MIN: usize = 8 * BLOCK;

/// Input frames per piece a channel thread hands to the VAD of a
/// parallel run (the VAD works on piece `k` while the threads make `k + 1`).
pub const SEGMENT: usize = 8 * BLOCK;

/// What a stage does, as a pipeline node describes it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Spec {
    /// PCM conversion to `I16`, `I32` or `F32`.
    Convert(Fmt),
    /// Channel mean (`DownmixNode`).
    Downmix,
    /// Sample-rate conversion to `rate` Hz.
    Resample { rate: u32, quality: Quality },
    /// Voice activity flags (the audio passes through).
    Vad { frame_ms: u32, aggressiveness: u32 },
}

enum Op {
    /// Nothing to do for this input (same format, already mono, same rate).
    Noop,
    Convert(Fmt),
    /// Convert to float32 and downmix in one pass.
    ConvertMix,
    Downmix,
    Resample(Box<Resampler>),
    Vad(Box<Vad>),
}

struct Stage {
    op: Op,
    /// Test hook: panic in this stage on the next call.
    fail: bool,
}

/// Where the data between two stages lives.
#[derive(Clone, Copy, PartialEq)]
enum Loc {
    Input,
    Buf(usize),
    Out,
}

/// A compiled chain for one input format.
pub struct Chain {
    stages: Vec<Stage>,
    /// Format, channels and rate after each stage (index 0: the input).
    fmts: Vec<Fmt>,
    chans: Vec<usize>,
    rates: Vec<u32>,
    /// The last stage that writes audio (None: the output is the input).
    writer: Option<usize>,
    specs: Vec<Spec>,
    /// One-channel chains of the per-channel prefix, for parallel runs.
    lanes: Vec<Chain>,
    bufs: [Store; 2],
    conv: Store,
    mix: Vec<f64>,
    times: Vec<u64>,
    /// `flush` output waiting for `take`: rows in float64 (exact for
    /// every format), and flags.
    tail: Vec<Vec<f64>>,
    tail_flags: Vec<u8>,
    flush_buf: Vec<f32>,
    /// Speech segments of a stream's VAD flags (off unless set).
    segments: Option<Segments>,
    /// Stage times are measured (see [`Chain::set_timing`]).
    timing: bool,
    /// Threads for the per-channel prefix of a big block (0: one per
    /// channel, up to the cores this process may use); see [`Chain::set_threads`].
    threads: usize,
    /// `Some(p)` while a stream's per-channel prefix `..p` keeps its state
    /// in `lanes` (chosen by the stream's first block, kept until `flush`
    /// or `reset`).
    lane_stream: Option<usize>,
    /// No block since `new`, `reset` or `flush`: the next block may choose the lanes.
    fresh: bool,
    /// Input frames per block of `process` ([`BLOCK`]; a lane's [`LANE_BLOCK`]).
    block: usize,
}

impl Chain {
    /// Compiles `specs` for input of `fmt`, `channels` and `rate`.
    pub fn new(fmt: Fmt, channels: usize, rate: u32, specs: &[Spec]) -> Result<Chain> {
        if channels == 0 || channels > MAX_CHANNELS {
            return Err(Error::InvalidArgument(format!(
                "channels must be 1..{MAX_CHANNELS}, got {channels}"
            )));
        }
        let (mut f, mut ch, mut r) = (fmt, channels, rate);
        let mut stages: Vec<Stage> = Vec::with_capacity(specs.len());
        let (mut fmts, mut chans, mut rates) = (vec![f], vec![ch], vec![r]);
        for (i, spec) in specs.iter().enumerate() {
            if matches!(stages.last(), Some(Stage { op: Op::Vad(_), .. })) {
                return Err(Error::InvalidArgument(format!(
                    "stage {i}: a VAD stage must end the chain"
                )));
            }
            let op = match *spec {
                Spec::Convert(Fmt::F64) => {
                    return Err(Error::InvalidArgument(format!(
                        "stage {i}: convert targets are int16, int32 and float32"
                    )))
                }
                Spec::Convert(to) if to == f => Op::Noop,
                Spec::Convert(to) => {
                    f = to;
                    Op::Convert(to)
                }
                Spec::Downmix if ch == 1 => Op::Noop,
                Spec::Downmix => {
                    ch = 1;
                    // Fuse with a conversion to float32 just before.
                    if let Some(prev) = stages.last_mut() {
                        if matches!(prev.op, Op::Convert(Fmt::F32)) {
                            prev.op = Op::ConvertMix;
                            chans[i] = 1;
                        }
                    }
                    if matches!(stages.last(), Some(Stage { op: Op::ConvertMix, .. })) {
                        Op::Noop
                    } else {
                        Op::Downmix
                    }
                }
                Spec::Resample { rate, .. } if rate == r => Op::Noop,
                Spec::Resample { rate, quality } => {
                    let rs = Resampler::new(r, rate, ch, quality)?;
                    (f, r) = (Fmt::F32, rate);
                    Op::Resample(Box::new(rs))
                }
                Spec::Vad {
                    frame_ms,
                    aggressiveness,
                } => {
                    if f == Fmt::I32 {
                        return Err(Error::InvalidArgument(format!(
                            "stage {i}: the VAD takes int16, float32 or float64, not int32"
                        )));
                    }
                    Op::Vad(Box::new(Vad::new(r, frame_ms, aggressiveness)?))
                }
            };
            stages.push(Stage { op, fail: false });
            fmts.push(f);
            chans.push(ch);
            rates.push(r);
        }
        let writer = stages
            .iter()
            .rposition(|s| matches!(s.op, Op::Convert(_) | Op::ConvertMix | Op::Downmix | Op::Resample(_)));
        let n = stages.len();
        Ok(Chain {
            stages,
            fmts,
            chans,
            rates,
            writer,
            specs: specs.to_vec(),
            lanes: Vec::new(),
            bufs: [Store::default(), Store::default()],
            conv: Store::default(),
            mix: Vec::new(),
            times: vec![0; n],
            tail: Vec::new(),
            tail_flags: Vec::new(),
            flush_buf: Vec::new(),
            segments: None,
            timing: true,
            threads: 0,
            lane_stream: None,
            fresh: true,
            block: BLOCK,
        })
    }

    pub fn stages(&self) -> usize {
        self.stages.len()
    }

    pub fn input_format(&self) -> (Fmt, usize, u32) {
        (self.fmts[0], self.chans[0], self.rates[0])
    }

    /// Format, channels and rate of the output.
    pub fn output_format(&self) -> (Fmt, usize, u32) {
        let k = self.stages.len();
        (self.fmts[k], self.chans[k], self.rates[k])
    }

    /// True when some stage writes audio (else the output is the input).
    pub fn writes(&self) -> bool {
        self.writer.is_some()
    }

    /// Output frames and flags of the next `process` of `n` frames.
    pub fn output_frames(&self, mut n: usize) -> (usize, usize) {
        if let (Some(p), Some(lane)) = (self.lane_stream, self.lanes.first()) {
            // The prefix's state is in the lanes (all alike): they say what it gives.
            let m = lane.output_frames(n).0;
            return (m, self.flags_from(p, m));
        }
        let mut flags = 0;
        for s in &self.stages {
            match &s.op {
                Op::Resample(r) => n = r.output_frames(n),
                Op::Vad(v) => flags = v.flags_for(n),
                _ => {}
            }
        }
        (n, flags)
    }

    /// Output frames and flags of `run` on `n` frames.
    pub fn run_frames(&self, mut n: usize) -> (usize, usize) {
        let mut flags = 0;
        for (i, s) in self.stages.iter().enumerate() {
            match &s.op {
                Op::Resample(_) => {
                    let (a, b) = (self.rates[i + 1] as u128, self.rates[i] as u128);
                    n = (n as u128 * a).div_ceil(b) as usize;
                }
                Op::Vad(v) => flags = n / v.frame_len(),
                _ => {}
            }
        }
        (n, flags)
    }

    /// Frames per VAD frame (0 without a VAD stage).
    pub fn vad_frame_length(&self) -> usize {
        match self.stages.last().map(|s| &s.op) {
            Some(Op::Vad(v)) => v.frame_len(),
            _ => 0,
        }
    }

    /// Nanoseconds spent in each stage since the last call; resets them.
    pub fn take_times(&mut self, out: &mut [u64]) {
        for (o, t) in out.iter_mut().zip(self.times.iter_mut()) {
            *o = *t;
            *t = 0;
        }
    }

    /// Test hook: the next call panics inside stage `stage`.
    pub fn debug_fail(&mut self, stage: usize) -> Result<()> {
        let n = self.stages.len();
        let s = self
            .stages
            .get_mut(stage)
            .ok_or_else(|| Error::InvalidArgument(format!("stage {stage} out of range (chain of {n})")))?;
        s.fail = true;
        Ok(())
    }

    /// Turns on speech events for streams: every `process` (and `flush`,
    /// which ends the stream) feeds the VAD's flags to a segment tracker
    /// with these settings; [`Chain::take_events`] hands the events out.
    /// The chain must end in a VAD with frames of `p.frame_length`.
    pub fn set_segments(&mut self, p: SegmentParams) -> Result<()> {
        let frame = self.vad_frame_length();
        if frame == 0 {
            return Err(Error::InvalidArgument(
                "speech segments need a chain that ends in a VAD stage".into(),
            ));
        }
        if p.frame_length != frame as i64 {
            return Err(Error::InvalidArgument(format!(
                "speech segments for frames of {} samples, but the chain's VAD frames have {frame}",
                p.frame_length
            )));
        }
        self.segments = Some(Segments::new(p));
        Ok(())
    }

    /// Events not taken yet (0 without [`Chain::set_segments`]).
    pub fn pending_events(&self) -> usize {
        self.segments.as_ref().map_or(0, |s| s.pending())
    }

    /// Moves up to `out.len()` pending events into `out`; returns how many.
    pub fn take_events(&mut self, out: &mut [SegmentEvent]) -> usize {
        self.segments.as_mut().map_or(0, |s| s.take(out))
    }

    /// Back to the state of a new chain.
    pub fn reset(&mut self) {
        if let Some(s) = &mut self.segments {
            s.reset();
        }
        if self.lane_stream.take().is_some() {
            self.lanes.iter_mut().for_each(Chain::reset);
        }
        self.fresh = true;
        for s in &mut self.stages {
            match &mut s.op {
                Op::Resample(r) => r.reset(),
                Op::Vad(v) => v.reset(),
                _ => {}
            }
        }
        self.tail.clear();
        self.tail_flags.clear();
    }

    fn check_input(&self, input: &View<'_>) -> Result<()> {
        let (f, ch, _) = self.input_format();
        if input.fmt() != f || input.channels != ch {
            return Err(Error::InvalidArgument(format!(
                "chain compiled for {ch} channel(s) of {f:?}, got {} of {:?}",
                input.channels,
                input.fmt()
            )));
        }
        Ok(())
    }

    /// Pushes `input` through every stage. With a writer the output goes to
    /// `out` (`output_frames(n).0` frames per row); flags go to `flags`.
    /// Returns (frames, flags) written.
    pub fn process(&mut self, input: View<'_>, out: Option<ViewMut<'_>>, flags: &mut [u8]) -> Result<(usize, usize)> {
        self.check_input(&input)?;
        if self.fresh && input.frames > 0 && out.is_some() {
            // A stream whose first block is big runs its per-channel prefix
            // on the lanes (threads for its big blocks) until it ends.
            if let Some(p) = self.parallel_prefix(input.frames) {
                self.make_lanes(p)?;
                self.lanes.iter_mut().for_each(Chain::reset);
                self.lane_stream = Some(p);
            }
        }
        let (want, want_flags) = self.output_frames(input.frames);
        let (of, och, _) = self.output_format();
        let out = match (self.writer, out) {
            (Some(_), Some(o)) => {
                if o.fmt() != of || o.channels != och || o.frames < want {
                    return Err(Error::BufferTooSmall {
                        needed: want * och,
                        given: o.frames * o.channels,
                    });
                }
                Some(o)
            }
            (Some(_), None) => return Err(Error::NullPointer("out")),
            (None, _) => None,
        };
        if flags.len() < want_flags {
            return Err(Error::BufferTooSmall {
                needed: want_flags,
                given: flags.len(),
            });
        }
        if input.frames > 0 {
            self.fresh = false;
        }
        let (done, nf) = match (self.lane_stream, out) {
            (Some(p), Some(o)) => self.run_lanes(p, input, o, flags, want)?,
            (_, out) => self.process_blocks(input, out, flags)?,
        };
        if (self.writer.is_some() && done != want) || nf != want_flags {
            return Err(Error::State(format!(
                "chain wrote {done} frames and {nf} flags, expected {want} and {want_flags}"
            )));
        }
        if let Some(s) = &mut self.segments {
            // The VAD ends the chain: it saw the output (or the input, unchanged).
            let seen = if self.writer.is_some() { done } else { input.frames };
            s.push(seen, &flags[..nf]);
        }
        Ok((done, nf))
    }

    /// `process` on this thread, block by block, every stage in turn.
    fn process_blocks(
        &mut self,
        input: View<'_>,
        mut out: Option<ViewMut<'_>>,
        flags: &mut [u8],
    ) -> Result<(usize, usize)> {
        let (mut pos, mut done, mut nf) = (0, 0, 0);
        while pos < input.frames {
            let n = self.block.min(input.frames - pos);
            let block = input.sub(pos, n);
            let (_, k, m) = match out.as_mut() {
                Some(o) => {
                    let rest = o.frames - done;
                    let mut target = o.sub(done, rest);
                    self.run_inner(0, block, Some(&mut target), &mut flags[nf..])?
                }
                None => self.run_inner(0, block, None, &mut flags[nf..])?,
            };
            done += k;
            nf += m;
            pos += n;
        }
        Ok((done, nf))
    }

    /// Runs stages `first..` on `input`. The writer stage writes into
    /// `out` when given, else into a chain buffer. Returns where the data
    /// ends up, its frames and the flags written.
    fn run_inner(
        &mut self,
        first: usize,
        input: View<'_>,
        mut out: Option<&mut ViewMut<'_>>,
        flags: &mut [u8],
    ) -> Result<(Loc, usize, usize)> {
        let mut loc = Loc::Input;
        let mut n = input.frames;
        let mut nf = 0;
        // One clock reading per stage boundary (a reading costs about 0.1 µs
        // on a VM), none when timing is off.
        let mut mark = self.timing.then(Instant::now);
        for i in first..self.stages.len() {
            if n == 0 {
                // Nothing reaches the later stages (a resampler's block not
                // complete yet): they have nothing to do.
                break;
            }
            if self.stages[i].fail {
                self.stages[i].fail = false;
                panic!("deliberate panic in chain stage {i} requested by rm_chain_debug_fail");
            }
            let (fi, chi) = (self.fmts[i], self.chans[i]);
            let (fo, cho) = (self.fmts[i + 1], self.chans[i + 1]);
            let op = &mut self.stages[i].op;
            if matches!(op, Op::Noop) {
                continue;
            }
            if let Op::Vad(v) = op {
                let src = match (loc, out.as_deref()) {
                    (Loc::Input, _) => input,
                    (Loc::Buf(k), _) => self.bufs[k].view(fi, chi, n),
                    (Loc::Out, Some(o)) => o.as_view().sub(0, n),
                    (Loc::Out, None) => return Err(Error::State("chain output missing".into())),
                };
                nf = ops::vad_process(v, &src, &mut self.mix, flags)?;
                self.lap(i, &mut mark);
                continue;
            }
            let n_out = match op {
                Op::Resample(r) => r.output_frames(n),
                _ => n,
            };
            let to_out = self.writer == Some(i) && out.is_some();
            let dst_loc = match (to_out, loc) {
                (true, _) => Loc::Out,
                (false, Loc::Buf(0)) => Loc::Buf(1),
                (false, _) => Loc::Buf(0),
            };
            let conv = &mut self.conv;
            let (b0, b1) = self.bufs.split_at_mut(1);
            let (b0, b1) = (&mut b0[0], &mut b1[0]);
            match (loc, dst_loc) {
                (Loc::Input, Loc::Out) => {
                    let o = out.as_deref_mut().ok_or(Error::NullPointer("out"))?;
                    apply(op, &input, &mut o.sub(0, n_out), conv)?
                }
                (Loc::Input, Loc::Buf(j)) => {
                    let d = if j == 0 { b0 } else { b1 };
                    apply(op, &input, &mut d.view_mut(fo, cho, n_out), conv)?
                }
                (Loc::Buf(k), Loc::Out) => {
                    let s = if k == 0 { &*b0 } else { &*b1 };
                    let o = out.as_deref_mut().ok_or(Error::NullPointer("out"))?;
                    apply(op, &s.view(fi, chi, n), &mut o.sub(0, n_out), conv)?
                }
                (Loc::Buf(k), Loc::Buf(_)) => {
                    let (s, d) = if k == 0 { (&*b0, b1) } else { (&*b1, b0) };
                    apply(op, &s.view(fi, chi, n), &mut d.view_mut(fo, cho, n_out), conv)?
                }
                _ => return Err(Error::State("chain stage after its output".into())),
            }
            loc = dst_loc;
            n = n_out;
            self.lap(i, &mut mark);
        }
        Ok((loc, n, nf))
    }

    /// Adds the time since `mark` to stage `i` and moves `mark` to now
    /// (nothing when timing is off: `mark` is None).
    #[inline]
    fn lap(&mut self, i: usize, mark: &mut Option<Instant>) {
        if let Some(m) = mark {
            let now = Instant::now();
            self.times[i] += now.duration_since(*m).as_nanos() as u64;
            *m = now;
        }
    }

    /// Whether stages are timed (on by default; [`Chain::take_times`]
    /// reads the times). Off saves a clock reading per stage and block,
    /// for streams whose metrics are off.
    pub fn set_timing(&mut self, on: bool) {
        self.timing = on;
    }

    fn flags_from(&self, first: usize, mut n: usize) -> usize {
        for s in &self.stages[first..] {
            match &s.op {
                Op::Resample(r) => n = r.output_frames(n),
                Op::Vad(v) => return v.flags_for(n),
                _ => {}
            }
        }
        0
    }

    /// True when a stage holds audio back until `flush` (a resampler).
    pub fn has_tail(&self) -> bool {
        self.stages.iter().any(|s| matches!(s.op, Op::Resample(_)))
    }

    /// End of stream: each resampler's tail goes through the stages after
    /// it; the result waits for [`Chain::take`]. Resets the chain. Returns
    /// the (frames, flags) `take` will write.
    pub fn flush(&mut self) -> Result<(usize, usize)> {
        let (_, och, _) = self.output_format();
        self.tail = vec![Vec::new(); och];
        self.tail_flags.clear();
        let res = match self.lane_stream.take() {
            Some(p) => {
                let r = self.flush_lanes(p);
                if r.is_err() {
                    self.lanes.iter_mut().for_each(Chain::reset);
                }
                r
            }
            None => {
                let mut fb = std::mem::take(&mut self.flush_buf);
                let r = self.flush_into(&mut fb);
                self.flush_buf = fb;
                r
            }
        };
        self.fresh = true;
        self.reset_vad();
        if res.is_err() {
            if let Some(s) = &mut self.segments {
                s.reset();
            }
        }
        res?;
        if let Some(s) = &mut self.segments {
            let seen = if self.writer.is_some() { self.tail[0].len() } else { 0 };
            s.push(seen, &self.tail_flags);
            s.finish();
        }
        Ok((self.tail[0].len(), self.tail_flags.len()))
    }

    /// `flush` of a stream whose prefix `..p` lives in the lanes: each
    /// lane's tail is a row of the chain's tail, and the stages after the
    /// prefix (the VAD) read those rows in the output format.
    fn flush_lanes(&mut self, p: usize) -> Result<()> {
        let (of, och, _) = self.output_format();
        let mut frames = None;
        for (c, lane) in self.lanes.iter_mut().enumerate() {
            let (m, _) = lane.flush()?;
            if *frames.get_or_insert(m) != m {
                return Err(Error::State(format!("chain lanes flushed {m} and {frames:?} frames")));
            }
            self.tail[c] = lane.tail.pop().unwrap_or_default();
            lane.tail.clear();
            lane.tail_flags.clear();
        }
        self.take_lane_times(p, false);
        let m = frames.unwrap_or(0);
        if m == 0 || self.tail.len() != och {
            return Ok(());
        }
        let mut store = std::mem::take(&mut self.conv);
        write_f64(&self.tail, &mut store.view_mut(of, och, m));
        let mut fl = vec![0u8; self.flags_from(p, m)];
        let res = self.run_inner(p, store.view(of, och, m), None, &mut fl);
        self.conv = store;
        let (_, _, nf) = res?;
        self.tail_flags.extend_from_slice(&fl[..nf]);
        Ok(())
    }

    fn flush_into(&mut self, fb: &mut Vec<f32>) -> Result<()> {
        let (of, och, _) = self.output_format();
        for k in 0..self.stages.len() {
            let ch = self.chans[k + 1];
            let t0 = Instant::now();
            let m = match &mut self.stages[k].op {
                Op::Resample(r) => {
                    let m = r.flush_frames();
                    fb.clear();
                    fb.resize(m * ch, 0.0);
                    r.flush(fb, m)?;
                    m
                }
                _ => continue,
            };
            self.times[k] += t0.elapsed().as_nanos() as u64;
            if m == 0 {
                continue;
            }
            let view = View::new(Plane::F32(fb), ch, m, m)?;
            let mut fl = vec![0u8; self.flags_from(k + 1, m)];
            let (loc, n, nf) = self.run_inner(k + 1, view, None, &mut fl)?;
            let data = match loc {
                Loc::Input => view,
                Loc::Buf(j) => self.bufs[j].view(of, och, n),
                Loc::Out => return Err(Error::State("flush wrote to an output".into())),
            };
            append_f64(&mut self.tail, &data);
            self.tail_flags.extend_from_slice(&fl[..nf]);
        }
        Ok(())
    }

    fn reset_vad(&mut self) {
        for s in &mut self.stages {
            if let Op::Vad(v) = &mut s.op {
                v.reset();
            }
        }
    }

    /// Writes what `flush` left into `out` and `flags`; returns their counts.
    pub fn take(&mut self, out: Option<ViewMut<'_>>, flags: &mut [u8]) -> Result<(usize, usize)> {
        let n = self.tail.first().map_or(0, |r| r.len());
        let nf = self.tail_flags.len();
        if flags.len() < nf {
            return Err(Error::BufferTooSmall {
                needed: nf,
                given: flags.len(),
            });
        }
        if n > 0 {
            let mut o = out.ok_or(Error::NullPointer("out"))?;
            let (of, och, _) = self.output_format();
            if o.fmt() != of || o.channels != och || o.frames < n {
                return Err(Error::BufferTooSmall {
                    needed: n * och,
                    given: o.frames * o.channels,
                });
            }
            write_f64(&self.tail, &mut o);
        }
        flags[..nf].copy_from_slice(&self.tail_flags);
        self.tail.clear();
        self.tail_flags.clear();
        Ok((n, nf))
    }

    /// A whole buffer: reset, process, flush and take into `out`
    /// (`run_frames(n).0` frames per row). Leaves the chain reset. A big
    /// buffer runs its per-channel prefix on threads (see [`Chain::process`]).
    pub fn run(&mut self, input: View<'_>, out: Option<ViewMut<'_>>, flags: &mut [u8]) -> Result<(usize, usize)> {
        // A whole buffer is not a stream: its flags do not reach the tracker.
        let segments = self.segments.take();
        let res = self.run_buffer(input, out, flags);
        self.segments = segments;
        self.reset();
        res
    }

    fn run_buffer(&mut self, input: View<'_>, out: Option<ViewMut<'_>>, flags: &mut [u8]) -> Result<(usize, usize)> {
        self.reset();
        let (total, total_flags) = self.run_frames(input.frames);
        let res = self.run_whole(input, out, flags, total);
        if res.is_err() {
            self.reset();
        }
        let (n, nf) = res?;
        if (self.writer.is_some() && n != total) || nf != total_flags {
            return Err(Error::State(format!(
                "chain run wrote {n} frames and {nf} flags, expected {total} and {total_flags}"
            )));
        }
        Ok((n, nf))
    }

    /// Sets the threads (the calling one included) a big block's
    /// per-channel stages may use: `0` (the default) means one per
    /// channel, up to the cores this process may run on ([`cores`]),
    /// starting workers only when a core is free (`spare_core`); `1` keeps every call on the calling thread; `n`
    /// always starts up to `n - 1` workers. The results are the same bits
    /// for every setting.
    pub fn set_threads(&mut self, n: usize) {
        self.threads = n;
    }

    /// The threads a big block of this chain runs on (1: none started).
    pub fn thread_count(&self) -> usize {
        let want = if self.threads == 0 { cores() } else { self.threads };
        want.min(self.chans[0]).max(1)
    }

    /// The end of the per-channel prefix when a block of `frames` should
    /// run one channel per thread: at least [`PARALLEL_MIN`] frames, two
    /// threads allowed, and [`Chain::lane_prefix`].
    fn parallel_prefix(&self, frames: usize) -> Option<usize> {
        if frames < PARALLEL_MIN || self.thread_count() < 2 {
            return None;
        }
        self.lane_prefix()
    }

    /// The end of the per-channel prefix that lanes (one-channel chains)
    /// can run: several channels, a resampler in the prefix (else the
    /// work is too little to share), and all audio written by the prefix
    /// (the stages after it only read it: the VAD).
    fn lane_prefix(&self) -> Option<usize> {
        if self.chans[0] < 2 {
            return None;
        }
        let p = self
            .stages
            .iter()
            .position(|s| matches!(s.op, Op::ConvertMix | Op::Downmix | Op::Vad(_)))
            .unwrap_or(self.stages.len());
        let resamples = self.stages[..p].iter().any(|s| matches!(s.op, Op::Resample(_)));
        let written = self.writer.is_some_and(|w| w < p);
        (resamples && written).then_some(p)
    }

    /// One one-channel chain of the prefix `..p` per channel (built once).
    fn make_lanes(&mut self, p: usize) -> Result<()> {
        if self.lanes.is_empty() {
            let (f, channels, r) = self.input_format();
            self.lanes = (0..channels)
                .map(|_| {
                    let mut lane = Chain::new(f, 1, r, &self.specs[..p])?;
                    lane.block = LANE_BLOCK;
                    Ok(lane)
                })
                .collect::<Result<_>>()?;
        }
        Ok(())
    }

    /// Adds the lanes' stage times (taken) to the prefix's stages: the
    /// longest lane when they ran side by side, their sum when in turn.
    fn take_lane_times(&mut self, p: usize, side_by_side: bool) {
        for i in 0..p {
            let t = self.lanes.iter_mut().map(|l| std::mem::take(&mut l.times[i]));
            self.times[i] += if side_by_side { t.max().unwrap_or(0) } else { t.sum() };
        }
    }

    /// A block of a stream whose prefix `..p` lives in the lanes: each
    /// channel's lane writes its output row, then the rest (the VAD) reads
    /// the rows. A big block shares the lanes' pieces among the calling
    /// thread and `threads - 1` workers ([`Chain::run_shared`]). Channels
    /// are independent in those stages and every lane sees its row in the
    /// blocks a one-thread run sees, so the bits are that run's.
    fn run_lanes(
        &mut self,
        p: usize,
        input: View<'_>,
        mut out: ViewMut<'_>,
        flags: &mut [u8],
        total: usize,
    ) -> Result<(usize, usize)> {
        for i in 0..p {
            if std::mem::take(&mut self.stages[i].fail) {
                self.lanes[0].stages[i].fail = true;
            }
        }
        if out.frames < total {
            return Err(Error::BufferTooSmall {
                needed: total * out.channels,
                given: out.frames * out.channels,
            });
        }
        let mut threads = if input.frames >= PARALLEL_MIN {
            self.thread_count()
        } else {
            1
        };
        if threads > 1 && self.threads == 0 && !spare_core() {
            // Auto: a worker that must wait for a core delays the call (it
            // waits for time slices holding its lane, and the join waits
            // for it), so only start one when a core is free.
            threads = 1;
        }
        let rows: Vec<ViewMut<'_>> = out.rows_mut().into_iter().map(|r| r.split_row(total).0).collect();
        if rows.len() != self.lanes.len() {
            return Err(Error::State("chain output has too few rows".into()));
        }
        let vad = self.overlapped_vad(p, total);
        let mut nf = 0;
        if threads > 1 {
            nf = self.run_shared(vad, input, rows, flags, threads)?;
            self.take_lane_times(p, true);
        } else {
            for (c, (lane, row)) in self.lanes.iter_mut().zip(rows).enumerate() {
                let (k, _) = lane.process(input.row_view(c), Some(row), &mut [])?;
                if k != total {
                    return Err(Error::State(format!("a chain lane wrote {k} frames, expected {total}")));
                }
            }
            self.take_lane_times(p, false);
        }
        if threads > 1 && vad.is_some() {
            return Ok((total, nf));
        }
        // The rest (a VAD) reads the finished output, block by block.
        let done = out.as_view().sub(0, total);
        let mut pos = 0;
        while pos < total {
            let n = BLOCK.min(total - pos);
            let (_, _, k) = self.run_inner(p, done.sub(pos, n), None, &mut flags[nf..])?;
            nf += k;
            pos += n;
        }
        Ok((total, nf))
    }

    /// The VAD stage that can follow the lanes piece by piece: the stages
    /// after the prefix `..p` are the VAD (the rest pass-through) on
    /// float32 audio, and there is output to share.
    fn overlapped_vad(&self, p: usize, total: usize) -> Option<usize> {
        let vi = self.stages.len().checked_sub(1)?;
        if p > vi {
            return None; // nothing after the prefix
        }
        let rest_noop = self.stages[p..vi].iter().all(|s| matches!(s.op, Op::Noop));
        let vad_last = matches!(self.stages[vi].op, Op::Vad(_));
        (vad_last && rest_noop && self.fmts[vi] == Fmt::F32 && total > 0).then_some(vi)
    }

    /// The lanes of a big block on this thread and `threads - 1` workers,
    /// shared piece by piece ([`SEGMENT`] input frames of one channel):
    /// every thread takes the next piece of any lane nobody holds, so a
    /// worker the OS leaves waiting for a core costs nothing but its
    /// start (this thread then does its work), and an idle core takes half.
    /// With `vad` (stage index) this thread also runs the VAD on piece `k`
    /// of every row once all rows have it. Returns the flags written.
    fn run_shared(
        &mut self,
        vad: Option<usize>,
        input: View<'_>,
        rows: Vec<ViewMut<'_>>,
        flags: &mut [u8],
        threads: usize,
    ) -> Result<usize> {
        let channels = rows.len();
        let jobs: Vec<Mutex<LaneJob<'_, '_>>> = self
            .lanes
            .iter_mut()
            .zip(rows)
            .enumerate()
            .map(|(c, (lane, row))| {
                Mutex::new(LaneJob {
                    c,
                    lane,
                    x: input.row_view(c),
                    row: Some(row),
                    pos: 0,
                })
            })
            .collect();
        let (stages, mix, times) = (&mut self.stages, &mut self.mix, &mut self.times);
        let stop = AtomicBool::new(false);
        let (tx, rx) = mpsc::channel::<(usize, View<'_>)>();
        let mut queues: Vec<VecDeque<View<'_>>> = (0..channels).map(|_| VecDeque::new()).collect();
        let mut nf = 0usize;
        // The VAD on every complete set of pieces (piece k of every row).
        let mut feed = |queues: &mut Vec<VecDeque<View<'_>>>, stop: &AtomicBool| -> Result<()> {
            let Some(vi) = vad else { return Ok(()) };
            while queues.iter().all(|q| !q.is_empty()) {
                let pieces: Vec<View<'_>> = queues.iter_mut().filter_map(|q| q.pop_front()).collect();
                let rows: Vec<&[f32]> = pieces
                    .iter()
                    .map(|v| match v.data {
                        Plane::F32(s) => Ok(s),
                        _ => Err(Error::State("the VAD of a shared run reads float32".into())),
                    })
                    .collect::<Result<_>>()?;
                let t0 = Instant::now();
                let stage = &mut stages[vi];
                if stage.fail {
                    stage.fail = false;
                    stop.store(true, Ordering::Relaxed);
                    panic!("deliberate panic in chain stage {vi} requested by rm_chain_debug_fail");
                }
                let r = match &mut stage.op {
                    Op::Vad(v) => ops::vad_rows(v, &rows, mix, &mut flags[nf..]),
                    _ => Err(Error::State("not a VAD stage".into())),
                };
                times[vi] += t0.elapsed().as_nanos() as u64;
                nf += r?;
            }
            Ok(())
        };
        let res = std::thread::scope(|s| {
            let handles: Vec<_> = (1..threads)
                .map(|t| {
                    let (tx, jobs, stop) = (tx.clone(), &jobs, &stop);
                    s.spawn(move || {
                        let r = caught(|| work_lanes(jobs, t, &tx, stop));
                        if !matches!(r, Ok(Ok(()))) {
                            stop.store(true, Ordering::Relaxed);
                        }
                        r
                    })
                })
                .collect();
            let mut res: Result<()> = Ok(());
            while res.is_ok() && !stop.load(Ordering::Relaxed) {
                while let Ok((c, piece)) = rx.try_recv() {
                    queues[c].push_back(piece);
                }
                res = feed(&mut queues, &stop);
                if res.is_err() {
                    break;
                }
                match claim(&jobs, 0, &tx) {
                    Claim::Stepped(r) => res = r,
                    Claim::AllDone => break,
                    // The workers hold the lanes left: wait for their pieces.
                    Claim::Busy => {
                        if let Ok((c, piece)) = rx.recv_timeout(std::time::Duration::from_millis(1)) {
                            queues[c].push_back(piece);
                        }
                    }
                }
            }
            if res.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            for h in handles {
                let r = join_worker(h);
                if res.is_ok() {
                    res = r;
                }
            }
            res
        });
        res?;
        while let Ok((c, piece)) = rx.try_recv() {
            queues[c].push_back(piece);
        }
        feed(&mut queues, &stop)?;
        if vad.is_some() && queues.iter().any(|q| !q.is_empty()) {
            return Err(Error::State(
                "a shared chain run left pieces the VAD did not read".into(),
            ));
        }
        if jobs.iter().any(|j| j.lock().map_or(true, |j| !j.done())) {
            return Err(Error::State(
                "a shared chain run stopped before its lanes were done".into(),
            ));
        }
        Ok(nf)
    }

    fn run_whole(
        &mut self,
        input: View<'_>,
        out: Option<ViewMut<'_>>,
        flags: &mut [u8],
        total: usize,
    ) -> Result<(usize, usize)> {
        match out {
            Some(mut o) if self.writer.is_some() => {
                if o.frames < total {
                    return Err(Error::BufferTooSmall {
                        needed: total * o.channels,
                        given: o.frames * o.channels,
                    });
                }
                let (a, fa) = self.process(input, Some(o.sub(0, total)), flags)?;
                self.flush()?;
                let (b, fb) = self.take(Some(o.sub(a, total - a)), &mut flags[fa..])?;
                Ok((a + b, fa + fb))
            }
            _ => {
                let (_, fa) = self.process(input, None, flags)?;
                self.flush()?;
                let (_, fb) = self.take(None, &mut flags[fa..])?;
                Ok((0, fa + fb))
            }
        }
    }
}

/// One channel of a shared run: its one-channel chain, input row and the
/// part of its output row not written yet.
struct LaneJob<'a, 'o> {
    c: usize,
    lane: &'a mut Chain,
    x: View<'o>,
    row: Option<ViewMut<'o>>,
    pos: usize,
}

impl<'o> LaneJob<'_, 'o> {
    /// True once the whole input row went through the lane.
    fn done(&self) -> bool {
        self.pos >= self.x.frames
    }

    /// The next piece of this row: the output of [`SEGMENT`] more input frames.
    fn step(&mut self) -> Result<View<'o>> {
        let row = self.row.take().ok_or(Error::State("chain lane row missing".into()))?;
        let n = SEGMENT.min(self.x.frames - self.pos);
        let want = self.lane.output_frames(n).0;
        if want > row.frames {
            return Err(Error::BufferTooSmall {
                needed: want,
                given: row.frames,
            });
        }
        let (mut head, rest) = row.split_row(want);
        let (k, _) = self
            .lane
            .process(self.x.sub(self.pos, n), Some(head.sub(0, want)), &mut [])?;
        self.pos += n;
        self.row = Some(rest);
        Ok(head.into_view().sub(0, k))
    }
}

/// What [`claim`] did.
enum Claim {
    /// Ran one piece of a lane (and sent it on).
    Stepped(Result<()>),
    /// Every lane left is held by another thread.
    Busy,
    /// Every lane is done.
    AllDone,
}

/// Runs the next piece of the first lane (from `first`, round) that no
/// other thread holds, and sends it on while still holding the lane, so
/// a lane's pieces arrive in order.
fn claim<'o>(jobs: &[Mutex<LaneJob<'_, 'o>>], first: usize, tx: &mpsc::Sender<(usize, View<'o>)>) -> Claim {
    let mut busy = false;
    for i in 0..jobs.len() {
        match jobs[(first + i) % jobs.len()].try_lock() {
            Ok(mut j) => {
                if j.done() {
                    continue;
                }
                let r = j.step().map(|piece| {
                    // The receiver may have stopped (an error there): nothing to hand on.
                    let _ = tx.send((j.c, piece));
                });
                return Claim::Stepped(r);
            }
            Err(TryLockError::WouldBlock) => busy = true,
            Err(TryLockError::Poisoned(_)) => {
                return Claim::Stepped(Err(Error::State("a chain lane was left by a failed thread".into())))
            }
        }
    }
    if busy {
        Claim::Busy
    } else {
        Claim::AllDone
    }
}

/// A worker thread of a shared run: pieces of any free lane until none is
/// left to take (or another thread failed).
fn work_lanes<'o>(
    jobs: &[Mutex<LaneJob<'_, 'o>>],
    first: usize,
    tx: &mpsc::Sender<(usize, View<'o>)>,
    stop: &AtomicBool,
) -> Result<()> {
    while !stop.load(Ordering::Relaxed) {
        match claim(jobs, first, tx) {
            Claim::Stepped(r) => r?,
            Claim::Busy | Claim::AllDone => break,
        }
    }
    Ok(())
}

/// What a worker thread's body left: its result, or the message of its panic.
type Caught<T> = std::result::Result<T, String>;

/// Runs a worker thread's body under `catch_unwind`: a panic ends the
/// worker with its message, never unwinds out of the thread.
fn caught<T>(f: impl FnOnce() -> T) -> Caught<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into())
    })
}

/// Waits for a worker; its panic is raised again here (on the calling
/// thread, inside the ABI's guard), so the call fails as `RM_ERR_PANIC`
/// with the worker's message and nothing unwinds across a thread.
fn join_worker<T>(h: std::thread::ScopedJoinHandle<'_, Caught<Result<T>>>) -> Result<T> {
    match h.join() {
        Ok(Ok(r)) => r,
        Ok(Err(msg)) => panic!("{msg} (in a chain worker thread)"),
        Err(_) => panic!("a chain worker thread ended abnormally"),
    }
}

/// True unless the system's run queue says every usable core is busy:
/// `/proc/loadavg`'s count of runnable threads (this one included) below
/// [`cores`]. A worker started on a busy machine waits for a time slice
/// (milliseconds under load, measured in benchmarks/NOTES.md) and the
/// call waits for it. Elsewhere than Linux: assumed free.
fn spare_core() -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/loadavg") else {
        return true;
    };
    let running = text
        .split_whitespace()
        .nth(3)
        .and_then(|f| f.split('/').next())
        .and_then(|r| r.parse::<usize>().ok());
    running.map_or(true, |r| r < cores())
}

/// The cores this process may run on (`std::thread::available_parallelism`:
/// on Linux its CPU affinity and cgroup quota), read once per process.
pub fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// One data stage from `src` into `dst`.
fn apply(op: &mut Op, src: &View<'_>, dst: &mut ViewMut<'_>, conv: &mut Store) -> Result<()> {
    match op {
        Op::Convert(_) => ops::convert_rows(src, dst),
        Op::ConvertMix => ops::convert_mix_f32(src, dst),
        Op::Downmix => ops::downmix(src, dst),
        Op::Resample(r) => {
            if src.fmt() == Fmt::F32 {
                ops::resample(r, src, dst)?;
            } else {
                let mut c = conv.view_mut(Fmt::F32, src.channels, src.frames);
                ops::convert_rows(src, &mut c)?;
                let (ch, n) = (c.channels, c.frames);
                ops::resample(r, &conv.view(Fmt::F32, ch, n), dst)?;
            }
            Ok(())
        }
        Op::Noop | Op::Vad(_) => Err(Error::State("not a data stage".into())),
    }
}

fn append_f64(tail: &mut [Vec<f64>], v: &View<'_>) {
    for (c, row) in tail.iter_mut().enumerate().take(v.channels) {
        let lo = c * v.stride;
        let hi = lo + v.frames;
        match v.data {
            Plane::I16(s) => row.extend(s[lo..hi].iter().map(|&x| x as f64)),
            Plane::I32(s) => row.extend(s[lo..hi].iter().map(|&x| x as f64)),
            Plane::F32(s) => row.extend(s[lo..hi].iter().map(|&x| x as f64)),
            Plane::F64(s) => row.extend_from_slice(&s[lo..hi]),
        }
    }
}

fn write_f64(tail: &[Vec<f64>], o: &mut ViewMut<'_>) {
    let stride = o.stride;
    for (c, row) in tail.iter().enumerate() {
        let lo = c * stride;
        match &mut o.data {
            // Every value came from this format: the casts are exact.
            PlaneMut::I16(d) => d[lo..lo + row.len()]
                .iter_mut()
                .zip(row)
                .for_each(|(d, &x)| *d = x as i16),
            PlaneMut::I32(d) => d[lo..lo + row.len()]
                .iter_mut()
                .zip(row)
                .for_each(|(d, &x)| *d = x as i32),
            PlaneMut::F32(d) => d[lo..lo + row.len()]
                .iter_mut()
                .zip(row)
                .for_each(|(d, &x)| *d = x as f32),
            PlaneMut::F64(d) => d[lo..lo + row.len()].copy_from_slice(row),
        }
    }
}

pub use ops::{Plane as ChainPlane, PlaneMut as ChainPlaneMut, View as ChainView, ViewMut as ChainViewMut};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod threads_tests;
