//! The interpolated route's front stage (up by 2) as fast convolution:
//! on float32 transforms ([`super::fft32`]) at "medium", on the float64
//! ones of [`super::fft`] at "high" and "very_high".
//!
//! The same arithmetic as [`super::blocks`] for the front stage's shape (4
//! phases over a doubled period, `L / M = 4 / 2`: the input's even and odd
//! frames are two streams packed into one complex forward transform, two
//! phases per complex inverse), on the same grid of blocks (so the numpy
//! body, which runs it in float64, returns the same frames per call), with
//! both output pairs' products in one sweep. In float32 a register holds 8
//! values instead of 4; the rounding error, about -134 dB of the signal,
//! sits 14 dB under the route's SNR at "medium" (set by the interpolated
//! stage's 120 dB design), and the stopband stays under -119 dB; "high"
//! and "very_high" (SNR 140-151 dB) need float64 transforms.
//!
//! As in [`super::blocks`]: every value a block reads is input or a
//! deterministic zero, so chunking never changes the bits; additions and
//! multiplications only, in the same order in the AVX2 and portable
//! builds; a block whose input holds NaN or infinity is computed directly
//! (float64, each output from its own window).

use super::blocks::{block_input, Piece};
use super::design::Shape;
use super::dot::{Sample, Window};
use super::fft::Fft;
use super::fft32::Fft32;
use crate::cpu::Simd;

/// Phases and input frames per period of the stage.
const L: usize = 4;
const M: usize = 2;
/// A precision of the transforms: float32 ([`Fft32`], "medium") or
/// float64 ([`Fft`], "high" and "very_high").
pub trait Real: Copy + Default + Send + Sync + 'static {
    /// Values per AVX2 register and per chunk of positions; the partners
    /// of the first `LANES` chunks are gathered one by one.
    const LANES: usize;
    type Fft: Send + Sync;
    fn fft(n: usize) -> Self::Fft;
    fn fft_len(f: &Self::Fft) -> usize;
    fn fft_bytes(f: &Self::Fft) -> usize;
    fn forward(f: &Self::Fft, simd: Simd, re: &mut [Self], im: &mut [Self]);
    fn inverse(f: &Self::Fft, simd: Simd, re: &mut [Self], im: &mut [Self]);
    /// Where the forward transform leaves bin `k` of `n`.
    fn position(k: usize, n: usize) -> usize;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    /// Top bit set when the value is infinite or NaN (an all-ones
    /// exponent carries into it).
    fn flag(self) -> u32;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    /// [`multiply_loop`] with AVX2 intrinsics (same operations, same bits).
    #[cfg(target_arch = "x86_64")]
    fn multiply_avx(cpu: crate::cpu::Avx2Fma, fr: &Front<Self>, zr: &[Self], zi: &[Self], w: [&mut [Self]; 4]);
}

impl Real for f32 {
    const LANES: usize = 8;
    type Fft = Fft32;
    fn fft(n: usize) -> Fft32 {
        Fft32::new(n)
    }
    fn fft_len(f: &Fft32) -> usize {
        f.len()
    }
    fn fft_bytes(f: &Fft32) -> usize {
        f.bytes()
    }
    #[inline(always)]
    fn forward(f: &Fft32, simd: Simd, re: &mut [f32], im: &mut [f32]) {
        f.forward(simd, re, im)
    }
    #[inline(always)]
    fn inverse(f: &Fft32, simd: Simd, re: &mut [f32], im: &mut [f32]) {
        f.inverse(simd, re, im)
    }
    fn position(k: usize, n: usize) -> usize {
        super::fft32::position(k, n)
    }
    #[inline(always)]
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn flag(self) -> u32 {
        (self.to_bits() & 0x7f80_0000) + 0x0080_0000
    }
    #[inline(always)]
    fn add(self, o: f32) -> f32 {
        self + o
    }
    #[inline(always)]
    fn sub(self, o: f32) -> f32 {
        self - o
    }
    #[inline(always)]
    fn mul(self, o: f32) -> f32 {
        self * o
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn multiply_avx(cpu: crate::cpu::Avx2Fma, fr: &Front<f32>, zr: &[f32], zi: &[f32], w: [&mut [f32]; 4]) {
        avx::multiply32(cpu, fr, zr, zi, w)
    }
}

impl Real for f64 {
    const LANES: usize = 4;
    type Fft = Fft;
    fn fft(n: usize) -> Fft {
        Fft::new(n)
    }
    fn fft_len(f: &Fft) -> usize {
        f.len()
    }
    fn fft_bytes(f: &Fft) -> usize {
        f.bytes()
    }
    #[inline(always)]
    fn forward(f: &Fft, simd: Simd, re: &mut [f64], im: &mut [f64]) {
        f.forward(simd, re, im)
    }
    #[inline(always)]
    fn inverse(f: &Fft, simd: Simd, re: &mut [f64], im: &mut [f64]) {
        f.inverse(simd, re, im)
    }
    /// The layout `fft.rs` documents: bit-reversed order, each run of 16
    /// transposed as a 4x4 matrix (checked by the partner test in `new`).
    fn position(k: usize, n: usize) -> usize {
        let j = k.reverse_bits() >> (usize::BITS - n.trailing_zeros());
        j / 16 * 16 + j % 4 * 4 + j % 16 / 4
    }
    #[inline(always)]
    fn from_f64(v: f64) -> f64 {
        v
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn flag(self) -> u32 {
        (((self.to_bits() & 0x7ff0_0000_0000_0000) + 0x0010_0000_0000_0000) >> 32) as u32
    }
    #[inline(always)]
    fn add(self, o: f64) -> f64 {
        self + o
    }
    #[inline(always)]
    fn sub(self, o: f64) -> f64 {
        self - o
    }
    #[inline(always)]
    fn mul(self, o: f64) -> f64 {
        self * o
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn multiply_avx(cpu: crate::cpu::Avx2Fma, fr: &Front<f64>, zr: &[f64], zi: &[f64], w: [&mut [f64]; 4]) {
        avx::multiply64(cpu, fr, zr, zi, w)
    }
}

/// The tables of a front stage on transforms in precision `F`.
pub struct Front<F: Real> {
    pub behind: usize,
    /// Periods per block.
    pub b: usize,
    /// Union of the phase windows, in input frames.
    union: usize,
    fft: F::Fft,
    /// Window start and coefficient row (float64) of each phase, for
    /// blocks with non-finite input.
    starts: [usize; L],
    rows: Vec<Vec<f64>>,
    /// Per chunk `c` of `V = F::LANES` positions, per output pair `o`
    /// (phases `2o`, `2o + 1`): the real and imaginary parts of the factors
    /// of `Z[j]` and of `conj(Z[partner(j)])`, `V` values each:
    /// `spec[c * 8 V + o * 4 V + part * V + j % V]`, the scale `1 / n` in.
    spec: Vec<F>,
    /// First position of the (reversed) partner chunk of each chunk from
    /// chunk `V` on; the partner positions of the first `V * V`.
    pchunk: Vec<usize>,
    first: Vec<usize>,
}

/// Natural-order float64 DFT (`sign` -1: forward) by radix 2, for the tables.
fn dft64(re: &mut [f64], im: &mut [f64], sign: f64) {
    let n = re.len();
    let bits = n.trailing_zeros();
    for i in 0..n {
        let j = i.reverse_bits() >> (usize::BITS - bits);
        if j > i {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut s = 1;
    while s < n {
        let tw: Vec<(f64, f64)> = (0..s)
            .map(|j| {
                let a = sign * std::f64::consts::PI * j as f64 / s as f64;
                (a.cos(), a.sin())
            })
            .collect();
        for g in (0..n).step_by(2 * s) {
            for (j, &(c, sn)) in tw.iter().enumerate() {
                let (x, y) = (g + j, g + j + s);
                let (tr, ti) = (re[y] * c - im[y] * sn, re[y] * sn + im[y] * c);
                re[y] = re[x] - tr;
                im[y] = im[x] - ti;
                re[x] += tr;
                im[x] += ti;
            }
        }
        s *= 2;
    }
}

impl<F: Real> Front<F> {
    /// Tables for a stage of shape `4 / 2` with the float64 `(4 x taps)`
    /// table `coef64` (row `r` for outputs at `k * M = r mod L`); `None`
    /// for any other shape or one on the direct kernels.
    pub fn new(shape: &Shape, coef64: &[f64]) -> Option<Front<F>> {
        let v = F::LANES;
        if shape.block == 0 || (shape.l, shape.m) != (L as u64, M as u64) {
            return None;
        }
        let taps = shape.taps;
        let starts: [usize; L] = std::array::from_fn(|e| e * M / L);
        let rows: Vec<Vec<f64>> = (0..L)
            .map(|e| {
                let r = e * M % L;
                coef64[r * taps..(r + 1) * taps].to_vec()
            })
            .collect();
        let union = starts[L - 1] + taps;
        let q = union.div_ceil(M);
        let n = shape.block + q - 1;
        if !n.is_power_of_two() || n < 64 {
            return None;
        }
        let fft = F::fft(n);
        // H_es = conj(DFT(g_es)), natural order, per phase and stream.
        let mut h = vec![(vec![0.0; n], vec![0.0; n]); L * M];
        for e in 0..L {
            for s in 0..M {
                let (re, im) = &mut h[e * M + s];
                for (qi, v) in re.iter_mut().enumerate().take(q) {
                    *v = match (qi * M + s).checked_sub(starts[e]) {
                        Some(t) if t < taps => rows[e][t],
                        _ => 0.0,
                    };
                }
                dft64(re, im, -1.0);
                for v in im.iter_mut() {
                    *v = -*v;
                }
            }
        }
        let pos: Vec<usize> = (0..n).map(|k| F::position(k, n)).collect();
        let scale = 1.0 / n as f64;
        let mut spec = vec![F::default(); 8 * n];
        for (k, &p) in pos.iter().enumerate() {
            // Streams 0, 1 packed as Z = D0 + i D1: Y_e = a_e Z + b_e conj(Z'),
            // a = (H_e0 - i H_e1) / 2, b = (H_e0 + i H_e1) / 2.
            let factor = |e: usize| -> (f64, f64, f64, f64) {
                let (hr, hi) = (h[e * M].0[k], h[e * M].1[k]);
                let (gr, gi) = (h[e * M + 1].0[k], h[e * M + 1].1[k]);
                ((hr + gi) / 2.0, (hi - gr) / 2.0, (hr - gi) / 2.0, (hi + gr) / 2.0)
            };
            for o in 0..L / 2 {
                // Output pair: W = Y_2o + i Y_2o+1.
                let (ar, ai, br, bi) = factor(2 * o);
                let (cr, ci, dr, di) = factor(2 * o + 1);
                let at = p / v * 8 * v + o * 4 * v + p % v;
                spec[at] = F::from_f64((ar - ci) * scale);
                spec[at + v] = F::from_f64((ai + cr) * scale);
                spec[at + 2 * v] = F::from_f64((br - di) * scale);
                spec[at + 3 * v] = F::from_f64((bi + dr) * scale);
            }
        }
        let mut partners = vec![0; n];
        for k in 0..n {
            partners[pos[k]] = pos[(n - k) % n];
        }
        // From chunk `V` on, a chunk's partners are another chunk, reversed.
        let pchunk: Vec<usize> = (0..n / v)
            .map(|c| if c < v { 0 } else { partners[c * v] + 1 - v })
            .collect();
        for c in v..n / v {
            if (0..v).any(|b| partners[c * v + b] != pchunk[c] + v - 1 - b) {
                return None;
            }
        }
        Some(Front {
            behind: shape.behind as usize,
            b: shape.block,
            union,
            fft,
            starts,
            rows,
            spec,
            pchunk,
            first: partners[..v * v].to_vec(),
        })
    }

    fn n(&self) -> usize {
        F::fft_len(&self.fft)
    }

    /// Heap bytes held by the tables.
    pub fn bytes(&self) -> usize {
        let rows: usize = self.rows.iter().map(Vec::len).sum();
        rows * 8
            + self.spec.len() * std::mem::size_of::<F>()
            + (self.pchunk.len() + self.first.len()) * std::mem::size_of::<usize>()
            + F::fft_bytes(&self.fft)
    }
}

/// Work buffers reused between calls.
#[derive(Default)]
pub struct Scratch<F> {
    /// The packed input spectrum, then the two output pairs'.
    arrays: [Vec<F>; 6],
    /// A block's input when it straddles the history and the new frames.
    seg: Vec<F>,
}

/// A slice of `len` values inside `v` starting `slot * 512` bytes past a
/// 4 KiB boundary, so that the arrays never share their low 12 address
/// bits (4K aliasing stalls loads behind unrelated stores).
fn place<F: Real>(v: &mut Vec<F>, len: usize, slot: usize) -> &mut [F] {
    let size = std::mem::size_of::<F>();
    let page = 4096 / size;
    if v.len() < len + page {
        *v = vec![F::default(); len + page];
    }
    let addr = v.as_ptr() as usize / size;
    let off = (slot * 512 / size + page - addr % page) % page;
    &mut v[off..off + len]
}

/// Outputs `k0 .. k0 + out.len()` of one channel from the window's history
/// followed by its new frames; `k0` is a multiple of `4 B` (blocks start on
/// the grid).
pub fn run<F: Real, S: Sample, O>(
    simd: Simd,
    fr: &Front<F>,
    scratch: &mut Scratch<F>,
    w: Window<'_, S>,
    out: &mut [O],
    put: impl Fn(S) -> O,
) {
    #[cfg(target_arch = "x86_64")]
    if let Some(cpu) = simd {
        // SAFETY: the token proves AVX2+FMA, `run_avx`'s only requirement.
        return unsafe { run_avx(cpu, fr, scratch, w, out, put) };
    }
    run_loop(simd, fr, scratch, w, out, put)
}

/// [`run_loop`] compiled for AVX2+FMA.
///
/// # Safety
/// The CPU supports AVX2 and FMA (the token proves it).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx<F: Real, S: Sample, O>(
    cpu: crate::cpu::Avx2Fma,
    fr: &Front<F>,
    scratch: &mut Scratch<F>,
    w: Window<'_, S>,
    out: &mut [O],
    put: impl Fn(S) -> O,
) {
    run_loop(Some(cpu), fr, scratch, w, out, put)
}

#[inline(always)]
fn run_loop<F: Real, S: Sample, O>(
    simd: Simd,
    fr: &Front<F>,
    scratch: &mut Scratch<F>,
    w: Window<'_, S>,
    out: &mut [O],
    put: impl Fn(S) -> O,
) {
    let Window { hist, new, start, k0 } = w;
    let (b, n) = (fr.b, fr.n());
    debug_assert_eq!(k0.rem_euclid((b * L) as i64), 0);
    let total = out.len();
    let [zr, zi, ur, ui, vr, vi] = &mut scratch.arrays;
    let zr = place(zr, n, 0);
    let zi = place(zi, n, 1);
    let ur = place(ur, n, 2);
    let ui = place(ui, n, 3);
    let vr = place(vr, n, 4);
    let vi = place(vi, n, 5);
    // Frames a block reads: up to the last frame of its last output's window.
    let span = (b - 1) * M + fr.union;
    let mut done = 0;
    let mut p = k0 / L as i64;
    while done < total {
        let base = p * M as i64 - fr.behind as i64 - start;
        let conv = |x: S| F::from_f64(x.to_f64());
        let finite = match block_input(&mut scratch.seg, hist, new, base, span, conv) {
            Piece::InPlace(x) => split(x, conv, zr, zi),
            Piece::Copied(x) => split(x, |v| v, zr, zi),
        };
        let want = (total - done).min(b * L);
        let dst = &mut out[done..done + want];
        if finite {
            F::forward(&fr.fft, simd, zr, zi);
            multiply(simd, fr, zr, zi, [&mut *ur, &mut *ui, &mut *vr, &mut *vi]);
            F::inverse(&fr.fft, simd, ur, ui);
            F::inverse(&fr.fft, simd, vr, vi);
            let at = |v: F| put(S::from_f64(v.to_f64()));
            if want == L * b {
                let src = ur[..b].iter().zip(&ui[..b]).zip(vr[..b].iter().zip(&vi[..b]));
                for (d, ((&e0, &e1), (&e2, &e3))) in dst.chunks_exact_mut(L).zip(src) {
                    d[0] = at(e0);
                    d[1] = at(e1);
                    d[2] = at(e2);
                    d[3] = at(e3);
                }
            } else {
                // The last, partial block of a flush.
                let phases: [&[F]; L] = [ur, ui, vr, vi];
                for (k, d) in dst.iter_mut().enumerate() {
                    *d = at(phases[k % L][k / L]);
                }
            }
        } else {
            super::blocks::direct((hist, new), base, M, &fr.starts, &fr.rows, dst, &put);
        }
        done += want;
        p += b as i64;
    }
}

/// Even frames of the block's `span` input frames into `zr`, odd ones into
/// `zi`, zeros beyond; true when every value is finite.
#[inline(always)]
fn split<T: Copy, F: Real>(src: &[T], f: impl Fn(T) -> F, zr: &mut [F], zi: &mut [F]) -> bool {
    let n = zr.len();
    let whole = src.len() / M;
    let mut bits = 0u32;
    for ((x, r), i) in src.chunks_exact(M).zip(zr.iter_mut()).zip(zi.iter_mut()) {
        let (a, b) = (f(x[0]), f(x[1]));
        *r = a;
        *i = b;
        bits |= a.flag() | b.flag();
    }
    for t in whole..n {
        let (a, b) = (t * M, t * M + 1);
        let a = if a < src.len() { f(src[a]) } else { F::default() };
        let b = if b < src.len() { f(src[b]) } else { F::default() };
        zr[t] = a;
        zi[t] = b;
        bits |= a.flag() | b.flag();
    }
    bits >> 31 == 0
}

/// `W_o = A_o Z + B_o conj(Z[partner])` for both output pairs, chunk by
/// chunk.
#[inline(always)]
fn multiply<F: Real>(simd: Simd, fr: &Front<F>, zr: &[F], zi: &[F], w: [&mut [F]; 4]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(cpu) = simd {
        return F::multiply_avx(cpu, fr, zr, zi, w);
    }
    let _ = simd;
    multiply_loop(fr, zr, zi, w)
}

/// The portable [`multiply`]; [`avx::multiply`] does the same operations
/// in the same order.
#[inline(always)]
fn multiply_loop<F: Real>(fr: &Front<F>, zr: &[F], zi: &[F], w: [&mut [F]; 4]) {
    let (n, v) = (fr.n(), F::LANES);
    let [ur, ui, vr, vi] = w;
    let (zr, zi) = (&zr[..n], &zi[..n]);
    let (ur, ui, vr, vi) = (&mut ur[..n], &mut ui[..n], &mut vr[..n], &mut vi[..n]);
    let (mut pr, mut pi) = ([F::default(); 8], [F::default(); 8]);
    for (c, sc) in fr.spec.chunks_exact(8 * v).enumerate() {
        let j = c * v;
        // The partners, in the order of the chunk's positions.
        for t in 0..v {
            let p = if c < v {
                fr.first[j + t]
            } else {
                fr.pchunk[c] + v - 1 - t
            };
            pr[t] = zr[p];
            pi[t] = zi[p];
        }
        for (o, (dr, di)) in [(&mut *ur, &mut *ui), (&mut *vr, &mut *vi)].into_iter().enumerate() {
            let f = &sc[o * 4 * v..(o + 1) * 4 * v];
            for t in 0..v {
                let (x, y, u, w) = (zr[j + t], zi[j + t], pr[t], pi[t]);
                let (ar, ai, br, bi) = (f[t], f[v + t], f[2 * v + t], f[3 * v + t]);
                dr[j + t] = ar.mul(x).sub(ai.mul(y)).add(br.mul(u).add(bi.mul(w)));
                di[j + t] = ar.mul(y).add(ai.mul(x)).add(bi.mul(u).sub(br.mul(w)));
            }
        }
    }
}

// Arithmetic intrinsics are safe to call inside these functions from Rust
// 1.86 on; the `unsafe` blocks are for 1.77 (the crate's minimum).
#[allow(unused_unsafe)]
#[cfg(target_arch = "x86_64")]
mod avx {
    use super::{Front, Real};
    use crate::cpu::Avx2Fma;
    use std::arch::x86_64::*;

    /// The bounds `multiply_avx*` read and write within, asserted.
    fn check<F: Real>(fr: &Front<F>, zr: &[F], zi: &[F], w: &[&mut [F]; 4]) {
        let (n, v) = (fr.n(), F::LANES);
        assert!(zr.len() >= n && zi.len() >= n && w.iter().all(|x| x.len() >= n));
        assert!(fr.spec.len() == 8 * n && fr.pchunk.len() == n / v && fr.first.len() == v * v);
        debug_assert!(fr.pchunk.iter().all(|&p| p + v <= n) && fr.first.iter().all(|&p| p < n));
    }

    /// See [`super::multiply_loop`]; safe: the sizes are asserted and the
    /// token proves AVX2+FMA.
    pub fn multiply32(cpu: Avx2Fma, fr: &Front<f32>, zr: &[f32], zi: &[f32], w: [&mut [f32]; 4]) {
        check(fr, zr, zi, &w);
        // SAFETY: the token proves AVX2+FMA; `check` asserts the bounds
        // (partner positions are below `n` by construction).
        unsafe { multiply32_avx(cpu, fr, zr, zi, w) }
    }

    /// See [`super::multiply_loop`]; safe as [`multiply32`].
    pub fn multiply64(cpu: Avx2Fma, fr: &Front<f64>, zr: &[f64], zi: &[f64], w: [&mut [f64]; 4]) {
        check(fr, zr, zi, &w);
        // SAFETY: as in `multiply32`.
        unsafe { multiply64_avx(cpu, fr, zr, zi, w) }
    }

    /// # Safety
    /// As [`multiply32`] asserts: `zr`, `zi` and every `w` hold `n` values,
    /// the tables are `fr`'s.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn multiply32_avx(_cpu: Avx2Fma, fr: &Front<f32>, zr: &[f32], zi: &[f32], w: [&mut [f32]; 4]) {
        // SAFETY: every pointer stays within the bounds of the contract.
        unsafe {
            let n = fr.n();
            let [ur, ui, vr, vi] = w;
            let (zrp, zip) = (zr.as_ptr(), zi.as_ptr());
            let outs = [(ur.as_mut_ptr(), ui.as_mut_ptr()), (vr.as_mut_ptr(), vi.as_mut_ptr())];
            let sp = fr.spec.as_ptr();
            let rev = _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0);
            for c in 0..n / 8 {
                let j = c * 8;
                let (x, y) = (_mm256_loadu_ps(zrp.add(j)), _mm256_loadu_ps(zip.add(j)));
                let (u, v) = if c < 8 {
                    let f = &fr.first[j..j + 8];
                    let g = |p: *const f32| {
                        _mm256_setr_ps(
                            *p.add(f[0]),
                            *p.add(f[1]),
                            *p.add(f[2]),
                            *p.add(f[3]),
                            *p.add(f[4]),
                            *p.add(f[5]),
                            *p.add(f[6]),
                            *p.add(f[7]),
                        )
                    };
                    (g(zrp), g(zip))
                } else {
                    let p = *fr.pchunk.get_unchecked(c);
                    (
                        _mm256_permutevar8x32_ps(_mm256_loadu_ps(zrp.add(p)), rev),
                        _mm256_permutevar8x32_ps(_mm256_loadu_ps(zip.add(p)), rev),
                    )
                };
                for (o, &(dr, di)) in outs.iter().enumerate() {
                    let f = sp.add(c * 64 + o * 32);
                    let (ar, ai) = (_mm256_loadu_ps(f), _mm256_loadu_ps(f.add(8)));
                    let (br, bi) = (_mm256_loadu_ps(f.add(16)), _mm256_loadu_ps(f.add(24)));
                    let re = _mm256_add_ps(
                        _mm256_sub_ps(_mm256_mul_ps(ar, x), _mm256_mul_ps(ai, y)),
                        _mm256_add_ps(_mm256_mul_ps(br, u), _mm256_mul_ps(bi, v)),
                    );
                    let im = _mm256_add_ps(
                        _mm256_add_ps(_mm256_mul_ps(ar, y), _mm256_mul_ps(ai, x)),
                        _mm256_sub_ps(_mm256_mul_ps(bi, u), _mm256_mul_ps(br, v)),
                    );
                    _mm256_storeu_ps(dr.add(j), re);
                    _mm256_storeu_ps(di.add(j), im);
                }
            }
        }
    }

    /// # Safety
    /// As [`multiply64`] asserts.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn multiply64_avx(_cpu: Avx2Fma, fr: &Front<f64>, zr: &[f64], zi: &[f64], w: [&mut [f64]; 4]) {
        // SAFETY: every pointer stays within the bounds of the contract.
        unsafe {
            let n = fr.n();
            let [ur, ui, vr, vi] = w;
            let (zrp, zip) = (zr.as_ptr(), zi.as_ptr());
            let outs = [(ur.as_mut_ptr(), ui.as_mut_ptr()), (vr.as_mut_ptr(), vi.as_mut_ptr())];
            let sp = fr.spec.as_ptr();
            for c in 0..n / 4 {
                let j = c * 4;
                let (x, y) = (_mm256_loadu_pd(zrp.add(j)), _mm256_loadu_pd(zip.add(j)));
                let (u, v) = if c < 4 {
                    let f = &fr.first[j..j + 4];
                    let g = |p: *const f64| _mm256_setr_pd(*p.add(f[0]), *p.add(f[1]), *p.add(f[2]), *p.add(f[3]));
                    (g(zrp), g(zip))
                } else {
                    let p = *fr.pchunk.get_unchecked(c);
                    (
                        _mm256_permute4x64_pd(_mm256_loadu_pd(zrp.add(p)), 0x1B),
                        _mm256_permute4x64_pd(_mm256_loadu_pd(zip.add(p)), 0x1B),
                    )
                };
                for (o, &(dr, di)) in outs.iter().enumerate() {
                    let f = sp.add(c * 32 + o * 16);
                    let (ar, ai) = (_mm256_loadu_pd(f), _mm256_loadu_pd(f.add(4)));
                    let (br, bi) = (_mm256_loadu_pd(f.add(8)), _mm256_loadu_pd(f.add(12)));
                    let re = _mm256_add_pd(
                        _mm256_sub_pd(_mm256_mul_pd(ar, x), _mm256_mul_pd(ai, y)),
                        _mm256_add_pd(_mm256_mul_pd(br, u), _mm256_mul_pd(bi, v)),
                    );
                    let im = _mm256_add_pd(
                        _mm256_add_pd(_mm256_mul_pd(ar, y), _mm256_mul_pd(ai, x)),
                        _mm256_sub_pd(_mm256_mul_pd(bi, u), _mm256_mul_pd(br, v)),
                    );
                    _mm256_storeu_pd(dr.add(j), re);
                    _mm256_storeu_pd(di.add(j), im);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::blocks::{self, Blocks};
    use super::*;

    /// Runs a 4 / 2 stage as the front stage builds it (512-point
    /// transforms) in precision `F` against the float64 block kernel:
    /// within `tol`, the SIMD and portable builds bit for bit, and a NaN
    /// reaching only the outputs whose window holds it.
    fn follows_the_block_kernel<F: Real>(tol: f64) {
        let taps = 184;
        let shape = Shape {
            l: 4,
            m: 2,
            half: 0,
            taps,
            ahead: 90,
            behind: 93,
            block: super::super::plan::front_block(taps),
        };
        let mut coef = vec![0.0; 4 * taps];
        for (i, c) in coef.iter_mut().enumerate() {
            if (i / taps) % 2 == 0 {
                let t = (i % taps) as f64 - taps as f64 / 2.0;
                *c = (0.3 * t).sin() / (t + 0.5) * (-(t / 60.0).powi(2)).exp();
            }
        }
        let fr = Front::<F>::new(&shape, &coef).unwrap();
        let bl = Blocks::new(&shape, &coef).unwrap();
        assert_eq!(fr.n(), 512);
        let mut x: Vec<f64> = (0..6000)
            .map(|i| (((i as f32) * 0.021).sin() * 0.7 + ((i * 13 % 7) as f32 - 3.0) * 0.05) as f64)
            .collect();
        let count = 4 * fr.b * 6;
        fn w(x: &[f64]) -> Window<'_, f64> {
            Window {
                hist: x,
                new: &[],
                start: 0,
                k0: 0,
            }
        }
        let mut want = vec![0.0f64; count];
        blocks::run(None, &bl, &mut blocks::Scratch::default(), w(&x), &mut want, |v| v);
        let mut got = Vec::new();
        for simd in [None, crate::cpu::Avx2Fma::detect()] {
            let mut y = vec![0.0f64; count];
            run(simd, &fr, &mut Scratch::default(), w(&x), &mut y, |v| v);
            let err = y.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(err < tol, "{err}");
            got.push(y);
        }
        assert_eq!(got[0], got[got.len() - 1]);
        x[3000] = f64::NAN;
        let mut y = vec![0.0f64; count];
        run(
            crate::cpu::Avx2Fma::detect(),
            &fr,
            &mut Scratch::default(),
            w(&x),
            &mut y,
            |v| v,
        );
        let bad: Vec<usize> = (0..count).filter(|&k| y[k].is_nan()).collect();
        assert!(!bad.is_empty() && bad.len() <= 2 * (taps + 1));
        assert!(bad.iter().all(|&k| (k as i64 / 2 - 3000).abs() <= taps as i64));
    }

    #[test]
    fn float32_transforms_follow_the_block_kernel() {
        follows_the_block_kernel::<f32>(2e-6);
    }

    #[test]
    fn float64_transforms_follow_the_block_kernel() {
        follows_the_block_kernel::<f64>(1e-12);
    }
}
