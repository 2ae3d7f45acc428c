//! Dot products of a filter row with input windows: the hot loop.
//!
//! Each output is accumulated in two SIMD accumulators (even and odd
//! blocks of the row), added and reduced in a fixed order. `dot4` computes
//! four outputs that share a row (so each coefficient is loaded once for
//! four FMAs) with exactly the per-output arithmetic of `dot1`: an output
//! has the same bits whichever function computed it, which is what makes
//! streaming bit-identical to one-shot. The path (AVX2+FMA or scalar) is
//! chosen once per process by run-time CPU detection.

/// A sample type the kernel accumulates in (f32 or f64).
pub trait Sample: Copy + Default + Send + Sync + 'static {
    fn to_f32(self) -> f32;
    /// Coefficients of a plan in this precision.
    fn coefficients(plan: &super::design::Plan) -> &[Self];
    /// `dot(x[s..s + h.len()], h)`.
    fn dot1(simd: bool, x: &[Self], s: usize, h: &[Self]) -> Self;
    /// `dot1` for four windows sharing the row `h`.
    fn dot4(simd: bool, x: &[Self], s: [usize; 4], h: &[Self]) -> [Self; 4];
}

#[inline]
fn check(x_len: usize, s: usize, t: usize) {
    assert!(s + t <= x_len, "filter window {s}+{t} beyond history {x_len}");
    assert!(t % super::design::TAP_BLOCK == 0);
}

macro_rules! scalar_dot {
    ($name:ident, $t:ty, $w:expr) => {
        fn $name(x: &[$t], h: &[$t]) -> $t {
            let mut a = [0.0 as $t; $w];
            let mut b = [0.0 as $t; $w];
            for (xc, hc) in x.chunks_exact(2 * $w).zip(h.chunks_exact(2 * $w)) {
                for i in 0..$w {
                    a[i] += xc[i] * hc[i];
                    b[i] += xc[i + $w] * hc[i + $w];
                }
            }
            let mut s = [0.0 as $t; $w];
            for i in 0..$w {
                s[i] = a[i] + b[i];
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
scalar_dot!(scalar_f64, f64, 4);

impl Sample for f32 {
    #[inline]
    fn to_f32(self) -> f32 {
        self
    }
    fn coefficients(plan: &super::design::Plan) -> &[f32] {
        &plan.coef32
    }
    #[inline]
    fn dot1(simd: bool, x: &[f32], s: usize, h: &[f32]) -> f32 {
        check(x.len(), s, h.len());
        #[cfg(target_arch = "x86_64")]
        if simd {
            // SAFETY: `simd` is true only when AVX2 and FMA were detected;
            // the window was bounds-checked above.
            return unsafe { avx::dot1_f32(x.as_ptr().add(s), h) };
        }
        let _ = simd;
        scalar_f32(&x[s..s + h.len()], h)
    }
    #[inline]
    fn dot4(simd: bool, x: &[f32], s: [usize; 4], h: &[f32]) -> [f32; 4] {
        for &si in &s {
            check(x.len(), si, h.len());
        }
        #[cfg(target_arch = "x86_64")]
        if simd {
            // SAFETY: as in dot1, for each of the four windows.
            return unsafe { avx::dot4_f32(x.as_ptr(), s, h) };
        }
        s.map(|si| scalar_f32(&x[si..si + h.len()], h))
    }
}

impl Sample for f64 {
    #[inline]
    fn to_f32(self) -> f32 {
        self as f32
    }
    fn coefficients(plan: &super::design::Plan) -> &[f64] {
        &plan.coef64
    }
    #[inline]
    fn dot1(simd: bool, x: &[f64], s: usize, h: &[f64]) -> f64 {
        check(x.len(), s, h.len());
        #[cfg(target_arch = "x86_64")]
        if simd {
            // SAFETY: see the f32 implementation.
            return unsafe { avx::dot1_f64(x.as_ptr().add(s), h) };
        }
        let _ = simd;
        scalar_f64(&x[s..s + h.len()], h)
    }
    #[inline]
    fn dot4(simd: bool, x: &[f64], s: [usize; 4], h: &[f64]) -> [f64; 4] {
        for &si in &s {
            check(x.len(), si, h.len());
        }
        #[cfg(target_arch = "x86_64")]
        if simd {
            // SAFETY: see the f32 implementation.
            return unsafe { avx::dot4_f64(x.as_ptr(), s, h) };
        }
        s.map(|si| scalar_f64(&x[si..si + h.len()], h))
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum_ps(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum_pd(v: __m256d) -> f64 {
        let s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
        let s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
        _mm_cvtsd_f64(s)
    }

    /// # Safety
    /// AVX2+FMA present; `x` valid for `h.len()` reads; `h.len() % 16 == 0`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot1_f32(x: *const f32, h: &[f32]) -> f32 {
        let hp = h.as_ptr();
        let (mut a, mut b) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        while i < h.len() {
            a = _mm256_fmadd_ps(_mm256_loadu_ps(x.add(i)), _mm256_loadu_ps(hp.add(i)), a);
            b = _mm256_fmadd_ps(_mm256_loadu_ps(x.add(i + 8)), _mm256_loadu_ps(hp.add(i + 8)), b);
            i += 16;
        }
        hsum_ps(_mm256_add_ps(a, b))
    }

    /// # Safety
    /// As [`dot1_f32`], for `x + s[j]` with each `j`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot4_f32(x: *const f32, s: [usize; 4], h: &[f32]) -> [f32; 4] {
        let hp = h.as_ptr();
        let (x0, x1, x2, x3) = (x.add(s[0]), x.add(s[1]), x.add(s[2]), x.add(s[3]));
        let z = _mm256_setzero_ps();
        let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
        let (mut b0, mut b1, mut b2, mut b3) = (z, z, z, z);
        let mut i = 0;
        while i < h.len() {
            let ha = _mm256_loadu_ps(hp.add(i));
            let hb = _mm256_loadu_ps(hp.add(i + 8));
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x0.add(i)), ha, a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x1.add(i)), ha, a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x2.add(i)), ha, a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x3.add(i)), ha, a3);
            b0 = _mm256_fmadd_ps(_mm256_loadu_ps(x0.add(i + 8)), hb, b0);
            b1 = _mm256_fmadd_ps(_mm256_loadu_ps(x1.add(i + 8)), hb, b1);
            b2 = _mm256_fmadd_ps(_mm256_loadu_ps(x2.add(i + 8)), hb, b2);
            b3 = _mm256_fmadd_ps(_mm256_loadu_ps(x3.add(i + 8)), hb, b3);
            i += 16;
        }
        [
            hsum_ps(_mm256_add_ps(a0, b0)),
            hsum_ps(_mm256_add_ps(a1, b1)),
            hsum_ps(_mm256_add_ps(a2, b2)),
            hsum_ps(_mm256_add_ps(a3, b3)),
        ]
    }

    /// # Safety
    /// AVX2+FMA present; `x` valid for `h.len()` reads; `h.len() % 8 == 0`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot1_f64(x: *const f64, h: &[f64]) -> f64 {
        let hp = h.as_ptr();
        let (mut a, mut b) = (_mm256_setzero_pd(), _mm256_setzero_pd());
        let mut i = 0;
        while i < h.len() {
            a = _mm256_fmadd_pd(_mm256_loadu_pd(x.add(i)), _mm256_loadu_pd(hp.add(i)), a);
            b = _mm256_fmadd_pd(_mm256_loadu_pd(x.add(i + 4)), _mm256_loadu_pd(hp.add(i + 4)), b);
            i += 8;
        }
        hsum_pd(_mm256_add_pd(a, b))
    }

    /// # Safety
    /// As [`dot1_f64`], for `x + s[j]` with each `j`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot4_f64(x: *const f64, s: [usize; 4], h: &[f64]) -> [f64; 4] {
        let hp = h.as_ptr();
        let (x0, x1, x2, x3) = (x.add(s[0]), x.add(s[1]), x.add(s[2]), x.add(s[3]));
        let z = _mm256_setzero_pd();
        let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
        let (mut b0, mut b1, mut b2, mut b3) = (z, z, z, z);
        let mut i = 0;
        while i < h.len() {
            let ha = _mm256_loadu_pd(hp.add(i));
            let hb = _mm256_loadu_pd(hp.add(i + 4));
            a0 = _mm256_fmadd_pd(_mm256_loadu_pd(x0.add(i)), ha, a0);
            a1 = _mm256_fmadd_pd(_mm256_loadu_pd(x1.add(i)), ha, a1);
            a2 = _mm256_fmadd_pd(_mm256_loadu_pd(x2.add(i)), ha, a2);
            a3 = _mm256_fmadd_pd(_mm256_loadu_pd(x3.add(i)), ha, a3);
            b0 = _mm256_fmadd_pd(_mm256_loadu_pd(x0.add(i + 4)), hb, b0);
            b1 = _mm256_fmadd_pd(_mm256_loadu_pd(x1.add(i + 4)), hb, b1);
            b2 = _mm256_fmadd_pd(_mm256_loadu_pd(x2.add(i + 4)), hb, b2);
            b3 = _mm256_fmadd_pd(_mm256_loadu_pd(x3.add(i + 4)), hb, b3);
            i += 8;
        }
        [
            hsum_pd(_mm256_add_pd(a0, b0)),
            hsum_pd(_mm256_add_pd(a1, b1)),
            hsum_pd(_mm256_add_pd(a2, b2)),
            hsum_pd(_mm256_add_pd(a3, b3)),
        ]
    }
}
