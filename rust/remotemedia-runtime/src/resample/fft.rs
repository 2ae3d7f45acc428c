//! Complex float64 FFT of a power-of-two size, for fast convolution.
//!
//! Data are split (real parts and imaginary parts in two arrays), so every
//! butterfly loop with a span of 4 or more runs over contiguous memory and
//! vectorises without shuffles; the last two levels (spans 2 and 1) run
//! across vectors after one 4x4 transpose per run of 16 values. The
//! forward transform is decimation in frequency and leaves the spectrum in
//! bit-reversed order with each run of 16 transposed; the inverse is
//! decimation in time and takes that layout: a convolution never needs
//! the permutation, it multiplies spectra position by position (the
//! partners `n - k` of a chunk of four positions are another chunk,
//! reversed: [`partner_chunk`]).
//!
//! Only additions and multiplications appear (no fused multiply-add), so
//! the AVX2 build and the portable build round alike and give the same
//! bits.

use crate::cpu::{Avx2Fma, Simd};

/// Twiddles and size of one transform length.
pub struct Fft {
    n: usize,
    /// For span `s` (a power of two below `n`): `cos(pi j / s)` and
    /// `sin(pi j / s)` at index `s + j`, `j < s`.
    cos: Vec<f64>,
    sin: Vec<f64>,
}

impl Fft {
    /// Tables for transforms of `n` points (a power of two, at least 16).
    pub fn new(n: usize) -> Fft {
        assert!(n.is_power_of_two() && n >= 16);
        let mut cos = vec![0.0; n];
        let mut sin = vec![0.0; n];
        let mut s = 1;
        while s < n {
            for j in 0..s {
                let a = std::f64::consts::PI * j as f64 / s as f64;
                cos[s + j] = a.cos();
                sin[s + j] = a.sin();
            }
            s *= 2;
        }
        Fft { n, cos, sin }
    }

    pub fn len(&self) -> usize {
        self.n
    }

    /// Heap bytes held by the twiddle tables.
    pub fn bytes(&self) -> usize {
        (self.cos.len() + self.sin.len()) * 8
    }

    /// In place: natural-order input, spectrum
    /// `X[k] = sum_j x[j] exp(-2 pi i j k / n)` in bit-reversed order with
    /// each run of 16 positions transposed as a 4x4 matrix (see the module
    /// notes). [`Fft::inverse`] takes that layout.
    pub fn forward(&self, simd: Simd, re: &mut [f64], im: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if let Some(cpu) = simd {
            // SAFETY: the token proves AVX2+FMA, `forward_avx`'s only requirement.
            return unsafe { forward_avx(cpu, self, re, im) };
        }
        forward_loop(None, self, re, im)
    }

    /// In place: spectrum in the layout of [`Fft::forward`] in, natural-order
    /// `x[j] = sum_k X[k] exp(2 pi i j k / n)` out (not divided by `n`).
    pub fn inverse(&self, simd: Simd, re: &mut [f64], im: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if let Some(cpu) = simd {
            // SAFETY: the token proves AVX2+FMA, `inverse_avx`'s only requirement.
            return unsafe { inverse_avx(cpu, self, re, im) };
        }
        inverse_loop(None, self, re, im)
    }
}

/// Where [`Fft::forward`] leaves bin `k` of an `n`-point transform.
#[cfg(test)]
pub fn position(k: usize, n: usize) -> usize {
    let j = k.reverse_bits() >> (usize::BITS - n.trailing_zeros());
    j / 16 * 16 + j % 4 * 4 + j % 16 / 4
}

/// The chunk of four positions holding the conjugate partners (bins
/// `n - k`) of chunk `c` (positions `4c..4c + 4`), in reverse order, for
/// `c >= 4`. Bit-reversed positions `[lo, 2 lo)` hold bins closed under
/// negation, the partner of `j` being `3 lo - 1 - j`; the 4x4 transposes
/// of the layout map that onto whole chunks.
#[inline(always)]
pub fn partner_chunk(c: usize) -> usize {
    let (g, b) = (c / 4, c % 4);
    let lo = 1usize << (usize::BITS - 1 - (16 * g).leading_zeros());
    4 * (3 * lo / 16 - 1 - g) + 3 - b
}

/// Partner positions of the first 16 positions.
pub const FIRST_PARTNERS: [usize; 16] = [0, 13, 15, 14, 4, 9, 11, 10, 12, 5, 7, 6, 8, 1, 3, 2];

/// [`forward_loop`] compiled for AVX2+FMA.
///
/// # Safety
/// The CPU supports AVX2 and FMA (the token proves it).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_avx(cpu: Avx2Fma, f: &Fft, re: &mut [f64], im: &mut [f64]) {
    forward_loop(Some(cpu), f, re, im)
}

/// [`inverse_loop`] compiled for AVX2+FMA.
///
/// # Safety
/// The CPU supports AVX2 and FMA (the token proves it).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn inverse_avx(cpu: Avx2Fma, f: &Fft, re: &mut [f64], im: &mut [f64]) {
    inverse_loop(Some(cpu), f, re, im)
}

/// Four equal quarters of a group, real and imaginary.
type Quarters<'a> = [&'a mut [f64]; 4];

#[inline(always)]
fn v4(x: &[f64]) -> [f64; 4] {
    [x[0], x[1], x[2], x[3]]
}

#[inline(always)]
fn quarters(g: &mut [f64], s: usize) -> Quarters<'_> {
    let (a, rest) = g.split_at_mut(s);
    let (b, rest) = rest.split_at_mut(s);
    let (c, d) = rest.split_at_mut(s);
    [a, b, c, &mut d[..s]]
}

#[inline(always)]
fn forward_loop(simd: Simd, f: &Fft, re: &mut [f64], im: &mut [f64]) {
    let n = f.n;
    let (re, im) = (&mut re[..n], &mut im[..n]);
    let mut s = n / 2;
    // Two radix-2 passes (spans 2q, then q) per sweep over the data: the
    // same operations as two separate passes, half the loads and stores.
    while s >= 8 {
        let q = s / 2;
        let (c2, s2) = (&f.cos[s..2 * s], &f.sin[s..2 * s]);
        let (c1, s1) = (&f.cos[q..s], &f.sin[q..s]);
        for (gr, gi) in re.chunks_exact_mut(4 * q).zip(im.chunks_exact_mut(4 * q)) {
            let [ar, br, cr, dr] = quarters(gr, q);
            let [ai, bi, ci, di] = quarters(gi, q);
            let (c2a, s2a) = (&c2[..q], &s2[..q]);
            for j in (0..q / 4).map(|c| 4 * c) {
                let w = j..j + 4;
                let (ca, sa) = (v4(&c2a[w.clone()]), v4(&s2a[w.clone()]));
                // Span 2q: (a, c) with twiddle j, (b, d) with twiddle j + q,
                // which is twiddle j times -i.
                let (a_r, a_i, c_r, c_i) = (
                    v4(&ar[w.clone()]),
                    v4(&ai[w.clone()]),
                    v4(&cr[w.clone()]),
                    v4(&ci[w.clone()]),
                );
                let (mut p, mut u) = ([[0.0f64; 4]; 2], [[0.0f64; 4]; 2]);
                for t in 0..4 {
                    p[0][t] = a_r[t] + c_r[t];
                    p[1][t] = a_i[t] + c_i[t];
                    let (xr, xi) = (a_r[t] - c_r[t], a_i[t] - c_i[t]);
                    u[0][t] = xr * ca[t] + xi * sa[t];
                    u[1][t] = xi * ca[t] - xr * sa[t];
                }
                let (b_r, b_i, d_r, d_i) = (
                    v4(&br[w.clone()]),
                    v4(&bi[w.clone()]),
                    v4(&dr[w.clone()]),
                    v4(&di[w.clone()]),
                );
                let (mut tt, mut v) = ([[0.0f64; 4]; 2], [[0.0f64; 4]; 2]);
                for t in 0..4 {
                    tt[0][t] = b_r[t] + d_r[t];
                    tt[1][t] = b_i[t] + d_i[t];
                    let (yr, yi) = (b_r[t] - d_r[t], b_i[t] - d_i[t]);
                    v[0][t] = yi * ca[t] - yr * sa[t];
                    v[1][t] = -(yr * ca[t] + yi * sa[t]);
                }
                // Span q: (a, b) and (c, d), twiddle j.
                let (k1, t1) = (v4(&c1[w.clone()]), v4(&s1[w.clone()]));
                let mut o = [[0.0f64; 4]; 4];
                for t in 0..4 {
                    o[0][t] = p[0][t] + tt[0][t];
                    o[1][t] = p[1][t] + tt[1][t];
                    let (er, ei) = (p[0][t] - tt[0][t], p[1][t] - tt[1][t]);
                    o[2][t] = er * k1[t] + ei * t1[t];
                    o[3][t] = ei * k1[t] - er * t1[t];
                }
                ar[w.clone()].copy_from_slice(&o[0]);
                ai[w.clone()].copy_from_slice(&o[1]);
                br[w.clone()].copy_from_slice(&o[2]);
                bi[w.clone()].copy_from_slice(&o[3]);
                for t in 0..4 {
                    o[0][t] = u[0][t] + v[0][t];
                    o[1][t] = u[1][t] + v[1][t];
                    let (gr2, gi2) = (u[0][t] - v[0][t], u[1][t] - v[1][t]);
                    o[2][t] = gr2 * k1[t] + gi2 * t1[t];
                    o[3][t] = gi2 * k1[t] - gr2 * t1[t];
                }
                cr[w.clone()].copy_from_slice(&o[0]);
                ci[w.clone()].copy_from_slice(&o[1]);
                dr[w.clone()].copy_from_slice(&o[2]);
                di[w].copy_from_slice(&o[3]);
            }
        }
        s /= 4;
    }
    while s >= 4 {
        let (c, sn) = (&f.cos[s..2 * s], &f.sin[s..2 * s]);
        for (gr, gi) in re.chunks_exact_mut(2 * s).zip(im.chunks_exact_mut(2 * s)) {
            let (ar, br) = gr.split_at_mut(s);
            let (ai, bi) = gi.split_at_mut(s);
            for j in (0..s / 4).map(|c| 4 * c) {
                let w = j..j + 4;
                let (xr, xi, yr, yi) = (
                    v4(&ar[w.clone()]),
                    v4(&ai[w.clone()]),
                    v4(&br[w.clone()]),
                    v4(&bi[w.clone()]),
                );
                let (k, t) = (v4(&c[w.clone()]), v4(&sn[w.clone()]));
                let mut o = [[0.0f64; 4]; 4];
                for u in 0..4 {
                    o[0][u] = xr[u] + yr[u];
                    o[1][u] = xi[u] + yi[u];
                    let (dr, di) = (xr[u] - yr[u], xi[u] - yi[u]);
                    // (dr + i di)(cos - i sin)
                    o[2][u] = dr * k[u] + di * t[u];
                    o[3][u] = di * k[u] - dr * t[u];
                }
                ar[w.clone()].copy_from_slice(&o[0]);
                ai[w.clone()].copy_from_slice(&o[1]);
                br[w.clone()].copy_from_slice(&o[2]);
                bi[w].copy_from_slice(&o[3]);
            }
        }
        s /= 2;
    }
    // Spans 2 and 1 together, per group of four (twiddles 1, -i, then 1),
    // four groups at a time across vectors; the results stay transposed
    // (see `Fft::forward`).
    last_two(simd, re, im);
}

/// The forward transform's spans 2 and 1 on runs of 16: element `k` of
/// the four groups of a run into one vector (a 4x4 transpose), the two
/// levels across vectors, results left in that layout. With a token: the
/// AVX2 build, the same additions in registers.
#[inline(always)]
fn last_two(simd: Simd, re: &mut [f64], im: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(cpu) = simd {
        return avx::last_two(cpu, re, im);
    }
    let _ = simd;
    for (r, i) in re.chunks_exact_mut(16).zip(im.chunks_exact_mut(16)) {
        let tr: [[f64; 4]; 4] = std::array::from_fn(|k| [r[k], r[4 + k], r[8 + k], r[12 + k]]);
        let ti: [[f64; 4]; 4] = std::array::from_fn(|k| [i[k], i[4 + k], i[8 + k], i[12 + k]]);
        for w in 0..4 {
            let (a0r, a0i) = (tr[0][w] + tr[2][w], ti[0][w] + ti[2][w]);
            let (a1r, a1i) = (tr[1][w] + tr[3][w], ti[1][w] + ti[3][w]);
            let (b0r, b0i) = (tr[0][w] - tr[2][w], ti[0][w] - ti[2][w]);
            // (r1 - r3) * -i
            let (b1r, b1i) = (ti[1][w] - ti[3][w], tr[3][w] - tr[1][w]);
            r[w] = a0r + a1r;
            i[w] = a0i + a1i;
            r[4 + w] = a0r - a1r;
            i[4 + w] = a0i - a1i;
            r[8 + w] = b0r + b1r;
            i[8 + w] = b0i + b1i;
            r[12 + w] = b0r - b1r;
            i[12 + w] = b0i - b1i;
        }
    }
}

/// The inverse transform's spans 1 and 2 on runs of 16 in the forward
/// layout, across vectors, then back to natural order (a 4x4 transpose).
#[inline(always)]
fn first_two(simd: Simd, re: &mut [f64], im: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(cpu) = simd {
        return avx::first_two(cpu, re, im);
    }
    let _ = simd;
    for (r, i) in re.chunks_exact_mut(16).zip(im.chunks_exact_mut(16)) {
        let tr: [[f64; 4]; 4] = std::array::from_fn(|k| v4(&r[4 * k..]));
        let ti: [[f64; 4]; 4] = std::array::from_fn(|k| v4(&i[4 * k..]));
        for w in 0..4 {
            let (a0r, a0i) = (tr[0][w] + tr[1][w], ti[0][w] + ti[1][w]);
            let (a1r, a1i) = (tr[0][w] - tr[1][w], ti[0][w] - ti[1][w]);
            let (b0r, b0i) = (tr[2][w] + tr[3][w], ti[2][w] + ti[3][w]);
            // (r2 - r3) * +i
            let (b1r, b1i) = (ti[3][w] - ti[2][w], tr[2][w] - tr[3][w]);
            r[4 * w..4 * w + 4].copy_from_slice(&[a0r + b0r, a1r + b1r, a0r - b0r, a1r - b1r]);
            i[4 * w..4 * w + 4].copy_from_slice(&[a0i + b0i, a1i + b1i, a0i - b0i, a1i - b1i]);
        }
    }
}

// Arithmetic intrinsics are safe to call inside these functions from Rust
// 1.86 on; the `unsafe` blocks are for 1.77 (the crate's minimum).
#[allow(unused_unsafe)]
#[cfg(target_arch = "x86_64")]
mod avx {
    use crate::cpu::Avx2Fma;
    use std::arch::x86_64::*;

    /// Rows `a..d` of a 4x4 matrix to its columns.
    ///
    /// # Safety
    /// The CPU supports AVX2.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn transpose(a: __m256d, b: __m256d, c: __m256d, d: __m256d) -> [__m256d; 4] {
        // SAFETY: register shuffles only; AVX2 per this function's contract.
        unsafe {
            let (t0, t1) = (_mm256_unpacklo_pd(a, b), _mm256_unpackhi_pd(a, b));
            let (t2, t3) = (_mm256_unpacklo_pd(c, d), _mm256_unpackhi_pd(c, d));
            [
                _mm256_permute2f128_pd(t0, t2, 0x20),
                _mm256_permute2f128_pd(t1, t3, 0x20),
                _mm256_permute2f128_pd(t0, t2, 0x31),
                _mm256_permute2f128_pd(t1, t3, 0x31),
            ]
        }
    }

    /// Sixteen values from `p` as four vectors.
    ///
    /// # Safety
    /// `p` is valid for 16 reads; the CPU supports AVX2.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load4(p: *const f64) -> [__m256d; 4] {
        // SAFETY: `p..p + 16` is readable per this function's contract.
        unsafe {
            [
                _mm256_loadu_pd(p),
                _mm256_loadu_pd(p.add(4)),
                _mm256_loadu_pd(p.add(8)),
                _mm256_loadu_pd(p.add(12)),
            ]
        }
    }

    /// Four vectors to sixteen values at `p`.
    ///
    /// # Safety
    /// `p` is valid for 16 writes; the CPU supports AVX2.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn store4(p: *mut f64, v: [__m256d; 4]) {
        // SAFETY: `p..p + 16` is writable per this function's contract.
        unsafe {
            for (k, x) in v.into_iter().enumerate() {
                _mm256_storeu_pd(p.add(4 * k), x);
            }
        }
    }

    /// See [`super::last_two`]; safe, the token proves AVX2+FMA.
    pub fn last_two(cpu: Avx2Fma, re: &mut [f64], im: &mut [f64]) {
        // SAFETY: the token proves AVX2+FMA, the function's only requirement.
        unsafe { last_two_avx(cpu, re, im) }
    }

    /// See [`super::last_two`].
    ///
    /// # Safety
    /// The CPU supports AVX2 and FMA (the token proves it).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn last_two_avx(_cpu: Avx2Fma, re: &mut [f64], im: &mut [f64]) {
        // SAFETY: loads and stores touch `re[at..at + 16]`, `im[at..at + 16]` with
        // `at + 16 <= n`, `n` at most both lengths.
        unsafe {
            let n = re.len().min(im.len()) / 16 * 16;
            let (rp, ip) = (re.as_mut_ptr(), im.as_mut_ptr());
            let mut at = 0;
            while at < n {
                let [r0, r1, r2, r3] = load4(rp.add(at));
                let [i0, i1, i2, i3] = load4(ip.add(at));
                let [tr0, tr1, tr2, tr3] = transpose(r0, r1, r2, r3);
                let [ti0, ti1, ti2, ti3] = transpose(i0, i1, i2, i3);
                let (a0r, a0i) = (_mm256_add_pd(tr0, tr2), _mm256_add_pd(ti0, ti2));
                let (a1r, a1i) = (_mm256_add_pd(tr1, tr3), _mm256_add_pd(ti1, ti3));
                let (b0r, b0i) = (_mm256_sub_pd(tr0, tr2), _mm256_sub_pd(ti0, ti2));
                let (b1r, b1i) = (_mm256_sub_pd(ti1, ti3), _mm256_sub_pd(tr3, tr1));
                let or = [
                    _mm256_add_pd(a0r, a1r),
                    _mm256_sub_pd(a0r, a1r),
                    _mm256_add_pd(b0r, b1r),
                    _mm256_sub_pd(b0r, b1r),
                ];
                let oi = [
                    _mm256_add_pd(a0i, a1i),
                    _mm256_sub_pd(a0i, a1i),
                    _mm256_add_pd(b0i, b1i),
                    _mm256_sub_pd(b0i, b1i),
                ];
                store4(rp.add(at), or);
                store4(ip.add(at), oi);
                at += 16;
            }
        }
    }

    /// See [`super::first_two`]; safe, the token proves AVX2+FMA.
    pub fn first_two(cpu: Avx2Fma, re: &mut [f64], im: &mut [f64]) {
        // SAFETY: the token proves AVX2+FMA, the function's only requirement.
        unsafe { first_two_avx(cpu, re, im) }
    }

    /// See [`super::first_two`].
    ///
    /// # Safety
    /// The CPU supports AVX2 and FMA (the token proves it).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn first_two_avx(_cpu: Avx2Fma, re: &mut [f64], im: &mut [f64]) {
        // SAFETY: as in `last_two_avx`: every access within `re[..n]`, `im[..n]`.
        unsafe {
            let n = re.len().min(im.len()) / 16 * 16;
            let (rp, ip) = (re.as_mut_ptr(), im.as_mut_ptr());
            let mut at = 0;
            while at < n {
                let [t0r, t1r, t2r, t3r] = load4(rp.add(at));
                let [t0i, t1i, t2i, t3i] = load4(ip.add(at));
                let (a0r, a0i) = (_mm256_add_pd(t0r, t1r), _mm256_add_pd(t0i, t1i));
                let (a1r, a1i) = (_mm256_sub_pd(t0r, t1r), _mm256_sub_pd(t0i, t1i));
                let (b0r, b0i) = (_mm256_add_pd(t2r, t3r), _mm256_add_pd(t2i, t3i));
                let (b1r, b1i) = (_mm256_sub_pd(t3i, t2i), _mm256_sub_pd(t2r, t3r));
                let er = transpose(
                    _mm256_add_pd(a0r, b0r),
                    _mm256_add_pd(a1r, b1r),
                    _mm256_sub_pd(a0r, b0r),
                    _mm256_sub_pd(a1r, b1r),
                );
                let ei = transpose(
                    _mm256_add_pd(a0i, b0i),
                    _mm256_add_pd(a1i, b1i),
                    _mm256_sub_pd(a0i, b0i),
                    _mm256_sub_pd(a1i, b1i),
                );
                store4(rp.add(at), er);
                store4(ip.add(at), ei);
                at += 16;
            }
        }
    }
}

#[inline(always)]
fn inverse_loop(simd: Simd, f: &Fft, re: &mut [f64], im: &mut [f64]) {
    let n = f.n;
    let (re, im) = (&mut re[..n], &mut im[..n]);
    // Spans 1 and 2 together, per group of four (twiddles 1, then 1, +i),
    // from the forward transform's layout back to natural order.
    first_two(simd, re, im);
    let mut s = 4;
    // Spans q then 2q per sweep, as two radix-2 passes (same operations).
    while 4 * s <= n {
        let q = s;
        let (c1, s1) = (&f.cos[q..2 * q], &f.sin[q..2 * q]);
        let (c2, s2) = (&f.cos[2 * q..4 * q], &f.sin[2 * q..4 * q]);
        for (gr, gi) in re.chunks_exact_mut(4 * q).zip(im.chunks_exact_mut(4 * q)) {
            let [ar, br, cr, dr] = quarters(gr, q);
            let [ai, bi, ci, di] = quarters(gi, q);
            let (c2a, s2a) = (&c2[..q], &s2[..q]);
            for j in (0..q / 4).map(|c| 4 * c) {
                let w = j..j + 4;
                let (k1, t1) = (v4(&c1[w.clone()]), v4(&s1[w.clone()]));
                // Span q: (a, b) and (c, d), twiddle j.
                let (a_r, a_i, b_r, b_i) = (
                    v4(&ar[w.clone()]),
                    v4(&ai[w.clone()]),
                    v4(&br[w.clone()]),
                    v4(&bi[w.clone()]),
                );
                let (mut p, mut e) = ([[0.0f64; 4]; 2], [[0.0f64; 4]; 2]);
                for t in 0..4 {
                    let (yr, yi) = (b_r[t] * k1[t] - b_i[t] * t1[t], b_i[t] * k1[t] + b_r[t] * t1[t]);
                    p[0][t] = a_r[t] + yr;
                    p[1][t] = a_i[t] + yi;
                    e[0][t] = a_r[t] - yr;
                    e[1][t] = a_i[t] - yi;
                }
                let (c_r, c_i, d_r, d_i) = (
                    v4(&cr[w.clone()]),
                    v4(&ci[w.clone()]),
                    v4(&dr[w.clone()]),
                    v4(&di[w.clone()]),
                );
                let (mut tt, mut g) = ([[0.0f64; 4]; 2], [[0.0f64; 4]; 2]);
                for t in 0..4 {
                    let (zr, zi) = (d_r[t] * k1[t] - d_i[t] * t1[t], d_i[t] * k1[t] + d_r[t] * t1[t]);
                    tt[0][t] = c_r[t] + zr;
                    tt[1][t] = c_i[t] + zi;
                    g[0][t] = c_r[t] - zr;
                    g[1][t] = c_i[t] - zi;
                }
                // Span 2q: (a, c) with twiddle j, (b, d) with twiddle j + q,
                // which is twiddle j times +i.
                let (ca, sa) = (v4(&c2a[w.clone()]), v4(&s2a[w.clone()]));
                let mut o = [[0.0f64; 4]; 4];
                for t in 0..4 {
                    let (ur, ui) = (tt[0][t] * ca[t] - tt[1][t] * sa[t], tt[1][t] * ca[t] + tt[0][t] * sa[t]);
                    o[0][t] = p[0][t] + ur;
                    o[1][t] = p[1][t] + ui;
                    o[2][t] = p[0][t] - ur;
                    o[3][t] = p[1][t] - ui;
                }
                ar[w.clone()].copy_from_slice(&o[0]);
                ai[w.clone()].copy_from_slice(&o[1]);
                cr[w.clone()].copy_from_slice(&o[2]);
                ci[w.clone()].copy_from_slice(&o[3]);
                for t in 0..4 {
                    let (gr2, gi2) = (g[0][t], g[1][t]);
                    let (vr, vi) = (-(gi2 * ca[t] + gr2 * sa[t]), gr2 * ca[t] - gi2 * sa[t]);
                    o[0][t] = e[0][t] + vr;
                    o[1][t] = e[1][t] + vi;
                    o[2][t] = e[0][t] - vr;
                    o[3][t] = e[1][t] - vi;
                }
                br[w.clone()].copy_from_slice(&o[0]);
                bi[w.clone()].copy_from_slice(&o[1]);
                dr[w.clone()].copy_from_slice(&o[2]);
                di[w].copy_from_slice(&o[3]);
            }
        }
        s *= 4;
    }
    while s < n {
        let (c, sn) = (&f.cos[s..2 * s], &f.sin[s..2 * s]);
        for (gr, gi) in re.chunks_exact_mut(2 * s).zip(im.chunks_exact_mut(2 * s)) {
            let (ar, br) = gr.split_at_mut(s);
            let (ai, bi) = gi.split_at_mut(s);
            for j in (0..s / 4).map(|c| 4 * c) {
                let w = j..j + 4;
                let (xr, xi, zr, zi) = (
                    v4(&ar[w.clone()]),
                    v4(&ai[w.clone()]),
                    v4(&br[w.clone()]),
                    v4(&bi[w.clone()]),
                );
                let (k, t) = (v4(&c[w.clone()]), v4(&sn[w.clone()]));
                let mut o = [[0.0f64; 4]; 4];
                for u in 0..4 {
                    // (br + i bi)(cos + i sin)
                    let yr = zr[u] * k[u] - zi[u] * t[u];
                    let yi = zi[u] * k[u] + zr[u] * t[u];
                    o[0][u] = xr[u] + yr;
                    o[1][u] = xi[u] + yi;
                    o[2][u] = xr[u] - yr;
                    o[3][u] = xi[u] - yi;
                }
                ar[w.clone()].copy_from_slice(&o[0]);
                ai[w.clone()].copy_from_slice(&o[1]);
                br[w.clone()].copy_from_slice(&o[2]);
                bi[w].copy_from_slice(&o[3]);
            }
        }
        s *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_definition_and_inverts() {
        for n in [16usize, 64, 256, 512] {
            let f = Fft::new(n);
            let xr: Vec<f64> = (0..n).map(|j| ((j * 7 + 3) % 11) as f64 - 5.0).collect();
            let xi: Vec<f64> = (0..n).map(|j| ((j * 5 + 1) % 13) as f64 * 0.5).collect();
            for simd in [None, crate::cpu::Avx2Fma::detect()] {
                let (mut r, mut i) = (xr.clone(), xi.clone());
                f.forward(simd, &mut r, &mut i);
                for k in 0..n {
                    let (mut sr, mut si) = (0.0, 0.0);
                    for j in 0..n {
                        let a = -2.0 * std::f64::consts::PI * (j * k % n) as f64 / n as f64;
                        sr += xr[j] * a.cos() - xi[j] * a.sin();
                        si += xr[j] * a.sin() + xi[j] * a.cos();
                    }
                    let p = position(k, n);
                    assert!((r[p] - sr).abs() < 1e-9 && (i[p] - si).abs() < 1e-9, "n {n} bin {k}");
                    let q = position((n - k) % n, n);
                    let want = if p < 16 {
                        FIRST_PARTNERS[p]
                    } else {
                        4 * partner_chunk(p / 4) + 3 - p % 4
                    };
                    assert_eq!(q, want, "partner of position {p}, n {n}");
                }
                f.inverse(simd, &mut r, &mut i);
                for j in 0..n {
                    assert!((r[j] / n as f64 - xr[j]).abs() < 1e-12);
                    assert!((i[j] / n as f64 - xi[j]).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn simd_and_portable_builds_give_the_same_bits() {
        let n = 1024;
        let f = Fft::new(n);
        let xr: Vec<f64> = (0..n).map(|j| (j as f64 * 0.37).sin()).collect();
        let xi: Vec<f64> = (0..n).map(|j| (j as f64 * 0.11).cos()).collect();
        let (mut a, mut b) = (xr.clone(), xi.clone());
        let (mut c, mut d) = (xr, xi);
        f.forward(None, &mut a, &mut b);
        f.forward(crate::cpu::Avx2Fma::detect(), &mut c, &mut d);
        assert_eq!(a, c);
        assert_eq!(b, d);
        f.inverse(None, &mut a, &mut b);
        f.inverse(crate::cpu::Avx2Fma::detect(), &mut c, &mut d);
        assert_eq!(a, c);
        assert_eq!(b, d);
    }
}
