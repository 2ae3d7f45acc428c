//! Complex float64 FFT of a power-of-two size, for fast convolution.
//!
//! Data are split (real parts and imaginary parts in two arrays), so every
//! butterfly loop with a span of 4 or more runs over contiguous memory and
//! vectorises without shuffles. The forward transform is decimation in
//! frequency and leaves the spectrum in bit-reversed order; the inverse is
//! decimation in time and takes bit-reversed input: a convolution never
//! needs the permutation, it multiplies spectra position by position.
//!
//! Only additions and multiplications appear (no fused multiply-add), so
//! the AVX2 build and the portable build of the same loops round alike and
//! give the same bits.

/// Twiddles and size of one transform length.
pub struct Fft {
    n: usize,
    /// For span `s` (a power of two below `n`): `cos(pi j / s)` and
    /// `sin(pi j / s)` at index `s + j`, `j < s`.
    cos: Vec<f64>,
    sin: Vec<f64>,
}

impl Fft {
    /// Tables for transforms of `n` points (a power of two, at least 4).
    pub fn new(n: usize) -> Fft {
        assert!(n.is_power_of_two() && n >= 4);
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

    /// In place: natural-order input, bit-reversed spectrum
    /// `X[k] = sum_j x[j] exp(-2 pi i j k / n)`.
    pub fn forward(&self, simd: bool, re: &mut [f64], im: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if simd {
            // SAFETY: `simd` is true only when AVX2 and FMA were detected.
            return unsafe { forward_avx(self, re, im) };
        }
        let _ = simd;
        forward_loop(self, re, im)
    }

    /// In place: bit-reversed spectrum in, natural-order
    /// `x[j] = sum_k X[k] exp(2 pi i j k / n)` out (not divided by `n`).
    pub fn inverse(&self, simd: bool, re: &mut [f64], im: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if simd {
            // SAFETY: as for `forward`.
            return unsafe { inverse_avx(self, re, im) };
        }
        let _ = simd;
        inverse_loop(self, re, im)
    }
}

/// Position of the conjugate partner (bin `n - k`) of bit-reversed
/// position `j`: positions `[2^m, 2^(m+1))` hold a set of bins closed under
/// negation, in reverse order of their partners.
#[cfg(test)]
pub fn partner(j: usize) -> usize {
    if j < 2 {
        j
    } else {
        let lo = 1usize << (usize::BITS - 1 - j.leading_zeros());
        3 * lo - 1 - j
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_avx(f: &Fft, re: &mut [f64], im: &mut [f64]) {
    forward_loop(f, re, im)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn inverse_avx(f: &Fft, re: &mut [f64], im: &mut [f64]) {
    inverse_loop(f, re, im)
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
fn forward_loop(f: &Fft, re: &mut [f64], im: &mut [f64]) {
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
            for j in (0..q).step_by(4) {
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
            for j in (0..s).step_by(4) {
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
    // Spans 2 and 1 together, per group of four: twiddles 1, -i, then 1.
    for (r, i) in re.chunks_exact_mut(4).zip(im.chunks_exact_mut(4)) {
        let (a0r, a0i) = (r[0] + r[2], i[0] + i[2]);
        let (a1r, a1i) = (r[1] + r[3], i[1] + i[3]);
        let (b0r, b0i) = (r[0] - r[2], i[0] - i[2]);
        // (r1 - r3) * -i
        let (b1r, b1i) = (i[1] - i[3], r[3] - r[1]);
        r[0] = a0r + a1r;
        i[0] = a0i + a1i;
        r[1] = a0r - a1r;
        i[1] = a0i - a1i;
        r[2] = b0r + b1r;
        i[2] = b0i + b1i;
        r[3] = b0r - b1r;
        i[3] = b0i - b1i;
    }
}

#[inline(always)]
fn inverse_loop(f: &Fft, re: &mut [f64], im: &mut [f64]) {
    let n = f.n;
    let (re, im) = (&mut re[..n], &mut im[..n]);
    // Spans 1 and 2 together, per group of four: twiddles 1, then 1, +i.
    for (r, i) in re.chunks_exact_mut(4).zip(im.chunks_exact_mut(4)) {
        let (a0r, a0i) = (r[0] + r[1], i[0] + i[1]);
        let (a1r, a1i) = (r[0] - r[1], i[0] - i[1]);
        let (b0r, b0i) = (r[2] + r[3], i[2] + i[3]);
        // (r2 - r3) * +i
        let (b1r, b1i) = (i[3] - i[2], r[2] - r[3]);
        r[0] = a0r + b0r;
        i[0] = a0i + b0i;
        r[2] = a0r - b0r;
        i[2] = a0i - b0i;
        r[1] = a1r + b1r;
        i[1] = a1i + b1i;
        r[3] = a1r - b1r;
        i[3] = a1i - b1i;
    }
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
            for j in (0..q).step_by(4) {
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
            for j in (0..s).step_by(4) {
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

    fn bitrev(j: usize, n: usize) -> usize {
        j.reverse_bits() >> (usize::BITS - n.trailing_zeros())
    }

    #[test]
    fn matches_the_definition_and_inverts() {
        for n in [4usize, 8, 16, 64, 512] {
            let f = Fft::new(n);
            let xr: Vec<f64> = (0..n).map(|j| ((j * 7 + 3) % 11) as f64 - 5.0).collect();
            let xi: Vec<f64> = (0..n).map(|j| ((j * 5 + 1) % 13) as f64 * 0.5).collect();
            for simd in [false, crate::cpu::has_avx2_fma()] {
                let (mut r, mut i) = (xr.clone(), xi.clone());
                f.forward(simd, &mut r, &mut i);
                for k in 0..n {
                    let (mut sr, mut si) = (0.0, 0.0);
                    for j in 0..n {
                        let a = -2.0 * std::f64::consts::PI * (j * k % n) as f64 / n as f64;
                        sr += xr[j] * a.cos() - xi[j] * a.sin();
                        si += xr[j] * a.sin() + xi[j] * a.cos();
                    }
                    let p = bitrev(k, n);
                    assert!((r[p] - sr).abs() < 1e-9 && (i[p] - si).abs() < 1e-9, "n {n} bin {k}");
                    assert_eq!(bitrev(n - k, n) % n, partner(p) % n, "partner of {p}");
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
        f.forward(false, &mut a, &mut b);
        f.forward(crate::cpu::has_avx2_fma(), &mut c, &mut d);
        assert_eq!(a, c);
        assert_eq!(b, d);
        f.inverse(false, &mut a, &mut b);
        f.inverse(crate::cpu::has_avx2_fma(), &mut c, &mut d);
        assert_eq!(a, c);
        assert_eq!(b, d);
    }
}
