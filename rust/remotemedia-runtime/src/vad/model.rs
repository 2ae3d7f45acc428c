//! The VAD's small integer MLP (format and rules: the numpy body's
//! `remotemedia/kernels/_vad_model.py`). The file is the one the Python
//! package ships, compiled in; integer arithmetic only, so every body gives
//! the same scores whatever the order of its sums.

use super::spec::{N_INPUTS, SCORE_ONE};
use crate::cpu::Simd;
use std::sync::OnceLock;

const FILE: &[u8] = include_bytes!("../../../../src/remotemedia/data/vad_model.bin");
const MAGIC: &[u8; 8] = b"RMVAD001";
const HIDDEN_MAX: i32 = 4095;

/// Inputs padded to a multiple of the dot product's lane count.
pub const N_PAD: usize = N_INPUTS.div_ceil(LANES) * LANES;
const LANES: usize = 16;

/// Weights of the shipped model, parsed once (rows of W1 padded with zeros to `N_PAD`).
pub struct Model {
    pub h1: usize,
    pub h2: usize,
    pub w1: Vec<i16>, // h1 rows of N_PAD
    pub b1: Vec<i32>,
    pub w2: Vec<i16>, // h2 rows of h1
    pub b2: Vec<i32>,
    pub w3: Vec<i16>,
    pub b3: i32,
    pub shifts: [u32; 3],
    pub table: Vec<u16>,
    /// W1 and W2 again, in the layout of the AVX2 path (see `pairs`).
    pub w1p: Vec<i16>,
    pub w2p: Vec<i16>,
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let out: [u8; N] = self.data[self.pos..self.pos + N]
            .try_into()
            .expect("model file too short");
        self.pos += N;
        out
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes())
    }
    fn i32s(&mut self, n: usize) -> Vec<i32> {
        (0..n).map(|_| i32::from_le_bytes(self.bytes())).collect()
    }
    fn i16s(&mut self, n: usize) -> Vec<i16> {
        (0..n).map(|_| i16::from_le_bytes(self.bytes())).collect()
    }
    fn u16s(&mut self, n: usize) -> Vec<u16> {
        (0..n).map(|_| u16::from_le_bytes(self.bytes())).collect()
    }
}

fn parse(data: &[u8]) -> Model {
    assert_eq!(&data[..8], MAGIC, "VAD model file: bad magic");
    let mut r = Reader { data, pos: 8 };
    let n_in = r.u32() as usize;
    assert_eq!(
        n_in, N_INPUTS,
        "VAD model file: input count does not match the features"
    );
    let h1 = r.u32() as usize;
    let h2 = r.u32() as usize;
    let shifts = [r.u32(), r.u32(), r.u32()];
    let nt = r.u32() as usize;
    assert!(h1 <= 64 && h2 <= 64, "VAD model file: hidden layers larger than 64");
    assert!(
        shifts.iter().all(|&s| s < 31),
        "VAD model file: shift of 31 bits or more"
    );
    let raw = r.i16s(h1 * n_in);
    let mut w1 = vec![0i16; h1 * N_PAD];
    for (row, src) in w1.chunks_exact_mut(N_PAD).zip(raw.chunks_exact(n_in)) {
        row[..n_in].copy_from_slice(src);
    }
    let b1 = r.i32s(h1);
    let w2 = r.i16s(h2 * h1);
    let b2 = r.i32s(h2);
    let w3 = r.i16s(h2);
    let b3 = r.i32s(1)[0];
    let table = r.u16s(nt);
    assert_eq!(r.pos, data.len(), "VAD model file: trailing bytes");
    let w1p = pairs(&w1, h1, N_PAD);
    let w2p = pairs(&w2, h2, h1);
    Model {
        h1,
        h2,
        w1,
        b1,
        w2,
        b2,
        w3,
        b3,
        shifts,
        table,
        w1p,
        w2p,
    }
}

/// The weights of a layer (`rows` outputs of `cols` inputs, row-major)
/// regrouped for a multiply-add of input pairs: for each pair of inputs
/// (2p, 2p+1) in order, for each output o, `w[o][2p], w[o][2p+1]`. One
/// 16-lane vector then holds 8 outputs' weights for one input pair, and
/// `vpmaddwd` against the pair broadcast gives their 8 partial sums with no
/// horizontal sum. Rows are padded to a multiple of 8 outputs and columns
/// to an even count, with zeros.
fn pairs(w: &[i16], rows: usize, cols: usize) -> Vec<i16> {
    let rows_p = rows.div_ceil(8) * 8;
    let np = cols.div_ceil(2);
    let mut out = vec![0i16; np * rows_p * 2];
    for o in 0..rows {
        for c in 0..cols {
            out[(c / 2 * rows_p + o) * 2 + c % 2] = w[o * cols + c];
        }
    }
    out
}

/// The shipped model (parsed on first use; the file is checked by the tests).
pub fn get() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| parse(FILE))
}

#[inline(always)]
fn dot(w: &[i16], x: &[i16]) -> i32 {
    // |w| <= 2047 and |x| <= 4095: each product below 2^23, a row of at
    // most 128 of them below 2^30: no overflow, any order (LANES
    // accumulators, so the loop vectorises).
    let mut acc = [0i32; LANES];
    let mut wc = w.chunks_exact(LANES);
    let mut xc = x.chunks_exact(LANES);
    for (a, b) in (&mut wc).zip(&mut xc) {
        for i in 0..LANES {
            acc[i] += a[i] as i32 * b[i] as i32;
        }
    }
    let mut s: i32 = acc.iter().sum();
    for (&a, &b) in wc.remainder().iter().zip(xc.remainder()) {
        s += a as i32 * b as i32;
    }
    s
}

#[inline(always)]
fn eval(m: &Model, x: &[i16; N_PAD]) -> u32 {
    let mut h1 = [0i16; 64];
    for (j, o) in h1[..m.h1].iter_mut().enumerate() {
        let acc = dot(&m.w1[j * N_PAD..(j + 1) * N_PAD], x) + m.b1[j];
        *o = (acc >> m.shifts[0]).clamp(0, HIDDEN_MAX) as i16;
    }
    let mut h2 = [0i16; 64];
    for (j, o) in h2[..m.h2].iter_mut().enumerate() {
        let acc = dot(&m.w2[j * m.h1..(j + 1) * m.h1], &h1[..m.h1]) + m.b2[j];
        *o = (acc >> m.shifts[1]).clamp(0, HIDDEN_MAX) as i16;
    }
    output(m, &h2[..m.h2])
}

#[inline(always)]
fn output(m: &Model, h2: &[i16]) -> u32 {
    let half = (m.table.len() / 2) as i32;
    let logit = ((dot(&m.w3, h2) + m.b3) >> m.shifts[2]).clamp(-half, half - 1);
    let s = m.table[(logit + half) as usize] as u32;
    debug_assert!(s <= SCORE_ONE);
    s
}

/// Score (0 ..= SCORE_ONE) of one input row (zero-padded to `N_PAD`).
pub fn score(m: &Model, x: &[i16; N_PAD], simd: Simd) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if let Some(token) = simd {
        // The shipped model's shape; any other runs the portable loops.
        if m.h1 == 32 && m.h2 == 16 {
            return avx2::eval::<4, 2>(token, m, x);
        }
    }
    let _ = simd;
    eval(m, x)
}

/// The MLP with AVX2 integer multiply-adds: the same integer sums as
/// `eval` (integer addition is associative, and every sum is far below
/// 2^31), hence the same score.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{output, Model, HIDDEN_MAX, N_PAD};
    use crate::cpu::Avx2Fma;
    use std::arch::x86_64::*;

    /// Score of `x` by a model of `8 * G1` then `8 * G2` hidden units.
    pub(super) fn eval<const G1: usize, const G2: usize>(token: Avx2Fma, m: &Model, x: &[i16; N_PAD]) -> u32 {
        // SAFETY: the token proves the CPU runs AVX2 (and FMA).
        unsafe { wide::<G1, G2>(token, m, x) }
    }

    /// # Safety
    /// The CPU supports AVX2 (the token is the proof); `m.h1 == 8 * G1` and
    /// `m.h2 == 8 * G2`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn wide<const G1: usize, const G2: usize>(_: Avx2Fma, m: &Model, x: &[i16; N_PAD]) -> u32 {
        let mut h1 = [0i16; 64];
        let mut h2 = [0i16; 64];
        // SAFETY: AVX2 is available (this fn's contract); the weight and
        // bias slices have the lengths `layer` needs: `pairs` made
        // `inputs / 2 * 8 * G` weights for each layer, and there are
        // `8 * G` biases; h1 and h2 hold 64 >= 8 * G values.
        unsafe {
            layer::<G1>(&m.w1p, &m.b1, x, m.shifts[0], &mut h1);
            layer::<G2>(&m.w2p, &m.b2, &h1[..m.h1], m.shifts[1], &mut h2);
        }
        output(m, &h2[..m.h2])
    }

    /// `acc[g] += w[g] * pair` (8 outputs' multiply-adds per vector) for the
    /// G vectors of one input pair's weights.
    ///
    /// # Safety
    /// AVX2 is available; `w` points at G * 16 readable i16 and `pair` at 4
    /// readable bytes.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn madd_row<const G: usize>(acc: &mut [__m256i; G], w: *const i16, pair: *const i32) {
        // SAFETY: the reads stay inside what the caller vouches for.
        unsafe {
            let xb = _mm256_set1_epi32(pair.read_unaligned());
            for (g, a) in acc.iter_mut().enumerate() {
                let wv = _mm256_loadu_si256(w.add(g * 16) as *const __m256i);
                *a = _mm256_add_epi32(*a, _mm256_madd_epi16(wv, xb));
            }
        }
    }

    /// `out[o] = clamp((sum_i w[o][i] x[i] + b[o]) >> shift, 0, HIDDEN_MAX)`
    /// for o in 0..8G, with `w` in the layout of `pairs`.
    ///
    /// # Safety
    /// AVX2 is available; `x.len()` is even; `w.len() >= x.len() / 2 * 16 * G`,
    /// `b.len() >= 8 * G` and `out.len() >= 8 * G`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn layer<const G: usize>(w: &[i16], b: &[i32], x: &[i16], shift: u32, out: &mut [i16]) {
        debug_assert!(x.len() % 2 == 0 && w.len() >= x.len() / 2 * 16 * G);
        debug_assert!(b.len() >= 8 * G && out.len() >= 8 * G);
        // Four pairs per step into two sets of sums (added at the end): the
        // same integers, with fewer loop overheads per multiply-add.
        let mut even = [_mm256_setzero_si256(); G];
        let mut odd = [_mm256_setzero_si256(); G];
        let np = x.len() / 2;
        // the pairs as i32: x[2p] in the low half (little-endian lanes)
        let xp = x.as_ptr() as *const i32;
        let mut p = 0;
        while p + 4 <= np {
            // SAFETY: p + 3 < np: x, as pairs, and w (np * G rows of 16) hold the four pairs.
            unsafe {
                madd_row(&mut even, w.as_ptr().add(p * G * 16), xp.add(p));
                madd_row(&mut odd, w.as_ptr().add((p + 1) * G * 16), xp.add(p + 1));
                madd_row(&mut even, w.as_ptr().add((p + 2) * G * 16), xp.add(p + 2));
                madd_row(&mut odd, w.as_ptr().add((p + 3) * G * 16), xp.add(p + 3));
            }
            p += 4;
        }
        while p < np {
            // SAFETY: p < np, as above.
            unsafe { madd_row(&mut even, w.as_ptr().add(p * G * 16), xp.add(p)) };
            p += 1;
        }
        let mut acc = even;
        for (a, b) in acc.iter_mut().zip(odd) {
            *a = _mm256_add_epi32(*a, b);
        }
        let count = _mm_cvtsi32_si128(shift as i32);
        let lo = _mm256_setzero_si256();
        let hi = _mm256_set1_epi32(HIDDEN_MAX);
        let mut v = [_mm256_setzero_si256(); G];
        for ((o, a), g) in v.iter_mut().zip(&acc).zip(0..) {
            // SAFETY: 8 * g + 8 <= 8 * G <= b.len().
            let bv = unsafe { _mm256_loadu_si256(b.as_ptr().add(8 * g) as *const __m256i) };
            let s = _mm256_sra_epi32(_mm256_add_epi32(*a, bv), count);
            *o = _mm256_min_epi32(_mm256_max_epi32(s, lo), hi);
        }
        // Narrow to i16 16 outputs at a time (0..=HIDDEN_MAX: the saturating
        // pack keeps every value) with one 32-byte store each, so the next
        // layer's 4-byte loads of pairs are served from a single store.
        let mut g = 0;
        while g + 2 <= G {
            // pack interleaves 128-bit halves: a0-3 b0-3 a4-7 b4-7
            let p = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi32(v[g], v[g + 1]));
            // SAFETY: 8 * g + 16 <= 8 * G <= out.len(): one unaligned store.
            unsafe { _mm256_storeu_si256(out.as_mut_ptr().add(8 * g) as *mut __m256i, p) };
            g += 2;
        }
        if g < G {
            let mut res = [0i32; 8];
            // SAFETY: `res` holds 8 i32, one 256-bit unaligned store.
            unsafe { _mm256_storeu_si256(res.as_mut_ptr() as *mut __m256i, v[g]) };
            for (o, &r) in out[8 * g..8 * g + 8].iter_mut().zip(&res) {
                *o = r as i16;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_and_portable_scores_agree() {
        let m = get();
        let simd = crate::cpu::Avx2Fma::detect();
        let mut s = 0x2545_f491_4f6c_dd1du64;
        let mut seen = std::collections::HashSet::new();
        for round in 0..20_000 {
            let mut x = [0i16; N_PAD];
            // feature-sized values, and some rounds of large ones
            let span = if round % 10 == 0 { 8192 } else { 1024 };
            for v in x[..N_INPUTS].iter_mut() {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                *v = (s % (2 * span) as u64) as i16 - span as i16;
            }
            let a = score(m, &x, simd);
            assert_eq!(a, eval(m, &x), "round {round}");
            seen.insert(a);
        }
        // the rows reach many scores, not one clamped value
        assert!(seen.len() > 100, "{}", seen.len());
    }
}
