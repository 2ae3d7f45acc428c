//! Complex float32 FFT of a power-of-two size (at least 64), for the fast
//! convolution of the interpolated route's front stage ([`super::front32`]).
//!
//! The float64 transforms of [`super::fft`] hold 4 values per AVX2
//! register; these hold 8, so each butterfly level costs half the
//! instructions. Data are split (real and imaginary parts in two arrays).
//! Levels with a span of 8 or more run over contiguous memory, two per
//! sweep; the last three (spans 4, 2, 1) run across registers after an
//! 8x8 transpose of each run of 64 values. The forward transform (decimation
//! in frequency) leaves the spectrum in bit-reversed order with each run of
//! 64 transposed ([`position`]); the inverse (decimation in time) takes that
//! layout. A convolution multiplies spectra position by position and never
//! needs the permutation; the conjugate partners (bins `n - k`) of a chunk
//! of 8 positions from position 64 on are another chunk, reversed
//! ([`Fft32::partners`]).
//!
//! Only additions and multiplications appear (no fused multiply-add), in
//! the same order in the AVX2 build and the portable one: the same bits.
//! Rounding error of a transform pair with the products: about -134 dB of
//! the signal (a numpy model of this arithmetic at 512 points), which is
//! why only "medium" runs on it (its interpolated stage sets the route's
//! SNR at 117-120 dB).

use crate::cpu::{Avx2Fma, Simd};

/// Values per register.
pub const LANES: usize = 8;
/// Values per transposed run.
const RUN: usize = LANES * LANES;

/// Twiddles and size of one transform length.
pub struct Fft32 {
    n: usize,
    /// For span `s` (a power of two from 8 below `n`): `cos(pi j / s)` and
    /// `sin(pi j / s)` at index `s + j`, `j < s`, rounded from float64.
    cos: Vec<f32>,
    sin: Vec<f32>,
}

/// `cos(pi / 4)`, the only twiddle of the last three levels besides 1 and `i`.
const HALF_SQRT2: f32 = std::f32::consts::FRAC_1_SQRT_2;

impl Fft32 {
    /// Tables for transforms of `n` points (a power of two, at least 64).
    pub fn new(n: usize) -> Fft32 {
        assert!(n.is_power_of_two() && n >= RUN);
        let mut cos = vec![0.0; n];
        let mut sin = vec![0.0; n];
        let mut s = LANES;
        while s < n {
            for j in 0..s {
                let a = std::f64::consts::PI * j as f64 / s as f64;
                cos[s + j] = a.cos() as f32;
                sin[s + j] = a.sin() as f32;
            }
            s *= 2;
        }
        Fft32 { n, cos, sin }
    }

    pub fn len(&self) -> usize {
        self.n
    }

    /// Heap bytes held by the twiddle tables.
    pub fn bytes(&self) -> usize {
        (self.cos.len() + self.sin.len()) * 4
    }

    /// Where the forward transform leaves each bin: `pos[k]`.
    #[cfg(test)]
    pub fn positions(&self) -> Vec<usize> {
        (0..self.n).map(|k| position(k, self.n)).collect()
    }

    /// For each position `j`, the position of the conjugate partner of its
    /// bin (bin `(n - k) mod n`).
    #[cfg(test)]
    pub fn partners(&self) -> Vec<usize> {
        let n = self.n;
        let pos = self.positions();
        let mut out = vec![0; n];
        for k in 0..n {
            out[pos[k]] = pos[(n - k) % n];
        }
        out
    }

    /// In place: natural-order input, spectrum
    /// `X[k] = sum_j x[j] exp(-2 pi i j k / n)` at [`position`]`(k, n)`.
    pub fn forward(&self, simd: Simd, re: &mut [f32], im: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if let Some(cpu) = simd {
            // SAFETY: the token proves AVX2+FMA, `forward_avx`'s only requirement.
            return unsafe { forward_avx(cpu, self, re, im) };
        }
        forward_loop(None, self, re, im)
    }

    /// In place: spectrum in the layout of [`Fft32::forward`] in,
    /// natural-order `x[j] = sum_k X[k] exp(2 pi i j k / n)` out (not
    /// divided by `n`).
    pub fn inverse(&self, simd: Simd, re: &mut [f32], im: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if let Some(cpu) = simd {
            // SAFETY: the token proves AVX2+FMA, `inverse_avx`'s only requirement.
            return unsafe { inverse_avx(cpu, self, re, im) };
        }
        inverse_loop(None, self, re, im)
    }
}

/// Where [`Fft32::forward`] leaves bin `k` of an `n`-point transform: its
/// bit-reversed index `r`, with each run of 64 transposed as an 8x8 matrix.
pub fn position(k: usize, n: usize) -> usize {
    let r = k.reverse_bits() >> (usize::BITS - n.trailing_zeros());
    r / RUN * RUN + r % LANES * LANES + r % RUN / LANES
}

/// [`forward_loop`] compiled for AVX2+FMA.
///
/// # Safety
/// The CPU supports AVX2 and FMA (the token proves it).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_avx(cpu: Avx2Fma, f: &Fft32, re: &mut [f32], im: &mut [f32]) {
    forward_loop(Some(cpu), f, re, im)
}

/// [`inverse_loop`] compiled for AVX2+FMA.
///
/// # Safety
/// The CPU supports AVX2 and FMA (the token proves it).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn inverse_avx(cpu: Avx2Fma, f: &Fft32, re: &mut [f32], im: &mut [f32]) {
    inverse_loop(Some(cpu), f, re, im)
}

type V = [f32; LANES];

#[inline(always)]
fn v8(x: &[f32]) -> V {
    std::array::from_fn(|t| x[t])
}

/// Four equal quarters of a group.
#[inline(always)]
fn quarters(g: &mut [f32], s: usize) -> [&mut [f32]; 4] {
    let (a, rest) = g.split_at_mut(s);
    let (b, rest) = rest.split_at_mut(s);
    let (c, d) = rest.split_at_mut(s);
    [a, b, c, &mut d[..s]]
}

/// `(x - y) * conj(w)` and `x + y` for one forward butterfly, in place.
#[inline(always)]
fn dif(xr: &mut V, xi: &mut V, yr: &mut V, yi: &mut V, c: &V, s: &V) {
    for t in 0..LANES {
        let (dr, di) = (xr[t] - yr[t], xi[t] - yi[t]);
        xr[t] += yr[t];
        xi[t] += yi[t];
        yr[t] = dr * c[t] + di * s[t];
        yi[t] = di * c[t] - dr * s[t];
    }
}

/// `x + y w` and `x - y w` for one inverse butterfly, in place.
#[inline(always)]
fn dit(xr: &mut V, xi: &mut V, yr: &mut V, yi: &mut V, c: &V, s: &V) {
    for t in 0..LANES {
        let (wr, wi) = (yr[t] * c[t] - yi[t] * s[t], yi[t] * c[t] + yr[t] * s[t]);
        yr[t] = xr[t] - wr;
        yi[t] = xi[t] - wi;
        xr[t] += wr;
        xi[t] += wi;
    }
}

#[inline(always)]
fn forward_loop(simd: Simd, f: &Fft32, re: &mut [f32], im: &mut [f32]) {
    let n = f.n;
    let (re, im) = (&mut re[..n], &mut im[..n]);
    let mut s = n / 2;
    // Spans 2q then q in one sweep (the same operations as two passes).
    while s >= 2 * LANES {
        let q = s / 2;
        let (c2, s2) = (&f.cos[s..2 * s], &f.sin[s..2 * s]);
        let (c1, s1) = (&f.cos[q..s], &f.sin[q..s]);
        for (gr, gi) in re.chunks_exact_mut(4 * q).zip(im.chunks_exact_mut(4 * q)) {
            let [ar, br, cr, dr] = quarters(gr, q);
            let [ai, bi, ci, di] = quarters(gi, q);
            for j in (0..q).step_by(LANES) {
                let w = j..j + LANES;
                let (mut a_r, mut a_i, mut b_r, mut b_i) = (v8(&ar[j..]), v8(&ai[j..]), v8(&br[j..]), v8(&bi[j..]));
                let (mut c_r, mut c_i, mut d_r, mut d_i) = (v8(&cr[j..]), v8(&ci[j..]), v8(&dr[j..]), v8(&di[j..]));
                dif(&mut a_r, &mut a_i, &mut c_r, &mut c_i, &v8(&c2[j..]), &v8(&s2[j..]));
                dif(
                    &mut b_r,
                    &mut b_i,
                    &mut d_r,
                    &mut d_i,
                    &v8(&c2[q + j..]),
                    &v8(&s2[q + j..]),
                );
                let (k1, t1) = (v8(&c1[j..]), v8(&s1[j..]));
                dif(&mut a_r, &mut a_i, &mut b_r, &mut b_i, &k1, &t1);
                dif(&mut c_r, &mut c_i, &mut d_r, &mut d_i, &k1, &t1);
                ar[w.clone()].copy_from_slice(&a_r);
                ai[w.clone()].copy_from_slice(&a_i);
                br[w.clone()].copy_from_slice(&b_r);
                bi[w.clone()].copy_from_slice(&b_i);
                cr[w.clone()].copy_from_slice(&c_r);
                ci[w.clone()].copy_from_slice(&c_i);
                dr[w.clone()].copy_from_slice(&d_r);
                di[w].copy_from_slice(&d_i);
            }
        }
        s /= 4;
    }
    if s == LANES {
        let (c, sn) = (&f.cos[s..2 * s], &f.sin[s..2 * s]);
        let (c, sn) = (v8(c), v8(sn));
        for (gr, gi) in re.chunks_exact_mut(2 * s).zip(im.chunks_exact_mut(2 * s)) {
            let (ar, br) = gr.split_at_mut(s);
            let (ai, bi) = gi.split_at_mut(s);
            let (mut xr, mut xi, mut yr, mut yi) = (v8(ar), v8(ai), v8(br), v8(bi));
            dif(&mut xr, &mut xi, &mut yr, &mut yi, &c, &sn);
            ar.copy_from_slice(&xr);
            ai.copy_from_slice(&xi);
            br.copy_from_slice(&yr);
            bi.copy_from_slice(&yi);
        }
    }
    last_three(simd, re, im);
}

#[inline(always)]
fn inverse_loop(simd: Simd, f: &Fft32, re: &mut [f32], im: &mut [f32]) {
    let n = f.n;
    let (re, im) = (&mut re[..n], &mut im[..n]);
    first_three(simd, re, im);
    let mut s = LANES;
    if n.trailing_zeros() % 2 == 0 {
        // An odd number of levels from span 8 up: one alone first.
        let (c, sn) = (v8(&f.cos[s..]), v8(&f.sin[s..]));
        for (gr, gi) in re.chunks_exact_mut(2 * s).zip(im.chunks_exact_mut(2 * s)) {
            let (ar, br) = gr.split_at_mut(s);
            let (ai, bi) = gi.split_at_mut(s);
            let (mut xr, mut xi, mut yr, mut yi) = (v8(ar), v8(ai), v8(br), v8(bi));
            dit(&mut xr, &mut xi, &mut yr, &mut yi, &c, &sn);
            ar.copy_from_slice(&xr);
            ai.copy_from_slice(&xi);
            br.copy_from_slice(&yr);
            bi.copy_from_slice(&yi);
        }
        s *= 2;
    }
    // Spans q then 2q in one sweep.
    while s < n {
        let q = s;
        let (c1, s1) = (&f.cos[q..2 * q], &f.sin[q..2 * q]);
        let (c2, s2) = (&f.cos[2 * q..4 * q], &f.sin[2 * q..4 * q]);
        for (gr, gi) in re.chunks_exact_mut(4 * q).zip(im.chunks_exact_mut(4 * q)) {
            let [ar, br, cr, dr] = quarters(gr, q);
            let [ai, bi, ci, di] = quarters(gi, q);
            for j in (0..q).step_by(LANES) {
                let w = j..j + LANES;
                let (mut a_r, mut a_i, mut b_r, mut b_i) = (v8(&ar[j..]), v8(&ai[j..]), v8(&br[j..]), v8(&bi[j..]));
                let (mut c_r, mut c_i, mut d_r, mut d_i) = (v8(&cr[j..]), v8(&ci[j..]), v8(&dr[j..]), v8(&di[j..]));
                let (k1, t1) = (v8(&c1[j..]), v8(&s1[j..]));
                dit(&mut a_r, &mut a_i, &mut b_r, &mut b_i, &k1, &t1);
                dit(&mut c_r, &mut c_i, &mut d_r, &mut d_i, &k1, &t1);
                dit(&mut a_r, &mut a_i, &mut c_r, &mut c_i, &v8(&c2[j..]), &v8(&s2[j..]));
                dit(
                    &mut b_r,
                    &mut b_i,
                    &mut d_r,
                    &mut d_i,
                    &v8(&c2[q + j..]),
                    &v8(&s2[q + j..]),
                );
                ar[w.clone()].copy_from_slice(&a_r);
                ai[w.clone()].copy_from_slice(&a_i);
                br[w.clone()].copy_from_slice(&b_r);
                bi[w.clone()].copy_from_slice(&b_i);
                cr[w.clone()].copy_from_slice(&c_r);
                ci[w.clone()].copy_from_slice(&c_i);
                dr[w.clone()].copy_from_slice(&d_r);
                di[w].copy_from_slice(&d_i);
            }
        }
        s *= 4;
    }
}

/// The forward transform's spans 4, 2 and 1 on eight registers `t[k]`
/// (lane `g`: element `k` of group `g`).
#[inline(always)]
fn dif_last<T: Copy>(
    r: &mut [T; LANES],
    i: &mut [T; LANES],
    add: impl Fn(T, T) -> T,
    sub: impl Fn(T, T) -> T,
    mul: impl Fn(T, T) -> T,
    neg: impl Fn(T) -> T,
    h: T,
) {
    // Span 4: twiddles 1, (1 - i) h, -i, -(1 + i) h.
    for k in 0..4 {
        let (dr, di) = (sub(r[k], r[k + 4]), sub(i[k], i[k + 4]));
        r[k] = add(r[k], r[k + 4]);
        i[k] = add(i[k], i[k + 4]);
        let (yr, yi) = match k {
            0 => (dr, di),
            1 => (mul(add(dr, di), h), mul(sub(di, dr), h)),
            2 => (di, neg(dr)),
            _ => (mul(sub(di, dr), h), neg(mul(add(dr, di), h))),
        };
        r[k + 4] = yr;
        i[k + 4] = yi;
    }
    // Span 2: twiddles 1, -i.
    for k in [0, 1, 4, 5] {
        let (dr, di) = (sub(r[k], r[k + 2]), sub(i[k], i[k + 2]));
        r[k] = add(r[k], r[k + 2]);
        i[k] = add(i[k], i[k + 2]);
        if k % 2 == 0 {
            r[k + 2] = dr;
            i[k + 2] = di;
        } else {
            r[k + 2] = di;
            i[k + 2] = neg(dr);
        }
    }
    // Span 1.
    for k in [0, 2, 4, 6] {
        let (dr, di) = (sub(r[k], r[k + 1]), sub(i[k], i[k + 1]));
        r[k] = add(r[k], r[k + 1]);
        i[k] = add(i[k], i[k + 1]);
        r[k + 1] = dr;
        i[k + 1] = di;
    }
}

/// The inverse transform's spans 1, 2 and 4 on eight registers.
#[inline(always)]
fn dit_first<T: Copy>(
    r: &mut [T; LANES],
    i: &mut [T; LANES],
    add: impl Fn(T, T) -> T,
    sub: impl Fn(T, T) -> T,
    mul: impl Fn(T, T) -> T,
    neg: impl Fn(T) -> T,
    h: T,
) {
    for k in [0, 2, 4, 6] {
        let (yr, yi) = (r[k + 1], i[k + 1]);
        r[k + 1] = sub(r[k], yr);
        i[k + 1] = sub(i[k], yi);
        r[k] = add(r[k], yr);
        i[k] = add(i[k], yi);
    }
    // Span 2: twiddles 1, +i.
    for k in [0, 1, 4, 5] {
        let (yr, yi) = if k % 2 == 0 {
            (r[k + 2], i[k + 2])
        } else {
            (neg(i[k + 2]), r[k + 2])
        };
        r[k + 2] = sub(r[k], yr);
        i[k + 2] = sub(i[k], yi);
        r[k] = add(r[k], yr);
        i[k] = add(i[k], yi);
    }
    // Span 4: twiddles 1, (1 + i) h, +i, (-1 + i) h.
    for k in 0..4 {
        let (br, bi) = (r[k + 4], i[k + 4]);
        let (yr, yi) = match k {
            0 => (br, bi),
            1 => (mul(sub(br, bi), h), mul(add(br, bi), h)),
            2 => (neg(bi), br),
            _ => (neg(mul(add(br, bi), h)), mul(sub(br, bi), h)),
        };
        r[k + 4] = sub(r[k], yr);
        i[k + 4] = sub(i[k], yi);
        r[k] = add(r[k], yr);
        i[k] = add(i[k], yi);
    }
}

/// Spans 4, 2, 1 of the forward transform on runs of 64: element `k` of
/// the eight groups of a run into one register (a transpose), the levels
/// across registers, the results left in that layout.
#[inline(always)]
fn last_three(simd: Simd, re: &mut [f32], im: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(cpu) = simd {
        return avx::last_three(cpu, re, im);
    }
    let _ = simd;
    for (r, i) in re.chunks_exact_mut(RUN).zip(im.chunks_exact_mut(RUN)) {
        let mut tr: [V; LANES] = std::array::from_fn(|k| std::array::from_fn(|g| r[LANES * g + k]));
        let mut ti: [V; LANES] = std::array::from_fn(|k| std::array::from_fn(|g| i[LANES * g + k]));
        dif_last(&mut tr, &mut ti, vadd, vsub, vmul, vneg, [HALF_SQRT2; LANES]);
        for k in 0..LANES {
            r[LANES * k..LANES * (k + 1)].copy_from_slice(&tr[k]);
            i[LANES * k..LANES * (k + 1)].copy_from_slice(&ti[k]);
        }
    }
}

/// Spans 1, 2, 4 of the inverse transform on runs of 64 in the forward
/// layout, across registers, then back to natural order (a transpose).
#[inline(always)]
fn first_three(simd: Simd, re: &mut [f32], im: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(cpu) = simd {
        return avx::first_three(cpu, re, im);
    }
    let _ = simd;
    for (r, i) in re.chunks_exact_mut(RUN).zip(im.chunks_exact_mut(RUN)) {
        let mut tr: [V; LANES] = std::array::from_fn(|k| v8(&r[LANES * k..]));
        let mut ti: [V; LANES] = std::array::from_fn(|k| v8(&i[LANES * k..]));
        dit_first(&mut tr, &mut ti, vadd, vsub, vmul, vneg, [HALF_SQRT2; LANES]);
        for k in 0..LANES {
            for g in 0..LANES {
                r[LANES * g + k] = tr[k][g];
                i[LANES * g + k] = ti[k][g];
            }
        }
    }
}

#[inline(always)]
fn vadd(a: V, b: V) -> V {
    std::array::from_fn(|t| a[t] + b[t])
}

#[inline(always)]
fn vsub(a: V, b: V) -> V {
    std::array::from_fn(|t| a[t] - b[t])
}

#[inline(always)]
fn vmul(a: V, b: V) -> V {
    std::array::from_fn(|t| a[t] * b[t])
}

#[inline(always)]
fn vneg(a: V) -> V {
    std::array::from_fn(|t| -a[t])
}

// Arithmetic intrinsics are safe to call inside these functions from Rust
// 1.86 on; the `unsafe` blocks are for 1.77 (the crate's minimum).
#[allow(unused_unsafe)]
#[cfg(target_arch = "x86_64")]
mod avx {
    use super::{dif_last, dit_first, HALF_SQRT2, LANES, RUN};
    use crate::cpu::Avx2Fma;
    use std::arch::x86_64::*;

    /// Rows `r[0..8]` of an 8x8 matrix to its columns.
    ///
    /// # Safety
    /// The CPU supports AVX2.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn transpose(r: [__m256; 8]) -> [__m256; 8] {
        // SAFETY: register shuffles only; AVX2 per this function's contract.
        unsafe {
            let t0 = _mm256_unpacklo_ps(r[0], r[1]);
            let t1 = _mm256_unpackhi_ps(r[0], r[1]);
            let t2 = _mm256_unpacklo_ps(r[2], r[3]);
            let t3 = _mm256_unpackhi_ps(r[2], r[3]);
            let t4 = _mm256_unpacklo_ps(r[4], r[5]);
            let t5 = _mm256_unpackhi_ps(r[4], r[5]);
            let t6 = _mm256_unpacklo_ps(r[6], r[7]);
            let t7 = _mm256_unpackhi_ps(r[6], r[7]);
            let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            [
                _mm256_permute2f128_ps::<0x20>(s0, s4),
                _mm256_permute2f128_ps::<0x20>(s1, s5),
                _mm256_permute2f128_ps::<0x20>(s2, s6),
                _mm256_permute2f128_ps::<0x20>(s3, s7),
                _mm256_permute2f128_ps::<0x31>(s0, s4),
                _mm256_permute2f128_ps::<0x31>(s1, s5),
                _mm256_permute2f128_ps::<0x31>(s2, s6),
                _mm256_permute2f128_ps::<0x31>(s3, s7),
            ]
        }
    }

    /// Sixty-four values from `p` as eight registers.
    ///
    /// # Safety
    /// `p` is valid for 64 reads; the CPU supports AVX2.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load8(p: *const f32) -> [__m256; 8] {
        // SAFETY: `p..p + 64` is readable per this function's contract.
        unsafe { std::array::from_fn(|k| _mm256_loadu_ps(p.add(LANES * k))) }
    }

    /// Eight registers to sixty-four values at `p`.
    ///
    /// # Safety
    /// `p` is valid for 64 writes; the CPU supports AVX2.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn store8(p: *mut f32, v: [__m256; 8]) {
        // SAFETY: `p..p + 64` is writable per this function's contract.
        unsafe {
            for (k, x) in v.into_iter().enumerate() {
                _mm256_storeu_ps(p.add(LANES * k), x);
            }
        }
    }

    /// See [`super::last_three`]; safe, the token proves AVX2+FMA.
    pub fn last_three(cpu: Avx2Fma, re: &mut [f32], im: &mut [f32]) {
        // SAFETY: the token proves AVX2+FMA, the function's only requirement.
        unsafe { last_three_avx(cpu, re, im) }
    }

    /// # Safety
    /// The CPU supports AVX2 and FMA (the token proves it).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn last_three_avx(_cpu: Avx2Fma, re: &mut [f32], im: &mut [f32]) {
        // SAFETY: every access is within `re[at..at + 64]`, `im[at..at + 64]`
        // with `at + 64 <= n`, `n` at most both lengths.
        unsafe {
            let n = re.len().min(im.len()) / RUN * RUN;
            let (rp, ip) = (re.as_mut_ptr(), im.as_mut_ptr());
            let h = _mm256_set1_ps(HALF_SQRT2);
            let mut at = 0;
            while at < n {
                let mut tr = transpose(load8(rp.add(at)));
                let mut ti = transpose(load8(ip.add(at)));
                dif_last(
                    &mut tr,
                    &mut ti,
                    |a, b| _mm256_add_ps(a, b),
                    |a, b| _mm256_sub_ps(a, b),
                    |a, b| _mm256_mul_ps(a, b),
                    |a| _mm256_xor_ps(a, _mm256_set1_ps(-0.0)),
                    h,
                );
                store8(rp.add(at), tr);
                store8(ip.add(at), ti);
                at += RUN;
            }
        }
    }

    /// See [`super::first_three`]; safe, the token proves AVX2+FMA.
    pub fn first_three(cpu: Avx2Fma, re: &mut [f32], im: &mut [f32]) {
        // SAFETY: the token proves AVX2+FMA, the function's only requirement.
        unsafe { first_three_avx(cpu, re, im) }
    }

    /// # Safety
    /// The CPU supports AVX2 and FMA (the token proves it).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn first_three_avx(_cpu: Avx2Fma, re: &mut [f32], im: &mut [f32]) {
        // SAFETY: as in `last_three_avx`.
        unsafe {
            let n = re.len().min(im.len()) / RUN * RUN;
            let (rp, ip) = (re.as_mut_ptr(), im.as_mut_ptr());
            let h = _mm256_set1_ps(HALF_SQRT2);
            let mut at = 0;
            while at < n {
                let mut tr = load8(rp.add(at));
                let mut ti = load8(ip.add(at));
                dit_first(
                    &mut tr,
                    &mut ti,
                    |a, b| _mm256_add_ps(a, b),
                    |a, b| _mm256_sub_ps(a, b),
                    |a, b| _mm256_mul_ps(a, b),
                    |a| _mm256_xor_ps(a, _mm256_set1_ps(-0.0)),
                    h,
                );
                store8(rp.add(at), transpose(tr));
                store8(ip.add(at), transpose(ti));
                at += RUN;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_definition_inverts_and_pairs_partners() {
        for n in [64usize, 128, 256, 512, 1024] {
            let f = Fft32::new(n);
            let xr: Vec<f32> = (0..n).map(|j| ((j * 7 + 3) % 11) as f32 - 5.0).collect();
            let xi: Vec<f32> = (0..n).map(|j| ((j * 5 + 1) % 13) as f32 * 0.5).collect();
            let pos = f.positions();
            let mut seen = vec![false; n];
            for &p in &pos {
                assert!(!seen[p]);
                seen[p] = true;
            }
            let mut outs = Vec::new();
            for simd in [None, crate::cpu::Avx2Fma::detect()] {
                let (mut r, mut i) = (xr.clone(), xi.clone());
                f.forward(simd, &mut r, &mut i);
                for (k, &p) in pos.iter().enumerate() {
                    let (mut sr, mut si) = (0.0f64, 0.0f64);
                    for j in 0..n {
                        let a = -2.0 * std::f64::consts::PI * (j * k % n) as f64 / n as f64;
                        sr += xr[j] as f64 * a.cos() - xi[j] as f64 * a.sin();
                        si += xr[j] as f64 * a.sin() + xi[j] as f64 * a.cos();
                    }
                    let tol = 1e-5 * n as f64;
                    assert!(
                        (r[p] as f64 - sr).abs() < tol && (i[p] as f64 - si).abs() < tol,
                        "n {n} bin {k}: {} {} vs {sr} {si}",
                        r[p],
                        i[p]
                    );
                }
                outs.push((r.clone(), i.clone()));
                f.inverse(simd, &mut r, &mut i);
                for j in 0..n {
                    assert!((r[j] / n as f32 - xr[j]).abs() < 1e-4, "n {n} at {j}");
                    assert!((i[j] / n as f32 - xi[j]).abs() < 1e-4, "n {n} at {j}");
                }
                outs.push((r, i));
            }
            if outs.len() == 4 {
                assert_eq!(outs[0], outs[2], "forward, SIMD and portable, n {n}");
                assert_eq!(outs[1], outs[3], "inverse, SIMD and portable, n {n}");
            }
            // From position 64 on, a chunk's partners are another chunk, reversed.
            let partners = f.partners();
            for c in RUN / LANES..n / LANES {
                let p0 = partners[c * LANES];
                for b in 0..LANES {
                    assert_eq!(partners[c * LANES + b], p0 - b, "n {n} chunk {c}");
                }
                assert_eq!(p0 % LANES, LANES - 1);
            }
        }
    }
}
