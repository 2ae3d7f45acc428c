//! Fast-convolution kernel for long filters with few phases: blocks of
//! outputs computed through float64 FFTs.
//!
//! Output `k = p * L + e` (period `p`, phase `e`) is
//! `y_e[p] = sum_u w_e[u] x[p * M - behind + u]`, `w_e` the phase's row at
//! its offset in the union of windows (as in [`super::lanes`]). With the
//! input split into `M` streams `D_s[i] = x[i * M + s - behind]` that is
//! `y_e[p] = sum_s sum_q g_es[q] D_s[p + q]`, `g_es[q] = w_e[q * M + s]`:
//! `L * M` short correlations at the period rate. A block of `B` periods
//! needs `n = B + Q - 1` frames of each stream (`Q` taps per correlation);
//! it is computed with `n`-point transforms: two real streams per complex
//! forward FFT, two phases per complex inverse FFT (real and imaginary
//! parts), the products and the separation of the packed spectra folded
//! into precomputed coefficient spectra.
//!
//! Blocks sit on a fixed grid of periods counted from the start of the
//! stream and every stream value a block reads is either input or a
//! deterministic zero (before the stream, after the flush, or beyond the
//! last frame the block's outputs need), so a block has the same bits
//! whichever call computes it: chunking never changes the output. The
//! arithmetic is float64 whatever the preset (the float32 presets round
//! once, at the output), additions and multiplications only, so the AVX2
//! and portable builds agree bit for bit. A block whose input holds NaN
//! or infinity is computed directly instead (each output from its own
//! window, in float64), so a non-finite value reaches exactly the outputs
//! whose window covers it.

use super::design::Shape;
use super::dot::{Sample, Window};
use super::fft::{partner_chunk, Fft, FIRST_PARTNERS};
use crate::cpu::Simd;

/// The tables of a stage run by this kernel.
pub struct Blocks {
    pub l: usize,
    pub m: usize,
    pub behind: usize,
    /// Periods per block.
    pub b: usize,
    /// Union of the phase windows, in input frames.
    union: usize,
    fft: Fft,
    /// Window start and coefficient row (float64) of each phase.
    starts: Vec<usize>,
    rows: Vec<Vec<f64>>,
    /// Per output pair `o`, per chunk of four positions `j..j + 4`, per
    /// input pair `i`, four parts of four values (read in one sweep):
    /// part 0/1 real/imaginary of the factor of `Z[j]`, part 2/3 of the
    /// factor of `conj(Z[partner(j)])`:
    /// `spec[((o * n / 4 + j / 4) * pairs_in + i) * 16 + part * 4 + j % 4]`.
    spec: Vec<f64>,
    /// First position of the partner chunk of each chunk of four
    /// positions (`4 partner_chunk(c)`; 0 for the first four chunks, which
    /// go by [`FIRST_PARTNERS`]): a table instead of bit arithmetic per chunk.
    partners: Vec<usize>,
}

impl Blocks {
    /// Tables for a stage with the float64 `(phases x taps)` table
    /// `coef64` (row `r` for outputs at `k * M = r mod L`); `None` when
    /// the stage runs on the direct kernels (`shape.block == 0`).
    pub fn new(shape: &Shape, coef64: &[f64]) -> Option<Blocks> {
        if shape.block == 0 {
            return None;
        }
        let (l, m, taps) = (shape.l as usize, shape.m as usize, shape.taps);
        let behind = shape.behind;
        let starts: Vec<usize> = (0..l).map(|e| e * m / l).collect();
        let rows: Vec<Vec<f64>> = (0..l)
            .map(|e| {
                let r = e * m % l;
                coef64[r * taps..(r + 1) * taps].to_vec()
            })
            .collect();
        let union = starts[l - 1] + taps;
        let q = union.div_ceil(m);
        let n = shape.block + q - 1;
        let fft = Fft::new(n);
        let (pin, pout) = (m.div_ceil(2), l.div_ceil(2));
        // Spectra H_es = conj(FFT(g_es)), bit-reversed, for every phase and stream.
        let mut h = vec![(vec![0.0; n], vec![0.0; n]); l * m];
        for e in 0..l {
            for s in 0..m {
                let (re, im) = &mut h[e * m + s];
                for (qi, v) in re.iter_mut().enumerate().take(q) {
                    let u = qi * m + s;
                    *v = match u.checked_sub(starts[e]) {
                        Some(t) if t < taps => rows[e][t],
                        _ => 0.0,
                    };
                }
                fft.forward(None, re, im);
                for v in im.iter_mut() {
                    *v = -*v;
                }
            }
        }
        let scale = 1.0 / n as f64;
        let mut spec = vec![0.0; pout * pin * 4 * n];
        for o in 0..pout {
            for i in 0..pin {
                for j in 0..n {
                    // Factors of Z[j] (a) and conj(Z[partner]) (b) for phase e:
                    // paired streams s, s+1: a = (H_s - i H_s1) / 2, b = (H_s + i H_s1) / 2;
                    // a lone stream: a = H_s, b = 0.
                    let factor = |e: usize| -> (f64, f64, f64, f64) {
                        let (s0, s1) = (2 * i, 2 * i + 1);
                        let (hr, hi) = (h[e * m + s0].0[j], h[e * m + s0].1[j]);
                        if s1 < m {
                            let (gr, gi) = (h[e * m + s1].0[j], h[e * m + s1].1[j]);
                            ((hr + gi) / 2.0, (hi - gr) / 2.0, (hr - gi) / 2.0, (hi + gr) / 2.0)
                        } else {
                            (hr, hi, 0.0, 0.0)
                        }
                    };
                    // Output pair: W = Y_e + i Y_e1.
                    let (ar, ai, br, bi) = factor(2 * o);
                    let (cr, ci, dr, di) = if 2 * o + 1 < l {
                        factor(2 * o + 1)
                    } else {
                        (0.0, 0.0, 0.0, 0.0)
                    };
                    let at = ((o * n / 4 + j / 4) * pin + i) * 16 + j % 4;
                    spec[at] = (ar - ci) * scale;
                    spec[at + 4] = (ai + cr) * scale;
                    spec[at + 8] = (br - di) * scale;
                    spec[at + 12] = (bi + dr) * scale;
                }
            }
        }
        Some(Blocks {
            l,
            m,
            behind: behind as usize,
            b: shape.block,
            union,
            fft,
            starts,
            rows,
            spec,
            partners: (0..n / 4)
                .map(|c| if c < 4 { 0 } else { 4 * partner_chunk(c) })
                .collect(),
        })
    }

    fn n(&self) -> usize {
        self.fft.len()
    }

    /// Heap bytes held by the tables.
    pub fn bytes(&self) -> usize {
        let rows: usize = self.rows.iter().map(Vec::len).sum();
        (rows + self.spec.len()) * 8
            + (self.starts.len() + self.partners.len()) * std::mem::size_of::<usize>()
            + self.fft.bytes()
    }
}

/// Work buffers reused between calls.
#[derive(Default)]
pub struct Scratch {
    /// Packed input spectra (real, imaginary; a row per input pair), then
    /// the output pair's (see [`place`]).
    arrays: [Vec<f64>; 4],
    /// The block's input, `x[P * M - behind + t]` for `t < span`.
    seg: Vec<f64>,
}

/// A slice of `len` values inside `v` starting `slot * 1 KiB` past a 4 KiB
/// boundary: the transform's arrays never share their low 12 address
/// bits (4K aliasing stalls loads behind unrelated stores; measured
/// 10-40% swings between runs without this).
fn place(v: &mut Vec<f64>, len: usize, slot: usize) -> &mut [f64] {
    const PAGE: usize = 512;
    if v.len() < len + PAGE {
        *v = vec![0.0; len + PAGE];
    }
    let addr = v.as_ptr() as usize / 8;
    let off = (slot * 128 + PAGE - addr % PAGE) % PAGE;
    &mut v[off..off + len]
}

/// Outputs `k0 .. k0 + out.len()` of one channel from the window's history
/// followed by its new frames. `k0` is a multiple of `B * L` (blocks start
/// on the grid).
pub fn run<S: Sample, O>(
    simd: Simd,
    bl: &Blocks,
    scratch: &mut Scratch,
    w: Window<'_, S>,
    out: &mut [O],
    put: impl Fn(S) -> O,
) {
    #[cfg(target_arch = "x86_64")]
    if let Some(cpu) = simd {
        // SAFETY: the token proves AVX2+FMA, `run_avx`'s only requirement.
        return unsafe { run_avx(cpu, bl, scratch, w, out, put) };
    }
    run_loop(simd, bl, scratch, w, out, put)
}

/// The `span` frames from frame `base` of `hist` followed by `new` that a
/// block reads: in place when they lie in one of the two, else copied.
pub(crate) enum Piece<'a, S, F> {
    InPlace(&'a [S]),
    Copied(&'a [F]),
}

/// A block's input ([`Piece`]): the frames in place, or (straddling `hist`
/// and `new`, or past the end) [`gather`]ed into `seg` through `conv`.
#[inline(always)]
pub(crate) fn block_input<'a, S: Copy, F: Copy + Default>(
    seg: &'a mut Vec<F>,
    hist: &'a [S],
    new: &'a [S],
    base: i64,
    span: usize,
    conv: impl Fn(S) -> F,
) -> Piece<'a, S, F> {
    let (hl, nl) = (hist.len() as i64, new.len() as i64);
    if base >= 0 && base + span as i64 <= hl {
        Piece::InPlace(&hist[base as usize..base as usize + span])
    } else if base >= hl && base + span as i64 <= hl + nl {
        Piece::InPlace(&new[(base - hl) as usize..(base - hl) as usize + span])
    } else {
        gather(seg, hist, new, base, span, conv);
        Piece::Copied(&seg[..])
    }
}

/// Frames `base .. base + span` of `hist` followed by `new` into `seg`
/// (made `span` long), each through `conv`; zeros where neither reaches
/// (before the stream's start, past the input's end). For a block that
/// straddles the two: in a stream that is every call's first block, so
/// only the uncovered ends are zeroed, not the whole span.
#[inline(always)]
fn gather<S: Copy, F: Copy + Default>(
    seg: &mut Vec<F>,
    hist: &[S],
    new: &[S],
    base: i64,
    span: usize,
    conv: impl Fn(S) -> F,
) {
    let (hl, nl) = (hist.len() as i64, new.len() as i64);
    let end = base + span as i64;
    seg.resize(span, F::default());
    let (lo, hi) = (base.max(0), end.min(hl + nl));
    if lo >= hi {
        seg.fill(F::default());
        return;
    }
    seg[..(lo - base) as usize].fill(F::default());
    seg[(hi - base) as usize..].fill(F::default());
    for (src, at) in [(hist, 0i64), (new, hl)] {
        let lo = base.max(at);
        let hi = end.min(at + src.len() as i64);
        if lo < hi {
            let d = &mut seg[(lo - base) as usize..(hi - base) as usize];
            for (v, &x) in d.iter_mut().zip(&src[(lo - at) as usize..(hi - at) as usize]) {
                *v = conv(x);
            }
        }
    }
}

/// [`run_loop`] compiled for AVX2+FMA.
///
/// # Safety
/// The CPU supports AVX2 and FMA (the token proves it).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx<S: Sample, O>(
    cpu: crate::cpu::Avx2Fma,
    bl: &Blocks,
    scratch: &mut Scratch,
    w: Window<'_, S>,
    out: &mut [O],
    put: impl Fn(S) -> O,
) {
    run_loop(Some(cpu), bl, scratch, w, out, put)
}

#[inline(always)]
fn run_loop<S: Sample, O>(
    simd: Simd,
    bl: &Blocks,
    scratch: &mut Scratch,
    w: Window<'_, S>,
    out: &mut [O],
    put: impl Fn(S) -> O,
) {
    let Window { hist, new, start, k0 } = w;
    let (l, m, b, n) = (bl.l, bl.m, bl.b, bl.n());
    debug_assert_eq!(k0.rem_euclid((b * l) as i64), 0);
    let total = out.len();
    let (pin, pout) = (m.div_ceil(2), l.div_ceil(2));
    let [zr, zi, wr, wi] = &mut scratch.arrays;
    let zr = place(zr, pin * n, 0);
    let zi = place(zi, pin * n, 1);
    let wr = place(wr, pout * n, 2);
    let wi = place(wi, pout * n, 3);
    // Frames a block reads: up to the last frame of its last output's window.
    let span = (b - 1) * m + bl.union;
    let mut done = 0;
    let mut p = k0 / l as i64;
    while done < total {
        let base = p * m as i64 - bl.behind as i64 - start;
        let finite = match block_input(&mut scratch.seg, hist, new, base, span, |x| x.to_f64()) {
            Piece::InPlace(x) => split(bl, x, |v| v.to_f64(), zr, zi),
            Piece::Copied(x) => split(bl, x, |v| v, zr, zi),
        };
        let want = (total - done).min(b * l);
        let dst = &mut out[done..done + want];
        if finite {
            for i in 0..pin {
                let (zr, zi) = (&mut zr[i * n..(i + 1) * n], &mut zi[i * n..(i + 1) * n]);
                bl.fft.forward(simd, zr, zi);
            }
            for o in 0..pout {
                let (wr, wi) = (&mut wr[o * n..(o + 1) * n], &mut wi[o * n..(o + 1) * n]);
                multiply(simd, bl, o, zr, zi, wr, wi);
                bl.fft.inverse(simd, wr, wi);
            }
            // Phase 2o is row o of wr, phase 2o + 1 row o of wi.
            let phase = |e: usize| -> &[f64] {
                let row = if e % 2 == 0 { &wr[..] } else { &wi[..] };
                &row[e / 2 * n..e / 2 * n + b]
            };
            if want == l * b {
                match l {
                    1 => {
                        for (d, &u) in dst.iter_mut().zip(phase(0)) {
                            *d = put(S::from_f64(u));
                        }
                    }
                    2 => {
                        for (d, (&u, &v)) in dst.chunks_exact_mut(2).zip(phase(0).iter().zip(phase(1))) {
                            d[0] = put(S::from_f64(u));
                            d[1] = put(S::from_f64(v));
                        }
                    }
                    3 => {
                        let (p0, p1, p2) = (phase(0), phase(1), phase(2));
                        for (d, ((&u, &v), &w)) in dst.chunks_exact_mut(3).zip(p0.iter().zip(p1).zip(p2)) {
                            d[0] = put(S::from_f64(u));
                            d[1] = put(S::from_f64(v));
                            d[2] = put(S::from_f64(w));
                        }
                    }
                    _ => {
                        let (p0, p1, p2, p3) = (phase(0), phase(1), phase(2), phase(3));
                        let src = p0.iter().zip(p1).zip(p2.iter().zip(p3));
                        for (d, ((&u, &v), (&w, &x))) in dst.chunks_exact_mut(4).zip(src) {
                            d[0] = put(S::from_f64(u));
                            d[1] = put(S::from_f64(v));
                            d[2] = put(S::from_f64(w));
                            d[3] = put(S::from_f64(x));
                        }
                    }
                }
            } else {
                // The last, partial block of a flush.
                for (k, d) in dst.iter_mut().enumerate() {
                    *d = put(S::from_f64(phase(k % l)[k / l]));
                }
            }
        } else {
            direct((hist, new), base, m, &bl.starts, &bl.rows, dst, &put);
        }
        done += want;
        p += b as i64;
    }
}

/// A block's outputs computed one by one from the input (hist + new, zeros
/// outside), as a block holding NaN or infinity needs them: output `k` is
/// phase `e = k % L`'s window `rows[e]` read from frame
/// `base + (k / L) * m + starts[e]` on (`L = starts.len()`). Non-finite
/// values reach only the outputs whose window holds them.
pub(super) fn direct<S: Sample, O>(
    (hist, new): (&[S], &[S]),
    base: i64,
    m: usize,
    starts: &[usize],
    rows: &[Vec<f64>],
    dst: &mut [O],
    put: impl Fn(S) -> O,
) {
    let (hl, nl, l) = (hist.len() as i64, new.len() as i64, starts.len());
    for (k, d) in dst.iter_mut().enumerate() {
        let (pp, e) = (k / l, k % l);
        let from = base + (pp * m + starts[e]) as i64;
        let mut acc = 0.0f64;
        for (t, &c) in rows[e].iter().enumerate() {
            let x = from + t as i64;
            let v = if x < 0 || x >= hl + nl {
                0.0
            } else if x < hl {
                hist[x as usize].to_f64()
            } else {
                new[(x - hl) as usize].to_f64()
            };
            acc += c * v;
        }
        *d = put(S::from_f64(acc));
    }
}

/// Splits the block's `span` input frames into the packed stream pairs
/// (`zr`/`zi` row `i`: streams `2i` and `2i + 1`), zero beyond; true when
/// every value is finite.
#[inline(always)]
fn split<T: Copy>(bl: &Blocks, src: &[T], f: impl Fn(T) -> f64 + Copy, zr: &mut [f64], zi: &mut [f64]) -> bool {
    match bl.m {
        1 => split_m::<1, T>(bl.n(), src, f, zr, zi),
        2 => split_m::<2, T>(bl.n(), src, f, zr, zi),
        3 => split_m::<3, T>(bl.n(), src, f, zr, zi),
        _ => split_m::<4, T>(bl.n(), src, f, zr, zi),
    }
}

/// Top bit set when `v` is infinite or NaN (an all-ones exponent carries into it).
#[inline(always)]
fn flag(v: f64) -> u64 {
    (v.to_bits() & 0x7ff0_0000_0000_0000) + 0x0010_0000_0000_0000
}

#[inline(always)]
fn split_m<const M: usize, T: Copy>(n: usize, src: &[T], f: impl Fn(T) -> f64, zr: &mut [f64], zi: &mut [f64]) -> bool {
    let span = src.len();
    let whole = span / M;
    let (zr, zi) = (&mut zr[..M.div_ceil(2) * n], &mut zi[..M.div_ceil(2) * n]);
    let (r0, r1) = zr.split_at_mut(n.min(zr.len()));
    let (i0, i1) = zi.split_at_mut(n.min(zi.len()));
    // Stream s goes to row s: zr[0], zi[0], zr[1], zi[1].
    let mut rows: [&mut [f64]; 4] = [r0, i0, r1, i1];
    let mut bits = 0u64;
    {
        let [a, b, c, d] = &mut rows;
        let (a, b, c, d) = (&mut a[..whole], &mut b[..], &mut c[..], &mut d[..]);
        for (t, x) in src.chunks_exact(M).enumerate() {
            let v0 = f(x[0]);
            a[t] = v0;
            bits |= flag(v0);
            if M > 1 {
                let v = f(x[1]);
                b[t] = v;
                bits |= flag(v);
            }
            if M > 2 {
                let v = f(x[2]);
                c[t] = v;
                bits |= flag(v);
            }
            if M > 3 {
                let v = f(x[3]);
                d[t] = v;
                bits |= flag(v);
            }
        }
    }
    for (s, row) in rows.iter_mut().enumerate().take(M) {
        for t in whole..n {
            let a = t * M + s;
            let v = if a < span { f(src[a]) } else { 0.0 };
            row[t] = v;
            bits |= flag(v);
        }
    }
    if M % 2 == 1 {
        // The lone stream's partner is zero.
        rows[M][..n].fill(0.0);
    }
    bits >> 63 == 0
}

/// `W = sum_i A_oi Z_i + B_oi conj(Z_i[partner])` for output pair `o`.
fn multiply(simd: Simd, bl: &Blocks, o: usize, zr: &[f64], zi: &[f64], wr: &mut [f64], wi: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(cpu) = simd {
        return match bl.m {
            1 => avx::multiply::<1>(cpu, bl, o, zr, zi, wr, wi),
            2 => avx::multiply::<2>(cpu, bl, o, zr, zi, wr, wi),
            3 => avx::multiply::<3>(cpu, bl, o, zr, zi, wr, wi),
            _ => avx::multiply::<4>(cpu, bl, o, zr, zi, wr, wi),
        };
    }
    let _ = simd;
    multiply_loop(bl, o, zr, zi, wr, wi)
}

// Arithmetic intrinsics are safe to call inside these functions from Rust
// 1.86 on; the `unsafe` blocks are for 1.77 (the crate's minimum).
#[allow(unused_unsafe)]
#[cfg(target_arch = "x86_64")]
mod avx {
    use super::{Blocks, FIRST_PARTNERS};
    use crate::cpu::Avx2Fma;
    use std::arch::x86_64::*;

    /// [`super::multiply_m`] with AVX2 intrinsics: the same multiplications
    /// and additions in the same order (same bits). Safe: the sizes are
    /// asserted on entry and the token proves AVX2+FMA.
    pub fn multiply<const M: usize>(
        cpu: Avx2Fma,
        bl: &Blocks,
        o: usize,
        zr: &[f64],
        zi: &[f64],
        wr: &mut [f64],
        wi: &mut [f64],
    ) {
        let n = bl.fft.len();
        let pin = M.div_ceil(2);
        assert!(zr.len() >= pin * n && zi.len() >= pin * n && wr.len() >= n && wi.len() >= n);
        assert!(bl.spec.len() >= (o + 1) * pin * 4 * n);
        // SAFETY: the token proves AVX2+FMA; the asserts are the bounds
        // `multiply_avx` reads and writes within.
        unsafe { multiply_avx::<M>(cpu, bl, o, zr, zi, wr, wi) }
    }

    /// See [`multiply`].
    ///
    /// # Safety
    /// `zr`, `zi` hold `ceil(M / 2) * n` values, `wr`, `wi` `n`, and
    /// `bl.spec` the tables of output pair `o` (as `multiply` asserts).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn multiply_avx<const M: usize>(
        _cpu: Avx2Fma,
        bl: &Blocks,
        o: usize,
        zr: &[f64],
        zi: &[f64],
        wr: &mut [f64],
        wi: &mut [f64],
    ) {
        // SAFETY: pointer reads stay within `zr`, `zi` (`pin * n`), `bl.spec` (pair `o`'s
        // tables) and writes within `wr`, `wi` (`n`), per this function's contract.
        unsafe {
            let n = bl.fft.len();
            let pin = M.div_ceil(2);
            let sp = bl.spec.as_ptr().add(o * pin * 4 * n);
            let (zrp, zip) = (zr.as_ptr(), zi.as_ptr());
            let (wrp, wip) = (wr.as_mut_ptr(), wi.as_mut_ptr());
            let mut j = 0;
            while j < n {
                let c = j / 4;
                let p = bl.partners[c];
                let mut ar = _mm256_setzero_pd();
                let mut ai = _mm256_setzero_pd();
                let f0 = sp.add(j / 4 * pin * 16);
                for i in 0..pin {
                    let f = f0.add(16 * i);
                    let (x, y) = (_mm256_loadu_pd(zrp.add(i * n + j)), _mm256_loadu_pd(zip.add(i * n + j)));
                    let (fr, fi) = (_mm256_loadu_pd(f), _mm256_loadu_pd(f.add(4)));
                    ar = _mm256_add_pd(ar, _mm256_sub_pd(_mm256_mul_pd(fr, x), _mm256_mul_pd(fi, y)));
                    ai = _mm256_add_pd(ai, _mm256_add_pd(_mm256_mul_pd(fr, y), _mm256_mul_pd(fi, x)));
                    if 2 * i + 1 < M {
                        let (u, v) = if c < 4 {
                            let t = &FIRST_PARTNERS[j..j + 4];
                            let (zr, zi) = (&zr[i * n..], &zi[i * n..]);
                            (
                                _mm256_setr_pd(zr[t[0]], zr[t[1]], zr[t[2]], zr[t[3]]),
                                _mm256_setr_pd(zi[t[0]], zi[t[1]], zi[t[2]], zi[t[3]]),
                            )
                        } else {
                            (
                                _mm256_permute4x64_pd(_mm256_loadu_pd(zrp.add(i * n + p)), 0x1B),
                                _mm256_permute4x64_pd(_mm256_loadu_pd(zip.add(i * n + p)), 0x1B),
                            )
                        };
                        let (gr, gi) = (_mm256_loadu_pd(f.add(8)), _mm256_loadu_pd(f.add(12)));
                        ar = _mm256_add_pd(ar, _mm256_add_pd(_mm256_mul_pd(gr, u), _mm256_mul_pd(gi, v)));
                        ai = _mm256_add_pd(ai, _mm256_sub_pd(_mm256_mul_pd(gi, u), _mm256_mul_pd(gr, v)));
                    }
                }
                _mm256_storeu_pd(wrp.add(j), ar);
                _mm256_storeu_pd(wip.add(j), ai);
                j += 4;
            }
        }
    }
}

#[inline(always)]
fn multiply_loop(bl: &Blocks, o: usize, zr: &[f64], zi: &[f64], wr: &mut [f64], wi: &mut [f64]) {
    match bl.m {
        1 => multiply_m::<1>(bl, o, zr, zi, wr, wi),
        2 => multiply_m::<2>(bl, o, zr, zi, wr, wi),
        3 => multiply_m::<3>(bl, o, zr, zi, wr, wi),
        _ => multiply_m::<4>(bl, o, zr, zi, wr, wi),
    }
}

/// One sweep over the bins, every input pair at once, each chunk of four
/// bins accumulated in registers and stored once. Bit-reversed positions
/// `[lo, 2 lo)` hold bins closed under negation, the partner of position
/// `j` being `3 lo - 1 - j` (positions 0 and 1: themselves; 2 and 3: each
/// other).
#[inline(always)]
fn multiply_m<const M: usize>(bl: &Blocks, o: usize, zr: &[f64], zi: &[f64], wr: &mut [f64], wi: &mut [f64]) {
    let n = bl.n();
    let pin = M.div_ceil(2);
    let spec = &bl.spec[o * pin * 4 * n..(o + 1) * pin * 4 * n];
    let (wr, wi) = (&mut wr[..n], &mut wi[..n]);
    let (zr, zi) = (&zr[..pin * n], &zi[..pin * n]);
    for (c, ((sc, dr), di)) in spec
        .chunks_exact(pin * 16)
        .zip(wr.chunks_exact_mut(4))
        .zip(wi.chunks_exact_mut(4))
        .enumerate()
    {
        let j = 4 * c;
        // The partner chunk, read backwards (the first four chunks by table).
        let p = bl.partners[c];
        let mut ar = [0.0f64; 4];
        let mut ai = [0.0f64; 4];
        for (i, f) in sc.chunks_exact(16).enumerate() {
            let (x, y) = (v4(&zr[i * n + j..]), v4(&zi[i * n + j..]));
            let (fr, fi) = (v4(&f[0..]), v4(&f[4..]));
            for t in 0..4 {
                ar[t] += fr[t] * x[t] - fi[t] * y[t];
                ai[t] += fr[t] * y[t] + fi[t] * x[t];
            }
            if 2 * i + 1 < M {
                let (u, v) = if c < 4 {
                    let t = &FIRST_PARTNERS[j..j + 4];
                    let (zr, zi) = (&zr[i * n..], &zi[i * n..]);
                    (
                        [zr[t[0]], zr[t[1]], zr[t[2]], zr[t[3]]],
                        [zi[t[0]], zi[t[1]], zi[t[2]], zi[t[3]]],
                    )
                } else {
                    let (u, v) = (v4(&zr[i * n + p..]), v4(&zi[i * n + p..]));
                    ([u[3], u[2], u[1], u[0]], [v[3], v[2], v[1], v[0]])
                };
                let (gr, gi) = (v4(&f[8..]), v4(&f[12..]));
                for t in 0..4 {
                    // B conj(Z[partner]) = (gr + i gi)(u - i v)
                    ar[t] += gr[t] * u[t] + gi[t] * v[t];
                    ai[t] += gi[t] * u[t] - gr[t] * v[t];
                }
            }
        }
        dr.copy_from_slice(&ar);
        di.copy_from_slice(&ai);
    }
}

#[inline(always)]
fn v4(x: &[f64]) -> [f64; 4] {
    [x[0], x[1], x[2], x[3]]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct evaluation of the same outputs, in float64.
    fn direct(bl: &Blocks, x: &[f64], count: usize) -> Vec<f64> {
        (0..count)
            .map(|k| {
                let (p, e) = (k / bl.l, k % bl.l);
                let from = (p * bl.m + bl.starts[e]) as i64 - bl.behind as i64;
                bl.rows[e]
                    .iter()
                    .enumerate()
                    .map(|(t, &c)| {
                        let i = from + t as i64;
                        if i < 0 || i as usize >= x.len() {
                            0.0
                        } else {
                            c * x[i as usize]
                        }
                    })
                    .sum()
            })
            .collect()
    }

    #[test]
    fn blocks_match_direct_convolution() {
        for (l, m) in [(2u64, 3u64), (3, 2), (1, 3), (2, 1), (4, 3), (3, 4)] {
            let taps = 256;
            let shape = Shape {
                l,
                m,
                half: 0,
                taps,
                ahead: 127,
                behind: 128,
                block: super::super::design::block_periods(l, m, taps),
            };
            let coef: Vec<f64> = (0..l as usize * taps)
                .map(|i| ((i * 37 % 101) as f64 - 50.0) / 500.0)
                .collect();
            let bl = Blocks::new(&shape, &coef).unwrap();
            let x: Vec<f64> = (0..5000)
                .map(|i| ((i as f64) * 0.013).sin() + ((i * 7 % 5) as f64 - 2.0) * 0.1)
                .collect();
            let count = 5000 * l as usize / m as usize;
            let want = direct(&bl, &x, count);
            for simd in [None, crate::cpu::Avx2Fma::detect()] {
                let mut got = vec![0.0f64; count];
                let mut sc = Scratch::default();
                let w = Window {
                    hist: &x[..],
                    new: &[],
                    start: 0,
                    k0: 0,
                };
                run(simd, &bl, &mut sc, w, &mut got, |v| v);
                for k in 0..count {
                    assert!(
                        (got[k] - want[k]).abs() < 1e-12,
                        "{l}/{m} output {k}: {} vs {}",
                        got[k],
                        want[k]
                    );
                }
            }
        }
    }
}
