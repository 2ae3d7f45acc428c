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
//! per process by run-time CPU detection.

/// Outputs computed together when they share a filter row.
pub const GROUP: usize = 3;
/// Longest filter (taps) for the short-filter path, and the outputs it
/// computes together.
pub const SHORT_TAPS: usize = 64;
pub const SHORT_GROUP: usize = 8;

/// A sample type the kernel accumulates in (f32 or f64).
pub trait Sample: Copy + Default + Send + Sync + 'static {
    fn from_f32(x: f32) -> Self;
    fn to_f32(self) -> f32;
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    /// Coefficients of a plan in this precision.
    fn coefficients(plan: &super::design::Plan) -> &[Self];
    /// `dot(x[s[j]..s[j] + h.len()], h)` for each `j`.
    fn dot<const N: usize>(simd: bool, x: &[Self], s: [usize; N], h: &[Self]) -> [Self; N];
    /// Whether [`Sample::dot_short`] exists for this precision.
    const SHORT: bool = false;
    /// `dot` for short filters (at most [`SHORT_TAPS`] taps): one SIMD
    /// accumulator per output, reduced by a fixed tree, so that
    /// [`SHORT_GROUP`] outputs sharing a row reduce together (one
    /// transposed add tree) with the same bits as one output alone.
    fn dot_short<const N: usize>(simd: bool, x: &[Self], s: [usize; N], h: &[Self]) -> [Self; N] {
        Self::dot(simd, x, s, h)
    }
    /// Whether [`Sample::run_lanes`] runs for this plan.
    fn has_lanes(_plan: &super::design::Plan) -> bool {
        false
    }
    /// `x` itself when `Self` is f32 (input the kernel can read in place).
    fn borrow_f32(_x: &[f32]) -> Option<&[Self]> {
        None
    }
    /// Runs the output-parallel kernel when the plan has one for this
    /// precision (see [`super::lanes`]); false otherwise.
    #[allow(clippy::too_many_arguments)]
    fn run_lanes<O>(
        _simd: bool,
        _plan: &super::design::Plan,
        _scratch: &mut super::lanes::Scratch,
        _hist: &[Self],
        _new: &[Self],
        _start: i64,
        _k0: i64,
        _out: &mut [O],
        _put: impl Fn(Self) -> O,
    ) -> bool {
        false
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
    fn coefficients(plan: &super::design::Plan) -> &[f32] {
        &plan.coef32
    }
    #[inline]
    fn dot<const N: usize>(simd: bool, x: &[f32], s: [usize; N], h: &[f32]) -> [f32; N] {
        check(x.len(), &s, h.len());
        #[cfg(target_arch = "x86_64")]
        if simd {
            // SAFETY: `simd` is true only when AVX2 and FMA were detected;
            // every window was bounds-checked above.
            return unsafe { avx::dot_f32(x.as_ptr(), s, h) };
        }
        let _ = simd;
        s.map(|si| scalar_f32(&x[si..si + h.len()], h))
    }
    const SHORT: bool = true;
    #[inline(always)]
    fn dot_short<const N: usize>(simd: bool, x: &[f32], s: [usize; N], h: &[f32]) -> [f32; N] {
        check(x.len(), &s, h.len());
        #[cfg(target_arch = "x86_64")]
        if simd {
            // SAFETY: `simd` is true only when AVX2 and FMA were detected;
            // every window was bounds-checked above.
            return unsafe { avx::dot_short_f32(x.as_ptr(), s, h) };
        }
        let _ = simd;
        s.map(|si| scalar_short_f32(&x[si..si + h.len()], h))
    }
    fn has_lanes(plan: &super::design::Plan) -> bool {
        plan.lanes.is_some()
    }
    fn borrow_f32(x: &[f32]) -> Option<&[f32]> {
        Some(x)
    }
    fn run_lanes<O>(
        simd: bool,
        plan: &super::design::Plan,
        scratch: &mut super::lanes::Scratch,
        hist: &[f32],
        new: &[f32],
        start: i64,
        k0: i64,
        out: &mut [O],
        put: impl Fn(f32) -> O,
    ) -> bool {
        match &plan.lanes {
            Some(lanes) => {
                super::lanes::run(simd, lanes, scratch, hist, new, start, k0, out, put);
                true
            }
            None => false,
        }
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
    fn coefficients(plan: &super::design::Plan) -> &[f64] {
        &plan.coef64
    }
    #[inline]
    fn dot<const N: usize>(simd: bool, x: &[f64], s: [usize; N], h: &[f64]) -> [f64; N] {
        check(x.len(), &s, h.len());
        #[cfg(target_arch = "x86_64")]
        if simd {
            // SAFETY: as for f32.
            return unsafe { avx::dot_f64(x.as_ptr(), s, h) };
        }
        let _ = simd;
        s.map(|si| scalar_f64(&x[si..si + h.len()], h))
    }
}

// Index loops mirror the register layout (accumulator [output][block]).
#[allow(clippy::needless_range_loop)]
#[cfg(target_arch = "x86_64")]
mod avx {
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum_ps(a: [__m256; 4]) -> f32 {
        let v = _mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3]));
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum_pd(a: [__m256d; 4]) -> f64 {
        let v = _mm256_add_pd(_mm256_add_pd(a[0], a[1]), _mm256_add_pd(a[2], a[3]));
        let s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
        let s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
        _mm_cvtsd_f64(s)
    }

    /// # Safety
    /// AVX2+FMA present; `x + s[j]` valid for `h.len()` reads for every `j`;
    /// `h.len() % 8 == 0`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_f32<const N: usize>(x: *const f32, s: [usize; N], h: &[f32]) -> [f32; N] {
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

    /// One accumulator per output; lanes added as `((0+1)+(2+3))+((4+5)+(6+7))`,
    /// for 8 outputs through one transposed tree of horizontal adds.
    ///
    /// # Safety
    /// As [`dot_f32`].
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_short_f32<const N: usize>(x: *const f32, s: [usize; N], h: &[f32]) -> [f32; N] {
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

    /// # Safety
    /// As [`dot_f32`], with `h.len() % 4 == 0`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_f64<const N: usize>(x: *const f64, s: [usize; N], h: &[f64]) -> [f64; N] {
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
