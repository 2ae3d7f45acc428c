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
use super::dot::{Dest, Sample, Window};
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
    /// Two channels sharing each transform ([`run_channels`]): the factor
    /// `H_es / n` of stream `s` for phase `e`, real then imaginary parts,
    /// per chunk of four positions:
    /// `duo[((j / 4 * L + e) * M + s) * 8 + part * 4 + j % 4]`.
    duo: Vec<f64>,
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
        let mut duo = vec![0.0; l * m * 2 * n];
        for j in 0..n {
            for e in 0..l {
                for s in 0..m {
                    let (re, im) = &h[e * m + s];
                    let at = ((j / 4 * l + e) * m + s) * 8 + j % 4;
                    duo[at] = re[j] * scale;
                    duo[at + 4] = im[j] * scale;
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
            duo,
            partners: (0..n / 4)
                .map(|c| if c < 4 { 0 } else { 4 * partner_chunk(c) })
                .collect(),
        })
    }

    fn n(&self) -> usize {
        self.fft.len()
    }

    /// Frames a block reads: up to the last frame of its last output's window.
    fn span(&self) -> usize {
        (self.b - 1) * self.m + self.union
    }

    /// Heap bytes held by the tables.
    pub fn bytes(&self) -> usize {
        let rows: usize = self.rows.iter().map(Vec::len).sum();
        (rows + self.spec.len() + self.duo.len()) * 8
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
    /// The block's input, `x[P * M - behind + t]` for `t < span`, when it
    /// straddles history and new frames (`seg1`: the second channel's).
    seg: Vec<f64>,
    seg1: Vec<f64>,
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
    let span = bl.span();
    let mut done = 0;
    let mut p = k0 / l as i64;
    while done < total {
        let base = p * m as i64 - bl.behind as i64 - start;
        let finite = match piece(hist, new, base, span, &mut scratch.seg) {
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
            emit(l, b, phase, dst, &put);
        } else {
            direct(bl, hist, new, base, dst, &put);
        }
        done += want;
        p += b as i64;
    }
}

/// Outputs `k0 .. k0 + dest.frames` of every channel (row `c` into
/// `dest.buf[c * dest.stride..]`) from the history `hists[c]` followed by
/// `new(c)`; `start` is the input index of each history's first frame.
///
/// Channels go in pairs (0 and 1, 2 and 3, ...) through transforms they
/// share (see [`run_pair`]); an odd last channel goes alone ([`run`]).
#[allow(clippy::too_many_arguments)]
pub fn run_channels<'a, S: Sample, O>(
    simd: Simd,
    bl: &Blocks,
    scratch: &mut Scratch,
    hists: &[Vec<S>],
    new: impl Fn(usize) -> &'a [S],
    start: i64,
    k0: i64,
    dest: Dest<'_, O>,
    put: impl Fn(S) -> O + Copy,
) {
    let Dest { buf, stride, frames } = dest;
    let window = |c: usize| Window {
        hist: &hists[c][..],
        new: new(c),
        start,
        k0,
    };
    let mut c = 0;
    while c < hists.len() {
        // Row c, and row c + 1 from `stride` on (the last row may be short).
        let (o0, tail) = buf[c * stride..].split_at_mut(frames);
        if c + 1 < hists.len() {
            let o1 = &mut tail[stride - frames..][..frames];
            run_pair(simd, bl, scratch, [window(c), window(c + 1)], [o0, o1], put);
            c += 2;
        } else {
            run(simd, bl, scratch, window(c), o0, put);
            c += 1;
        }
    }
}

/// Two channels with the same history length and origin through shared
/// transforms: stream `s` of channel 0 is the real part and of channel 1
/// the imaginary part of one complex forward FFT, the products take each
/// phase's real filter spectrum once (no partner bins to untangle), and
/// one inverse FFT gives a phase of both channels (real, imaginary).
/// Against [`run`] (channel by channel): `M` forward transforms instead of
/// `2 ceil(M / 2)` (3 instead of 4 for the 2:3 stage of 48k -> 16k) and no
/// partner bins. A block in which either channel is silent (all zeros) or
/// not finite runs channel by channel instead, so that a silent channel
/// stays exactly silent and a non-finite value reaches only its channel's
/// outputs; the choice depends on the block's input alone, so chunking
/// never changes a bit. Otherwise each channel's outputs equal those of
/// [`run`] up to float64 rounding (both float64 throughout).
pub fn run_pair<S: Sample, O>(
    simd: Simd,
    bl: &Blocks,
    scratch: &mut Scratch,
    w: [Window<'_, S>; 2],
    out: [&mut [O]; 2],
    put: impl Fn(S) -> O + Copy,
) {
    #[cfg(target_arch = "x86_64")]
    if let Some(cpu) = simd {
        // SAFETY: the token proves AVX2+FMA, `run_pair_avx`'s only requirement.
        return unsafe { run_pair_avx(cpu, bl, scratch, w, out, put) };
    }
    run_pair_loop(simd, bl, scratch, w, out, put)
}

/// [`run_pair_loop`] compiled for AVX2+FMA.
///
/// # Safety
/// The CPU supports AVX2 and FMA (the token proves it).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_pair_avx<S: Sample, O>(
    cpu: crate::cpu::Avx2Fma,
    bl: &Blocks,
    scratch: &mut Scratch,
    w: [Window<'_, S>; 2],
    out: [&mut [O]; 2],
    put: impl Fn(S) -> O + Copy,
) {
    run_pair_loop(Some(cpu), bl, scratch, w, out, put)
}

#[inline(always)]
fn run_pair_loop<S: Sample, O>(
    simd: Simd,
    bl: &Blocks,
    scratch: &mut Scratch,
    w: [Window<'_, S>; 2],
    out: [&mut [O]; 2],
    put: impl Fn(S) -> O + Copy,
) {
    let [w0, w1] = w;
    let [out0, out1] = out;
    let (l, m, b, n) = (bl.l, bl.m, bl.b, bl.n());
    debug_assert_eq!(w0.k0.rem_euclid((b * l) as i64), 0);
    debug_assert!(w0.k0 == w1.k0 && w0.start == w1.start && w0.hist.len() == w1.hist.len());
    let total = out0.len().min(out1.len());
    let span = bl.span();
    let mut done = 0;
    let mut p = w0.k0 / l as i64;
    while done < total {
        let base = p * m as i64 - bl.behind as i64 - w0.start;
        let want = (total - done).min(b * l);
        let shared = {
            let Scratch { arrays, seg, seg1 } = &mut *scratch;
            let [zr, zi, wr, wi] = arrays;
            let zr = place(zr, m * n, 0);
            let zi = place(zi, m * n, 1);
            // Channel 0 into the real rows, channel 1 into the imaginary rows.
            let mut usable = true;
            for (wc, rows, seg) in [(w0, &mut *zr, seg), (w1, &mut *zi, seg1)] {
                let (finite, nonzero) = match piece(wc.hist, wc.new, base, span, seg) {
                    Piece::InPlace(x) => split_rows(m, n, x, |v| v.to_f64(), rows),
                    Piece::Copied(x) => split_rows(m, n, x, |v| v, rows),
                };
                usable &= finite && nonzero;
            }
            if usable {
                let wr = place(wr, l * n, 2);
                let wi = place(wi, l * n, 3);
                for s in 0..m {
                    bl.fft
                        .forward(simd, &mut zr[s * n..(s + 1) * n], &mut zi[s * n..(s + 1) * n]);
                }
                multiply_pair(simd, bl, zr, zi, wr, wi);
                for e in 0..l {
                    bl.fft
                        .inverse(simd, &mut wr[e * n..(e + 1) * n], &mut wi[e * n..(e + 1) * n]);
                }
                emit(l, b, |e| &wr[e * n..e * n + b], &mut out0[done..done + want], &put);
                emit(l, b, |e| &wi[e * n..e * n + b], &mut out1[done..done + want], &put);
            }
            usable
        };
        if !shared {
            // Channel by channel (the same bits as `run` for this block).
            let k0 = p * l as i64;
            for (wc, o) in [(w0, &mut *out0), (w1, &mut *out1)] {
                let wc = Window { k0, ..wc };
                run_loop(simd, bl, scratch, wc, &mut o[done..done + want], put);
            }
        }
        done += want;
        p += b as i64;
    }
}

/// A block's input frames: in place, or copied (float64) into a buffer.
enum Piece<'s, S> {
    InPlace(&'s [S]),
    Copied(&'s [f64]),
}

/// The `span` frames from frame `base` of hist + new: in place when they
/// lie in one of them, else copied into `seg`, zeros outside both.
#[inline(always)]
fn piece<'s, S: Sample>(hist: &'s [S], new: &'s [S], base: i64, span: usize, seg: &'s mut Vec<f64>) -> Piece<'s, S> {
    let (hl, nl) = (hist.len() as i64, new.len() as i64);
    if base >= 0 && base + span as i64 <= hl {
        return Piece::InPlace(&hist[base as usize..base as usize + span]);
    }
    if base >= hl && base + span as i64 <= hl + nl {
        return Piece::InPlace(&new[(base - hl) as usize..(base - hl) as usize + span]);
    }
    // Straddling hist and new (or past the end): copy, zeros outside.
    seg.clear();
    seg.resize(span, 0.0);
    let end = base + span as i64;
    for (src, at) in [(hist, 0i64), (new, hl)] {
        let lo = base.max(at);
        let hi = end.min(at + src.len() as i64);
        if lo < hi {
            let d = &mut seg[(lo - base) as usize..(hi - base) as usize];
            for (v, &x) in d.iter_mut().zip(&src[(lo - at) as usize..(hi - at) as usize]) {
                *v = x.to_f64();
            }
        }
    }
    Piece::Copied(&seg[..])
}

/// Writes a computed block's outputs in output order: `phase(e)` holds
/// the block's `b` periods of phase `e`; `dst` the first `dst.len()` outputs.
#[inline(always)]
fn emit<'w, S: Sample, O>(
    l: usize,
    b: usize,
    phase: impl Fn(usize) -> &'w [f64],
    dst: &mut [O],
    put: &impl Fn(S) -> O,
) {
    if dst.len() == l * b {
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
}

/// A block whose input holds NaN or infinity: each output from its own
/// window, in float64 (non-finite values stay where they are).
#[inline(always)]
fn direct<S: Sample, O>(bl: &Blocks, hist: &[S], new: &[S], base: i64, dst: &mut [O], put: &impl Fn(S) -> O) {
    let (l, m) = (bl.l, bl.m);
    let (hl, nl) = (hist.len() as i64, new.len() as i64);
    for (k, d) in dst.iter_mut().enumerate() {
        let (pp, e) = (k / l, k % l);
        let from = base + (pp * m + bl.starts[e]) as i64;
        let mut acc = 0.0f64;
        for (t, &c) in bl.rows[e].iter().enumerate() {
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

/// Splits a block's `span` input frames into `m` streams, stream `s` into
/// `rows[s * n..(s + 1) * n]`, zeros beyond; returns (every value finite,
/// some value nonzero).
#[inline(always)]
fn split_rows<T: Copy>(m: usize, n: usize, src: &[T], f: impl Fn(T) -> f64 + Copy, rows: &mut [f64]) -> (bool, bool) {
    match m {
        1 => split_rows_m::<1, T>(n, src, f, rows),
        2 => split_rows_m::<2, T>(n, src, f, rows),
        3 => split_rows_m::<3, T>(n, src, f, rows),
        _ => split_rows_m::<4, T>(n, src, f, rows),
    }
}

#[inline(always)]
fn split_rows_m<const M: usize, T: Copy>(n: usize, src: &[T], f: impl Fn(T) -> f64, rows: &mut [f64]) -> (bool, bool) {
    let span = src.len();
    // A block's span never holds more than `n` frames of a stream.
    let whole = span / M;
    let (r0, rest) = rows[..M * n].split_at_mut(n);
    let (r1, rest) = rest.split_at_mut(if M > 1 { n } else { 0 });
    let (r2, r3) = rest.split_at_mut(if M > 2 { n } else { 0 });
    let mut rows: [&mut [f64]; 4] = [r0, r1, r2, r3];
    let (mut bad, mut any) = (0u64, 0u64);
    {
        let [a, b, c, d] = &mut rows;
        let (a, b, c, d) = (&mut a[..whole], &mut b[..], &mut c[..], &mut d[..]);
        for (t, x) in src.chunks_exact(M).enumerate() {
            let v = f(x[0]);
            a[t] = v;
            bad |= flag(v);
            any |= v.to_bits();
            if M > 1 {
                let v = f(x[1]);
                b[t] = v;
                bad |= flag(v);
                any |= v.to_bits();
            }
            if M > 2 {
                let v = f(x[2]);
                c[t] = v;
                bad |= flag(v);
                any |= v.to_bits();
            }
            if M > 3 {
                let v = f(x[3]);
                d[t] = v;
                bad |= flag(v);
                any |= v.to_bits();
            }
        }
    }
    for (s, row) in rows.iter_mut().enumerate().take(M) {
        for t in whole..n {
            let a = t * M + s;
            let v = if a < span { f(src[a]) } else { 0.0 };
            row[t] = v;
            bad |= flag(v);
            any |= v.to_bits();
        }
    }
    // Nonzero: some bit other than a sign bit set.
    (bad >> 63 == 0, any << 1 != 0)
}

/// `W_e = sum_s F_es Z_s` for every phase `e` (row `e` of `wr`, `wi`):
/// the shared transforms of [`run_pair`].
fn multiply_pair(simd: Simd, bl: &Blocks, zr: &[f64], zi: &[f64], wr: &mut [f64], wi: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(cpu) = simd {
        return match (bl.l, bl.m) {
            (1, 1) => avx::multiply_pair::<1, 1>(cpu, bl, zr, zi, wr, wi),
            (1, 2) => avx::multiply_pair::<1, 2>(cpu, bl, zr, zi, wr, wi),
            (1, 3) => avx::multiply_pair::<1, 3>(cpu, bl, zr, zi, wr, wi),
            (1, _) => avx::multiply_pair::<1, 4>(cpu, bl, zr, zi, wr, wi),
            (2, 1) => avx::multiply_pair::<2, 1>(cpu, bl, zr, zi, wr, wi),
            (2, 2) => avx::multiply_pair::<2, 2>(cpu, bl, zr, zi, wr, wi),
            (2, 3) => avx::multiply_pair::<2, 3>(cpu, bl, zr, zi, wr, wi),
            (2, _) => avx::multiply_pair::<2, 4>(cpu, bl, zr, zi, wr, wi),
            (3, 1) => avx::multiply_pair::<3, 1>(cpu, bl, zr, zi, wr, wi),
            (3, 2) => avx::multiply_pair::<3, 2>(cpu, bl, zr, zi, wr, wi),
            (3, 3) => avx::multiply_pair::<3, 3>(cpu, bl, zr, zi, wr, wi),
            (3, _) => avx::multiply_pair::<3, 4>(cpu, bl, zr, zi, wr, wi),
            (_, 1) => avx::multiply_pair::<4, 1>(cpu, bl, zr, zi, wr, wi),
            (_, 2) => avx::multiply_pair::<4, 2>(cpu, bl, zr, zi, wr, wi),
            (_, 3) => avx::multiply_pair::<4, 3>(cpu, bl, zr, zi, wr, wi),
            (_, _) => avx::multiply_pair::<4, 4>(cpu, bl, zr, zi, wr, wi),
        };
    }
    let _ = simd;
    multiply_pair_loop(bl, zr, zi, wr, wi)
}

/// The portable [`multiply_pair`]: per chunk of four bins, every stream's
/// value once, each phase accumulated over the streams in order (the
/// AVX2 path does the same operations in the same order).
fn multiply_pair_loop(bl: &Blocks, zr: &[f64], zi: &[f64], wr: &mut [f64], wi: &mut [f64]) {
    let (l, m, n) = (bl.l, bl.m, bl.n());
    let (zr, zi) = (&zr[..m * n], &zi[..m * n]);
    let (wr, wi) = (&mut wr[..l * n], &mut wi[..l * n]);
    for (c, f) in bl.duo.chunks_exact(l * m * 8).enumerate() {
        let j = 4 * c;
        for e in 0..l {
            let mut ar = [0.0f64; 4];
            let mut ai = [0.0f64; 4];
            for s in 0..m {
                let (x, y) = (v4(&zr[s * n + j..]), v4(&zi[s * n + j..]));
                let g = &f[(e * m + s) * 8..];
                let (fr, fi) = (v4(g), v4(&g[4..]));
                for t in 0..4 {
                    ar[t] += fr[t] * x[t] - fi[t] * y[t];
                    ai[t] += fr[t] * y[t] + fi[t] * x[t];
                }
            }
            wr[e * n + j..e * n + j + 4].copy_from_slice(&ar);
            wi[e * n + j..e * n + j + 4].copy_from_slice(&ai);
        }
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

    /// [`super::multiply_pair_loop`] with AVX2 intrinsics: the same
    /// multiplications and additions in the same order (same bits). Safe:
    /// the sizes are asserted on entry and the token proves AVX2+FMA.
    pub fn multiply_pair<const L: usize, const M: usize>(
        cpu: Avx2Fma,
        bl: &Blocks,
        zr: &[f64],
        zi: &[f64],
        wr: &mut [f64],
        wi: &mut [f64],
    ) {
        let n = bl.fft.len();
        assert!(bl.l == L && bl.m == M && n % 4 == 0);
        assert!(zr.len() >= M * n && zi.len() >= M * n && wr.len() >= L * n && wi.len() >= L * n);
        assert!(bl.duo.len() >= L * M * 2 * n);
        // SAFETY: the token proves AVX2+FMA; the asserts are the bounds
        // `multiply_pair_avx` reads and writes within.
        unsafe { multiply_pair_avx::<L, M>(cpu, bl, zr, zi, wr, wi) }
    }

    /// See [`multiply_pair`].
    ///
    /// # Safety
    /// `zr`, `zi` hold `M * n` values, `wr`, `wi` `L * n`, `bl.duo`
    /// `L * M * 2 * n` (as `multiply_pair` asserts).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn multiply_pair_avx<const L: usize, const M: usize>(
        _cpu: Avx2Fma,
        bl: &Blocks,
        zr: &[f64],
        zi: &[f64],
        wr: &mut [f64],
        wi: &mut [f64],
    ) {
        // SAFETY: pointer reads stay within `zr`, `zi` (`M * n`) and `bl.duo`,
        // writes within `wr`, `wi` (`L * n`), per this function's contract.
        unsafe {
            let n = bl.fft.len();
            let fp = bl.duo.as_ptr();
            let (zrp, zip) = (zr.as_ptr(), zi.as_ptr());
            let (wrp, wip) = (wr.as_mut_ptr(), wi.as_mut_ptr());
            let mut j = 0;
            while j < n {
                let mut x = [_mm256_setzero_pd(); M];
                let mut y = [_mm256_setzero_pd(); M];
                for s in 0..M {
                    x[s] = _mm256_loadu_pd(zrp.add(s * n + j));
                    y[s] = _mm256_loadu_pd(zip.add(s * n + j));
                }
                let f0 = fp.add(j / 4 * L * M * 8);
                for e in 0..L {
                    let mut ar = _mm256_setzero_pd();
                    let mut ai = _mm256_setzero_pd();
                    for s in 0..M {
                        let f = f0.add((e * M + s) * 8);
                        let (fr, fi) = (_mm256_loadu_pd(f), _mm256_loadu_pd(f.add(4)));
                        ar = _mm256_add_pd(ar, _mm256_sub_pd(_mm256_mul_pd(fr, x[s]), _mm256_mul_pd(fi, y[s])));
                        ai = _mm256_add_pd(ai, _mm256_add_pd(_mm256_mul_pd(fr, y[s]), _mm256_mul_pd(fi, x[s])));
                    }
                    _mm256_storeu_pd(wrp.add(e * n + j), ar);
                    _mm256_storeu_pd(wip.add(e * n + j), ai);
                }
                j += 4;
            }
        }
    }

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

    fn table(l: u64, m: u64) -> Blocks {
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
        Blocks::new(&shape, &coef).unwrap()
    }

    fn pair(simd: Simd, bl: &Blocks, x: [&[f64]; 2], count: usize) -> [Vec<f64>; 2] {
        let (mut a, mut b) = (vec![0.0f64; count], vec![0.0f64; count]);
        let win = |x| Window {
            hist: x,
            new: &[][..],
            start: 0,
            k0: 0,
        };
        run_pair(
            simd,
            bl,
            &mut Scratch::default(),
            [win(x[0]), win(x[1])],
            [&mut a[..], &mut b[..]],
            |v| v,
        );
        [a, b]
    }

    fn one(simd: Simd, bl: &Blocks, x: &[f64], count: usize) -> Vec<f64> {
        let mut got = vec![0.0f64; count];
        let w = Window {
            hist: x,
            new: &[],
            start: 0,
            k0: 0,
        };
        run(simd, bl, &mut Scratch::default(), w, &mut got, |v| v);
        got
    }

    #[test]
    fn channel_pairs_match_direct_convolution() {
        for (l, m) in [(2u64, 3u64), (3, 2), (1, 3), (2, 1), (4, 3), (3, 4)] {
            let bl = table(l, m);
            let x0: Vec<f64> = (0..5000).map(|i| ((i as f64) * 0.013).sin()).collect();
            let x1: Vec<f64> = (0..5000).map(|i| ((i * 7 % 5) as f64 - 2.0) * 0.1).collect();
            let count = 5000 * l as usize / m as usize;
            let want = [direct(&bl, &x0, count), direct(&bl, &x1, count)];
            let simd = crate::cpu::Avx2Fma::detect();
            let got = pair(None, &bl, [&x0, &x1], count);
            for c in 0..2 {
                for k in 0..count {
                    assert!((got[c][k] - want[c][k]).abs() < 1e-12, "{l}/{m} channel {c} output {k}");
                }
            }
            // The AVX2 path gives the same bits as the portable one.
            assert_eq!(pair(simd, &bl, [&x0, &x1], count), got, "{l}/{m}");
        }
    }

    #[test]
    fn channel_pairs_keep_a_silent_channel_silent_and_non_finite_values_apart() {
        let bl = table(2, 3);
        let x0: Vec<f64> = (0..5000).map(|i| ((i as f64) * 0.013).sin()).collect();
        let count = 5000 * 2 / 3;
        let zero = vec![0.0f64; 5000];
        for simd in [None, crate::cpu::Avx2Fma::detect()] {
            // A silent partner: exact zeros, and the other channel as alone.
            let [a, b] = pair(simd, &bl, [&x0, &zero], count);
            assert!(b.iter().all(|&v| v == 0.0));
            assert_eq!(a, one(simd, &bl, &x0, count));
            // NaN in one channel stays in that channel.
            let mut bad = x0.clone();
            bad[2500] = f64::NAN;
            let [a, b] = pair(simd, &bl, [&x0, &bad], count);
            assert!(a.iter().all(|v| v.is_finite()));
            assert!(b.iter().any(|v| v.is_nan()) && b.iter().filter(|v| v.is_nan()).count() < 400);
        }
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
