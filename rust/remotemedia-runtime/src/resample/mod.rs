//! Band-limited sample-rate conversion between integer rates.
//!
//! Modules, each depending only on those listed before it:
//!
//! - `design`: presets, stage layout, filter sizes and float64
//!   coefficients (a leaf: no kernels, no state);
//! - arithmetic: `fft` (float64 transforms), `dot` (the precisions, the
//!   tap-parallel dot products and the `Window` /
//!   `Dest` arguments every kernel takes), `lanes` (the
//!   output-parallel float32 kernel), `blocks` (fast convolution);
//! - `plan`: chooses each stage's kernel (one `Kernel`
//!   variant), builds its tables and owns the bounded cache of designs;
//! - `stage`: one stage's streaming state, running its plan's kernel;
//! - this module: the [`Resampler`] (stages chained) and one-shot [`resample`].
//!
//! Polyphase FIR: with `L / M = out_rate / in_rate` in lowest terms, output
//! `k` sits at position `k * M` of the `L`-times upsampled input and is the
//! dot product of filter row `(k * M) mod L` with the input frames around
//! `floor(k * M / L)`. The filter is zero-phase, so a click at time `t`
//! comes out at time `t`. Conversions by a factor of 2.5 or more run in two
//! stages (see `design::specs`): the sharp filter works at the lower rate.
//! Long filters with few phases run as fast convolution on float64 FFTs
//! (`blocks`); the rest on direct SIMD kernels. Streaming keeps a short
//! history per stage and channel and emits an output as soon as the input
//! it needs has arrived (a block stage: its whole block); `flush`
//! pads with zeros and emits the rest, so any chunking plus `flush` equals
//! the one-shot result, bit for bit.

mod blocks;
mod design;
mod dot;
mod fft;
mod lanes;
mod plan;
mod stage;

pub use design::{Quality, Shape, MAX_COEFFICIENTS};
pub use plan::RETAIN_BYTES;

use dot::Dest;
use plan::{Cascade, Precision};
use stage::Stage;

use crate::cpu::{Avx2Fma, Simd};
use crate::error::{Error, Result};
use std::sync::Arc;

/// Lowest and highest accepted rate, in Hz.
pub const MIN_RATE: u32 = 8_000;
pub const MAX_RATE: u32 = 192_000;
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
struct Chain<S: Precision> {
    cascade: Arc<Cascade<S>>,
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

/// Planar float32 input of one call: row `c` at `data[c * stride..][..frames]`.
#[derive(Clone, Copy)]
struct Input<'a> {
    data: &'a [f32],
    stride: usize,
    frames: usize,
}

/// A streaming resampler for a fixed number of planar channels.
pub struct Resampler {
    /// Overall reduced ratio (output / input).
    l: u64,
    m: u64,
    channels: usize,
    simd: Simd,
    engine: Engine,
    /// Input frames received and output frames emitted since the start.
    received: u64,
    emitted: u64,
}

impl<S: Precision> Chain<S> {
    fn new(cascade: Arc<Cascade<S>>, channels: usize) -> Chain<S> {
        Chain {
            stages: cascade.stages.iter().map(|p| Stage::new(p, channels)).collect(),
            cascade,
            tmp: Vec::new(),
            spare: Vec::new(),
        }
    }

    fn output_frames(&self, n: usize) -> usize {
        self.stages
            .iter()
            .zip(&self.cascade.stages)
            .fold(n, |k, (st, p)| st.output_frames(p, k))
    }

    /// Runs the input through every stage; the last writes `dest.frames`
    /// frames per channel into `dest`. `flushing`: pad each stage with
    /// zeros and emit all it has (the caller resets afterwards).
    fn run(&mut self, simd: Simd, input: Input<'_>, dest: Dest<'_, f32>, flushing: bool) {
        let Input {
            data: input,
            stride: in_stride,
            frames: n,
        } = input;
        let Dest {
            buf: out,
            stride,
            frames: n_out,
        } = dest;
        let channels = self.stages[0].channels();
        let last = self.stages.len() - 1;
        let mut frames = n;
        for (idx, (st, p)) in self.stages.iter_mut().zip(&self.cascade.stages).enumerate() {
            // The output-parallel kernel reads new frames in place (from the
            // caller's input or the previous stage's output) and the stage
            // keeps only their tail; padding for a flush goes through the
            // history.
            let first = if idx == 0 { S::borrow_f32(input) } else { None };
            let direct = !flushing && p.reads_in_place() && (idx > 0 || first.is_some());
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
                let dest = Dest {
                    buf: &mut *out,
                    stride,
                    frames: k.min(n_out),
                };
                st.emit_rows(p, simd, rows, dest, S::to_f32);
                self.tmp = tmp;
            } else {
                let mut buf = std::mem::take(&mut self.spare);
                // Every element the next stage reads is written by emit.
                if buf.len() < k * channels {
                    buf.resize(k * channels, S::default());
                }
                let dest = Dest {
                    buf: &mut buf[..],
                    stride: k,
                    frames: k,
                };
                st.emit_rows(p, simd, rows, dest, |v| v);
                self.tmp = buf;
                self.spare = tmp;
                frames = k;
            }
        }
    }

    fn reset(&mut self) {
        for (st, p) in self.stages.iter_mut().zip(&self.cascade.stages) {
            st.reset(p);
        }
    }

    fn shapes(&self) -> Vec<Shape> {
        self.cascade.stages.iter().map(|p| p.shape).collect()
    }

    /// Whether the first stage runs the tap-parallel short-filter path.
    fn short_first(&self) -> bool {
        self.cascade.stages[0].short_path()
    }

    /// `M` of the first stage.
    fn first_m(&self) -> u64 {
        self.cascade.stages[0].shape.m
    }

    fn kernel_names(&self) -> Vec<&'static str> {
        self.cascade.stages.iter().map(|p| p.kernel_name()).collect()
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
        let (l, m) = design::ratio(in_rate, out_rate);
        let engine = if quality.wide() {
            Engine::Wide(Chain::new(plan::plan::<f64>(in_rate, out_rate, quality)?, channels))
        } else {
            Engine::Narrow(Chain::new(plan::plan::<f32>(in_rate, out_rate, quality)?, channels))
        };
        Ok(Resampler {
            l,
            m,
            simd: Avx2Fma::detect(),
            channels,
            engine,
            received: 0,
            emitted: 0,
        })
    }

    /// Forces the portable scalar kernel (tests compare it with SIMD).
    #[cfg(test)]
    pub(crate) fn force_scalar(&mut self) {
        self.simd = None;
    }

    /// The kernel that runs each stage ("direct", "lanes" or "blocks").
    pub fn kernels(&self) -> Vec<&'static str> {
        match &self.engine {
            Engine::Narrow(ch) => ch.kernel_names(),
            Engine::Wide(ch) => ch.kernel_names(),
        }
    }

    /// Sizes of each stage's filter.
    pub fn shapes(&self) -> Vec<Shape> {
        match &self.engine {
            Engine::Narrow(ch) => ch.shapes(),
            Engine::Wide(ch) => ch.shapes(),
        }
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Back to the state of a new resampler (history zeroed).
    pub fn reset(&mut self) {
        match &mut self.engine {
            Engine::Narrow(ch) => ch.reset(),
            Engine::Wide(ch) => ch.reset(),
        }
        self.received = 0;
        self.emitted = 0;
    }

    /// Frames per channel that `process` of `n` more input frames returns.
    pub fn output_frames(&self, n: usize) -> usize {
        match &self.engine {
            Engine::Narrow(ch) => ch.output_frames(n),
            Engine::Wide(ch) => ch.output_frames(n),
        }
    }

    /// Frames per channel that `flush` returns now: the rest of
    /// `ceil(received * out_rate / in_rate)`.
    pub fn flush_frames(&self) -> usize {
        let (l, m) = (self.l as u128, self.m as u128);
        let total = (self.received as u128 * l).div_ceil(m) as u64;
        (total - self.emitted) as usize
    }

    /// Input frames taken in whose output is still pending: those at or
    /// after the position of the first output not yet emitted.
    pub fn delay(&self) -> usize {
        let (l, m) = (self.l as u128, self.m as u128);
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
        let input = Input {
            data: input,
            stride: in_stride,
            frames,
        };
        self.run(
            input,
            Dest {
                buf: out,
                stride,
                frames: n_out,
            },
            false,
        );
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
            let none = Input {
                data: &[],
                stride: 0,
                frames: 0,
            };
            self.run(
                none,
                Dest {
                    buf: out,
                    stride,
                    frames: n_out,
                },
                true,
            );
        }
        self.reset();
        Ok(n_out)
    }

    fn run(&mut self, input: Input<'_>, dest: Dest<'_, f32>, flushing: bool) {
        let simd = self.simd;
        match &mut self.engine {
            Engine::Narrow(ch) => ch.run(simd, input, dest, flushing),
            Engine::Wide(ch) => ch.run(simd, input, dest, flushing),
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
    let block = one_shot_block(&r.engine);
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
fn one_shot_block(e: &Engine) -> usize {
    let (short, m) = match e {
        Engine::Narrow(ch) => (ch.short_first(), ch.first_m()),
        Engine::Wide(ch) => (ch.short_first(), ch.first_m()),
    };
    if !short {
        return ONE_SHOT_BLOCK;
    }
    let unit = m as usize * dot::SHORT_GROUP;
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
