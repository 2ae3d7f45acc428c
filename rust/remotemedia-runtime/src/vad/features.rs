//! Per-frame features: decimation, pre-emphasis and autocorrelation.
//!
//! Every value here is an integer held in f64 and every partial sum stays
//! below 2^53 (at most 49 * 2^15 * 2 per sample, squared, times 240
//! samples < 2^51), so the sums are exact whatever the order: the loops
//! are free to use several accumulators and SIMD.

use super::{Vad, LAGS};

/// Fills `r[l]` = sum over the frame of z[t] z[t-l] for l in 0..=LAGS.
pub(super) fn frame_features(v: &mut Vad, r: &mut [f64; LAGS + 1]) {
    #[cfg(target_arch = "x86_64")]
    {
        // Fused multiply-add gives the same bits here: every product and
        // partial sum is an integer below 2^53, so nothing is rounded.
        /// # Safety
        /// The CPU supports AVX2 and FMA.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn wide(v: &mut Vad, r: &mut [f64; LAGS + 1]) {
            body::<true>(v, r)
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            return unsafe { wide(v, r) };
        }
    }
    body::<false>(v, r)
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

#[inline(always)]
fn mac<const FMA: bool>(acc: f64, a: f64, b: f64) -> f64 {
    if FMA {
        a.mul_add(b, acc)
    } else {
        acc + a * b
    }
}

#[inline(always)]
fn body<const FMA: bool>(v: &mut Vad, r: &mut [f64; LAGS + 1]) {
    decimate(v);
    autocorrelation::<FMA>(&v.z, v.n, r);
    // Keep the last LAGS samples as history of the next frame.
    let n = v.n;
    v.z.copy_within(n..n + LAGS, 0);
}
/// z[LAGS + j] = y[j] - y[j-1], y = triangular low-pass decimated by d.
/// The loops have no carried dependency, so they vectorise: y goes to a
/// scratch buffer first, then the difference is taken.
#[inline(always)]
fn decimate(v: &mut Vad) {
    let d = v.d;
    let n = v.n;
    let q = &v.qbuf;
    let z = &mut v.z[LAGS..LAGS + n];
    if d == 1 {
        z[0] = q[0] - v.y_prev;
        for ((o, a), b) in z[1..].iter_mut().zip(&q[1..n]).zip(&q[..n - 1]) {
            *o = a - b;
        }
        v.y_prev = q[n - 1];
        return;
    }
    let y = &mut v.ybuf[..n + 1];
    y[0] = v.y_prev;
    if d == 2 {
        // taps 1 2 1 ending at the last sample of each pair (qbuf starts
        // with 2 samples of history)
        let pa = q[1..1 + 2 * n].chunks_exact(2);
        let pb = q[3..2 * n + 2].iter().step_by(2);
        for ((o, a), b) in y[1..].iter_mut().zip(pa).zip(pb) {
            *o = a[0] + 2.0 * a[1] + b;
        }
    } else {
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
