//! Per-frame features: decimation, pre-emphasis and autocorrelation.
//!
//! Every value here is an integer held in f64 and every partial sum stays
//! below 2^53 (at most 49 * 2^15 * 2 per sample, squared, times 240
//! samples < 2^51), so the sums are exact whatever the order: the loops
//! are free to use several accumulators and SIMD.

use super::{Vad, LAGS, MAX_BANDS};
use crate::cpu::Simd;

/// Analysis samples of a 10 ms block at every rate but 44.1 kHz (8 kHz
/// after decimation).
const BLOCK_N: usize = 80;

/// Decimates the `nb` blocks now complete in `q16` or `qbuf` (after
/// their history; or `direct`, see `diff16`) and fills `v.r[b][l]` = sum over block b of z[t] z[t-l]
/// for l in 0..=LAGS.
/// `FMA`: fused multiply-adds (the caller runs with FMA enabled); they give
/// the same bits here, as every product and partial sum is an integer
/// below 2^53, so nothing is rounded.
#[inline(always)]
pub(super) fn group_features<const FMA: bool>(v: &mut Vad, nb: usize, direct: Option<&[i16]>, simd: Simd) {
    if v.d <= 2 {
        diff16(v, nb * v.n, direct, simd);
    } else {
        decimate(v, nb * v.n);
    }
    let n = v.n;
    for (b, rb) in v.r[..nb].iter_mut().enumerate() {
        // block b's samples with the LAGS before them, in place
        let z = &v.z[b * n..b * n + LAGS + n];
        #[cfg(target_arch = "x86_64")]
        if let Some(token) = simd {
            if n == BLOCK_N {
                // the common block length as a constant: fixed trip counts
                // the compiler unrolls (every rate but 44.1 kHz); at 8 and
                // 16 kHz, blocks of small samples in int16 (the same sums)
                let at = b * BLOCK_N..b * BLOCK_N + LAGS + BLOCK_N;
                if !(v.d <= 2 && avx2::autocorrelation_i16(token, &v.z16[at.clone()], rb)) {
                    avx2::autocorrelation(token, &v.z[at], rb);
                }
            } else {
                avx2::autocorrelation(token, z, rb);
            }
            continue;
        }
        autocorrelation::<FMA>(z, n, rb);
    }
    let _ = simd;
    // Keep the last LAGS samples as history of the next group.
    v.z.copy_within(nb * n..nb * n + LAGS, 0);
    if v.d <= 2 {
        v.z16.copy_within(nb * n..nb * n + LAGS, 0);
    }
}

/// Band energies: `e[b][k]` = sum over l of `r[b][l] * wt[l][k]`, each
/// band summing its lags in order 0..=LAGS with a rounded product then a
/// rounded sum per step (the numpy body's operations: no fused
/// multiply-add here, as the weights are not integers).
/// `G` blocks (each block's sums are independent of the others).
#[inline(always)]
pub(super) fn band_sums<const G: usize>(
    r: &[[f64; LAGS + 1]; G],
    wt: &[[f64; MAX_BANDS]; LAGS + 1],
    e: &mut [[f64; MAX_BANDS]; G],
    simd: Simd,
) {
    #[cfg(target_arch = "x86_64")]
    if let Some(token) = simd {
        return avx2::band_sums(token, r, wt, e);
    }
    let _ = simd;
    for (eb, rb) in e.iter_mut().zip(r) {
        for (ek, w) in eb.iter_mut().zip(&wt[0]) {
            *ek = rb[0] * w;
        }
        for (rl, wl) in rb[1..].iter().zip(&wt[1..]) {
            for (ek, w) in eb.iter_mut().zip(wl) {
                *ek += rl * w;
            }
        }
    }
}

/// Writes quantised samples (int16 values as f64) into `dst`.
pub(super) fn quantise_into<T: Copy>(dst: &mut [f64], src: &[T], q: impl Fn(T) -> f64 + Copy) {
    #[cfg(target_arch = "x86_64")]
    {
        /// # Safety
        /// The CPU supports AVX2.
        #[target_feature(enable = "avx2")]
        unsafe fn wide<T: Copy>(dst: &mut [f64], src: &[T], q: impl Fn(T) -> f64) {
            for (o, &x) in dst.iter_mut().zip(src) {
                *o = q(x);
            }
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { wide(dst, src, q) };
        }
    }
    for (o, &x) in dst.iter_mut().zip(src) {
        *o = q(x);
    }
}

/// Writes quantised samples (int16 values) into `dst`.
pub(super) fn quantise16_into<T: Copy>(dst: &mut [i16], src: &[T], q: impl Fn(T) -> f64 + Copy) {
    #[inline(always)]
    fn one<T>(q: impl Fn(T) -> f64, x: T) -> i16 {
        let v = q(x);
        debug_assert!(v == v.round() && (-32768.0..=32767.0).contains(&v));
        // SAFETY: the quantisers clip to -32768..=32767, round to an integer
        // and turn NaN into 0: v is an integer that fits i16 (hence i32).
        unsafe { v.to_int_unchecked::<i32>() as i16 }
    }
    #[cfg(target_arch = "x86_64")]
    {
        /// # Safety
        /// The CPU supports AVX2.
        #[target_feature(enable = "avx2")]
        unsafe fn wide<T: Copy>(dst: &mut [i16], src: &[T], q: impl Fn(T) -> f64 + Copy) {
            for (o, &x) in dst.iter_mut().zip(src) {
                *o = one(q, x);
            }
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { wide(dst, src, q) };
        }
    }
    for (o, &x) in dst.iter_mut().zip(src) {
        *o = one(q, x);
    }
}

/// Writes int16 samples as f64 (exact) into `dst`: `quantise_into` with
/// the identity, 8 samples per step on the AVX2 path.
#[inline]
pub(super) fn i16_into(dst: &mut [f64], src: &[i16], simd: Simd) {
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    if let Some(token) = simd {
        i = avx2::i16_into(token, dst, src);
    }
    let _ = simd;
    for (o, &x) in dst[i..].iter_mut().zip(&src[i..]) {
        *o = x as f64;
    }
}

#[inline(always)]
fn mac<const FMA: bool>(acc: f64, a: f64, b: f64) -> f64 {
    if FMA {
        a.mul_add(b, acc)
    } else {
        acc + a * b
    }
}

/// `decimate` for D = 1 and 2, straight from int16 samples to the
/// differenced signal, with no decimated signal in between:
/// - D = 1: y[j] = x[j], so z[j] = x[j] - x[j-1];
/// - D = 2: y[j] = x[2j-1] + 2 x[2j] + x[2j+1] (taps 1 2 1 ending at the
///   last sample of each pair), so z[j] = 2 x[2j] + x[2j+1] - x[2j-3] - 2 x[2j-2].
///
/// The group's samples x[0..D n] are `direct` (the caller's own int16
/// samples) or follow the history in `q16`; the 2D-1 samples before them
/// are the first of `q16`. Integer sums (below 2^19) converted to f64 once:
/// the same values as `decimate` computes in f64 (every step exact there too).
/// The same values, saturated to int16, go to `z16` (the input of
/// `avx2::autocorrelation_i16`, which declines a block with any saturated value).
#[inline(always)]
fn diff16(v: &mut Vad, n: usize, direct: Option<&[i16]>, simd: Simd) {
    let d = v.d;
    let hist = 2 * d - 1;
    let (h, g) = match direct {
        Some(g) => (&v.q16[..hist], g),
        None => v.q16[..hist + d * n].split_at(hist),
    };
    let g = &g[..d * n];
    let z = &mut v.z[LAGS..LAGS + n];
    let z16 = &mut v.z16[LAGS..LAGS + n];
    // sample i of the group, i >= -hist (the history below 0)
    let x = |i: isize| {
        if i < 0 {
            h[(hist as isize + i) as usize] as i32
        } else {
            g[i as usize] as i32
        }
    };
    let one = |j: usize| {
        let j = j as isize;
        if d == 1 {
            x(j) - x(j - 1)
        } else {
            2 * x(2 * j) + x(2 * j + 1) - x(2 * j - 3) - 2 * x(2 * j - 2)
        }
    };
    // the outputs from `first` on read the group only
    let first = d;
    let mut j = 0;
    #[cfg(target_arch = "x86_64")]
    if let Some(token) = simd {
        if n >= first + 8 {
            // group samples from output `from` on (see `avx2::diff1`, `avx2::diff2`)
            let run = |z: &mut [f64], z16: &mut [i16], from: usize| {
                if d == 1 {
                    avx2::diff1(token, &g[from - 1..], z, z16)
                } else {
                    avx2::diff2(token, &g[2 * from - 3..], z, z16)
                }
            };
            let done = run(&mut z[first..], &mut z16[first..], first);
            if first + done < n {
                // the last 8 outputs again (the same values), ending at n
                run(&mut z[n - 8..], &mut z16[n - 8..], n - 8);
            }
            for ((o, o16), jj) in z[..first].iter_mut().zip(&mut z16[..first]).zip(0..) {
                let w = one(jj);
                *o = w as f64;
                *o16 = w.clamp(-32768, 32767) as i16;
            }
            j = n;
        }
    }
    let _ = simd;
    while j < n {
        let w = one(j);
        z[j] = w as f64;
        z16[j] = w.clamp(-32768, 32767) as i16;
        j += 1;
    }
}

/// z[LAGS + j] = y[j] - y[j-1] for j in 0..n (`n` output samples, whole
/// blocks), y = triangular low-pass decimated by d (> 2; see `diff16` for
/// 1 and 2). The loops have no carried dependency, so they vectorise: y
/// goes to a scratch buffer first, then the difference is taken.
#[inline(always)]
fn decimate(v: &mut Vad, n: usize) {
    let d = v.d;
    let q = &v.qbuf;
    let z = &mut v.z[LAGS..LAGS + n];
    let y = &mut v.ybuf[..n + 1];
    y[0] = v.y_prev;
    let taps = &v.taps;
    let len = taps.len();
    for (j, o) in y[1..].iter_mut().enumerate() {
        let seg = &q[j * d + d - 1..j * d + d - 1 + len];
        let mut acc = [0.0f64; 4];
        let mut tc = taps.chunks_exact(4);
        let mut sc = seg.chunks_exact(4);
        for (t, x) in (&mut tc).zip(&mut sc) {
            for i in 0..4 {
                acc[i] += t[i] * x[i];
            }
        }
        let mut sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
        for (t, x) in tc.remainder().iter().zip(sc.remainder()) {
            sum += t * x;
        }
        *o = sum;
    }
    for ((o, a), b) in z.iter_mut().zip(&y[1..]).zip(&y[..n]) {
        *o = a - b;
    }
    v.y_prev = y[n];
}

#[inline(always)]
fn autocorrelation<const FMA: bool>(z: &[f64], n: usize, r: &mut [f64; LAGS + 1]) {
    // Four lags at a time share the loads of the current samples.
    let mut l0 = 0;
    while l0 + 4 <= LAGS + 1 {
        let v = lag_block::<FMA, 4>(z, n, l0);
        r[l0..l0 + 4].copy_from_slice(&v);
        l0 += 4;
    }
    while l0 <= LAGS {
        r[l0] = lag_block::<FMA, 1>(z, n, l0)[0];
        l0 += 1;
    }
}

#[inline(always)]
fn lag_block<const FMA: bool, const K: usize>(z: &[f64], n: usize, l0: usize) -> [f64; K] {
    const W: usize = 8;
    let cur = &z[LAGS..LAGS + n];
    let past: [&[f64]; K] = std::array::from_fn(|k| &z[LAGS - l0 - k..LAGS - l0 - k + n]);
    let mut acc = [[0.0f64; W]; K];
    let full = n / W * W;
    let mut t = 0;
    while t < full {
        let c = &cur[t..t + W];
        for k in 0..K {
            let p = &past[k][t..t + W];
            for i in 0..W {
                acc[k][i] = mac::<FMA>(acc[k][i], c[i], p[i]);
            }
        }
        t += W;
    }
    let mut out = [0.0f64; K];
    for k in 0..K {
        let mut sum = 0.0;
        for i in t..n {
            sum += cur[i] * past[k][i];
        }
        for v in acc[k] {
            sum += v;
        }
        out[k] = sum;
    }
    out
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{BLOCK_N, LAGS, MAX_BANDS};
    use crate::cpu::Avx2Fma;
    use std::arch::x86_64::*;

    /// `r[l]` = sum over t of z[LAGS + t] z[LAGS + t - l] for l in 0..=LAGS,
    /// with t over the block (`z` is LAGS samples of history then the
    /// block, at least 4 samples). Four samples at a time against every lag
    /// (each lag its own accumulator; the lags in two passes so the
    /// accumulators stay in registers). Integers below 2^53: exact in any
    /// order, so the same bits as the portable loops.
    #[inline(always)]
    pub(super) fn autocorrelation(token: Avx2Fma, z: &[f64], r: &mut [f64; LAGS + 1]) {
        assert!(z.len() >= LAGS + 4, "VAD block shorter than 4 samples");
        // SAFETY: the token proves the CPU runs AVX2 and FMA; z holds the
        // history and at least 4 samples (checked just above).
        unsafe {
            lags::<0, 9>(token, z, r);
            lags::<9, 8>(token, z, r);
        }
    }

    // `ac16`'s layout: whole vectors of 16 int16 samples.
    const _: () = assert!((LAGS + BLOCK_N) % 16 == 0 && BLOCK_N % 16 == 0 && LAGS == 16);

    /// Largest |z| for which `autocorrelation_i16` is exact: each i32 lane
    /// then sums ten products, 10 * 14654^2 < 2^31.
    pub(super) const I16_MAX_Z: i32 = 14654;

    /// `autocorrelation` of one block of `BLOCK_N` samples (`z`: the LAGS
    /// before it, then the block, saturated to int16) with int16
    /// multiply-adds, when every sample of `z` satisfies |z| <= `I16_MAX_Z`
    /// (a saturated value never does); returns false (and leaves `r`
    /// alone) otherwise. `vpmaddwd` sums two products per i32
    /// lane, five of them per lag (80 samples): no overflow under the
    /// bound; the lane sums go to f64 (exact, integers below 2^53). So the
    /// same integers as the f64 fused multiply-adds, with 85 `vpmaddwd`
    /// instead of 340 FMAs.
    #[inline(always)]
    pub(super) fn autocorrelation_i16(token: Avx2Fma, z: &[i16], r: &mut [f64; LAGS + 1]) -> bool {
        let z: &[i16; LAGS + BLOCK_N] = z.try_into().expect("VAD block of the wrong length");
        // SAFETY: the token proves the CPU runs AVX2 and FMA.
        unsafe { ac16(token, z, r) }
    }

    /// # Safety
    /// The CPU supports AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn ac16(_: Avx2Fma, buf: &[i16; LAGS + BLOCK_N], r: &mut [f64; LAGS + 1]) -> bool {
        let mut cur = [_mm256_setzero_si256(); BLOCK_N / 16];
        for (k, c) in cur.iter_mut().enumerate() {
            // SAFETY: LAGS + 16k + 16 <= N: one load inside buf.
            *c = unsafe { _mm256_loadu_si256(buf.as_ptr().add(LAGS + 16 * k) as *const __m256i) };
        }
        // every |z| <= I16_MAX_Z: the unsigned maximum of the magnitudes
        // (`vpabsw` gives 0x8000 for -32768, above the bound as unsigned)
        // SAFETY: LAGS = 16 <= N: one load inside buf.
        let mut m = _mm256_abs_epi16(unsafe { _mm256_loadu_si256(buf.as_ptr() as *const __m256i) });
        for c in &cur {
            m = _mm256_max_epu16(m, _mm256_abs_epi16(*c));
        }
        let lim = _mm256_set1_epi16(I16_MAX_Z as i16);
        if _mm256_movemask_epi8(_mm256_cmpeq_epi16(_mm256_max_epu16(m, lim), lim)) != -1 {
            return false;
        }
        // SAFETY (all calls of lag16 below): AVX2 is available (this fn's
        // contract), l <= LAGS and buf holds N = LAGS + BLOCK_N values.
        for g in 0..LAGS / 4 {
            let l = 4 * g;
            // SAFETY: as above; the store writes r[l..l + 4], inside r.
            unsafe {
                let v = sum4(
                    lag16(buf, &cur, l),
                    lag16(buf, &cur, l + 1),
                    lag16(buf, &cur, l + 2),
                    lag16(buf, &cur, l + 3),
                );
                _mm256_storeu_pd(r.as_mut_ptr().add(l), v);
            }
        }
        let mut lanes = [0.0f64; 4];
        // SAFETY: as above; `lanes` holds 4 doubles, one unaligned store.
        unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), lag16(buf, &cur, LAGS)) };
        r[LAGS] = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
        true
    }

    /// The products of lag `l` for `ac16`, as four f64 lane sums: `cur[k]`
    /// holds buf[LAGS + 16k..LAGS + 16k + 16].
    ///
    /// # Safety
    /// AVX2 is available; `l <= LAGS`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn lag16(buf: &[i16; LAGS + BLOCK_N], cur: &[__m256i; BLOCK_N / 16], l: usize) -> __m256d {
        let mut acc = _mm256_setzero_si256();
        for (k, c) in cur.iter().enumerate() {
            // SAFETY: l <= LAGS: reads buf[LAGS + 16k - l..LAGS + 16k - l + 16], inside buf.
            let p = unsafe { _mm256_loadu_si256(buf.as_ptr().add(LAGS + 16 * k - l) as *const __m256i) };
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(*c, p));
        }
        let lo = _mm256_cvtepi32_pd(_mm256_castsi256_si128(acc));
        let hi = _mm256_cvtepi32_pd(_mm256_extracti128_si256::<1>(acc));
        _mm256_add_pd(lo, hi)
    }

    /// `super::band_sums` for 8 bands, the blocks side by side (independent
    /// chains of additions): per lag, one product then one sum per band,
    /// in lag order, as the portable loops (no fused multiply-add).
    #[inline(always)]
    pub(super) fn band_sums<const G: usize>(
        token: Avx2Fma,
        r: &[[f64; LAGS + 1]; G],
        wt: &[[f64; MAX_BANDS]; LAGS + 1],
        e: &mut [[f64; MAX_BANDS]; G],
    ) {
        // The vector code below holds a block's band sums in one 8-lane pair.
        const _: () = assert!(MAX_BANDS == 8);
        /// # Safety
        /// The CPU supports AVX2.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn wide<const G: usize>(
            _: Avx2Fma,
            r: &[[f64; LAGS + 1]; G],
            wt: &[[f64; MAX_BANDS]; LAGS + 1],
            e: &mut [[f64; MAX_BANDS]; G],
        ) {
            // SAFETY: AVX2 is available (this fn's contract); every load
            // reads 4 doubles of a row of 8 (`wt[l]`, offsets 0 and 4) and
            // every store writes 4 of a row of 8 (`e[b]`, offsets 0 and 4).
            unsafe {
                let (w0, w1) = (_mm256_loadu_pd(wt[0].as_ptr()), _mm256_loadu_pd(wt[0].as_ptr().add(4)));
                let mut acc = [[_mm256_setzero_pd(); 2]; G];
                for (a, rb) in acc.iter_mut().zip(r) {
                    let x = _mm256_set1_pd(rb[0]);
                    *a = [_mm256_mul_pd(x, w0), _mm256_mul_pd(x, w1)];
                }
                for (l, wl) in wt.iter().enumerate().skip(1) {
                    let (w0, w1) = (_mm256_loadu_pd(wl.as_ptr()), _mm256_loadu_pd(wl.as_ptr().add(4)));
                    for (a, rb) in acc.iter_mut().zip(r) {
                        let x = _mm256_set1_pd(rb[l]);
                        a[0] = _mm256_add_pd(a[0], _mm256_mul_pd(x, w0));
                        a[1] = _mm256_add_pd(a[1], _mm256_mul_pd(x, w1));
                    }
                }
                for (eb, a) in e.iter_mut().zip(&acc) {
                    _mm256_storeu_pd(eb.as_mut_ptr(), a[0]);
                    _mm256_storeu_pd(eb.as_mut_ptr().add(4), a[1]);
                }
            }
        }
        // SAFETY: the token proves the CPU runs AVX2.
        unsafe { wide(token, r, wt, e) }
    }

    /// `dst[i] = src[i]` as f64 for whole steps of 8 samples; returns how
    /// many it wrote (the caller converts the rest). Exact: every int16 is
    /// a double.
    #[inline]
    pub(super) fn i16_into(token: Avx2Fma, dst: &mut [f64], src: &[i16]) -> usize {
        // SAFETY: the token proves the CPU runs AVX2.
        unsafe { i16_wide(token, dst, src) }
    }

    /// # Safety
    /// The CPU supports AVX2 (the token is the proof).
    #[target_feature(enable = "avx2,fma")]
    unsafe fn i16_wide(_: Avx2Fma, dst: &mut [f64], src: &[i16]) -> usize {
        let n = dst.len().min(src.len());
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n: the load reads src[i..i + 8] and the
            // stores write dst[i..i + 8].
            unsafe {
                let v = _mm_loadu_si128(src.as_ptr().add(i) as *const __m128i);
                let w = _mm256_cvtepi16_epi32(v);
                let lo = _mm256_cvtepi32_pd(_mm256_castsi256_si128(w));
                let hi = _mm256_cvtepi32_pd(_mm256_extracti128_si256::<1>(w));
                _mm256_storeu_pd(dst.as_mut_ptr().add(i), lo);
                _mm256_storeu_pd(dst.as_mut_ptr().add(i + 4), hi);
            }
            i += 8;
        }
        i
    }

    /// Lanes of the last, partial vector of a block of `n` samples: the
    /// last `n % 4` lanes count, the others were counted already.
    const TAIL: [[u64; 4]; 4] = [
        [0, 0, 0, 0],
        [0, 0, 0, u64::MAX],
        [0, 0, u64::MAX, u64::MAX],
        [0, u64::MAX, u64::MAX, u64::MAX],
    ];

    /// `r[L0..L0 + K]` of `autocorrelation`.
    ///
    /// # Safety
    /// The CPU supports AVX2 and FMA; `z.len() >= LAGS + 4`; `L0 + K <= LAGS + 1`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn lags<const L0: usize, const K: usize>(_: Avx2Fma, z: &[f64], r: &mut [f64; LAGS + 1]) {
        let n = z.len() - LAGS;
        let mut acc = [_mm256_setzero_pd(); K];
        // SAFETY: every load reads 4 doubles starting at index LAGS + t - l
        // with 0 <= l <= LAGS and t + 4 <= n, i.e. inside z[0..LAGS + n];
        // the tail reads z[LAGS + n - 4 - l..LAGS + n - l], inside z as n >= 4.
        unsafe {
            let cur = z.as_ptr().add(LAGS);
            let mut t = 0;
            while t + 8 <= n {
                let c = _mm256_loadu_pd(cur.add(t));
                for (k, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_fmadd_pd(c, _mm256_loadu_pd(cur.add(t).sub(L0 + k)), *a);
                }
                let c = _mm256_loadu_pd(cur.add(t + 4));
                for (k, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_fmadd_pd(c, _mm256_loadu_pd(cur.add(t + 4).sub(L0 + k)), *a);
                }
                t += 8;
            }
            if t + 4 <= n {
                let c = _mm256_loadu_pd(cur.add(t));
                for (k, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_fmadd_pd(c, _mm256_loadu_pd(cur.add(t).sub(L0 + k)), *a);
                }
                t += 4;
            }
            if t < n {
                let t = n - 4;
                let mask = _mm256_loadu_pd(TAIL[n % 4].as_ptr() as *const f64);
                let c = _mm256_and_pd(_mm256_loadu_pd(cur.add(t)), mask);
                for (k, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_fmadd_pd(c, _mm256_loadu_pd(cur.add(t).sub(L0 + k)), *a);
                }
            }
        }
        let mut k = 0;
        while k + 4 <= K {
            // SAFETY: AVX2 is available (this fn's contract); the store
            // writes r[L0 + k..L0 + k + 4], inside r as L0 + K <= LAGS + 1.
            unsafe {
                let v = sum4(acc[k], acc[k + 1], acc[k + 2], acc[k + 3]);
                _mm256_storeu_pd(r.as_mut_ptr().add(L0 + k), v);
            }
            k += 4;
        }
        while k < K {
            let mut lanes = [0.0f64; 4];
            // SAFETY: `lanes` holds 4 doubles, one unaligned store.
            unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), acc[k]) };
            r[L0 + k] = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
            k += 1;
        }
    }

    /// The four lane sums of a, b, c, d, in that order.
    ///
    /// # Safety
    /// The CPU supports AVX2.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn sum4(a: __m256d, b: __m256d, c: __m256d, d: __m256d) -> __m256d {
        let ab = _mm256_hadd_pd(a, b); // a01 b01 a23 b23
        let cd = _mm256_hadd_pd(c, d); // c01 d01 c23 d23
        let lo = _mm256_permute2f128_pd::<0x20>(ab, cd); // a01 b01 c01 d01
        let hi = _mm256_permute2f128_pd::<0x31>(ab, cd); // a23 b23 c23 d23
        _mm256_add_pd(lo, hi)
    }

    /// `diff16` for D = 1: z[j] = q[j + 1] - q[j] (q[i] = x[i - 1] when z
    /// starts at output 0, x[from + i - 1] from output `from`), 8 outputs per step while
    /// they fit in `z`; returns how many it wrote (the caller finishes the
    /// rest). Differences of int16 values in i32, then exact conversions.
    #[inline(always)]
    pub(super) fn diff1(token: Avx2Fma, q: &[i16], z: &mut [f64], z16: &mut [i16]) -> usize {
        // SAFETY: the token proves the CPU runs AVX2.
        unsafe { diff1_wide(token, q, z, z16) }
    }

    /// # Safety
    /// The CPU supports AVX2 (the token is the proof).
    #[target_feature(enable = "avx2,fma")]
    unsafe fn diff1_wide(_: Avx2Fma, q: &[i16], z: &mut [f64], z16: &mut [i16]) -> usize {
        // outputs j..j + 8 read q[j..j + 9]
        let steps = (z.len().min(z16.len()) / 8).min(q.len().saturating_sub(1) / 8);
        let (qp, zp, zp16) = (q.as_ptr(), z.as_mut_ptr(), z16.as_mut_ptr());
        // outputs 8s..8s + 8 as f64, for s < steps (the callers below)
        let one = |s: usize| {
            let j = 8 * s;
            // SAFETY: s < steps, so j + 8 <= 8 * steps <= z.len(): the stores
            // write inside z; j + 9 <= 8 * steps + 1 <= q.len(): the loads
            // read inside q. The int16 steps below read and write the same ranges.
            unsafe {
                let a = _mm256_cvtepi16_epi32(_mm_loadu_si128(qp.add(j + 1) as *const __m128i));
                let b = _mm256_cvtepi16_epi32(_mm_loadu_si128(qp.add(j) as *const __m128i));
                store8(zp.add(j), _mm256_sub_epi32(a, b));
            }
        };
        // two steps per iteration (the loop's own instructions halved); the
        // int16 copy by saturating int16 differences, 16 per instruction
        let mut s = 0;
        while s + 2 <= steps {
            one(s);
            one(s + 1);
            // SAFETY: as for `one(s)` and `one(s + 1)`: z16[8s..8s + 16], q[8s..8s + 17].
            unsafe {
                let j = 8 * s;
                let a = _mm256_loadu_si256(qp.add(j + 1) as *const __m256i);
                let b = _mm256_loadu_si256(qp.add(j) as *const __m256i);
                _mm256_storeu_si256(zp16.add(j) as *mut __m256i, _mm256_subs_epi16(a, b));
            }
            s += 2;
        }
        if s < steps {
            one(s);
            // SAFETY: as for `one(s)`: z16[8s..8s + 8], q[8s..8s + 9].
            unsafe {
                let j = 8 * s;
                let a = _mm_loadu_si128(qp.add(j + 1) as *const __m128i);
                let b = _mm_loadu_si128(qp.add(j) as *const __m128i);
                _mm_storeu_si128(zp16.add(j) as *mut __m128i, _mm_subs_epi16(a, b));
            }
        }
        8 * steps
    }

    /// `diff16` for D = 2: z[j] = 2 q[2j + 3] + q[2j + 4] - q[2j] - 2 q[2j + 1]
    /// (q[i] = x[i - 3] when z starts at output 0, x[2 from + i - 3] from
    /// output `from`), 8 outputs per step while they fit: `vpmaddwd` of the pairs (x[2j], x[2j+1]) by (2, 1) and of
    /// (x[2j-3], x[2j-2]) by (1, 2), then their difference. Returns how many
    /// it wrote (the caller finishes the rest).
    #[inline(always)]
    pub(super) fn diff2(token: Avx2Fma, q: &[i16], z: &mut [f64], z16: &mut [i16]) -> usize {
        // SAFETY: the token proves the CPU runs AVX2.
        unsafe { diff2_wide(token, q, z, z16) }
    }

    /// # Safety
    /// The CPU supports AVX2 (the token is the proof).
    #[target_feature(enable = "avx2,fma")]
    unsafe fn diff2_wide(_: Avx2Fma, q: &[i16], z: &mut [f64], z16: &mut [i16]) -> usize {
        // i16 lanes in memory order: (2, 1) and (1, 2) pairs
        let w_new = _mm256_set1_epi32(0x0001_0002);
        let w_old = _mm256_set1_epi32(0x0002_0001);
        // outputs j..j + 8 read q[2j..2j + 19]
        let steps = (z.len().min(z16.len()) / 8).min(q.len().saturating_sub(3) / 16);
        let (qp, zp, zp16) = (q.as_ptr(), z.as_mut_ptr(), z16.as_mut_ptr());
        for s in 0..steps {
            let j = 8 * s;
            // SAFETY: j + 8 <= 8 * steps <= z.len(), z16.len(): the stores
            // write inside z and z16; 2j + 19 <= 16 * steps + 3 <= q.len(): the loads (q[2j..2j + 16]
            // and q[2j + 3..2j + 19]) read inside q.
            unsafe {
                let new = _mm256_loadu_si256(qp.add(2 * j + 3) as *const __m256i);
                let old = _mm256_loadu_si256(qp.add(2 * j) as *const __m256i);
                let v = _mm256_sub_epi32(_mm256_madd_epi16(new, w_new), _mm256_madd_epi16(old, w_old));
                store8(zp.add(j), v);
                let (v0, v1) = (_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
                _mm_storeu_si128(zp16.add(j) as *mut __m128i, _mm_packs_epi32(v0, v1));
            }
        }
        8 * steps
    }

    /// The 8 lanes of `v` as f64 (exact) into `p[0..8]`.
    ///
    /// # Safety
    /// AVX2 is available; `p` points at 8 writable f64.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn store8(p: *mut f64, v: __m256i) {
        let lo = _mm256_cvtepi32_pd(_mm256_castsi256_si128(v));
        let hi = _mm256_cvtepi32_pd(_mm256_extracti128_si256::<1>(v));
        // SAFETY: the caller vouches for p[0..8].
        unsafe {
            _mm256_storeu_pd(p, lo);
            _mm256_storeu_pd(p.add(4), hi);
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn int16_autocorrelation_is_exact_up_to_its_bound_and_declines_past_it() {
        let Some(token) = crate::cpu::Avx2Fma::detect() else {
            return; // no AVX2 here: the portable loops are the only path
        };
        let lim = avx2::I16_MAX_Z as f64;
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        for round in 0..400 {
            // random integers, some blocks at the bound (every sign), some past it
            let mut z = [0.0f64; LAGS + BLOCK_N];
            for v in z.iter_mut() {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                *v = (s % (2 * avx2::I16_MAX_Z as u64 + 1)) as f64 - lim;
            }
            let at = round % z.len();
            z[at] = match round % 6 {
                0 => lim,
                1 => -lim,
                2 => lim + 1.0,
                3 => -lim - 1.0,
                4 => 40000.0,  // saturates to 32767
                _ => -40000.0, // saturates to -32768
            };
            if round % 8 < 4 {
                // the worst case for the sums: every sample at the bound
                for (i, v) in z.iter_mut().enumerate() {
                    *v = if (i + round) % 3 == 0 { -lim } else { lim };
                }
            }
            let mut exact = [0.0f64; LAGS + 1];
            autocorrelation::<false>(&z, BLOCK_N, &mut exact);
            let mut got = [f64::NAN; LAGS + 1];
            let z16 = z.map(|v| v.clamp(-32768.0, 32767.0) as i16);
            let taken = avx2::autocorrelation_i16(token, &z16, &mut got);
            let over = z.iter().any(|v| v.abs() > lim);
            assert_eq!(taken, !over, "round {round}");
            if taken {
                assert_eq!(got.map(f64::to_bits), exact.map(f64::to_bits), "round {round}");
            } else {
                assert!(got.iter().all(|v| v.is_nan()), "round {round}: r written");
            }
        }
    }
}
