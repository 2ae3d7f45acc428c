//! Output-parallel kernel for float32 stages with few phases (`L <= 4`).
//!
//! Output `k = p * L + e` (period `p`, phase `e`) is
//! `sum_u C[u][e] * x[p * M - behind + u]` over the union `u` of the phase
//! windows. Eight consecutive periods of one phase read inputs exactly `M`
//! frames apart, so with the input split into `M` interleaved streams
//! (`D[s][n] = x[base + n * M + s]`) they are one contiguous 8-lane load:
//! each SIMD lane is one output. One input load feeds every phase and one
//! coefficient broadcast feeds several vectors of outputs, so a
//! multiply-add needs under one load (the tap-parallel kernel needs 1.33).
//! A single-phase stage runs as two phases with the same row over a
//! doubled period (the stage then moves its origin by whole doubled
//! periods, so an output's phase never depends on chunking).
//!
//! Each output is one sequential chain of fused multiply-adds over the
//! taps, taken from both ends of the window towards its centre: the
//! running sum stays as small as the filter's tails until the last few
//! taps, which keeps float32 rounding near -146 dB. Taps whose
//! coefficients are zero in every phase (half-band stages) are skipped.
//! The chain is the same whichever lane, group or call computes an output,
//! and the scalar path uses the same fused operations (`f32::mul_add`), so
//! results are bit-identical across chunkings and across the two paths.

use super::design::{Shape, PHASE_LIMIT};
use super::dot::Window;
use crate::cpu::Simd;

/// Phases up to which a float32 stage uses this kernel.
pub const MAX_PHASES: usize = PHASE_LIMIT as usize;
const LANES: usize = 8;

/// The coefficient table in the order the kernel reads it.
pub struct Lanes {
    pub l: usize,
    pub m: usize,
    pub behind: usize,
    /// Offset `u` (from the window start of phase 0) of each step.
    pub steps: Vec<usize>,
    /// Each step's stream and index in it: `(u % m, u / m)` (no division per call).
    pub split: Vec<(usize, usize)>,
    /// `coef[t * l + e]`: coefficient of phase `e` at step `t`.
    pub coef: Vec<f32>,
    /// Every offset of the union in the same outside-in order, zeros
    /// included, with its coefficients (`dense_coef[t * l + e]`), and the
    /// window start of each phase (for non-finite input, below).
    pub dense: Vec<usize>,
    pub dense_coef: Vec<f32>,
    pub starts: Vec<usize>,
    pub taps: usize,
}

impl Lanes {
    /// Reorders a `(phases x taps)` float64 table (row `r` for outputs at
    /// `k * M = r mod L`); `None` when the stage has too many phases.
    pub fn new(shape: &Shape, coef64: &[f64]) -> Option<Lanes> {
        let (l, m, taps) = (shape.l as usize, shape.m as usize, shape.taps);
        if l > MAX_PHASES {
            return None;
        }
        // A single-phase stage runs as two phases with the same row over a
        // doubled period, so each input load feeds two outputs.
        let (l, m, rows) = if l == 1 { (2, 2 * m, 1) } else { (l, m, l) };
        // Phase e = output k mod L: window start d_e = floor(e M / L), row (e M) mod L.
        let d: Vec<usize> = (0..l).map(|e| e * m / l).collect();
        let row: Vec<usize> = (0..l).map(|e| e * m % l % rows).collect();
        let union = d[l - 1] + taps;
        let at = |u: usize, e: usize| -> f32 {
            match u.checked_sub(d[e]) {
                Some(mi) if mi < taps => coef64[row[e] * taps + mi] as f32,
                _ => 0.0,
            }
        };
        let mut steps = Vec::new();
        let mut coef = Vec::new();
        let mut dense = Vec::new();
        let mut dense_coef = Vec::new();
        // Outside in: 0, U-1, 1, U-2, ...
        for t in 0..union {
            let u = if t % 2 == 0 { t / 2 } else { union - 1 - t / 2 };
            dense.push(u);
            dense_coef.extend((0..l).map(|e| at(u, e)));
            if (0..l).all(|e| at(u, e) == 0.0) {
                continue;
            }
            steps.push(u);
            coef.extend((0..l).map(|e| at(u, e)));
        }
        Some(Lanes {
            l,
            m,
            behind: shape.behind as usize,
            split: steps.iter().map(|&u| (u % m, u / m)).collect(),
            steps,
            coef,
            dense,
            dense_coef,
            starts: d,
            taps,
        })
    }

    fn span(&self) -> usize {
        self.steps.iter().copied().max().unwrap_or(0) + 1
    }

    /// Heap bytes held by the tables.
    pub fn bytes(&self) -> usize {
        let words = self.steps.len() + 2 * self.split.len() + self.dense.len() + self.starts.len();
        words * std::mem::size_of::<usize>() + (self.coef.len() + self.dense_coef.len()) * 4
    }
}

/// Scratch buffers reused between calls (no allocation once warm).
#[derive(Default)]
pub struct Scratch {
    streams: Vec<f32>,
    offsets: Vec<usize>,
    vals: Vec<f32>,
}

/// Outputs `k0 .. k0 + out.len()` of one channel from the window's
/// history followed by its new frames (read in place: no copy into the
/// history first).
pub fn run<O>(
    simd: Simd,
    lanes: &Lanes,
    scratch: &mut Scratch,
    w: Window<'_, f32>,
    out: &mut [O],
    put: impl Fn(f32) -> O,
) {
    let Window { hist, new, start, k0 } = w;
    let n = out.len();
    if n == 0 {
        return;
    }
    let (l, m) = (lanes.l as i64, lanes.m as i64);
    let p0 = k0.div_euclid(l);
    let periods = ((k0 + n as i64 - 1).div_euclid(l) - p0 + 1) as usize;
    let vectors = periods.div_ceil(LANES);
    let len = vectors * LANES + lanes.span().div_ceil(lanes.m) + 1;
    // Streams: D[s][i] = x[base + i * M + s], zero outside the history.
    let base = p0 * m - lanes.behind as i64 - start;
    // Reused without clearing: every element is written below.
    let d = &mut scratch.streams;
    if d.len() < lanes.m * len {
        d.resize(lanes.m * len, 0.0);
    }
    let d = &mut d[..lanes.m * len];
    let flags = split_streams(simd, lanes.m, d, len, base, hist, new);
    scratch.offsets.clear();
    scratch.offsets.extend(lanes.split.iter().map(|&(s, i)| s * len + i));
    // vals[i * L + e]: phase e of period p0 + i, i.e. in output order.
    let need = lanes.l * vectors * LANES;
    if scratch.vals.len() < need {
        scratch.vals.resize(need, 0.0);
    }
    let vals = &mut scratch.vals[..need];
    // Non-finite input: each output takes every tap of its own window
    // (zeros included), so NaN reaches exactly the outputs whose window
    // covers it, however the input was chunked (and as in the numpy body).
    // Adding a zero product leaves a finite running sum's bits unchanged,
    // so finite outputs are the same as on the fast path.
    if flags & 0x8000_0000 != 0 {
        dense(lanes, d, len, vectors, vals);
    } else {
        compute(simd, lanes, d, &scratch.offsets, vectors, vals);
    }
    // Output k0 + j is vals[e0 + j].
    let e0 = (k0 - p0 * l) as usize;
    for (o, &v) in out.iter_mut().zip(&vals[e0..]) {
        *o = put(v);
    }
}

/// Fills the `m` stream rows of `d` (`len` values each):
/// `d[s * len + i] = x[base + i * m + s]` of `hist` followed by `new`,
/// zero outside them; returns the OR of the values' [`finite_flag`]s.
///
/// Positions `i` are taken whole (all `m` streams at once, every frame
/// loaded once): the runs of positions whose `m` frames all lie in `hist`,
/// or all in `new`, go through [`split_rows`]; the few others (the one
/// straddling the two slices, those before the stream's start or past its
/// end) value by value; positions wholly past the end are zeros.
fn split_streams(simd: Simd, m: usize, d: &mut [f32], len: usize, base: i64, hist: &[f32], new: &[f32]) -> u32 {
    let (hl, total, mi, li) = (hist.len() as i64, (hist.len() + new.len()) as i64, m as i64, len as i64);
    let floor = |v: i64| v.div_euclid(mi);
    let ceil = |v: i64| -(-v).div_euclid(mi);
    // Positions reading only hist: [a0, a1); only new: [b0, b1); none from c on.
    let a0 = ceil(-base).clamp(0, li);
    let a1 = floor(hl - base).clamp(a0, li);
    let b0 = ceil(hl - base).clamp(a1, li);
    let b1 = floor(total - base).clamp(b0, li);
    let c = ceil(total - base).clamp(b1, li);
    let (a0, a1, b0, b1, c) = (a0 as usize, a1 as usize, b0 as usize, b1 as usize, c as usize);
    let mut flags = 0u32;
    if a1 > a0 {
        flags |= split_rows(simd, m, d, len, a0..a1, &hist[(base + a0 as i64 * mi) as usize..]);
    }
    if b1 > b0 {
        flags |= split_rows(simd, m, d, len, b0..b1, &new[(base + b0 as i64 * mi - hl) as usize..]);
    }
    for i in (0..a0).chain(a1..b0).chain(b1..c) {
        for s in 0..m {
            let at = base + (i * m + s) as i64;
            let v = if at < 0 || at >= total {
                0.0
            } else if at < hl {
                hist[at as usize]
            } else {
                new[(at - hl) as usize]
            };
            d[s * len + i] = v;
            flags |= finite_flag(v);
        }
    }
    for s in 0..m {
        d[s * len + c..(s + 1) * len].fill(0.0);
    }
    flags
}

/// `d[s * len + i] = src[(i - at.start) * m + s]` for `i` in `at`, `s < m`
/// (`src` holds those frames); returns the OR of the values' [`finite_flag`]s.
fn split_rows(simd: Simd, m: usize, d: &mut [f32], len: usize, at: std::ops::Range<usize>, src: &[f32]) -> u32 {
    let (from, to) = (at.start, at.end);
    let mut flags = 0u32;
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    match (simd, m) {
        (Some(cpu), 2 | 4) => {
            let count = to - from;
            let (k, f) = avx::deinterleave_all(cpu, m, d, len, from, count, src);
            done = k;
            flags |= f;
            if done < count && count >= LANES {
                // The rest as one more vector ending at `to` (it writes again
                // some positions just written, with the same values).
                let (_, f) = avx::deinterleave_all(cpu, m, d, len, to - LANES, LANES, &src[(count - LANES) * m..]);
                done = count;
                flags |= f;
            }
        }
        (Some(cpu), 3) => {
            // Row by row: the whole vectors every row covers (a row may write a
            // vector more, which the loop below writes again, same values).
            done = to - from;
            for s in 0..3 {
                let row = &mut d[s * len + from..s * len + to];
                let (k, f) = avx::deinterleave(cpu, 3, row, &src[s..(to - from) * 3]);
                done = done.min(k);
                flags |= f;
            }
        }
        _ => {}
    }
    let _ = simd;
    let (at, src) = (from + done..to, &src[done * m..(to - from) * m]);
    flags
        | match m {
            1 => copy_row(&mut d[at], src),
            2 => split_rows_m::<2>(d, len, at, src),
            3 => split_rows_m::<3>(d, len, at, src),
            4 => split_rows_m::<4>(d, len, at, src),
            _ => {
                let mut f = 0;
                for (i, x) in at.zip(src.chunks_exact(m)) {
                    for (s, &v) in x.iter().enumerate() {
                        d[s * len + i] = v;
                        f |= finite_flag(v);
                    }
                }
                f
            }
        }
}

/// [`split_rows`] of one stream: a copy (which the compiler vectorises).
fn copy_row(row: &mut [f32], src: &[f32]) -> u32 {
    let mut f = 0;
    for (o, &v) in row.iter_mut().zip(src) {
        *o = v;
        f |= finite_flag(v);
    }
    f
}

/// [`split_rows`] of `M` streams, value by value.
fn split_rows_m<const M: usize>(d: &mut [f32], len: usize, at: std::ops::Range<usize>, src: &[f32]) -> u32 {
    let mut f = 0;
    for (i, x) in at.zip(src.chunks_exact(M)) {
        for (s, &v) in x.iter().enumerate() {
            d[s * len + i] = v;
            f |= finite_flag(v);
        }
    }
    f
}

/// Top bit set when `v` is infinite or NaN: an all-ones exponent carries
/// into it.
#[inline(always)]
fn finite_flag(v: f32) -> u32 {
    (v.to_bits() & 0x7f80_0000) + 0x0080_0000
}

fn dense(lanes: &Lanes, d: &[f32], len: usize, vectors: usize, vals: &mut [f32]) {
    let (l, stride) = (lanes.l, vectors * LANES);
    for e in 0..l {
        let own = lanes.starts[e]..lanes.starts[e] + lanes.taps;
        for i in 0..stride {
            let mut acc = 0.0f32;
            for (t, &u) in lanes.dense.iter().enumerate() {
                if own.contains(&u) {
                    let x = d[(u % lanes.m) * len + u / lanes.m + i];
                    acc = lanes.dense_coef[t * l + e].mul_add(x, acc);
                }
            }
            vals[i * l + e] = acc;
        }
    }
}

fn compute(simd: Simd, lanes: &Lanes, d: &[f32], offs: &[usize], vectors: usize, vals: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(cpu) = simd {
        assert!(offs.iter().all(|&o| o + vectors * LANES <= d.len()));
        assert!(vals.len() >= lanes.l * vectors * LANES && lanes.coef.len() >= offs.len() * lanes.l);
        // SAFETY: the asserts above are the bounds `compute` needs, and
        // `lanes.l` selects the matching `L`.
        unsafe {
            match lanes.l {
                1 => avx::compute::<1, 6>(cpu, lanes, d, offs, vectors, vals),
                2 => avx::compute::<2, 4>(cpu, lanes, d, offs, vectors, vals),
                3 => avx::compute::<3, 3>(cpu, lanes, d, offs, vectors, vals),
                _ => avx::compute::<4, 2>(cpu, lanes, d, offs, vectors, vals),
            }
        }
        return;
    }
    let _ = simd;
    let (l, stride) = (lanes.l, vectors * LANES);
    for e in 0..l {
        for i in 0..stride {
            let mut acc = 0.0f32;
            for (t, &off) in offs.iter().enumerate() {
                acc = lanes.coef[t * l + e].mul_add(d[off + i], acc);
            }
            vals[i * l + e] = acc;
        }
    }
}

// Arithmetic intrinsics are safe to call inside these functions from Rust
// 1.86 on; the `unsafe` blocks are for 1.77 (the crate's minimum).
#[allow(clippy::needless_range_loop, unused_unsafe)]
#[cfg(target_arch = "x86_64")]
mod avx {
    use super::{Lanes, LANES};
    use crate::cpu::Avx2Fma;
    use std::arch::x86_64::*;

    /// `row[i] = src[i * step]` (`step` 2, 3 or 4) for the leading whole
    /// vectors of 8 that `src` covers; returns how many were written and
    /// the OR of their [`super::finite_flag`]s. Safe: the token proves
    /// AVX2 and the loop stays within both slices.
    pub fn deinterleave(cpu: Avx2Fma, step: usize, row: &mut [f32], src: &[f32]) -> (usize, u32) {
        assert!((2..=4).contains(&step));
        // SAFETY: `cpu` proves AVX2+FMA; `step` is 2..=4 as `deinterleave_avx` needs.
        unsafe { deinterleave_avx(cpu, step, row, src) }
    }

    /// See [`deinterleave`].
    ///
    /// # Safety
    /// `step` is 2, 3 or 4. (The token proves AVX2+FMA.)
    #[target_feature(enable = "avx2,fma")]
    unsafe fn deinterleave_avx(_cpu: Avx2Fma, step: usize, row: &mut [f32], src: &[f32]) -> (usize, u32) {
        // SAFETY: loads read `src[i * step..i * step + 8 * step]` and stores write
        // `row[i..i + 8]` for `i < n`, within both slices by the choice of `n`.
        unsafe {
            let n = (row.len() / LANES).min(src.len() / (LANES * step)) * LANES;
            let (sp, rp) = (src.as_ptr(), row.as_mut_ptr());
            let mask = _mm256_set1_epi32(0x7f80_0000);
            let carry = _mm256_set1_epi32(0x0080_0000);
            let mut flags = _mm256_setzero_si256();
            let mut i = 0;
            while i < n {
                let p = sp.add(i * step);
                let v = match step {
                    2 => {
                        let (a, b) = (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)));
                        // [a0 a2 b0 b2 | a4 a6 b4 b6] -> [a0 a2 a4 a6 b0 b2 b4 b6]
                        let t = _mm256_shuffle_ps(a, b, 0x88);
                        _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), 0xd8))
                    }
                    3 => {
                        let a = _mm256_permutevar8x32_ps(_mm256_loadu_ps(p), _mm256_setr_epi32(0, 3, 6, 0, 0, 0, 0, 0));
                        let b = _mm256_permutevar8x32_ps(
                            _mm256_loadu_ps(p.add(8)),
                            _mm256_setr_epi32(0, 0, 0, 1, 4, 7, 0, 0),
                        );
                        let c = _mm256_permutevar8x32_ps(
                            _mm256_loadu_ps(p.add(16)),
                            _mm256_setr_epi32(0, 0, 0, 0, 0, 0, 2, 5),
                        );
                        _mm256_blend_ps(_mm256_blend_ps(a, b, 0b0011_1000), c, 0b1100_0000)
                    }
                    _ => {
                        let (a, b) = (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)));
                        let (c, d) = (_mm256_loadu_ps(p.add(16)), _mm256_loadu_ps(p.add(24)));
                        // [a0 a2 b0 b2 | a4 a6 b4 b6], [c0 c2 d0 d2 | c4 c6 d4 d6]
                        let x = _mm256_shuffle_ps(a, b, 0x88);
                        let y = _mm256_shuffle_ps(c, d, 0x88);
                        // [a0 b0 c0 d0 | a4 b4 c4 d4] -> [a0 a4 b0 b4 c0 c4 d0 d4]
                        let z = _mm256_shuffle_ps(x, y, 0x88);
                        _mm256_permutevar8x32_ps(z, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
                    }
                };
                _mm256_storeu_ps(rp.add(i), v);
                let bits = _mm256_and_si256(_mm256_castps_si256(v), mask);
                flags = _mm256_or_si256(flags, _mm256_add_epi32(bits, carry));
                i += LANES;
            }
            let mut lanes = [0u32; LANES];
            _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, flags);
            (n, lanes.iter().fold(0, |a, &b| a | b))
        }
    }

    /// Every row at once: `d[s * len + at + i] = src[i * m + s]` for
    /// `s < m` (2 or 4) and `i` below `count`, in whole vectors of 8 that
    /// `src` covers; returns how many `i` were written and the OR of the
    /// values' [`super::finite_flag`]s. Each frame is loaded once.
    /// Safe: the token proves AVX2 and the bounds are asserted.
    pub fn deinterleave_all(
        cpu: Avx2Fma,
        m: usize,
        d: &mut [f32],
        len: usize,
        at: usize,
        count: usize,
        src: &[f32],
    ) -> (usize, u32) {
        assert!(m == 2 || m == 4);
        let n = (count / LANES).min(src.len() / (LANES * m)) * LANES;
        assert!(at + count <= len && d.len() >= m * len);
        // SAFETY: `cpu` proves AVX2+FMA; reads stay within `src[..n * m]` and
        // writes within rows `s * len + at .. + n` (`at + n <= len`), as asserted.
        unsafe { deinterleave_all_avx(cpu, m, d, len, at, n, src) }
    }

    /// See [`deinterleave_all`] (`n` a multiple of 8 within the bounds).
    ///
    /// # Safety
    /// `m` is 2 or 4, `src` holds `n * m` values and `d` rows
    /// `s * len + at .. s * len + at + n` for `s < m`. (The token proves AVX2+FMA.)
    #[target_feature(enable = "avx2,fma")]
    unsafe fn deinterleave_all_avx(
        _cpu: Avx2Fma,
        m: usize,
        d: &mut [f32],
        len: usize,
        at: usize,
        n: usize,
        src: &[f32],
    ) -> (usize, u32) {
        // SAFETY: per this function's contract.
        unsafe {
            let (sp, dp) = (src.as_ptr(), d.as_mut_ptr().add(at));
            let mask = _mm256_set1_epi32(0x7f80_0000);
            let carry = _mm256_set1_epi32(0x0080_0000);
            let mut flags = _mm256_setzero_si256();
            // (Macros rather than closures: the code stays inside this
            // function's target features on every compiler version.)
            macro_rules! check {
                ($v:expr) => {{
                    let bits = _mm256_and_si256(_mm256_castps_si256($v), mask);
                    flags = _mm256_or_si256(flags, _mm256_add_epi32(bits, carry));
                }};
            }
            // Four values at `p` and four at `p + far` in one register.
            macro_rules! pair {
                ($p:expr, $far:expr) => {{
                    let p: *const f32 = $p;
                    _mm256_insertf128_ps(
                        _mm256_castps128_ps256(_mm_loadu_ps(p)),
                        _mm_loadu_ps(p.add($far)),
                        1,
                    )
                }};
            }
            let mut i = 0;
            if m == 2 {
                while i < n {
                    let p = sp.add(i * 2);
                    // [x0..x3 | x8..x11], [x4..x7 | x12..x15]
                    let (a, b) = (pair!(p, 8), pair!(p.add(4), 8));
                    let even = _mm256_shuffle_ps(a, b, 0x88);
                    let odd = _mm256_shuffle_ps(a, b, 0xDD);
                    _mm256_storeu_ps(dp.add(i), even);
                    _mm256_storeu_ps(dp.add(len + i), odd);
                    check!(even);
                    check!(odd);
                    i += LANES;
                }
            } else {
                while i < n {
                    let p = sp.add(i * 4);
                    // Group g = frames 4g..4g+3: [g0 | g4], [g1 | g5], [g2 | g6], [g3 | g7].
                    let (a, b) = (pair!(p, 16), pair!(p.add(4), 16));
                    let (c, e) = (pair!(p.add(8), 16), pair!(p.add(12), 16));
                    let (t0, t1) = (_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
                    let (t2, t3) = (_mm256_unpacklo_ps(c, e), _mm256_unpackhi_ps(c, e));
                    let (t0, t1) = (_mm256_castps_pd(t0), _mm256_castps_pd(t1));
                    let (t2, t3) = (_mm256_castps_pd(t2), _mm256_castps_pd(t3));
                    let rows = [
                        _mm256_castpd_ps(_mm256_unpacklo_pd(t0, t2)),
                        _mm256_castpd_ps(_mm256_unpackhi_pd(t0, t2)),
                        _mm256_castpd_ps(_mm256_unpacklo_pd(t1, t3)),
                        _mm256_castpd_ps(_mm256_unpackhi_pd(t1, t3)),
                    ];
                    for (s, &v) in rows.iter().enumerate() {
                        _mm256_storeu_ps(dp.add(s * len + i), v);
                        check!(v);
                    }
                    i += LANES;
                }
            }
            let mut lanes = [0u32; LANES];
            _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, flags);
            (n, lanes.iter().fold(0, |a, &b| a | b))
        }
    }

    /// `V` vectors of 8 periods at a time for every phase, then one vector at a time.
    ///
    /// # Safety
    /// `offs[t] + vectors * 8 <= d.len()` for every `t`; `vals.len() >=
    /// L * vectors * 8`; `lanes.l == L`; `lanes.coef` holds `offs.len() * L`
    /// values. (The token proves AVX2+FMA.)
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn compute<const L: usize, const V: usize>(
        _cpu: Avx2Fma,
        lanes: &Lanes,
        d: &[f32],
        offs: &[usize],
        vectors: usize,
        vals: &mut [f32],
    ) {
        // SAFETY: `block` needs what this function's contract states.
        unsafe {
            let mut v0 = 0;
            while v0 + V <= vectors {
                block::<L, V>(lanes, d, offs, v0, vals);
                v0 += V;
            }
            while v0 < vectors {
                block::<L, 1>(lanes, d, offs, v0, vals);
                v0 += 1;
            }
        }
    }

    /// `V` vectors of 8 periods starting at vector `v0`, every phase.
    ///
    /// # Safety
    /// As [`compute`], with `v0 + V <= vectors`; AVX2+FMA present.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn block<const L: usize, const V: usize>(
        lanes: &Lanes,
        d: &[f32],
        offs: &[usize],
        v0: usize,
        vals: &mut [f32],
    ) {
        // SAFETY: loads read `d[v0 * 8 + offs[t] + v * 8..+8]` (within `d` by the
        // contract of `compute`) and `lanes.coef[t * L + e]`; stores write `vals` within
        // `L * vectors * 8`.
        unsafe {
            let dp = d.as_ptr().add(v0 * LANES);
            let cp = lanes.coef.as_ptr();
            let mut acc = [[_mm256_setzero_ps(); V]; L];
            for (t, &off) in offs.iter().enumerate() {
                let p = dp.add(off);
                let mut x = [_mm256_setzero_ps(); V];
                for v in 0..V {
                    x[v] = _mm256_loadu_ps(p.add(v * LANES));
                }
                for e in 0..L {
                    let h = _mm256_broadcast_ss(&*cp.add(t * L + e));
                    for v in 0..V {
                        acc[e][v] = _mm256_fmadd_ps(x[v], h, acc[e][v]);
                    }
                }
            }
            // Interleave the phases into output order.
            for v in 0..V {
                let dst = vals.as_mut_ptr().add((v0 + v) * LANES * L);
                if L == 2 {
                    let lo = _mm256_unpacklo_ps(acc[0][v], acc[1][v]);
                    let hi = _mm256_unpackhi_ps(acc[0][v], acc[1][v]);
                    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(lo, hi, 0x20));
                    _mm256_storeu_ps(dst.add(LANES), _mm256_permute2f128_ps(lo, hi, 0x31));
                } else {
                    let mut t = [[0.0f32; LANES]; L];
                    for e in 0..L {
                        _mm256_storeu_ps(t[e].as_mut_ptr(), acc[e][v]);
                    }
                    for i in 0..LANES {
                        for e in 0..L {
                            *dst.add(i * L + e) = t[e][i];
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_streams;

    #[test]
    fn streams_split_in_one_pass_match_the_definition() {
        let simd = crate::cpu::Avx2Fma::detect();
        let x: Vec<f32> = (0..700).map(|i| i as f32 * 0.25 - 40.0).collect();
        for m in 1..=5usize {
            for (hl, nl) in [(0usize, 300usize), (37, 0), (37, 263), (64, 500), (5, 1)] {
                let (hist, new) = (&x[..hl], &x[hl..hl + nl]);
                for base in [-9i64, -1, 0, 3, 30] {
                    let len = 140;
                    let want: Vec<f32> = (0..m * len)
                        .map(|k| {
                            let at = base + ((k % len) * m + k / len) as i64;
                            if at < 0 || at >= (hl + nl) as i64 {
                                0.0
                            } else {
                                x[at as usize]
                            }
                        })
                        .collect();
                    for path in [None, simd] {
                        let mut d = vec![f32::NAN; m * len];
                        let f = split_streams(path, m, &mut d, len, base, hist, new);
                        assert_eq!(d, want, "m {m}, hist {hl}, new {nl}, base {base}");
                        assert_eq!(f & 0x8000_0000, 0);
                    }
                }
            }
            // A non-finite frame in `new` or in `hist`, in a whole vector or
            // a value alone, is flagged on both paths.
            for (at, v) in [
                (150, f32::INFINITY),
                (20, f32::NAN),
                (99, f32::NAN),
                (299, f32::NEG_INFINITY),
            ] {
                let mut bad = x.clone();
                bad[at] = v;
                for path in [None, simd] {
                    let mut d = vec![0.0; m * 300];
                    let f = split_streams(path, m, &mut d, 300, 0, &bad[..100], &bad[100..300]);
                    assert_ne!(f & 0x8000_0000, 0, "m {m}, frame {at}");
                }
            }
        }
    }
}
