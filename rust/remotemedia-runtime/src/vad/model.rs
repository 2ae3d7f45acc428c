//! The VAD's small integer MLP (format and rules: the numpy body's
//! `remotemedia/kernels/_vad_model.py`). The file is the one the Python
//! package ships, compiled in; integer arithmetic only, so every body gives
//! the same scores whatever the order of its sums.

use super::spec::{N_INPUTS, SCORE_ONE};
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
    }
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
    let half = (m.table.len() / 2) as i32;
    let logit = ((dot(&m.w3, &h2[..m.h2]) + m.b3) >> m.shifts[2]).clamp(-half, half - 1);
    let s = m.table[(logit + half) as usize] as u32;
    debug_assert!(s <= SCORE_ONE);
    s
}

/// Score (0 ..= SCORE_ONE) of one input row (zero-padded to `N_PAD`).
pub fn score(m: &Model, x: &[i16; N_PAD]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn wide(m: &Model, x: &[i16; N_PAD]) -> u32 {
            eval(m, x)
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { wide(m, x) };
        }
    }
    eval(m, x)
}
