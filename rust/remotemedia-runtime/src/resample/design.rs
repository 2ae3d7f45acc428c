//! Filter design for the polyphase resampler: the leaf of the module.
//!
//! Presets, the stage layout of a conversion, the sizes of each stage's
//! filter (including the block size of the fast-convolution kernel) and
//! its float64 coefficients. Nothing here knows about kernels, caches or
//! streams; everything above uses it.
//!
//! The prototype is a Kaiser-windowed sinc at the "upsampled" rate
//! `F = L * in_rate` (`L / M = out_rate / in_rate` in lowest terms). It is
//! zero-phase (centred), so the output is delay-compensated. The same
//! formulas, in the same order, live in the numpy body
//! (`src/remotemedia/kernels/python/resample_design.py`): both bodies
//! build the same filter from the same float64 arithmetic.

use crate::error::{Error, Result};

/// Largest coefficient table (phases x taps) a plan may hold. 2^23 float64
/// coefficients = 64 MiB; a ratio that needs more (e.g. 191999 -> 192000 Hz)
/// is refused with a clear message instead of exhausting memory.
pub const MAX_COEFFICIENTS: u64 = 1 << 23;

/// Attenuation added to the short stage of a two-stage conversion: its
/// residue lands in the passband (an alias or image of a tone), and extra
/// decibels cost few taps on its wide transition band.
pub const SHORT_EXTRA_DB: f64 = 10.0;

/// The same for the many-phase short stage of a downward conversion: it
/// runs at the input rate on the tap-parallel kernel, so every tap counts;
/// 3 dB (still above the preset) keeps 44.1k -> 16k "high" at 48 taps
/// instead of 56 (8% faster overall).
pub const MANY_PHASE_EXTRA_DB: f64 = 3.0;

/// Most phases of a sharp stage placed for the output-parallel kernel
/// (float32 stages with at most this many phases run on it).
pub const PHASE_LIMIT: u64 = 4;

/// Most phases of a downward conversion by less than 2.5 that still runs
/// in two stages (a short many-phase stage, then the sharp 2:3 stage on
/// blocks: 22.05k -> 16k has 320, 48k -> 44.1k 147). Ratios with larger
/// terms keep one stage, and so the route they had (44.1k -> 44.056k,
/// 11014 phases, stays on interpolated phases).
pub const SPLIT_MAX_PHASES: u64 = 640;

/// Upward by at least this factor (with more than [`PHASE_LIMIT`] phases
/// in a sharp stage to half the output rate), the sharp stage doubles the
/// rate instead of taking it to 1.5 times the input rate.
pub const UP_DOUBLE_FIRST: u64 = 16;

/// Fewest taps per output for which a stage uses the fast-convolution
/// kernel: the transforms cost about the same whatever the length of the
/// filter, the direct kernels cost in proportion to it. "high" (208 taps
/// for the 3:2 and 1:2 stages, 312 for 2:3) runs 6-25% faster through
/// blocks, and so does "medium" since its redesign (issue 15: its 3:2
/// stage has 184 taps); shorter filters keep the direct kernels' low
/// latency.
pub const BLOCK_MIN_TAPS: usize = 176;
/// Most phases, and most streams (`M`), of a stage using that kernel.
pub const BLOCK_MAX_FACTOR: u64 = 4;

/// Taps per phase are padded to a multiple of this (the SIMD block).
pub const TAP_BLOCK: usize = 8;

/// A quality preset: filter shape and the arithmetic the kernel uses.
/// The discriminants are the ABI's `RM_QUALITY_*` codes ([`crate::abi`]).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quality {
    Low = crate::abi::RM_QUALITY_LOW,
    Medium = crate::abi::RM_QUALITY_MEDIUM,
    High = crate::abi::RM_QUALITY_HIGH,
    VeryHigh = crate::abi::RM_QUALITY_VERY_HIGH,
}

impl Quality {
    /// Every preset, in code order.
    pub const ALL: [Quality; 4] = [Quality::Low, Quality::Medium, Quality::High, Quality::VeryHigh];

    /// The preset for an ABI code (`RM_QUALITY_LOW` .. `RM_QUALITY_VERY_HIGH`).
    pub fn from_code(code: i32) -> Result<Quality> {
        match Quality::ALL.iter().find(|q| **q as i32 == code) {
            Some(&q) => Ok(q),
            None => Err(Error::InvalidArgument(format!(
                "unknown quality code {code}; expected 0 (low), 1 (medium), 2 (high) or 3 (very_high)"
            ))),
        }
    }

    /// (passband end, stopband start) as fractions of the lower Nyquist
    /// frequency, and the stopband attenuation in dB.
    pub fn spec(self) -> (f64, f64, f64) {
        match self {
            Quality::Low => (0.70, 1.0, 125.0),
            Quality::Medium => (0.90, 1.0, 137.0),
            Quality::High => (0.91, 1.0, 139.0),
            Quality::VeryHigh => (0.91, 1.0, 175.0),
        }
    }

    /// True when the kernel accumulates in float64 (float32 otherwise).
    pub fn wide(self) -> bool {
        matches!(self, Quality::VeryHigh)
    }
}

/// Greatest common divisor.
pub fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// Modified Bessel function of the first kind, order 0 (power series).
pub fn bessel_i0(x: f64) -> f64 {
    let q = x * x / 4.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut k = 1.0;
    while k < 500.0 {
        term *= q / (k * k);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
        k += 1.0;
    }
    sum
}

/// One stage of a conversion: ratio `l / m` and band edges `fp`, `fs`, all
/// in "virtual" rate units derived from the reduced overall ratio (so a
/// design depends only on the ratio, never on which rates asked first).
/// `scale` is the stage's input rate in those units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spec {
    pub l: u64,
    pub m: u64,
    pub scale: u64,
    pub fp: f64,
    pub fs: f64,
    /// dB of stopband attenuation added to the preset's (short stages).
    pub extra: f64,
}

/// The stages for the overall reduced ratio `l / m` (output / input).
///
/// A conversion by 2.5 or more runs in two stages so that the sharp filter
/// never runs at the higher rate, and runs with few phases (the
/// output-parallel kernel) wherever the ratio allows.
/// Downward, when the sharp stage at half the input rate has at most
/// [`PHASE_LIMIT`] phases (48k -> 16k: 2): a half-band filter halves the
/// rate first (passband to the final Nyquist frequency, stopband from where
/// aliases would reach it; every other tap is zero and skipped), then the
/// sharp filter. Otherwise (44.1k -> 16k): a short polyphase stage to 1.5
/// times the output rate (its stopband only has to start where images
/// would land in the final band), then a sharp 3:2 stage (2 phases); so
/// does a downward conversion by less than 2.5 whose single stage would
/// have more than [`PHASE_LIMIT`] (and at most [`SPLIT_MAX_PHASES`])
/// phases (22.05k -> 16k: a 160/147 stage to 24 kHz, then 3:2).
/// Upward mirrors this: the sharp filter to half the output rate then a
/// short doubling stage, or a sharp 2:3 stage (3 phases) to 1.5 times the
/// input rate then a short polyphase stage. Virtual units:
/// input rate `2m`, output rate `2l`.
pub fn specs(l: u64, m: u64, pb: f64, sb: f64) -> Vec<Spec> {
    let (lf, mf) = (l as f64, m as f64);
    // Downward by less than 2.5 with many phases (22.05k -> 16k: 320 / 441)
    // splits the same way as 44.1k -> 16k: one stage would run its long
    // filter on the tap-parallel kernel, two run it on blocks.
    if 2 * m >= 5 * l || (m > l && l > PHASE_LIMIT && l <= SPLIT_MAX_PHASES) {
        let g = gcd(2 * l, m);
        if 2 * m >= 5 * l && 2 * l / g <= PHASE_LIMIT {
            return vec![
                Spec {
                    l: 1,
                    m: 2,
                    scale: 2 * m,
                    fp: sb * lf,
                    fs: mf - sb * lf,
                    extra: SHORT_EXTRA_DB,
                },
                Spec {
                    l: 2 * l / g,
                    m: m / g,
                    scale: m,
                    fp: pb * lf,
                    fs: sb * lf,
                    extra: 0.0,
                },
            ];
        }
        let g = gcd(3 * l, 2 * m);
        vec![
            Spec {
                l: 3 * l / g,
                m: 2 * m / g,
                scale: 2 * m,
                fp: pb * lf,
                fs: 3.0 * lf - sb * lf,
                extra: MANY_PHASE_EXTRA_DB,
            },
            Spec {
                l: 2,
                m: 3,
                scale: 3 * l,
                fp: pb * lf,
                fs: sb * lf,
                extra: 0.0,
            },
        ]
    } else if 2 * l >= 5 * m {
        let g = gcd(l, 2 * m);
        if l / g <= PHASE_LIMIT {
            return vec![
                Spec {
                    l: l / g,
                    m: 2 * m / g,
                    scale: 2 * m,
                    fp: pb * mf,
                    fs: sb * mf,
                    extra: 0.0,
                },
                Spec {
                    l: 2,
                    m: 1,
                    scale: l,
                    fp: pb * mf,
                    fs: lf - sb * mf,
                    extra: SHORT_EXTRA_DB,
                },
            ];
        }
        if l >= UP_DOUBLE_FIRST * m {
            // Up by 16 or more: the sharp stage doubles (8k -> 16k on blocks)
            // and the short stage, which then dominates, starts its stopband
            // at 3 instead of 2 input Nyquists (8k -> 384k: 32 taps, not 40).
            let g = gcd(l, 2 * m);
            return vec![
                Spec {
                    l: 2,
                    m: 1,
                    scale: 2 * m,
                    fp: pb * mf,
                    fs: sb * mf,
                    extra: 0.0,
                },
                Spec {
                    l: l / g,
                    m: 2 * m / g,
                    scale: 4 * m,
                    fp: pb * mf,
                    fs: 4.0 * mf - sb * mf,
                    extra: SHORT_EXTRA_DB,
                },
            ];
        }
        let g = gcd(2 * l, 3 * m);
        vec![
            Spec {
                l: 3,
                m: 2,
                scale: 2 * m,
                fp: pb * mf,
                fs: sb * mf,
                extra: 0.0,
            },
            Spec {
                l: 2 * l / g,
                m: 3 * m / g,
                scale: 3 * m,
                fp: pb * mf,
                fs: 3.0 * mf - sb * mf,
                extra: SHORT_EXTRA_DB,
            },
        ]
    } else {
        let low = l.min(m) as f64;
        vec![Spec {
            l,
            m,
            scale: 2 * m,
            fp: pb * low,
            fs: sb * low,
            extra: 0.0,
        }]
    }
}

/// The sizes of a stage's filter; cheap to compute, no coefficients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Interpolation factor of the stage.
    pub l: u64,
    /// Decimation factor of the stage.
    pub m: u64,
    /// Half-length of the prototype, in upsampled samples.
    pub half: u64,
    /// Taps per output (per phase), a multiple of 8 (`TAP_BLOCK`).
    pub taps: usize,
    /// Input frames the filter reaches ahead of an output's position.
    pub ahead: u64,
    /// Input frames the filter window starts before an output's position.
    pub behind: u64,
    /// Periods (`L` outputs each) per block of the fast-convolution
    /// kernel, or 0 when the stage runs on a direct kernel (see
    /// `block_periods`).
    pub block: usize,
}

impl Shape {
    /// Sizes of the Kaiser design for `spec` with `atten` dB stopband.
    pub fn new(spec: &Spec, atten: f64) -> Shape {
        let atten = atten + spec.extra;
        let rate = (spec.l * spec.scale) as f64;
        let width = 2.0 * std::f64::consts::PI * (spec.fs - spec.fp) / rate;
        let length = (atten - 7.95) / (2.285 * width);
        let half = (length / 2.0).ceil() as u64;
        let l = spec.l;
        let ahead = half.div_ceil(l);
        let back = half / l;
        let raw = (ahead + back + 1) as usize;
        let taps = raw.div_ceil(TAP_BLOCK) * TAP_BLOCK;
        let behind = taps as u64 - 1 - ahead;
        Shape {
            l,
            m: spec.m,
            half,
            taps,
            ahead,
            behind,
            block: block_periods(l, spec.m, taps),
        }
    }

    /// Number of coefficients in the table (phases x taps).
    pub fn coefficients(&self) -> u64 {
        self.l * self.taps as u64
    }
}

/// Periods per block of the fast-convolution kernel for a stage of `l`
/// phases, decimation `m` and `taps` taps per output, or 0 when the stage
/// suits the direct kernels. The transform size is the power of two from
/// twice the correlation length `q`, within 256..4096; the block is what
/// one transform yields, `n - q + 1` periods. (Four times `q` wastes less
/// of each transform but ran no faster, the larger arrays falling out of
/// L1, and doubled the latency.)
pub fn block_periods(l: u64, m: u64, taps: usize) -> usize {
    block_periods_from(l, m, taps, 256)
}

/// Smallest transform of an exact sharp doubling stage (8k -> 16k), run
/// as 4 phases over a doubled period: 512 points instead of 256 at "high"
/// and "medium" take 12-14% less time (the transforms and products of a
/// block serve 408 periods instead of 152), for up to 102 ms of block
/// latency at 8 kHz (soxr "HQ" holds 116 ms there).
pub const DOUBLING_MIN_FFT: usize = 512;

/// [`block_periods`] with transforms of at least `min_fft` points.
pub fn block_periods_from(l: u64, m: u64, taps: usize, min_fft: usize) -> usize {
    if taps < BLOCK_MIN_TAPS || l > BLOCK_MAX_FACTOR || m > BLOCK_MAX_FACTOR {
        return 0;
    }
    let (l, m) = (l as usize, m as usize);
    let q = ((l - 1) * m / l + taps).div_ceil(m);
    let n = (2 * q).next_power_of_two().clamp(min_fft, 4096);
    n - q + 1
}

/// The `(phases x taps)` float64 coefficient table of a stage: row `r`
/// for the outputs whose position `k * M` is `r` modulo `L`.
pub fn coefficients(spec: &Spec, shape: &Shape, atten: f64) -> Result<Vec<f64>> {
    let n = shape.coefficients();
    let rate = (spec.l * spec.scale) as f64;
    let fc = (spec.fp + spec.fs) / (2.0 * rate);
    let beta = 0.1102 * (atten + spec.extra - 8.7);
    let half = shape.half;
    let i0_beta = bessel_i0(beta);
    let gain = spec.l as f64;
    // One half of the symmetric prototype, at distances 0..=half.
    let mut proto = Vec::new();
    proto
        .try_reserve_exact(half as usize + 1)
        .map_err(|_| Error::Allocation {
            bytes: (half as usize + 1) * 8,
        })?;
    for d in 0..=half {
        let df = d as f64;
        let arg = 2.0 * fc * df;
        // A zero of the sinc is exactly zero (half-band stages skip those taps).
        let sinc = if d == 0 {
            1.0
        } else if arg == arg.round() {
            0.0
        } else {
            (std::f64::consts::PI * arg).sin() / (std::f64::consts::PI * arg)
        };
        let ratio = df / half as f64;
        let w = bessel_i0(beta * (1.0 - ratio * ratio).max(0.0).sqrt()) / i0_beta;
        proto.push(gain * 2.0 * fc * sinc * w);
    }
    let taps = shape.taps;
    let mut coef64 = Vec::new();
    coef64
        .try_reserve_exact(n as usize)
        .map_err(|_| Error::Allocation { bytes: n as usize * 8 })?;
    let (l, behind) = (shape.l as i64, shape.behind as i64);
    for r in 0..l {
        for mi in 0..taps as i64 {
            let d = (r + (behind - mi) * l).unsigned_abs();
            coef64.push(if d <= half { proto[d as usize] } else { 0.0 });
        }
    }
    Ok(coef64)
}

/// The reduced ratio `(l, m)` = `out_rate / in_rate` in lowest terms.
pub fn ratio(in_rate: u32, out_rate: u32) -> (u64, u64) {
    let g = gcd(in_rate as u64, out_rate as u64);
    (out_rate as u64 / g, in_rate as u64 / g)
}

/// Every stage of the conversion by `l / m` at `quality`, with its filter
/// sizes; refused when the tables would hold more than
/// [`MAX_COEFFICIENTS`] (the same rule, and message, as the Python check).
pub fn layout(l: u64, m: u64, quality: Quality) -> Result<Vec<(Spec, Shape)>> {
    let (pb, sb, atten) = quality.spec();
    let stages: Vec<(Spec, Shape)> = specs(l, m, pb, sb)
        .into_iter()
        .map(|s| (s, Shape::new(&s, atten)))
        .collect();
    let total: u64 = stages.iter().map(|(_, shape)| shape.coefficients()).sum();
    if total > MAX_COEFFICIENTS {
        return Err(Error::InvalidArgument(format!(
            "the filter for ratio {m}:{l} needs {total} coefficients, more than the limit of {MAX_COEFFICIENTS}; \
             use rates with a larger common divisor or a lower quality"
        )));
    }
    Ok(stages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bessel_matches_known_values() {
        assert_eq!(bessel_i0(0.0), 1.0);
        assert!((bessel_i0(1.0) - 1.266_065_877_752_008_4).abs() < 1e-15);
        assert!((bessel_i0(10.0) - 2_815.716_628_466_254).abs() < 1e-9);
    }

    #[test]
    fn dc_gain_is_one_per_phase() {
        for &(i, o) in &[(48_000, 16_000), (16_000, 48_000), (44_100, 16_000), (8_000, 11_025)] {
            let (l, m) = ratio(i, o);
            let atten = Quality::High.spec().2;
            for (spec, shape) in layout(l, m, Quality::High).unwrap() {
                let coef = coefficients(&spec, &shape, atten).unwrap();
                for row in coef.chunks(shape.taps) {
                    let s: f64 = row.iter().sum();
                    assert!((s - 1.0).abs() < 1e-6, "{i}->{o}: phase sum {s}");
                }
            }
        }
    }

    #[test]
    fn huge_ratio_is_refused() {
        let (l, m) = ratio(191_999, 192_000);
        let err = layout(l, m, Quality::High).err().unwrap();
        assert!(matches!(err, Error::InvalidArgument(_)));
    }

    #[test]
    fn quality_codes_round_trip() {
        for q in Quality::ALL {
            assert_eq!(Quality::from_code(q as i32).unwrap(), q);
        }
        assert!(Quality::from_code(4).is_err());
    }
}
