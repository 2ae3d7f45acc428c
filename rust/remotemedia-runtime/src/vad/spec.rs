//! Constants and tables of the VAD, computed exactly as the numpy body
//! computes them (`remotemedia/kernels/_vad_spec.py`): IEEE-exact
//! operations only, in the same order, so both bodies hold the same bits.

/// (input rate in Hz, decimation factor).
pub const DECIMATION: [(u32, usize); 5] = [(8000, 1), (16000, 2), (32000, 4), (44100, 7), (48000, 6)];
pub const FRAME_MS: [u32; 3] = [10, 20, 30];

pub const LAGS: usize = 16;
pub const GRID: usize = 32;
pub const BANDS_HZ: [(usize, usize); 8] = [
    (150, 400),
    (400, 700),
    (700, 1000),
    (1000, 1400),
    (1400, 1900),
    (1900, 2500),
    (2500, 3200),
    (3200, 4000),
];
pub const MAX_BANDS: usize = BANDS_HZ.len();
/// Features and scores run on 10 ms blocks whatever the frame length.
pub const BLOCK_MS: u32 = 10;
pub const LOG_SCALE: f64 = 16.0;
pub const SMOOTH_SHIFT: u32 = 2;
/// A block pulls the smoothed log energy at most this far below it (log units; see _vad_spec.py).
pub const SMOOTH_DROP: i32 = 32;
/// For its first SETTLE_BLOCKS blocks after the first, the floor is the smoothed energy itself (see _vad_spec.py).
pub const SETTLE_BLOCKS: u32 = 8;
pub const SUB_BLOCKS: u32 = 25;
pub const SUBWINDOWS: usize = 8;
pub const SLOW_SHIFT: u32 = 4;
/// The slow SNR average falls with this shift once every band's SNR has been
/// below `QUIET_SNR` for `QUIET_BLOCKS` blocks in a row (a sound has stopped; see _vad_spec.py).
pub const SLOW_FALL_SHIFT: u32 = 1;
pub const QUIET_SNR: i32 = 24;
pub const QUIET_BLOCKS: u32 = 5;
pub const FIX: u32 = 8;
pub const R_MIN: i32 = -64;
pub const R_MAX: i32 = 511;
pub const BLOCK_FEATURES: usize = 17;
pub const CONTEXT: [usize; 7] = [0, 1, 2, 3, 5, 8, 12];
pub const HIST: usize = 12;
pub const N_INPUTS: usize = BLOCK_FEATURES * CONTEXT.len() + MAX_BANDS;
pub const SCORE_ONE: u32 = 32768;
/// Aggressiveness presets: (threshold, release threshold, hangover in ms).
pub const PRESETS: [(f64, f64, u32); 4] = [(0.50, 0.35, 90), (0.60, 0.45, 90), (0.70, 0.55, 90), (0.80, 0.65, 60)];

/// The smallest integer score S with S / SCORE_ONE >= value.
pub fn threshold_units(value: f64) -> u32 {
    (value * SCORE_ONE as f64).ceil() as u32
}

// The same doubles as the numpy body's literals 0.6931471805599453 and
// 0.7071067811865476.
const LN2: f64 = std::f64::consts::LN_2;
const SQRT_HALF: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// cos(pi q / GRID) for q in 0..2*GRID, by half angles from cos(pi) then rotation.
pub fn cos_table() -> [f64; 2 * GRID] {
    let mut c = -1.0f64;
    let mut half = GRID;
    while half > 1 {
        c = ((1.0 + c) / 2.0).sqrt();
        half /= 2;
    }
    let s = (1.0 - c * c).sqrt();
    let mut out = [0.0; 2 * GRID];
    out[0] = 1.0;
    let (mut cq, mut sq) = (1.0f64, 0.0f64);
    for o in out.iter_mut().skip(1) {
        let nc = cq * c - sq * s;
        let ns = sq * c + cq * s;
        cq = nc;
        sq = ns;
        *o = cq;
    }
    out
}

/// Band weights: energy of band k = sum over l of `w[k][l] * r[l]`. Bands
/// with no grid point below the analysis Nyquist are dropped; returns the
/// number of bands kept.
pub fn band_weights(rate_internal: usize, w: &mut [[f64; LAGS + 1]; MAX_BANDS]) -> usize {
    let cos = cos_table();
    let mut k = 0;
    for &(lo, hi) in BANDS_HZ.iter() {
        let ms: Vec<usize> = (0..=GRID)
            .filter(|&m| lo * 2 * GRID <= m * rate_internal && m * rate_internal < hi * 2 * GRID)
            .collect();
        if ms.is_empty() {
            continue;
        }
        for (lag, wl) in w[k].iter_mut().enumerate() {
            let mut acc = 0.0f64;
            for &m in &ms {
                acc += cos[(m * lag) % (2 * GRID)];
            }
            let mult = if lag == 0 { 1 } else { 2 };
            let g = (mult * (LAGS + 1 - lag)) as f64 / (LAGS + 1) as f64;
            *wl = acc * g;
        }
        k += 1;
    }
    k
}

/// Natural logarithm of a positive normal number, |error| < 1e-7, with the
/// numpy body's operation order: frexp, mantissa to [sqrt(1/2), sqrt(2)),
/// then 2 atanh((m-1)/(m+1)) as an odd polynomial.
#[inline]
pub fn ln_approx(x: f64) -> f64 {
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1022;
    let mut m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1022u64 << 52));
    if m < SQRT_HALF {
        m *= 2.0;
        e -= 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut p = 1.0 / 11.0;
    p = p * s2 + 1.0 / 9.0;
    p = p * s2 + 1.0 / 7.0;
    p = p * s2 + 1.0 / 5.0;
    p = p * s2 + 1.0 / 3.0;
    p = p * s2 + 1.0;
    e as f64 * LN2 + (s + s) * p
}

/// `ln_approx` of each of 8 positive normal numbers: the same operations
/// lane by lane (so the same bits), written without branches so the
/// compiler can run the lanes in SIMD registers.
#[inline(always)]
pub fn ln_approx8(x: &[f64; 8]) -> [f64; 8] {
    let mut out = [0.0f64; 8];
    for (o, &v) in out.iter_mut().zip(x) {
        let bits = v.to_bits();
        let e = ((bits >> 52) & 0x7ff) as i32 - 1022;
        let m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1022u64 << 52));
        let low = m < SQRT_HALF;
        let m = if low { m * 2.0 } else { m };
        let e = e - low as i32;
        let s = (m - 1.0) / (m + 1.0);
        let s2 = s * s;
        let mut p = 1.0 / 11.0;
        p = p * s2 + 1.0 / 9.0;
        p = p * s2 + 1.0 / 7.0;
        p = p * s2 + 1.0 / 5.0;
        p = p * s2 + 1.0 / 3.0;
        p = p * s2 + 1.0;
        *o = e as f64 * LN2 + (s + s) * p;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_is_close_to_std() {
        for &x in &[1.0, 1.5, 2.0, 10.0, 1e-3, 123456.789, 1e12] {
            assert!(
                (ln_approx(x) - f64::ln(x)).abs() < 1e-7 * (1.0 + f64::ln(x).abs()),
                "{x}"
            );
        }
    }

    #[test]
    fn ln8_gives_the_bits_of_ln() {
        let mut x = [0.0f64; 8];
        let mut v = 0.7f64;
        for round in 0..2000 {
            for o in x.iter_mut() {
                v = v * 1.618 + 0.37;
                if v > 1e15 {
                    v *= 1e-14;
                }
                *o = v;
            }
            x[round % 8] = std::f64::consts::FRAC_1_SQRT_2 * (1u64 << (round % 40)) as f64;
            let y = ln_approx8(&x);
            for (a, b) in x.iter().zip(&y) {
                assert_eq!(ln_approx(*a).to_bits(), b.to_bits(), "{a}");
            }
        }
    }

    #[test]
    fn cos_table_matches_std() {
        let t = cos_table();
        for (q, v) in t.iter().enumerate() {
            let exact = (std::f64::consts::PI * q as f64 / GRID as f64).cos();
            assert!((v - exact).abs() < 1e-12, "{q}");
        }
    }

    #[test]
    fn bands_above_nyquist_are_dropped() {
        let mut w = [[0.0; LAGS + 1]; MAX_BANDS];
        assert_eq!(band_weights(8000, &mut w), 8);
        assert_eq!(band_weights(6300, &mut w), 7);
    }
}
