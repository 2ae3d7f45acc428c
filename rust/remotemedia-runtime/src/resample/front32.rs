//! The interpolated route's front stage (up by 2) as fast convolution on
//! float32 transforms ([`super::fft32`]), at "medium".
//!
//! The same arithmetic as [`super::blocks`] for the front stage's shape (4
//! phases over a doubled period, `L / M = 4 / 2`: the input's even and odd
//! frames are two streams packed into one complex forward transform, two
//! phases per complex inverse), on the same grid of blocks (so the numpy
//! body, which runs it in float64, returns the same frames per call), in
//! float32: 8 values per AVX2 register instead of 4. Its rounding error,
//! about -134 dB of the signal, sits 14 dB under the route's SNR at
//! "medium" (set by the interpolated stage's 120 dB design), and the
//! stopband stays under -130 dB; "high" and "very_high" keep float64
//! transforms (their SNR is 140-150 dB).
//!
//! As in [`super::blocks`]: every value a block reads is input or a
//! deterministic zero, so chunking never changes the bits; additions and
//! multiplications only, in the same order in the AVX2 and portable
//! builds; a block whose input holds NaN or infinity is computed directly
//! (float64, each output from its own window).

use super::design::Shape;
use super::dot::{Sample, Window};
use super::fft32::{Fft32, LANES};
use crate::cpu::Simd;

/// Phases and input frames per period of the stage.
const L: usize = 4;
const M: usize = 2;
/// Chunks (of [`LANES`] positions) whose partners are gathered one by one.
const FIRST_CHUNKS: usize = LANES;

/// The tables of a front stage on float32 transforms.
pub struct Front32 {
    pub behind: usize,
    /// Periods per block.
    pub b: usize,
    /// Union of the phase windows, in input frames.
    union: usize,
    fft: Fft32,
    /// Window start and coefficient row (float64) of each phase, for
    /// blocks with non-finite input.
    starts: [usize; L],
    rows: Vec<Vec<f64>>,
    /// Per chunk `c` of 8 positions, per output pair `o` (phases `2o`,
    /// `2o + 1`): the real and imaginary parts of the factors of `Z[j]`
    /// and of `conj(Z[partner(j)])`, 8 values each:
    /// `spec[c * 64 + o * 32 + part * 8 + j % 8]`, the scale `1 / n` in.
    spec: Vec<f32>,
    /// First position of the (reversed) partner chunk of each chunk from
    /// [`FIRST_CHUNKS`] on; the partner positions of the first 64.
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

impl Front32 {
    /// Tables for a stage of shape `4 / 2` with the float64 `(4 x taps)`
    /// table `coef64` (row `r` for outputs at `k * M = r mod L`); `None`
    /// for any other shape or one on the direct kernels.
    pub fn new(shape: &Shape, coef64: &[f64]) -> Option<Front32> {
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
        if !n.is_power_of_two() || n < LANES * LANES {
            return None;
        }
        let fft = Fft32::new(n);
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
        let pos = fft.positions();
        let scale = 1.0 / n as f64;
        let mut spec = vec![0.0f32; 8 * n];
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
                let at = p / LANES * 64 + o * 32 + p % LANES;
                spec[at] = ((ar - ci) * scale) as f32;
                spec[at + 8] = ((ai + cr) * scale) as f32;
                spec[at + 16] = ((br - di) * scale) as f32;
                spec[at + 24] = ((bi + dr) * scale) as f32;
            }
        }
        let partners = fft.partners();
        let pchunk = (0..n / LANES)
            .map(|c| {
                if c < FIRST_CHUNKS {
                    0
                } else {
                    partners[c * LANES] + 1 - LANES
                }
            })
            .collect();
        Some(Front32 {
            behind: shape.behind as usize,
            b: shape.block,
            union,
            fft,
            starts,
            rows,
            spec,
            pchunk,
            first: partners[..FIRST_CHUNKS * LANES].to_vec(),
        })
    }

    fn n(&self) -> usize {
        self.fft.len()
    }

    /// Heap bytes held by the tables.
    pub fn bytes(&self) -> usize {
        let rows: usize = self.rows.iter().map(Vec::len).sum();
        rows * 8
            + self.spec.len() * 4
            + (self.pchunk.len() + self.first.len()) * std::mem::size_of::<usize>()
            + self.fft.bytes()
    }
}

/// Work buffers reused between calls.
#[derive(Default)]
pub struct Scratch {
    /// The packed input spectrum, then the two output pairs'.
    arrays: [Vec<f32>; 6],
    /// A block's input when it straddles the history and the new frames.
    seg: Vec<f32>,
}

/// A slice of `len` values inside `v` starting `slot * 512` bytes past a
/// 4 KiB boundary, so that the arrays never share their low 12 address
/// bits (4K aliasing stalls loads behind unrelated stores).
fn place(v: &mut Vec<f32>, len: usize, slot: usize) -> &mut [f32] {
    const PAGE: usize = 1024;
    if v.len() < len + PAGE {
        *v = vec![0.0; len + PAGE];
    }
    let addr = v.as_ptr() as usize / 4;
    let off = (slot * 128 + PAGE - addr % PAGE) % PAGE;
    &mut v[off..off + len]
}

/// Outputs `k0 .. k0 + out.len()` of one channel from the window's history
/// followed by its new frames; `k0` is a multiple of `4 B` (blocks start on
/// the grid).
pub fn run<S: Sample, O>(
    simd: Simd,
    fr: &Front32,
    scratch: &mut Scratch,
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
unsafe fn run_avx<S: Sample, O>(
    cpu: crate::cpu::Avx2Fma,
    fr: &Front32,
    scratch: &mut Scratch,
    w: Window<'_, S>,
    out: &mut [O],
    put: impl Fn(S) -> O,
) {
    run_loop(Some(cpu), fr, scratch, w, out, put)
}

#[inline(always)]
fn run_loop<S: Sample, O>(
    simd: Simd,
    fr: &Front32,
    scratch: &mut Scratch,
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
        let (hl, nl) = (hist.len() as i64, new.len() as i64);
        let piece: &[S] = if base >= 0 && base + span as i64 <= hl {
            &hist[base as usize..base as usize + span]
        } else if base >= hl && base + span as i64 <= hl + nl {
            &new[(base - hl) as usize..(base - hl) as usize + span]
        } else {
            &[]
        };
        let finite = if piece.is_empty() {
            // Straddling hist and new (or past the end): copy, zeros outside.
            scratch.seg.clear();
            scratch.seg.resize(span, 0.0);
            let end = base + span as i64;
            for (src, at) in [(hist, 0i64), (new, hl)] {
                let lo = base.max(at);
                let hi = end.min(at + src.len() as i64);
                if lo < hi {
                    let d = &mut scratch.seg[(lo - base) as usize..(hi - base) as usize];
                    for (v, &x) in d.iter_mut().zip(&src[(lo - at) as usize..(hi - at) as usize]) {
                        *v = x.to_f32();
                    }
                }
            }
            split(&scratch.seg[..], |v| v, zr, zi)
        } else {
            split(piece, |v| v.to_f32(), zr, zi)
        };
        let want = (total - done).min(b * L);
        let dst = &mut out[done..done + want];
        if finite {
            fr.fft.forward(simd, zr, zi);
            multiply(simd, fr, zr, zi, [&mut *ur, &mut *ui, &mut *vr, &mut *vi]);
            fr.fft.inverse(simd, ur, ui);
            fr.fft.inverse(simd, vr, vi);
            let at = |v: f32| put(S::from_f32(v));
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
                let phases: [&[f32]; L] = [ur, ui, vr, vi];
                for (k, d) in dst.iter_mut().enumerate() {
                    *d = at(phases[k % L][k / L]);
                }
            }
        } else {
            // Direct, from the input again (non-finite values stay where they are).
            for (k, d) in dst.iter_mut().enumerate() {
                let (pp, e) = (k / L, k % L);
                let from = base + (pp * M + fr.starts[e]) as i64;
                let mut acc = 0.0f64;
                for (t, &c) in fr.rows[e].iter().enumerate() {
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
        done += want;
        p += b as i64;
    }
}

/// Top bit set when `v` is infinite or NaN (an all-ones exponent carries into it).
#[inline(always)]
fn flag(v: f32) -> u32 {
    (v.to_bits() & 0x7f80_0000) + 0x0080_0000
}

/// Even frames of the block's `span` input frames into `zr`, odd ones into
/// `zi`, zeros beyond; true when every value is finite.
#[inline(always)]
fn split<T: Copy>(src: &[T], f: impl Fn(T) -> f32, zr: &mut [f32], zi: &mut [f32]) -> bool {
    let n = zr.len();
    let whole = src.len() / M;
    let mut bits = 0u32;
    for ((x, r), i) in src.chunks_exact(M).zip(zr.iter_mut()).zip(zi.iter_mut()) {
        let (a, b) = (f(x[0]), f(x[1]));
        *r = a;
        *i = b;
        bits |= flag(a) | flag(b);
    }
    for t in whole..n {
        let (a, b) = (t * M, t * M + 1);
        let a = if a < src.len() { f(src[a]) } else { 0.0 };
        let b = if b < src.len() { f(src[b]) } else { 0.0 };
        zr[t] = a;
        zi[t] = b;
        bits |= flag(a) | flag(b);
    }
    bits >> 31 == 0
}

/// `W_o = A_o Z + B_o conj(Z[partner])` for both output pairs, chunk by
/// chunk.
#[inline(always)]
fn multiply(simd: Simd, fr: &Front32, zr: &[f32], zi: &[f32], w: [&mut [f32]; 4]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(cpu) = simd {
        return avx::multiply(cpu, fr, zr, zi, w);
    }
    let _ = simd;
    multiply_loop(fr, zr, zi, w)
}

/// The portable [`multiply`]; [`avx::multiply`] does the same operations
/// in the same order.
#[inline(always)]
fn multiply_loop(fr: &Front32, zr: &[f32], zi: &[f32], w: [&mut [f32]; 4]) {
    let n = fr.n();
    let [ur, ui, vr, vi] = w;
    let (zr, zi) = (&zr[..n], &zi[..n]);
    let (ur, ui, vr, vi) = (&mut ur[..n], &mut ui[..n], &mut vr[..n], &mut vi[..n]);
    for (c, sc) in fr.spec.chunks_exact(64).enumerate() {
        let j = c * LANES;
        let x: [f32; LANES] = std::array::from_fn(|t| zr[j + t]);
        let y: [f32; LANES] = std::array::from_fn(|t| zi[j + t]);
        let (u, v): ([f32; LANES], [f32; LANES]) = if c < FIRST_CHUNKS {
            let f = &fr.first[j..j + LANES];
            (std::array::from_fn(|t| zr[f[t]]), std::array::from_fn(|t| zi[f[t]]))
        } else {
            let p = fr.pchunk[c];
            let (pr, pi) = (&zr[p..p + LANES], &zi[p..p + LANES]);
            (
                std::array::from_fn(|t| pr[LANES - 1 - t]),
                std::array::from_fn(|t| pi[LANES - 1 - t]),
            )
        };
        for (o, (dr, di)) in [(&mut *ur, &mut *ui), (&mut *vr, &mut *vi)].into_iter().enumerate() {
            let f = &sc[o * 32..o * 32 + 32];
            let (dr, di) = (&mut dr[j..j + LANES], &mut di[j..j + LANES]);
            for t in 0..LANES {
                let (ar, ai, br, bi) = (f[t], f[8 + t], f[16 + t], f[24 + t]);
                dr[t] = (ar * x[t] - ai * y[t]) + (br * u[t] + bi * v[t]);
                di[t] = (ar * y[t] + ai * x[t]) + (bi * u[t] - br * v[t]);
            }
        }
    }
}

// Arithmetic intrinsics are safe to call inside these functions from Rust
// 1.86 on; the `unsafe` blocks are for 1.77 (the crate's minimum).
#[allow(unused_unsafe)]
#[cfg(target_arch = "x86_64")]
mod avx {
    use super::{Front32, FIRST_CHUNKS, LANES};
    use crate::cpu::Avx2Fma;
    use std::arch::x86_64::*;

    /// See [`super::multiply_loop`]; safe: the sizes are asserted here and
    /// the token proves AVX2+FMA.
    pub fn multiply(cpu: Avx2Fma, fr: &Front32, zr: &[f32], zi: &[f32], w: [&mut [f32]; 4]) {
        let n = fr.n();
        assert!(zr.len() >= n && zi.len() >= n && w.iter().all(|v| v.len() >= n));
        assert!(fr.spec.len() == 8 * n && fr.pchunk.len() == n / LANES && fr.first.len() == FIRST_CHUNKS * LANES);
        debug_assert!(fr.pchunk.iter().all(|&p| p + LANES <= n) && fr.first.iter().all(|&p| p < n));
        // SAFETY: the token proves AVX2+FMA; the asserts are the bounds
        // `multiply_avx` reads and writes within (partner positions are
        // below `n` by construction).
        unsafe { multiply_avx(cpu, fr, zr, zi, w) }
    }

    /// # Safety
    /// As [`multiply`] asserts: `zr`, `zi` and every `w` hold `n` values,
    /// the tables are `fr`'s.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn multiply_avx(_cpu: Avx2Fma, fr: &Front32, zr: &[f32], zi: &[f32], w: [&mut [f32]; 4]) {
        // SAFETY: every pointer stays within the bounds of the contract.
        unsafe {
            let n = fr.n();
            let [ur, ui, vr, vi] = w;
            let (zrp, zip) = (zr.as_ptr(), zi.as_ptr());
            let outs = [(ur.as_mut_ptr(), ui.as_mut_ptr()), (vr.as_mut_ptr(), vi.as_mut_ptr())];
            let sp = fr.spec.as_ptr();
            let rev = _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0);
            for c in 0..n / LANES {
                let j = c * LANES;
                let (x, y) = (_mm256_loadu_ps(zrp.add(j)), _mm256_loadu_ps(zip.add(j)));
                let (u, v) = if c < FIRST_CHUNKS {
                    let f = &fr.first[j..j + LANES];
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
}

#[cfg(test)]
mod tests {
    use super::super::blocks::{self, Blocks};
    use super::*;

    #[test]
    fn float32_blocks_follow_the_float64_ones() {
        // A 4 / 2 stage as the front stage builds it, on 512-point transforms:
        // the same outputs as the float64 block kernel to float32 rounding
        // error, the SIMD and portable builds bit for bit, and a NaN reaching
        // only the outputs whose window holds it.
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
        let fr = Front32::new(&shape, &coef).unwrap();
        let bl = Blocks::new(&shape, &coef).unwrap();
        assert_eq!(fr.n(), 512);
        let mut x: Vec<f32> = (0..6000)
            .map(|i| ((i as f32) * 0.021).sin() * 0.7 + ((i * 13 % 7) as f32 - 3.0) * 0.05)
            .collect();
        let count = 4 * fr.b * 6;
        fn w(x: &[f32]) -> Window<'_, f32> {
            Window {
                hist: x,
                new: &[],
                start: 0,
                k0: 0,
            }
        }
        let mut want = vec![0.0f64; count];
        blocks::run(
            None,
            &bl,
            &mut blocks::Scratch::default(),
            w(&x),
            &mut want,
            |v: f32| v as f64,
        );
        let mut got = Vec::new();
        for simd in [None, crate::cpu::Avx2Fma::detect()] {
            let mut y = vec![0.0f32; count];
            run(simd, &fr, &mut Scratch::default(), w(&x), &mut y, |v| v);
            let err = y
                .iter()
                .zip(&want)
                .map(|(a, b)| (*a as f64 - b).abs())
                .fold(0.0, f64::max);
            assert!(err < 2e-6, "{err}");
            got.push(y);
        }
        assert_eq!(got[0], got[got.len() - 1]);
        x[3000] = f32::NAN;
        let mut y = vec![0.0f32; count];
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
}
