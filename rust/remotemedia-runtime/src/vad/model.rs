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
/// Inlined: called from the VAD's AVX2 code, the AVX2 model then compiles
/// into it (no call, no change of instruction set in between).
#[inline(always)]
pub fn score(m: &Model, x: &[i16; N_PAD], simd: Simd) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if let Some(token) = simd {
        // The shipped model's shape; any other runs the portable loops.
        if m.h1 == avx2::H1 && m.h2 == avx2::H2 {
            return avx2::eval(token, m, x);
        }
    }
    let _ = simd;
    eval(m, x)
}

/// The MLP with AVX2 integer multiply-adds for the shipped shape (32 then
/// 16 hidden units): the same integer sums as `eval` (integer addition is
/// associative, and every sum is far below 2^31), hence the same score.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Model, HIDDEN_MAX, N_PAD};
    use crate::cpu::Avx2Fma;
    use std::arch::x86_64::*;

    /// Hidden units of the shape this path runs (8 outputs per vector).
    pub(super) const H1: usize = 32;
    pub(super) const H2: usize = 16;
    const G1: usize = H1 / 8;
    const G2: usize = H2 / 8;

    /// Score of `x`; `m` has the shape `H1`, `H2`.
    #[inline(always)]
    pub(super) fn eval(token: Avx2Fma, m: &Model, x: &[i16; N_PAD]) -> u32 {
        assert!(m.h1 == H1 && m.h2 == H2 && m.w1p.len() >= N_PAD / 2 * 16 * G1 && m.w2p.len() >= H1 / 2 * 16 * G2);
        assert!(m.b1.len() >= H1 && m.b2.len() >= H2 && m.w3.len() >= H2);
        // SAFETY: the token proves the CPU runs AVX2 (and FMA); the shapes
        // were checked just above.
        unsafe { wide(token, m, x) }
    }

    /// # Safety
    /// The CPU supports AVX2 (the token is the proof); `m` has the lengths
    /// `eval` checks.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn wide(_: Avx2Fma, m: &Model, x: &[i16; N_PAD]) -> u32 {
        let mut h1 = [0i16; H1];
        // SAFETY: AVX2 is available (this fn's contract); `eval` checked
        // that the weight and bias slices hold what `layer` reads.
        let h2 = unsafe {
            let v = layer::<G1, { N_PAD / 2 }>(m.w1p.as_ptr(), m.b1.as_ptr(), x.as_ptr(), m.shifts[0]);
            for (g, pair) in v.chunks_exact(2).enumerate() {
                _mm256_storeu_si256(h1.as_mut_ptr().add(16 * g) as *mut __m256i, narrow(pair[0], pair[1]));
            }
            let v = layer::<G2, { H1 / 2 }>(m.w2p.as_ptr(), m.b2.as_ptr(), h1.as_ptr(), m.shifts[1]);
            narrow(v[0], v[1])
        };
        // Output unit: the 16 products in one multiply-add, then the sum of
        // the 8 lanes (integers: the same sum as the portable `dot`).
        // SAFETY: `eval` checked m.w3.len() >= 16: one unaligned load.
        let s = unsafe {
            let w3 = _mm256_loadu_si256(m.w3.as_ptr() as *const __m256i);
            let p = _mm256_madd_epi16(w3, h2);
            let q = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256::<1>(p));
            let q = _mm_add_epi32(q, _mm_shuffle_epi32::<0b01_00_11_10>(q));
            let q = _mm_add_epi32(q, _mm_shuffle_epi32::<0b10_11_00_01>(q));
            _mm_cvtsi128_si32(q)
        };
        let half = (m.table.len() / 2) as i32;
        let logit = ((s + m.b3) >> m.shifts[2]).clamp(-half, half - 1);
        m.table[(logit + half) as usize] as u32
    }

    /// The 16 values of a and b (each 0..=HIDDEN_MAX) as i16, in order.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn narrow(a: __m256i, b: __m256i) -> __m256i {
        // pack interleaves 128-bit halves: a0-3 b0-3 a4-7 b4-7; the
        // saturating pack keeps every value (0..=HIDDEN_MAX)
        _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi32(a, b))
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

    /// `clamp((sum_i w[o][i] x[i] + b[o]) >> shift, 0, HIDDEN_MAX)` for o in
    /// 0..8G, as G vectors of 8 i32, with `w` in the layout of `pairs` and
    /// NP input pairs (constant: the loop is unrolled).
    ///
    /// # Safety
    /// AVX2 is available; `x` points at 2 * NP readable i16, `w` at
    /// NP * 16 * G and `b` at 8 * G.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn layer<const G: usize, const NP: usize>(
        w: *const i16,
        b: *const i32,
        x: *const i16,
        shift: u32,
    ) -> [__m256i; G] {
        // Four pairs per step into two sets of sums (added at the end): the
        // same integers, with fewer loop overheads per multiply-add.
        let mut even = [_mm256_setzero_si256(); G];
        let mut odd = [_mm256_setzero_si256(); G];
        // the pairs as i32: x[2p] in the low half (little-endian lanes)
        let xp = x as *const i32;
        let mut p = 0;
        while p + 4 <= NP {
            // SAFETY: p + 3 < NP: x, as pairs, and w (NP * G rows of 16) hold the four pairs.
            unsafe {
                madd_row(&mut even, w.add(p * G * 16), xp.add(p));
                madd_row(&mut odd, w.add((p + 1) * G * 16), xp.add(p + 1));
                madd_row(&mut even, w.add((p + 2) * G * 16), xp.add(p + 2));
                madd_row(&mut odd, w.add((p + 3) * G * 16), xp.add(p + 3));
            }
            p += 4;
        }
        while p < NP {
            // SAFETY: p < NP, as above.
            unsafe { madd_row(&mut even, w.add(p * G * 16), xp.add(p)) };
            p += 1;
        }
        let count = _mm_cvtsi32_si128(shift as i32);
        let lo = _mm256_setzero_si256();
        let hi = _mm256_set1_epi32(HIDDEN_MAX);
        let mut v = [_mm256_setzero_si256(); G];
        for (g, o) in v.iter_mut().enumerate() {
            // SAFETY: 8 * g + 8 <= 8 * G: inside b.
            let bv = unsafe { _mm256_loadu_si256(b.add(8 * g) as *const __m256i) };
            let s = _mm256_add_epi32(_mm256_add_epi32(even[g], odd[g]), bv);
            *o = _mm256_min_epi32(_mm256_max_epi32(_mm256_sra_epi32(s, count), lo), hi);
        }
        v
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
