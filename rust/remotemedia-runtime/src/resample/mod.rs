//! Band-limited sample-rate conversion: integer rates from 1 kHz to
//! 768 kHz (up to 256:1 either way), non-integer ratios, and ratios that
//! change on a running stream.
//!
//! Modules, each depending only on those listed before it:
//!
//! - `design`: presets, stage layout, filter sizes and float64
//!   coefficients (a leaf: no kernels, no state);
//! - arithmetic: `fft` (float64 transforms), `dot` (the precisions, the
//!   tap-parallel dot products and the `Window` /
//!   `Dest` arguments every kernel takes), `lanes` (the
//!   output-parallel float32 kernel), `blocks` (fast convolution),
//!   `fft32` (float32 transforms) and `front32` (the interpolated route's
//!   front 2x stage on blocks, float32 or float64 transforms),
//!   `interp` (the interpolated-phase kernel: its table, arithmetic and
//!   one stage's stream);
//! - `plan`: the one place that chooses: the structure of a conversion
//!   (a `Route`: exact, interpolated, or oversampled), each exact stage's
//!   kernel (one `Kernel` variant), their tables, and the bounded caches
//!   of designs;
//! - `stage`: one exact stage's streaming state, running its plan's kernel;
//! - `exact`: an exact conversion (stages chained, stream counts);
//! - `oversampled`: an exact 2x front stage, then interpolated phases;
//! - this module: the [`Resampler`] (whichever route the plan chose,
//!   behind one type) and one-shot [`resample`].
//!
//! Exact route, polyphase FIR: with `L / M = out_rate / in_rate` in lowest
//! terms, output `k` sits at position `k * M` of the `L`-times upsampled
//! input and is the dot product of filter row `(k * M) mod L` with the
//! input frames around `floor(k * M / L)`. The filter is zero-phase, so a
//! click at time `t` comes out at time `t`. Conversions by a factor of 2.5
//! or more run in two stages (see `design::specs`): the sharp filter works
//! at the lower rate. Long filters with few phases run as fast convolution
//! on float64 FFTs (`blocks`); the rest on direct SIMD kernels. Ratios
//! whose exact tables would be too large, non-integer ratios and variable
//! ones run on interpolated phases (`interp`), from a ratio of 1/2 up
//! behind an exact sharp 2x stage (`oversampled`). Streaming keeps a short
//! history per stage and channel and emits an output as soon as the input
//! it needs has arrived (a block stage: its whole block); `flush` pads with
//! zeros and emits the rest, so any chunking plus `flush` equals the
//! one-shot result, bit for bit.

mod blocks;
mod design;
mod dot;
mod exact;
mod fft;
mod fft32;
mod front32;
mod interp;
mod lanes;
#[cfg(target_arch = "x86_64")]
mod next;
mod oversampled;
mod plan;
mod stage;

pub use design::{Quality, Shape, MAX_COEFFICIENTS};
pub use interp::{MAX_RATIO, VARIABLE_RANGE};
pub use plan::{Route, EXACT_LIMIT, RETAIN_BYTES};

use dot::Dest;
use exact::{Exact, Input};
use interp::{check_ratio, Interp, InterpShape};
use oversampled::Oversampled;

use crate::error::{Error, Result};

/// Lowest and highest accepted rate, in Hz.
pub const MIN_RATE: u32 = 1_000;
pub const MAX_RATE: u32 = 768_000;
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

/// Checks both rates and that `out / in` is at most [`MAX_RATIO`] either way.
pub fn check_rates(in_rate: u32, out_rate: u32) -> Result<()> {
    check_rate(in_rate, "input rate")?;
    check_rate(out_rate, "output rate")?;
    let (a, b) = (in_rate.max(out_rate) as f64, in_rate.min(out_rate) as f64);
    if a / b > MAX_RATIO {
        return Err(Error::InvalidArgument(format!(
            "{in_rate} Hz -> {out_rate} Hz is a ratio beyond {MAX_RATIO}:1; convert in two steps"
        )));
    }
    Ok(())
}

fn check_channels(channels: usize) -> Result<()> {
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(Error::InvalidArgument(format!(
            "channels must be 1..{MAX_CHANNELS}, got {channels}"
        )));
    }
    Ok(())
}

/// What runs a resampler: one variant per [`Route`].
enum Engine {
    Exact(Exact),
    Interp(Box<Interp>),
    Oversampled(Box<Oversampled>),
}

/// A streaming resampler for a fixed number of planar channels.
pub struct Resampler {
    channels: usize,
    engine: Engine,
}

impl Resampler {
    /// A resampler for `channels` channels from `in_rate` to `out_rate` Hz:
    /// the exact cascade where its tables are small (the common rates),
    /// interpolated phases otherwise ([`plan::route`]).
    pub fn new(in_rate: u32, out_rate: u32, channels: usize, quality: Quality) -> Result<Resampler> {
        Self::by_rates(in_rate, out_rate, channels, quality, false)
    }

    /// Integer rates on interpolated phases, so that
    /// [`Resampler::set_ratio`] may change the ratio later (equal rates too).
    pub fn variable(in_rate: u32, out_rate: u32, channels: usize, quality: Quality) -> Result<Resampler> {
        Self::by_rates(in_rate, out_rate, channels, quality, true)
    }

    /// A non-integer ratio `out / in` (interpolated phases; variable).
    pub fn from_ratio(ratio: f64, channels: usize, quality: Quality) -> Result<Resampler> {
        check_ratio(ratio)?;
        check_channels(channels)?;
        let engine = match plan::route_ratio(ratio) {
            Route::Oversampled => Engine::Oversampled(Box::new(Oversampled::from_ratio(ratio, channels, quality)?)),
            _ => {
                let table = plan::interp_table(&InterpShape::new(ratio.min(1.0), quality))?;
                let clock = interp::ratio_clock(ratio);
                Engine::Interp(Box::new(Interp::new(ratio, clock, channels, table)?))
            }
        };
        Ok(Resampler { channels, engine })
    }

    fn by_rates(in_rate: u32, out_rate: u32, channels: usize, quality: Quality, variable: bool) -> Result<Resampler> {
        check_rates(in_rate, out_rate)?;
        check_channels(channels)?;
        let engine = match plan::route(in_rate, out_rate, quality, variable) {
            Route::Exact => Engine::Exact(Exact::new(in_rate, out_rate, channels, quality)?),
            Route::Oversampled => {
                let back = plan::back_factor(in_rate, out_rate, variable);
                Engine::Oversampled(Box::new(Oversampled::from_rates(
                    in_rate, out_rate, channels, quality, back,
                )?))
            }
            Route::Interp => {
                let ratio = out_rate as f64 / in_rate as f64;
                let table = plan::interp_table(&InterpShape::new(ratio.min(1.0), quality))?;
                let clock = interp::rate_clock(in_rate, out_rate);
                Engine::Interp(Box::new(Interp::new(ratio, clock, channels, table)?))
            }
        };
        Ok(Resampler { channels, engine })
    }

    /// The route the plan chose for this resampler.
    pub fn route(&self) -> Route {
        match &self.engine {
            Engine::Exact(_) => Route::Exact,
            Engine::Interp(_) => Route::Interp,
            Engine::Oversampled(_) => Route::Oversampled,
        }
    }

    /// Forces the portable scalar kernels (tests compare them with SIMD).
    #[cfg(test)]
    pub(crate) fn force_scalar(&mut self) {
        match &mut self.engine {
            Engine::Exact(e) => e.force_scalar(),
            Engine::Interp(r) => r.force_scalar(),
            Engine::Oversampled(r) => r.force_scalar(),
        }
    }

    /// The kernel that runs each exact stage ("direct", "lanes" or
    /// "blocks"), then "interp" for an interpolated-phase stage.
    pub fn kernels(&self) -> Vec<&'static str> {
        match &self.engine {
            Engine::Exact(e) => e.kernels(),
            Engine::Interp(_) => vec!["interp"],
            Engine::Oversampled(r) => r.kernels(),
        }
    }

    /// Sizes of each exact stage's filter (none on the interpolated route).
    pub fn shapes(&self) -> Vec<Shape> {
        match &self.engine {
            Engine::Exact(e) => e.shapes(),
            Engine::Interp(_) => Vec::new(),
            Engine::Oversampled(r) => r.shapes(),
        }
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    /// A new ratio `out / in` from the next output on, reached linearly over
    /// `ramp` outputs; only for resamplers made by [`Resampler::variable`]
    /// or [`Resampler::from_ratio`].
    pub fn set_ratio(&mut self, ratio: f64, ramp: u64) -> Result<()> {
        match &mut self.engine {
            Engine::Interp(r) => r.set_ratio(ratio, ramp),
            Engine::Oversampled(r) => r.set_ratio(ratio, ramp),
            Engine::Exact(_) => Err(Error::State(
                "this resampler has a fixed ratio; create it as variable to change the ratio".into(),
            )),
        }
    }

    /// Back to the state of a new resampler (history zeroed, first ratio).
    pub fn reset(&mut self) {
        match &mut self.engine {
            Engine::Exact(e) => e.reset(),
            Engine::Interp(r) => r.reset(),
            Engine::Oversampled(r) => r.reset(),
        }
    }

    /// Frames per channel that `process` of `n` more input frames returns.
    pub fn output_frames(&self, n: usize) -> usize {
        match &self.engine {
            Engine::Exact(e) => e.output_frames(n),
            Engine::Interp(r) => r.output_frames(n),
            Engine::Oversampled(r) => r.output_frames(n),
        }
    }

    /// Frames per channel that `flush` returns now: the rest of
    /// `ceil(received * out_rate / in_rate)` for integer rates.
    pub fn flush_frames(&self) -> usize {
        match &self.engine {
            Engine::Exact(e) => e.flush_frames(),
            Engine::Interp(r) => r.flush_frames(),
            Engine::Oversampled(r) => r.flush_frames(),
        }
    }

    /// Input frames taken in whose output is still pending: those at or
    /// after the position of the first output not yet emitted.
    pub fn delay(&self) -> usize {
        match &self.engine {
            Engine::Exact(e) => e.delay(),
            Engine::Interp(r) => r.delay(),
            Engine::Oversampled(r) => r.delay(),
        }
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
        match &mut self.engine {
            Engine::Exact(e) => {
                let input = Input {
                    data: input,
                    stride: in_stride,
                    frames,
                };
                let dest = Dest {
                    buf: out,
                    stride,
                    frames: n_out,
                };
                e.process(input, dest);
                Ok(n_out)
            }
            Engine::Interp(r) => r.process_rows(input, in_stride, frames, out, stride),
            Engine::Oversampled(r) => r.process_rows(input, in_stride, frames, out, stride),
        }
    }

    /// Emits the remaining output (zero input assumed after the end), then
    /// resets. Returns the frames written per channel (`flush_frames()`).
    pub fn flush(&mut self, out: &mut [f32], stride: usize) -> Result<usize> {
        let n_out = self.flush_frames();
        self.check_out(out, stride, n_out)?;
        match &mut self.engine {
            Engine::Exact(e) => {
                e.flush(Dest {
                    buf: out,
                    stride,
                    frames: n_out,
                });
                Ok(n_out)
            }
            Engine::Interp(r) => r.flush(out, stride),
            Engine::Oversampled(r) => r.flush(out, stride),
        }
    }

    fn check_out(&self, out: &[f32], stride: usize, n_out: usize) -> Result<()> {
        interp::check_out(out, stride, n_out, self.channels)
    }

    /// Input frames per one-shot block (see [`exact::Exact::one_shot_block`]).
    fn one_shot_block(&self) -> usize {
        match &self.engine {
            Engine::Exact(e) => e.one_shot_block(),
            _ => exact::ONE_SHOT_BLOCK,
        }
    }
}

/// One-shot resampling of planar `input` (`channels x frames`) into `out`
/// (`channels x out_frames(frames)`, contiguous rows), on whichever route
/// the rates need.
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
    let block = r.one_shot_block();
    while pos < frames {
        let n = block.min(frames - pos);
        done += r.process_rows(&input[pos..], frames, n, &mut out[done..], total)?;
        pos += n;
    }
    r.flush(&mut out[done..], total)?;
    Ok(total)
}

/// `ceil(frames * out_rate / in_rate)`: the length of a one-shot result.
pub fn one_shot_frames(in_rate: u32, out_rate: u32, frames: usize) -> usize {
    ((frames as u128 * out_rate as u128).div_ceil(in_rate as u128)) as usize
}

#[cfg(test)]
mod tests;
