//! One streaming resampler for every conversion: the exact polyphase
//! cascade where its tables are small (the common rates: their filters,
//! speed and bits), the interpolated-phase kernel ([`super::interp`])
//! otherwise, for a non-integer ratio, or when the ratio must be able to
//! change ([`AnyResampler::variable`]).

use super::interp::{self, Interp};
use super::oversampled::{self, Oversampled};
use super::{check_rate, Quality, Resampler};
use crate::error::{Error, Result};

/// The exact cascade or the interpolated-phase kernel.
pub enum AnyResampler {
    Exact(Resampler),
    /// Ratios under 1/2: one interpolated-phase stage.
    Interp(Box<Interp>),
    /// Ratios from 1/2: exact 2x stage, then interpolated phases.
    Oversampled(Box<Oversampled>),
}

fn by_rates(in_rate: u32, out_rate: u32, channels: usize, quality: Quality) -> Result<AnyResampler> {
    if oversampled::applies(out_rate as f64 / in_rate as f64) {
        let r = Oversampled::from_rates(in_rate, out_rate, channels, quality)?;
        return Ok(AnyResampler::Oversampled(Box::new(r)));
    }
    let r = Interp::from_rates(in_rate, out_rate, channels, quality)?;
    Ok(AnyResampler::Interp(Box::new(r)))
}

/// Checks that `out / in` is at most [`interp::MAX_RATIO`] either way.
pub fn check_rates(in_rate: u32, out_rate: u32) -> Result<()> {
    check_rate(in_rate, "input rate")?;
    check_rate(out_rate, "output rate")?;
    let (a, b) = (in_rate.max(out_rate) as f64, in_rate.min(out_rate) as f64);
    if a / b > interp::MAX_RATIO {
        return Err(Error::InvalidArgument(format!(
            "{in_rate} Hz -> {out_rate} Hz is a ratio beyond {}:1; convert in two steps",
            interp::MAX_RATIO
        )));
    }
    Ok(())
}

impl AnyResampler {
    /// Integer rates: the exact cascade unless its tables would exceed
    /// [`interp::EXACT_LIMIT`] coefficients.
    pub fn new(in_rate: u32, out_rate: u32, channels: usize, quality: Quality) -> Result<AnyResampler> {
        check_rates(in_rate, out_rate)?;
        if interp::needs_interp(in_rate, out_rate, quality) {
            return by_rates(in_rate, out_rate, channels, quality);
        }
        Ok(AnyResampler::Exact(Resampler::new(
            in_rate, out_rate, channels, quality,
        )?))
    }

    /// Integer rates on the interpolated-phase kernel, so that
    /// [`AnyResampler::set_ratio`] may change the ratio later (equal rates too).
    pub fn variable(in_rate: u32, out_rate: u32, channels: usize, quality: Quality) -> Result<AnyResampler> {
        check_rates(in_rate, out_rate)?;
        by_rates(in_rate, out_rate, channels, quality)
    }

    /// A non-integer ratio `out / in` (interpolated-phase kernel; variable).
    pub fn from_ratio(ratio: f64, channels: usize, quality: Quality) -> Result<AnyResampler> {
        interp::check_ratio(ratio)?;
        if oversampled::applies(ratio) {
            let r = Oversampled::from_ratio(ratio, channels, quality)?;
            return Ok(AnyResampler::Oversampled(Box::new(r)));
        }
        let r = Interp::from_ratio(ratio, channels, quality)?;
        Ok(AnyResampler::Interp(Box::new(r)))
    }

    /// A new ratio from the next output on, reached over `ramp` outputs.
    pub fn set_ratio(&mut self, ratio: f64, ramp: u64) -> Result<()> {
        match self {
            AnyResampler::Interp(r) => r.set_ratio(ratio, ramp),
            AnyResampler::Oversampled(r) => r.set_ratio(ratio, ramp),
            AnyResampler::Exact(_) => Err(Error::State(
                "this resampler has a fixed ratio; create it as variable to change the ratio".into(),
            )),
        }
    }

    pub fn channels(&self) -> usize {
        match self {
            AnyResampler::Exact(r) => r.channels(),
            AnyResampler::Interp(r) => r.channels(),
            AnyResampler::Oversampled(r) => r.channels(),
        }
    }

    pub fn output_frames(&self, n: usize) -> usize {
        match self {
            AnyResampler::Exact(r) => r.output_frames(n),
            AnyResampler::Interp(r) => r.output_frames(n),
            AnyResampler::Oversampled(r) => r.output_frames(n),
        }
    }

    pub fn flush_frames(&self) -> usize {
        match self {
            AnyResampler::Exact(r) => r.flush_frames(),
            AnyResampler::Interp(r) => r.flush_frames(),
            AnyResampler::Oversampled(r) => r.flush_frames(),
        }
    }

    pub fn delay(&self) -> usize {
        match self {
            AnyResampler::Exact(r) => r.delay(),
            AnyResampler::Interp(r) => r.delay(),
            AnyResampler::Oversampled(r) => r.delay(),
        }
    }

    pub fn reset(&mut self) {
        match self {
            AnyResampler::Exact(r) => r.reset(),
            AnyResampler::Interp(r) => r.reset(),
            AnyResampler::Oversampled(r) => r.reset(),
        }
    }

    /// Planar input (`input[c * frames + i]`); see [`Resampler::process`].
    pub fn process(&mut self, input: &[f32], frames: usize, out: &mut [f32], stride: usize) -> Result<usize> {
        if input.len() != frames * self.channels() {
            return Err(Error::InvalidArgument(format!(
                "input holds {} samples, expected {} channels x {frames} frames",
                input.len(),
                self.channels()
            )));
        }
        self.process_rows(input, frames, frames, out, stride)
    }

    pub fn process_rows(
        &mut self,
        input: &[f32],
        in_stride: usize,
        frames: usize,
        out: &mut [f32],
        stride: usize,
    ) -> Result<usize> {
        match self {
            AnyResampler::Exact(r) => r.process_rows(input, in_stride, frames, out, stride),
            AnyResampler::Interp(r) => r.process_rows(input, in_stride, frames, out, stride),
            AnyResampler::Oversampled(r) => r.process_rows(input, in_stride, frames, out, stride),
        }
    }

    pub fn flush(&mut self, out: &mut [f32], stride: usize) -> Result<usize> {
        match self {
            AnyResampler::Exact(r) => r.flush(out, stride),
            AnyResampler::Interp(r) => r.flush(out, stride),
            AnyResampler::Oversampled(r) => r.flush(out, stride),
        }
    }
}

/// One-shot resampling of planar `input` into `out` (`channels x
/// ceil(frames * out_rate / in_rate)`), on whichever kernel the rates need.
pub fn resample_any(
    in_rate: u32,
    out_rate: u32,
    quality: Quality,
    channels: usize,
    input: &[f32],
    frames: usize,
    out: &mut [f32],
) -> Result<usize> {
    check_rates(in_rate, out_rate)?;
    if !interp::needs_interp(in_rate, out_rate, quality) {
        return super::resample(in_rate, out_rate, quality, channels, input, frames, out);
    }
    let mut r = by_rates(in_rate, out_rate, channels, quality)?;
    let total = super::one_shot_frames(in_rate, out_rate, frames);
    if out.len() != total * channels {
        return Err(Error::BufferTooSmall {
            needed: total * channels,
            given: out.len(),
        });
    }
    let done = r.process_rows(input, frames, frames, out, total)?;
    r.flush(&mut out[done..], total)?;
    Ok(total)
}
