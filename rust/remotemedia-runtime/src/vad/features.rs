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
        #[target_feature(enable = "avx2")]
        unsafe fn wide(v: &mut Vad, r: &mut [f64; LAGS + 1]) {
            body(v, r)
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { wide(v, r) };
        }
    }
    body(v, r)
}

#[inline(always)]
fn body(v: &mut Vad, r: &mut [f64; LAGS + 1]) {
    decimate(v);
    autocorrelation(&v.z, v.n, r);
    // Keep the last LAGS samples as history of the next frame.
    let n = v.n;
    v.z.copy_within(n..n + LAGS, 0);
}

/// z[LAGS + j] = y[j] - y[j-1], y = triangular low-pass decimated by d.
#[inline(always)]
fn decimate(v: &mut Vad) {
    let d = v.d;
    let n = v.n;
    let q = &v.qbuf;
    let z = &mut v.z[LAGS..LAGS + n];
    let mut prev = v.y_prev;
    match d {
        1 => {
            for (o, &x) in z.iter_mut().zip(q.iter()) {
                *o = x - prev;
                prev = x;
            }
        }
        2 => {
            // taps 1 2 1 ending at the last sample of each pair (qbuf has 2 samples of history)
            for (j, o) in z.iter_mut().enumerate() {
                let i = 2 * j + 1;
                let y = q[i] + 2.0 * q[i + 1] + q[i + 2];
                *o = y - prev;
                prev = y;
            }
        }
        _ => {
            let taps = &v.taps;
            let len = taps.len();
            for (j, o) in z.iter_mut().enumerate() {
                let seg = &q[j * d + d - 1..j * d + d - 1 + len];
                let mut y = 0.0;
                for (t, x) in taps.iter().zip(seg) {
                    y += t * x;
                }
                *o = y - prev;
                prev = y;
            }
        }
    }
    v.y_prev = prev;
}

#[inline(always)]
fn autocorrelation(z: &[f64], n: usize, r: &mut [f64; LAGS + 1]) {
    let cur = &z[LAGS..LAGS + n];
    for (lag, rl) in r.iter_mut().enumerate() {
        let past = &z[LAGS - lag..LAGS - lag + n];
        let mut acc = [0.0f64; 8];
        let mut a = cur.chunks_exact(8);
        let mut b = past.chunks_exact(8);
        for (ca, cb) in (&mut a).zip(&mut b) {
            for i in 0..8 {
                acc[i] += ca[i] * cb[i];
            }
        }
        let mut tail = 0.0;
        for (x, y) in a.remainder().iter().zip(b.remainder()) {
            tail += x * y;
        }
        *rl = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail;
    }
}
