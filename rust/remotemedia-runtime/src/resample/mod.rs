//! Band-limited sample-rate conversion between integer rates.
//!
//! Polyphase FIR: with `L / M = out_rate / in_rate` in lowest terms, output
//! `k` sits at position `k * M` of the `L`-times upsampled input and is the
//! dot product of filter row `(k * M) mod L` with the input frames around
//! `floor(k * M / L)`. The filter is zero-phase, so a click at time `t`
//! comes out at time `t`. Streaming keeps a short history per channel and
//! emits an output as soon as the input it needs has arrived; `flush`
//! pads with zeros and emits the rest, so any chunking plus `flush` equals
//! the one-shot result, bit for bit.

pub mod design;
mod dot;

pub use design::{plan, Plan, Quality, Shape};
use dot::Sample;

use crate::error::{Error, Result};
use std::sync::Arc;

/// Lowest and highest accepted rate, in Hz.
pub const MIN_RATE: u32 = 8_000;
pub const MAX_RATE: u32 = 192_000;
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

/// Per-channel history in the precision of the kernel.
enum History {
    Narrow(Vec<Vec<f32>>),
    Wide(Vec<Vec<f64>>),
}

/// A streaming resampler for a fixed number of planar channels.
pub struct Resampler {
    plan: Arc<Plan>,
    channels: usize,
    simd: bool,
    history: History,
    /// Index of the next output, counted from the current origin.
    next: i64,
    /// Input frames received, counted from the current origin.
    received: i64,
    /// Input index of `history[c][0]` (negative before the first frames).
    start: i64,
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
        let plan = design::plan(in_rate, out_rate, quality)?;
        let history = if quality.wide() {
            History::Wide(vec![Vec::new(); channels])
        } else {
            History::Narrow(vec![Vec::new(); channels])
        };
        let mut r = Resampler {
            plan,
            channels,
            simd: crate::cpu::has_avx2_fma(),
            history,
            next: 0,
            received: 0,
            start: 0,
        };
        r.reset();
        Ok(r)
    }

    /// Sizes of the filter in use.
    pub fn shape(&self) -> Shape {
        self.plan.shape
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Back to the state of a new resampler (history zeroed).
    pub fn reset(&mut self) {
        let behind = self.plan.shape.behind as usize;
        match &mut self.history {
            History::Narrow(h) => h.iter_mut().for_each(|c| {
                c.clear();
                c.resize(behind, 0.0)
            }),
            History::Wide(h) => h.iter_mut().for_each(|c| {
                c.clear();
                c.resize(behind, 0.0)
            }),
        }
        self.next = 0;
        self.received = 0;
        self.start = -(behind as i64);
    }

    /// Number of outputs `k` (from 0) whose position `floor(k M / L)` is at
    /// most `a`.
    fn outputs_up_to(&self, a: i64) -> i64 {
        let (l, m) = (self.plan.shape.l as i64, self.plan.shape.m as i64);
        if a < 0 {
            return 0;
        }
        ((a + 1) * l - 1) / m + 1
    }

    fn ready_after(&self, received: i64) -> i64 {
        let ahead = self.plan.shape.ahead as i64;
        self.outputs_up_to(received - ahead - 1).max(self.next)
    }

    /// Frames per channel that `process` of `n` more input frames returns.
    pub fn output_frames(&self, n: usize) -> usize {
        (self.ready_after(self.received + n as i64) - self.next) as usize
    }

    /// Frames per channel that `flush` returns now.
    pub fn flush_frames(&self) -> usize {
        (self.total_outputs() - self.next).max(0) as usize
    }

    fn total_outputs(&self) -> i64 {
        let (l, m) = (self.plan.shape.l as i64, self.plan.shape.m as i64);
        (self.received * l + m - 1) / m
    }

    /// Input frames taken in whose output is still pending (what `flush`
    /// would release, counted in input frames).
    pub fn delay(&self) -> usize {
        let (l, m) = (self.plan.shape.l as i64, self.plan.shape.m as i64);
        let covered = (self.next * m + l - 1) / l;
        (self.received - covered).max(0) as usize
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
        let n_out = self.output_frames(frames);
        self.check_out(out, stride, n_out)?;
        self.append(|c| &input[c * frames..(c + 1) * frames]);
        self.received += frames as i64;
        self.emit(n_out, out, stride);
        Ok(n_out)
    }

    /// Emits the remaining output (zero input assumed after the end), then
    /// resets. Returns the frames written per channel (`flush_frames()`).
    pub fn flush(&mut self, out: &mut [f32], stride: usize) -> Result<usize> {
        let n_out = self.flush_frames();
        self.check_out(out, stride, n_out)?;
        if n_out > 0 {
            let s = self.plan.shape;
            let (l, m) = (s.l as i64, s.m as i64);
            let last = self.next + n_out as i64 - 1;
            let need = (last * m) / l + s.ahead as i64 + 1 - self.received;
            let zeros = vec![0.0f32; need.max(0) as usize];
            self.append(|_| &zeros);
            self.emit(n_out, out, stride);
        }
        self.reset();
        Ok(n_out)
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

    fn append<'a>(&mut self, rows: impl Fn(usize) -> &'a [f32]) {
        match &mut self.history {
            History::Narrow(h) => h.iter_mut().enumerate().for_each(|(c, v)| v.extend_from_slice(rows(c))),
            History::Wide(h) => h
                .iter_mut()
                .enumerate()
                .for_each(|(c, v)| v.extend(rows(c).iter().map(|&x| x as f64))),
        }
    }

    /// Computes outputs `next .. next + n` into `out`, trims the history and
    /// moves the origin forward so indices stay small.
    fn emit(&mut self, n: usize, out: &mut [f32], stride: usize) {
        let shape = self.plan.shape;
        let (next, start, simd) = (self.next, self.start, self.simd);
        match &mut self.history {
            History::Narrow(h) => {
                for (c, hist) in h.iter().enumerate() {
                    run(
                        simd,
                        &self.plan,
                        f32::coefficients(&self.plan),
                        hist,
                        start,
                        next,
                        &mut out[c * stride..][..n],
                    );
                }
            }
            History::Wide(h) => {
                for (c, hist) in h.iter().enumerate() {
                    run(
                        simd,
                        &self.plan,
                        f64::coefficients(&self.plan),
                        hist,
                        start,
                        next,
                        &mut out[c * stride..][..n],
                    );
                }
            }
        }
        self.next += n as i64;
        let (l, m) = (shape.l as i64, shape.m as i64);
        // Keep the history from the first frame the next output needs.
        let keep_from = (self.next * m) / l - shape.behind as i64;
        let held = match &self.history {
            History::Narrow(h) => h[0].len(),
            History::Wide(h) => h[0].len(),
        } as i64;
        let drop = (keep_from - self.start).clamp(0, held) as usize;
        match &mut self.history {
            History::Narrow(h) => h.iter_mut().for_each(|v| drop_front(v, drop)),
            History::Wide(h) => h.iter_mut().for_each(|v| drop_front(v, drop)),
        }
        self.start += drop as i64;
        // Rebase: L outputs span exactly M inputs.
        let periods = self.next / l;
        self.next -= periods * l;
        self.received -= periods * m;
        self.start -= periods * m;
    }
}

fn drop_front<T: Copy>(v: &mut Vec<T>, n: usize) {
    if n > 0 {
        v.drain(..n.min(v.len()));
    }
}

/// Outputs `k0 .. k0 + out.len()` of one channel. Outputs sharing a filter
/// row are computed four at a time (`dot4`); the rest one by one (`dot1`),
/// with identical per-output arithmetic.
fn run<S: Sample>(simd: bool, plan: &Plan, coef: &[S], hist: &[S], start: i64, k0: i64, out: &mut [f32]) {
    let s = plan.shape;
    let (l, m, t) = (s.l as i64, s.m as i64, s.taps);
    // Position of output k0: input frame q (relative to the history) and
    // filter row r; stepping one output adds M / L with carry.
    let pos = k0 * m;
    let mut q = pos / l - s.behind as i64 - start;
    let mut r = pos % l;
    let (qstep, rstep) = (m / l, m % l);
    let advance = |q: &mut i64, r: &mut i64| {
        *q += qstep;
        *r += rstep;
        if *r >= l {
            *r -= l;
            *q += 1;
        }
    };
    let n = out.len();
    let g = dot::GROUP;
    let lu = l as usize;
    let step = m as usize;
    let mut i = 0usize;
    // Blocks of GROUP * L outputs: output j, j + L, j + 2L, ... share a row
    // and their windows are M frames apart.
    while i + g * lu <= n {
        for j in 0..lu {
            let (s0, ri) = (q as usize, r as usize);
            let starts: [usize; dot::GROUP] = std::array::from_fn(|e| s0 + e * step);
            let y = S::dot(simd, hist, starts, &coef[ri * t..(ri + 1) * t]);
            for (e, v) in y.iter().enumerate() {
                out[i + j + e * lu] = v.to_f32();
            }
            advance(&mut q, &mut r);
        }
        // Skip the (GROUP - 1) * L outputs just computed: (GROUP - 1) * M frames.
        q += ((g - 1) * step) as i64;
        i += g * lu;
    }
    while i < n {
        let (s0, ri) = (q as usize, r as usize);
        out[i] = S::dot(simd, hist, [s0], &coef[ri * t..(ri + 1) * t])[0].to_f32();
        advance(&mut q, &mut r);
        i += 1;
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
    let a = r.output_frames(frames);
    // Process into the front of each row, flush into the rest.
    r.process(input, frames, out, total)?;
    r.flush(&mut out[a..], total)?;
    Ok(total)
}

/// `ceil(frames * out_rate / in_rate)`: the length of a one-shot result.
pub fn one_shot_frames(in_rate: u32, out_rate: u32, frames: usize) -> usize {
    ((frames as u128 * out_rate as u128).div_ceil(in_rate as u128)) as usize
}

#[cfg(test)]
mod tests;
