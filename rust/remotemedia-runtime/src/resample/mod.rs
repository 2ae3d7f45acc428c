//! Band-limited sample-rate conversion between integer rates.
//!
//! Polyphase FIR: with `L / M = out_rate / in_rate` in lowest terms, output
//! `k` sits at position `k * M` of the `L`-times upsampled input and is the
//! dot product of filter row `(k * M) mod L` with the input frames around
//! `floor(k * M / L)`. The filter is zero-phase, so a click at time `t`
//! comes out at time `t`. Conversions by a factor of 2.5 or more run in two
//! stages (see [`design::specs`]): the sharp filter works at the lower rate.
//! Long filters with few phases run as fast convolution on float64 FFTs
//! ([`blocks`]); the rest on direct SIMD kernels. Streaming keeps a short
//! history per stage and channel and emits an output as soon as the input
//! it needs has arrived (a block stage: its whole block); `flush`
//! pads with zeros and emits the rest, so any chunking plus `flush` equals
//! the one-shot result, bit for bit.

pub mod any;
mod blocks;
pub mod design;
mod dot;
mod fft;
pub mod interp;
mod lanes;
mod oversampled;
mod stage;

pub use any::{resample_any, AnyResampler};
pub use design::{plan, Cascade, Plan, Quality, Shape};
use dot::Sample;
use stage::Stage;

use crate::error::{Error, Result};
use std::sync::Arc;

/// Lowest and highest accepted rate, in Hz.
pub const MIN_RATE: u32 = 1_000;
pub const MAX_RATE: u32 = 768_000;
/// Input frames per block in one-shot resampling (about; see [`one_shot_block`]).
const ONE_SHOT_BLOCK: usize = 4096;
/// Most channels a resampler accepts (see the Python-side cap).
pub const MAX_CHANNELS: usize = 64;

/// Checks that a rate is within [`MIN_RATE`, `MAX_RATE`].
pub fn check_rate(rate: u32, what: &str) -> Result<()> {
    if !(MIN_RATE..=MAX_RATE).contains(&rate) {
        return Err(Error::InvalidArgument(format!(
            "{what} {rate} Hz is outside the supported range {MIN_RATE}..{MAX_RATE} Hz"
        )));
    }
    Ok(())
}

/// The stages of a conversion in one precision, and their buffers.
struct Chain<S> {
    stages: Vec<Stage<S>>,
    /// Output of the previous stage (planar), and a second buffer for the
    /// next stage's output (stages read their input in place), reused
    /// between calls.
    tmp: Vec<S>,
    spare: Vec<S>,
}

enum Engine {
    Narrow(Chain<f32>),
    Wide(Chain<f64>),
}

/// A streaming resampler for a fixed number of planar channels.
pub struct Resampler {
    cascade: Arc<Cascade>,
    channels: usize,
    simd: bool,
    engine: Engine,
    /// Input frames received and output frames emitted since the start.
    received: u64,
    emitted: u64,
}

impl<S: Sample> Chain<S> {
    fn new(c: &Cascade, channels: usize) -> Chain<S> {
        Chain {
            stages: c.stages.iter().map(|p| Stage::new(p, channels)).collect(),
            tmp: Vec::new(),
            spare: Vec::new(),
        }
    }

    fn output_frames(&self, c: &Cascade, n: usize) -> usize {
        self.stages
            .iter()
            .zip(&c.stages)
            .fold(n, |k, (st, p)| st.output_frames(p, k))
    }

    /// Runs `n` input frames through every stage; the last writes `n_out`
    /// frames per channel into `out`. `flushing`: pad each stage with zeros
    /// and emit all it has (the caller resets afterwards).
    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        c: &Cascade,
        simd: bool,
        input: (&[f32], usize),
        n: usize,
        out: &mut [f32],
        stride: usize,
        n_out: usize,
        flushing: bool,
    ) {
        let (input, in_stride) = input;
        let channels = self.stages[0].channels();
        let last = self.stages.len() - 1;
        let mut frames = n;
        for (idx, (st, p)) in self.stages.iter_mut().zip(&c.stages).enumerate() {
            // The output-parallel kernel reads new frames in place (from the
            // caller's input or the previous stage's output) and the stage
            // keeps only their tail; padding for a flush goes through the
            // history.
            let first = if idx == 0 { S::borrow_f32(input) } else { None };
            let direct = !flushing && stage::reads_in_place::<S>(p) && (idx > 0 || first.is_some());
            let tmp = std::mem::take(&mut self.tmp);
            if direct {
                st.take(frames);
            } else if idx == 0 {
                st.push(frames, |ch| &input[ch * in_stride..][..n], S::from_f32);
            } else {
                st.push(frames, |ch| &tmp[ch * frames..(ch + 1) * frames], |v| v);
            }
            let rows = |ch: usize| -> &[S] {
                if !direct {
                    &[]
                } else if let Some(x) = first {
                    &x[ch * in_stride..][..n]
                } else {
                    &tmp[ch * frames..(ch + 1) * frames]
                }
            };
            let k = if flushing {
                st.flush_frames(p)
            } else {
                st.output_frames(p, 0)
            };
            if flushing {
                st.pad(p);
            }
            if idx == last {
                // The final stage may hold one frame past ceil(n L / M)
                // after padding; emit only what the conversion owes.
                st.emit_rows(p, simd, k.min(n_out), rows, out, stride, S::to_f32);
                self.tmp = tmp;
            } else {
                let mut buf = std::mem::take(&mut self.spare);
                // Every element the next stage reads is written by emit.
                if buf.len() < k * channels {
                    buf.resize(k * channels, S::default());
                }
                st.emit_rows(p, simd, k, rows, &mut buf, k, |v| v);
                self.tmp = buf;
                self.spare = tmp;
                frames = k;
            }
        }
    }

    fn reset(&mut self, c: &Cascade) {
        for (st, p) in self.stages.iter_mut().zip(&c.stages) {
            st.reset(p);
        }
    }
}

impl Resampler {
    /// A resampler for `channels` channels from `in_rate` to `out_rate` Hz.
    pub fn new(in_rate: u32, out_rate: u32, channels: usize, quality: Quality) -> Result<Resampler> {
        check_rate(in_rate, "input rate")?;
        check_rate(out_rate, "output rate")?;
        if channels == 0 || channels > MAX_CHANNELS {
            return Err(Error::InvalidArgument(format!(
                "channels must be 1..{MAX_CHANNELS}, got {channels}"
            )));
        }
        let cascade = design::plan(in_rate, out_rate, quality)?;
        Ok(Self::from_cascade(cascade, channels))
    }

    /// A resampler running a given cascade (overall ratio `l / m`); the
    /// interpolated-phase kernel's exact front stage uses this.
    pub(crate) fn from_cascade(cascade: Arc<Cascade>, channels: usize) -> Resampler {
        let engine = if cascade.quality.wide() {
            Engine::Wide(Chain::new(&cascade, channels))
        } else {
            Engine::Narrow(Chain::new(&cascade, channels))
        };
        Resampler {
            cascade,
            channels,
            simd: crate::cpu::has_avx2_fma(),
            engine,
            received: 0,
            emitted: 0,
        }
    }

    /// Forces the portable scalar kernel (tests compare it with SIMD).
    #[cfg(test)]
    pub(crate) fn force_scalar(&mut self) {
        self.simd = false;
    }

    /// Sizes of each stage's filter.
    pub fn shapes(&self) -> Vec<Shape> {
        self.cascade.stages.iter().map(|p| p.shape).collect()
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Back to the state of a new resampler (history zeroed).
    pub fn reset(&mut self) {
        match &mut self.engine {
            Engine::Narrow(ch) => ch.reset(&self.cascade),
            Engine::Wide(ch) => ch.reset(&self.cascade),
        }
        self.received = 0;
        self.emitted = 0;
    }

    /// Frames per channel that `process` of `n` more input frames returns.
    pub fn output_frames(&self, n: usize) -> usize {
        match &self.engine {
            Engine::Narrow(ch) => ch.output_frames(&self.cascade, n),
            Engine::Wide(ch) => ch.output_frames(&self.cascade, n),
        }
    }

    /// Frames per channel that `flush` returns now: the rest of
    /// `ceil(received * out_rate / in_rate)`.
    pub fn flush_frames(&self) -> usize {
        let (l, m) = (self.cascade.l as u128, self.cascade.m as u128);
        let total = (self.received as u128 * l).div_ceil(m) as u64;
        (total - self.emitted) as usize
    }

    /// Input frames taken in whose output is still pending: those at or
    /// after the position of the first output not yet emitted.
    pub fn delay(&self) -> usize {
        let (l, m) = (self.cascade.l as u128, self.cascade.m as u128);
        let covered = (self.emitted as u128 * m).div_ceil(l) as u64;
        self.received.saturating_sub(covered) as usize
    }

    /// Resamples `frames` frames per channel of planar input (`input[c *
    /// frames + i]`) into `out` (row `c` at `out[c * stride ..]`). Returns the
    /// frames written per channel, always `output_frames(frames)`.
    pub fn process(&mut self, input: &[f32], frames: usize, out: &mut [f32], stride: usize) -> Result<usize> {
        if input.len() != frames * self.channels {
            return Err(Error::InvalidArgument(format!(
                "input holds {} samples, expected {} channels x {frames} frames",
                input.len(),
                self.channels
            )));
        }
        self.process_rows(input, frames, frames, out, stride)
    }

    /// `process` for input rows `in_stride` apart (`input[c * in_stride ..][..frames]`).
    pub fn process_rows(
        &mut self,
        input: &[f32],
        in_stride: usize,
        frames: usize,
        out: &mut [f32],
        stride: usize,
    ) -> Result<usize> {
        let needed = if frames == 0 {
            0
        } else {
            (self.channels - 1) * in_stride + frames
        };
        if in_stride < frames || input.len() < needed {
            return Err(Error::InvalidArgument(format!(
                "input rows of {frames} frames, {in_stride} apart, exceed {} samples",
                input.len()
            )));
        }
        let n_out = self.output_frames(frames);
        self.check_out(out, stride, n_out)?;
        self.run((input, in_stride), frames, out, stride, n_out, false);
        self.received += frames as u64;
        self.emitted += n_out as u64;
        Ok(n_out)
    }

    /// Emits the remaining output (zero input assumed after the end), then
    /// resets. Returns the frames written per channel (`flush_frames()`).
    pub fn flush(&mut self, out: &mut [f32], stride: usize) -> Result<usize> {
        let n_out = self.flush_frames();
        self.check_out(out, stride, n_out)?;
        if n_out > 0 {
            self.run((&[], 0), 0, out, stride, n_out, true);
        }
        self.reset();
        Ok(n_out)
    }

    fn run(&mut self, input: (&[f32], usize), n: usize, out: &mut [f32], stride: usize, n_out: usize, flushing: bool) {
        let (c, simd) = (&self.cascade, self.simd);
        match &mut self.engine {
            Engine::Narrow(ch) => ch.run(c, simd, input, n, out, stride, n_out, flushing),
            Engine::Wide(ch) => ch.run(c, simd, input, n, out, stride, n_out, flushing),
        }
    }

    fn check_out(&self, out: &[f32], stride: usize, n_out: usize) -> Result<()> {
        if stride < n_out {
            return Err(Error::BufferTooSmall {
                needed: n_out,
                given: stride,
            });
        }
        let needed = if n_out == 0 {
            0
        } else {
            (self.channels - 1) * stride + n_out
        };
        if out.len() < needed {
            return Err(Error::BufferTooSmall {
                needed,
                given: out.len(),
            });
        }
        Ok(())
    }
}

/// One-shot resampling of planar `input` (`channels x frames`) into `out`
/// (`channels x out_frames(frames)`, contiguous rows).
pub fn resample(
    in_rate: u32,
    out_rate: u32,
    quality: Quality,
    channels: usize,
    input: &[f32],
    frames: usize,
    out: &mut [f32],
) -> Result<usize> {
    let mut r = Resampler::new(in_rate, out_rate, channels, quality)?;
    let total = one_shot_frames(in_rate, out_rate, frames);
    if out.len() != total * channels {
        return Err(Error::BufferTooSmall {
            needed: total * channels,
            given: out.len(),
        });
    }
    // Blocks keep the histories short (in cache) and never copy the whole
    // input; chunking does not change the result.
    let mut pos = 0;
    let mut done = 0;
    let block = one_shot_block(&r.cascade);
    while pos < frames {
        let n = block.min(frames - pos);
        done += r.process_rows(&input[pos..], frames, n, &mut out[done..], total)?;
        pos += n;
    }
    r.flush(&mut out[done..], total)?;
    Ok(total)
}

/// Input frames per one-shot block: [`ONE_SHOT_BLOCK`], or, when the first
/// stage runs on the tap-parallel kernel with short filters, the nearest
/// multiple of `M * SHORT_GROUP` frames, so that every call emits whole
/// groups of outputs sharing a row (no outputs left to the one-by-one
/// path between calls).
fn one_shot_block(c: &Cascade) -> usize {
    let p = &c.stages[0];
    let short = if c.quality.wide() {
        stage::short_path::<f64>(p)
    } else {
        stage::short_path::<f32>(p)
    };
    if !short {
        return ONE_SHOT_BLOCK;
    }
    let unit = p.shape.m as usize * dot::SHORT_GROUP;
    if unit > ONE_SHOT_BLOCK * 4 {
        return ONE_SHOT_BLOCK;
    }
    unit * ONE_SHOT_BLOCK.div_ceil(unit)
}

/// `ceil(frames * out_rate / in_rate)`: the length of a one-shot result.
pub fn one_shot_frames(in_rate: u32, out_rate: u32, frames: usize) -> usize {
    ((frames as u128 * out_rate as u128).div_ceil(in_rate as u128)) as usize
}

#[cfg(test)]
mod tests;
