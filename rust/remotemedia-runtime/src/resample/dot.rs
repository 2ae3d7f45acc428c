//! Dot products of a filter row with input windows: the hot loop.
//!
//! Each output is accumulated in four SIMD accumulators (block `b` of 8
//! float32 taps, or 4 float64 taps, goes to accumulator `b mod 4`), which are then added
//! pairwise and reduced across lanes in a fixed order. With 8 float32 lanes
//! that is 32 partial sums per output, which keeps the float32 rounding
//! error near -150 dB. [`GROUP`] outputs that share a filter row are computed
//! together so that each coefficient is loaded once for several FMAs, with
//! exactly the per-output arithmetic of a single output: an output has the
//! same bits however it was grouped, which is what makes streaming
//! bit-identical to one-shot. The path (AVX2+FMA or scalar) is chosen once
//! per process by run-time CPU detection ([`crate::cpu::Avx2Fma`]).
//!
//! Also the arguments every kernel shares: [`Window`] (the input of one
//! channel) and [`Dest`] (where outputs go).

use crate::cpu::Simd;

/// Outputs computed together when they share a filter row.
pub const GROUP: usize = 3;
/// Longest filter (taps) for the short-filter path, and the outputs it
/// computes together.
pub const SHORT_TAPS: usize = 64;
pub const SHORT_GROUP: usize = 8;

/// The input a kernel computes one channel's outputs from: the history the
/// stage keeps, followed by new frames read where they lie.
#[derive(Clone, Copy)]
pub struct Window<'a, S> {
    /// Kept input, from input frame `start` on.
    pub hist: &'a [S],
    /// Frames that follow `hist` (empty when they were copied into it).
    pub new: &'a [S],
    /// Input index of `hist[0]` (negative before the stream's first frame).
    pub start: i64,
    /// Index of the first output to compute.
    pub k0: i64,
}

/// Where a stage writes its outputs: row `c` (channel `c`) at
/// `buf[c * stride..]`, `frames` outputs per row.
pub struct Dest<'a, O> {
    pub buf: &'a mut [O],
    pub stride: usize,
    pub frames: usize,
}

/// A sample type the kernel accumulates in (f32 or f64).
pub trait Sample: Copy + Default + Send + Sync + 'static {
    fn from_f32(x: f32) -> Self;
    fn to_f32(self) -> f32;
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    /// `dot(x[s[j]..s[j] + h.len()], h)` for each `j`.
    fn dot<const N: usize>(simd: Simd, x: &[Self], s: [usize; N], h: &[Self]) -> [Self; N];
    /// Whether [`Sample::dot_short`] exists for this precision.
    const SHORT: bool = false;
    /// `dot` for short filters (at most [`SHORT_TAPS`] taps): one SIMD
    /// accumulator per output, reduced by a fixed tree, so that
    /// [`SHORT_GROUP`] outputs sharing a row reduce together (one
    /// transposed add tree) with the same bits as one output alone.
    fn dot_short<const N: usize>(simd: Simd, x: &[Self], s: [usize; N], h: &[Self]) -> [Self; N] {
        Self::dot(simd, x, s, h)
    }
    /// `x` itself when `Self` is f64 (the float64-only kernels).
    fn as_f64(_x: &[Self]) -> Option<&[f64]> {
        None
    }
    /// `x` itself when `Self` is f32 (input the kernel can read in place).
    fn borrow_f32(_x: &[f32]) -> Option<&[Self]> {
        None
    }
}

#[inline]
fn check<const N: usize>(x_len: usize, s: &[usize; N], t: usize) {
    for &si in s {
        assert!(si + t <= x_len, "filter window {si}+{t} beyond history {x_len}");
    }
    assert!(t % super::design::TAP_BLOCK == 0);
}

macro_rules! scalar_dot {
    ($name:ident, $t:ty, $w:expr) => {
        /// Same accumulation structure as the SIMD path, one lane at a time.
        fn $name(x: &[$t], h: &[$t]) -> $t {
            let mut acc = [[0.0 as $t; $w]; 4];
            // Block b of $w taps goes to accumulator b mod 4.
            for (b, (xc, hc)) in x.chunks_exact($w).zip(h.chunks_exact($w)).enumerate() {
                let a = &mut acc[b % 4];
                for i in 0..$w {
                    a[i] += xc[i] * hc[i];
                }
            }
            let mut s = [0.0 as $t; $w];
            for i in 0..$w {
                s[i] = (acc[0][i] + acc[1][i]) + (acc[2][i] + acc[3][i]);
            }
            let mut w = $w;
            while w > 1 {
                w /= 2;
                for i in 0..w {
                    s[i] += s[i + w];
                }
            }
            s[0]
        }
    };
}
scalar_dot!(scalar_f32, f32, 8);

/// The short-filter arithmetic one lane at a time: lane `i` sums taps
/// `i, i + 8, ...` with fused multiply-adds, then the lanes are added as
/// `((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7))`.
fn scalar_short_f32(x: &[f32], h: &[f32]) -> f32 {
    let mut a = [0.0f32; 8];
    for (xc, hc) in x.chunks_exact(8).zip(h.chunks_exact(8)) {
        for i in 0..8 {
            a[i] = xc[i].mul_add(hc[i], a[i]);
        }
    }
    ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))
}
scalar_dot!(scalar_f64, f64, 4);

/// The float64 short-filter arithmetic one lane at a time: lane `i` sums
/// taps `i, i + 4, ...` with fused multiply-adds, then the lanes are added
/// as `(0 + 1) + (2 + 3)`.
fn scalar_short_f64(x: &[f64], h: &[f64]) -> f64 {
    let mut a = [0.0f64; 4];
    for (xc, hc) in x.chunks_exact(4).zip(h.chunks_exact(4)) {
        for i in 0..4 {
            a[i] = xc[i].mul_add(hc[i], a[i]);
        }
    }
    (a[0] + a[1]) + (a[2] + a[3])
}

impl Sample for f32 {
    #[inline]
    fn from_f32(x: f32) -> Self {
        x
    }
    #[inline]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn dot<const N: usize>(simd: Simd, x: &[f32], s: [usize; N], h: &[f32]) -> [f32; N] {
        check(x.len(), &s, h.len());
        #[cfg(target_arch = "x86_64")]
        if let Some(cpu) = simd {
            // SAFETY: every window `x[s[j]..s[j] + h.len()]` was bounds-checked
            // above and `h.len()` is a multiple of 8; the token proves AVX2+FMA.
            return unsafe { avx::dot_f32(cpu, x.as_ptr(), s, h) };
        }
        let _ = simd;
        s.map(|si| scalar_f32(&x[si..si + h.len()], h))
    }
    const SHORT: bool = true;
    #[inline(always)]
    fn dot_short<const N: usize>(simd: Simd, x: &[f32], s: [usize; N], h: &[f32]) -> [f32; N] {
        check(x.len(), &s, h.len());
        #[cfg(target_arch = "x86_64")]
        if let Some(cpu) = simd {
            // SAFETY: as in `dot`: windows bounds-checked, whole blocks of 8.
            return unsafe { avx::dot_short_f32(cpu, x.as_ptr(), s, h) };
        }
        let _ = simd;
        s.map(|si| scalar_short_f32(&x[si..si + h.len()], h))
    }
    fn borrow_f32(x: &[f32]) -> Option<&[f32]> {
        Some(x)
    }
}

impl Sample for f64 {
    #[inline]
    fn from_f32(x: f32) -> Self {
        x as f64
    }
    #[inline]
    fn to_f32(self) -> f32 {
        self as f32
    }
    #[inline]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline]
    fn dot<const N: usize>(simd: Simd, x: &[f64], s: [usize; N], h: &[f64]) -> [f64; N] {
        check(x.len(), &s, h.len());
        #[cfg(target_arch = "x86_64")]
        if let Some(cpu) = simd {
            // SAFETY: windows bounds-checked above, `h.len()` a multiple of 8
            // (so of 4); the token proves AVX2+FMA.
            return unsafe { avx::dot_f64(cpu, x.as_ptr(), s, h) };
        }
        let _ = simd;
        s.map(|si| scalar_f64(&x[si..si + h.len()], h))
    }
    const SHORT: bool = true;
    #[inline(always)]
    fn dot_short<const N: usize>(simd: Simd, x: &[f64], s: [usize; N], h: &[f64]) -> [f64; N] {
        check(x.len(), &s, h.len());
        #[cfg(target_arch = "x86_64")]
        if let Some(cpu) = simd {
            // SAFETY: as in `dot`: windows bounds-checked, whole blocks of 8 (so of 4).
            return unsafe { avx::dot_short_f64(cpu, x.as_ptr(), s, h) };
        }
        let _ = simd;
        s.map(|si| scalar_short_f64(&x[si..si + h.len()], h))
    }
    fn as_f64(x: &[f64]) -> Option<&[f64]> {
        Some(x)
    }
}

// Index loops mirror the register layout (accumulator [output][block]).
// Arithmetic intrinsics are safe to call inside these functions from Rust
// 1.86 on; the `unsafe` blocks are for 1.77 (the crate's minimum).
#[allow(clippy::needless_range_loop, unused_unsafe)]
#[cfg(target_arch = "x86_64")]
mod avx {
    use crate::cpu::Avx2Fma;
    use std::arch::x86_64::*;

    /// Sum of the four accumulators' lanes in a fixed order.
    ///
    /// # Safety
    /// The CPU supports AVX2 and FMA (callers hold an [`Avx2Fma`]).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum_ps(a: [__m256; 4]) -> f32 {
        // SAFETY: register arithmetic only; AVX2 per this function's contract.
        unsafe {
            let v = _mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3]));
            let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
            _mm_cvtss_f32(s)
        }
    }

    /// As [`hsum_ps`] for float64.
    ///
    /// # Safety
    /// The CPU supports AVX2 and FMA.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum_pd(a: [__m256d; 4]) -> f64 {
        // SAFETY: register arithmetic only; AVX2 per this function's contract.
        unsafe {
            let v = _mm256_add_pd(_mm256_add_pd(a[0], a[1]), _mm256_add_pd(a[2], a[3]));
            let s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
            let s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
            _mm_cvtsd_f64(s)
        }
    }

    /// `N` dot products of `h` with the windows at `x + s[j]`.
    ///
    /// # Safety
    /// `x + s[j]` is valid for `h.len()` reads for every `j`, and
    /// `h.len() % 8 == 0`. (The token proves AVX2+FMA.)
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_f32<const N: usize>(_cpu: Avx2Fma, x: *const f32, s: [usize; N], h: &[f32]) -> [f32; N] {
        // SAFETY: every load below reads `x + s[j] + i..+8` with `i + 8 <=
        // h.len()` (within the window, by the contract) or `h` itself.
        unsafe {
            let hp = h.as_ptr();
            let xs = s.map(|si| x.add(si));
            let mut acc = [[_mm256_setzero_ps(); 4]; N];
            let mut i = 0;
            while i + 32 <= h.len() {
                for j in 0..4 {
                    let hv = _mm256_loadu_ps(hp.add(i + 8 * j));
                    for o in 0..N {
                        acc[o][j] = _mm256_fmadd_ps(_mm256_loadu_ps(xs[o].add(i + 8 * j)), hv, acc[o][j]);
                    }
                }
                i += 32;
            }
            // Remaining blocks of 8 go on to accumulators 0, 1, 2 (block index mod 4).
            // Constant accumulator indices keep the accumulators in registers.
            let rem = (h.len() - i) / 8;
            for j in 0..3 {
                if j < rem {
                    let hv = _mm256_loadu_ps(hp.add(i + 8 * j));
                    for o in 0..N {
                        acc[o][j] = _mm256_fmadd_ps(_mm256_loadu_ps(xs[o].add(i + 8 * j)), hv, acc[o][j]);
                    }
                }
            }
            let mut out = [0.0f32; N];
            for o in 0..N {
                out[o] = hsum_ps(acc[o]);
            }
            out
        }
    }

    /// One accumulator per output; lanes added as `((0+1)+(2+3))+((4+5)+(6+7))`,
    /// for 8 outputs through one transposed tree of horizontal adds.
    ///
    /// # Safety
    /// As [`dot_f32`].
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_short_f32<const N: usize>(_cpu: Avx2Fma, x: *const f32, s: [usize; N], h: &[f32]) -> [f32; N] {
        // SAFETY: loads read `x + s[j] + i..+8` with `i + 8 <= h.len()` (the
        // windows, by the contract) or `h`; stores write the local `out`.
        unsafe {
            let hp = h.as_ptr();
            let xs = s.map(|si| x.add(si));
            let mut acc = [_mm256_setzero_ps(); N];
            let mut i = 0;
            while i < h.len() {
                let hv = _mm256_loadu_ps(hp.add(i));
                for o in 0..N {
                    acc[o] = _mm256_fmadd_ps(_mm256_loadu_ps(xs[o].add(i)), hv, acc[o]);
                }
                i += 8;
            }
            let mut out = [0.0f32; N];
            if N == 8 {
                // [a0+a1, a2+a3, b0+b1, b2+b3 | a4+a5, a6+a7, b4+b5, b6+b7], ...
                let t0 = _mm256_hadd_ps(acc[0], acc[1]);
                let t1 = _mm256_hadd_ps(acc[2], acc[3]);
                let t2 = _mm256_hadd_ps(acc[4], acc[5]);
                let t3 = _mm256_hadd_ps(acc[6], acc[7]);
                // [A_lo, B_lo, C_lo, D_lo | A_hi, B_hi, C_hi, D_hi]
                let u0 = _mm256_hadd_ps(t0, t1);
                let u1 = _mm256_hadd_ps(t2, t3);
                let lo = _mm256_permute2f128_ps(u0, u1, 0x20);
                let hi = _mm256_permute2f128_ps(u0, u1, 0x31);
                _mm256_storeu_ps(out.as_mut_ptr(), _mm256_add_ps(lo, hi));
            } else {
                for o in 0..N {
                    let t = _mm256_hadd_ps(acc[o], acc[o]);
                    let u = _mm256_hadd_ps(t, t);
                    let v = _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1));
                    out[o] = _mm_cvtss_f32(v);
                }
            }
            out
        }
    }

    /// [`dot_short_f32`] for float64: one accumulator per output, lanes
    /// added as `(0+1)+(2+3)`, for 4 outputs at a time through one
    /// transposed tree of horizontal adds.
    ///
    /// # Safety
    /// As [`dot_f32`], with `h.len() % 4 == 0`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_short_f64<const N: usize>(_cpu: Avx2Fma, x: *const f64, s: [usize; N], h: &[f64]) -> [f64; N] {
        // SAFETY: loads read `x + s[j] + i..+4` with `i + 4 <= h.len()` (the
        // windows, by the contract) or `h`; stores write the local `out`.
        unsafe {
            let hp = h.as_ptr();
            let xs = s.map(|si| x.add(si));
            let mut acc = [_mm256_setzero_pd(); N];
            let mut i = 0;
            while i < h.len() {
                let hv = _mm256_loadu_pd(hp.add(i));
                for o in 0..N {
                    acc[o] = _mm256_fmadd_pd(_mm256_loadu_pd(xs[o].add(i)), hv, acc[o]);
                }
                i += 4;
            }
            let mut out = [0.0f64; N];
            let whole = N / 4 * 4;
            let mut o = 0;
            while o < whole {
                // [a0+a1, b0+b1, a2+a3, b2+b3], [c0+c1, d0+d1, c2+c3, d2+d3]
                let t0 = _mm256_hadd_pd(acc[o], acc[o + 1]);
                let t1 = _mm256_hadd_pd(acc[o + 2], acc[o + 3]);
                let lo = _mm256_permute2f128_pd(t0, t1, 0x20);
                let hi = _mm256_permute2f128_pd(t0, t1, 0x31);
                _mm256_storeu_pd(out.as_mut_ptr().add(o), _mm256_add_pd(lo, hi));
                o += 4;
            }
            for o in whole..N {
                // [a0+a1, a0+a1, a2+a3, a2+a3]
                let t = _mm256_hadd_pd(acc[o], acc[o]);
                let v = _mm_add_pd(_mm256_castpd256_pd128(t), _mm256_extractf128_pd(t, 1));
                out[o] = _mm_cvtsd_f64(v);
            }
            out
        }
    }

    /// [`dot_f32`] for float64 (blocks of 4 taps).
    ///
    /// # Safety
    /// As [`dot_f32`], with `h.len() % 4 == 0`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_f64<const N: usize>(_cpu: Avx2Fma, x: *const f64, s: [usize; N], h: &[f64]) -> [f64; N] {
        // SAFETY: loads read `x + s[j] + i..+4` with `i + 4 <= h.len()` (the
        // windows, by the contract) or `h`.
        unsafe {
            let hp = h.as_ptr();
            let xs = s.map(|si| x.add(si));
            let mut acc = [[_mm256_setzero_pd(); 4]; N];
            let mut i = 0;
            while i + 16 <= h.len() {
                for j in 0..4 {
                    let hv = _mm256_loadu_pd(hp.add(i + 4 * j));
                    for o in 0..N {
                        acc[o][j] = _mm256_fmadd_pd(_mm256_loadu_pd(xs[o].add(i + 4 * j)), hv, acc[o][j]);
                    }
                }
                i += 16;
            }
            let rem = (h.len() - i) / 4;
            for j in 0..3 {
                if j < rem {
                    let hv = _mm256_loadu_pd(hp.add(i + 4 * j));
                    for o in 0..N {
                        acc[o][j] = _mm256_fmadd_pd(_mm256_loadu_pd(xs[o].add(i + 4 * j)), hv, acc[o][j]);
                    }
                }
            }
            let mut out = [0.0f64; N];
            for o in 0..N {
                out[o] = hsum_pd(acc[o]);
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The float64 short-filter path: an output has the same bits alone
    /// or in a group of [`SHORT_GROUP`], on the SIMD and the portable path.
    #[test]
    fn short_f64_outputs_have_the_same_bits_in_any_group_and_path() {
        let mut s = 11u64;
        let mut rnd = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let x: Vec<f64> = (0..300).map(|_| rnd()).collect();
        for taps in [8usize, 24, 40, 64] {
            let h: Vec<f64> = (0..taps).map(|_| rnd()).collect();
            let starts: [usize; SHORT_GROUP] = std::array::from_fn(|j| 3 + 7 * j);
            let want = <f64 as Sample>::dot_short(None, &x, starts, &h);
            for simd in [None, crate::cpu::Avx2Fma::detect()] {
                assert_eq!(<f64 as Sample>::dot_short(simd, &x, starts, &h), want, "taps {taps}");
                for (j, &st) in starts.iter().enumerate() {
                    let one = <f64 as Sample>::dot_short(simd, &x, [st], &h)[0];
                    assert_eq!(one.to_bits(), want[j].to_bits(), "taps {taps} output {j}");
                    let three = <f64 as Sample>::dot_short(simd, &x, [st, 0, 1], &h)[0];
                    assert_eq!(three.to_bits(), want[j].to_bits());
                }
            }
            let exact: f64 = x[3..3 + taps].iter().zip(&h).map(|(a, b)| a * b).sum();
            assert!((want[0] - exact).abs() < 1e-12);
        }
    }
}
