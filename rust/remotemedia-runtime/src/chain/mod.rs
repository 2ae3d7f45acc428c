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
use std::sync::mpsc;
use std::time::Instant;

/// Input frames per block of work.
pub const BLOCK: usize = 4096;

/// Whole buffers from this many frames run their per-channel stages (the
/// resampler, conversions) one channel per thread.
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
        let (want, want_flags) = self.output_frames(input.frames);
        let (of, och, _) = self.output_format();
        let mut out = match (self.writer, out) {
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
        let (mut pos, mut done, mut nf) = (0, 0, 0);
        while pos < input.frames {
            let n = BLOCK.min(input.frames - pos);
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
        let mut fb = std::mem::take(&mut self.flush_buf);
        let res = self.flush_into(&mut fb);
        self.flush_buf = fb;
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
    /// (`run_frames(n).0` frames per row). Leaves the chain reset.
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
        let res = match (self.parallel_prefix(input.frames), out) {
            (Some(p), Some(o)) => self.run_parallel(p, input, o, flags, total),
            (_, out) => self.run_whole(input, out, flags, total),
        };
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

    /// The end of the per-channel prefix when a whole buffer of `frames`
    /// should run one channel per thread: several channels, a resampler
    /// in the prefix, all audio written by the prefix (later stages only
    /// read it: the VAD), and a second core.
    fn parallel_prefix(&self, frames: usize) -> Option<usize> {
        if frames < PARALLEL_MIN || self.chans[0] < 2 {
            return None;
        }
        let p = self
            .stages
            .iter()
            .position(|s| matches!(s.op, Op::ConvertMix | Op::Downmix | Op::Vad(_)))
            .unwrap_or(self.stages.len());
        let resamples = self.stages[..p].iter().any(|s| matches!(s.op, Op::Resample(_)));
        let written = self.writer.is_some_and(|w| w < p);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (resamples && written && cores > 1).then_some(p)
    }

    /// `run` with the prefix `..p` on one-channel chains, one per channel,
    /// spread over threads and writing straight into their output rows;
    /// then the rest (the VAD) over the output. Channels are independent
    /// in those stages, so the bits are those of the one-thread path.
    fn run_parallel(
        &mut self,
        p: usize,
        input: View<'_>,
        mut out: ViewMut<'_>,
        flags: &mut [u8],
        total: usize,
    ) -> Result<(usize, usize)> {
        let channels = self.chans[0];
        if self.lanes.is_empty() {
            let (f, _, r) = self.input_format();
            self.lanes = (0..channels)
                .map(|_| Chain::new(f, 1, r, &self.specs[..p]))
                .collect::<Result<_>>()?;
        }
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
        if let Some(vi) = self.overlapped_vad(p, total) {
            return self.run_overlapped(vi, input, out, flags, total);
        }
        let mut rows = out.rows_mut();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(channels);
        // Work of each thread: (lane, input row, output row) triples.
        let mut work: Vec<Vec<_>> = (0..threads).map(|_| Vec::new()).collect();
        for (c, (lane, row)) in self.lanes.iter_mut().zip(rows.drain(..)).enumerate() {
            work[c % threads].push((lane, input.row_view(c), row));
        }
        let run_lanes = |jobs: Vec<(&mut Chain, View<'_>, ViewMut<'_>)>| -> Result<()> {
            for (lane, x, y) in jobs {
                let mut y = y;
                let sub = y.sub(0, total);
                lane.run(x, Some(sub), &mut [])?;
            }
            Ok(())
        };
        let mut jobs = work.into_iter();
        let mine = jobs.next().unwrap_or_default();
        let results: Vec<Result<()>> = std::thread::scope(|s| {
            let handles: Vec<_> = jobs.map(|j| s.spawn(move || run_lanes(j))).collect();
            let mut res = vec![run_lanes(mine)];
            for h in handles {
                match h.join() {
                    Ok(r) => res.push(r),
                    Err(payload) => {
                        // Re-raise here so the ABI guard reports it (with its message).
                        let msg = payload
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "unknown panic".into());
                        panic!("{msg} (in a chain worker thread)");
                    }
                }
            }
            res
        });
        for r in results {
            r?;
        }
        for i in 0..p {
            let t = self.lanes.iter_mut().map(|l| std::mem::take(&mut l.times[i])).max();
            self.times[i] += t.unwrap_or(0);
        }
        // The rest (a VAD) reads the finished output, block by block.
        let done = out.as_view().sub(0, total);
        let mut nf = 0;
        let mut pos = 0;
        while pos < total {
            let n = BLOCK.min(total - pos);
            let (_, _, k) = self.run_inner(p, done.sub(pos, n), None, &mut flags[nf..])?;
            nf += k;
            pos += n;
        }
        self.reset_vad();
        Ok((total, nf))
    }

    /// The VAD stage of a parallel run that can overlap the channel
    /// threads: the stages after the prefix `..p` are the VAD (the rest
    /// pass-through) on float32 audio, and there is output to share.
    fn overlapped_vad(&self, p: usize, total: usize) -> Option<usize> {
        let vi = self.stages.len().checked_sub(1)?;
        if p > vi {
            return None; // nothing after the prefix
        }
        let rest_noop = self.stages[p..vi].iter().all(|s| matches!(s.op, Op::Noop));
        let vad_last = matches!(self.stages[vi].op, Op::Vad(_));
        (vad_last && rest_noop && self.fmts[vi] == Fmt::F32 && total > 0).then_some(vi)
    }

    /// [`Chain::run_parallel`] with the VAD (stage `vi`) on this thread
    /// while the channel threads resample: each thread hands over its
    /// rows piece by piece ([`SEGMENT`] input frames), and the VAD takes
    /// piece `k` of every row once all rows have it. The lanes see the
    /// blocks of a one-thread run and the VAD is chunking invariant, so
    /// the bits are those of the one-thread path.
    fn run_overlapped(
        &mut self,
        vi: usize,
        input: View<'_>,
        mut out: ViewMut<'_>,
        flags: &mut [u8],
        total: usize,
    ) -> Result<(usize, usize)> {
        let channels = self.chans[0];
        let stride = out.stride.max(1);
        let rows: Vec<&mut [f32]> = match &mut out.data {
            PlaneMut::F32(d) => d.chunks_mut(stride).take(channels).map(|r| &mut r[..total]).collect(),
            _ => return Err(Error::State("an overlapped run writes float32".into())),
        };
        if rows.len() != channels {
            return Err(Error::State("chain output has too few rows".into()));
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(channels);
        let mut work: Vec<Vec<LaneJob<'_, '_>>> = (0..threads).map(|_| Vec::new()).collect();
        for (c, (lane, row)) in self.lanes.iter_mut().zip(rows).enumerate() {
            work[c % threads].push(LaneJob {
                c,
                lane,
                x: input.row_view(c),
                row,
                pos: 0,
                flushed: false,
            });
        }
        let (stages, mix, times) = (&mut self.stages, &mut self.mix, &mut self.times);
        let stop = AtomicBool::new(false);
        let (tx, rx) = mpsc::channel::<(usize, &[f32])>();
        let (mut done, mut nf) = (0usize, 0usize);
        let res = std::thread::scope(|s| {
            let handles: Vec<_> = work
                .into_iter()
                .map(|jobs| {
                    let (tx, stop) = (tx.clone(), &stop);
                    s.spawn(move || run_lane_jobs(jobs, &tx, stop))
                })
                .collect();
            drop(tx);
            let mut queues: Vec<VecDeque<&[f32]>> = (0..channels).map(|_| VecDeque::new()).collect();
            let mut vad_res: Result<()> = Ok(());
            for (c, piece) in rx.iter() {
                if vad_res.is_err() {
                    continue;
                }
                queues[c].push_back(piece);
                while vad_res.is_ok() && queues.iter().all(|q| !q.is_empty()) {
                    let rows: Vec<&[f32]> = queues.iter_mut().filter_map(|q| q.pop_front()).collect();
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
                    match r {
                        Ok(k) => {
                            nf += k;
                            done += rows[0].len();
                        }
                        Err(e) => {
                            stop.store(true, Ordering::Relaxed);
                            vad_res = Err(e);
                        }
                    }
                }
            }
            let mut res = vad_res;
            for h in handles {
                match h.join() {
                    Ok(r) => {
                        if res.is_ok() {
                            res = r;
                        }
                    }
                    Err(payload) => resume_worker_panic(payload),
                }
            }
            res
        });
        res?;
        if done != total {
            return Err(Error::State(format!(
                "overlapped chain run gave the VAD {done} frames, expected {total}"
            )));
        }
        for i in 0..vi {
            let t = self.lanes.iter_mut().map(|l| std::mem::take(&mut l.times[i])).max();
            self.times[i] += t.unwrap_or(0);
        }
        self.reset_vad();
        Ok((total, nf))
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

/// One channel of an overlapped run: its one-channel chain, input row
/// and the part of its output row not written yet.
struct LaneJob<'a, 'o> {
    c: usize,
    lane: &'a mut Chain,
    x: View<'o>,
    row: &'o mut [f32],
    pos: usize,
    flushed: bool,
}

impl<'o> LaneJob<'_, 'o> {
    /// The next piece of this row: [`SEGMENT`] more input frames, or the
    /// tail once the input is done.
    fn step(&mut self) -> Result<&'o [f32]> {
        let row = std::mem::take(&mut self.row);
        let (want, last) = if self.pos < self.x.frames {
            (self.lane.output_frames(SEGMENT.min(self.x.frames - self.pos)).0, false)
        } else {
            (self.lane.flush()?.0, true)
        };
        if want > row.len() {
            return Err(Error::BufferTooSmall {
                needed: want,
                given: row.len(),
            });
        }
        let (head, rest) = row.split_at_mut(want);
        let dst = ViewMut::new(PlaneMut::F32(&mut *head), 1, want, want)?;
        let (k, _) = if last {
            self.flushed = true;
            self.lane.take(Some(dst), &mut [])?
        } else {
            let n = SEGMENT.min(self.x.frames - self.pos);
            let r = self.lane.process(self.x.sub(self.pos, n), Some(dst), &mut [])?;
            self.pos += n;
            r
        };
        self.row = rest;
        let head: &'o [f32] = head;
        Ok(&head[..k])
    }
}

/// A channel thread of an overlapped run: its lanes, piece by piece in
/// turn (so every row advances), each piece sent to the VAD.
fn run_lane_jobs<'o>(
    mut jobs: Vec<LaneJob<'_, 'o>>,
    tx: &mpsc::Sender<(usize, &'o [f32])>,
    stop: &AtomicBool,
) -> Result<()> {
    for j in &mut jobs {
        j.lane.reset();
    }
    while jobs.iter().any(|j| !j.flushed) {
        for j in jobs.iter_mut().filter(|j| !j.flushed) {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let piece = j.step()?;
            // The VAD may have stopped (an error there): nothing to hand on.
            let _ = tx.send((j.c, piece));
        }
    }
    Ok(())
}

/// Re-raises a worker's panic here so the ABI guard reports it (with its message).
fn resume_worker_panic(payload: Box<dyn std::any::Any + Send>) -> ! {
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    panic!("{msg} (in a chain worker thread)");
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
