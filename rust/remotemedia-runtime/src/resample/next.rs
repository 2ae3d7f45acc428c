//! Output-parallel float64 kernel for a stage up by 2 or 4 (`M = 1`): the
//! exact stage after the interpolated phases at "very_high" ([`super::plan::back`]).
//!
//! With `M = 1` the windows of consecutive periods are one input frame
//! apart, so 4 periods of one phase are one unaligned 4-lane load of the
//! input per tap, and every phase of a period reads the same window: each
//! input load feeds all `L` phases, each coefficient broadcast 32 / (4 L)
//! vectors of outputs, 8 independent accumulators in all (32 outputs).
//! Each output is one chain of fused multiply-adds over its taps in order
//! from zero (no horizontal sums); the outputs before and after whole
//! blocks run the same chain one at a time (`f64::mul_add`, the same fused
//! operation), so an output has the same bits however the input was
//! chunked. Without AVX2+FMA the stage keeps the tap-parallel kernel.

#[cfg(target_arch = "x86_64")]
use crate::cpu::Avx2Fma;

/// Outputs per block of the AVX2 kernel.
const BLOCK: usize = 32;

/// Whether a stage of `l` phases decimating by `m` runs here.
pub fn fits(l: u64, m: u64) -> bool {
    m == 1 && (l == 2 || l == 4)
}

/// Outputs of one channel from `hist`: output 0 is phase `r` of the window
/// at `hist[q..]`; each later output steps one phase, and one frame after
/// phase `l - 1`. `coef` holds `l` rows of `taps`.
///
/// # Safety
/// The CPU supports AVX2 and FMA (the token proves it).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn run<O>(
    _cpu: Avx2Fma,
    l: usize,
    taps: usize,
    coef: &[f64],
    hist: &[f64],
    mut q: usize,
    mut r: usize,
    out: &mut [O],
    put: impl Fn(f64) -> O,
) {
    assert!(coef.len() >= l * taps && (l == 2 || l == 4));
    let one = |q: usize, r: usize| -> f64 {
        let (x, h) = (&hist[q..q + taps], &coef[r * taps..(r + 1) * taps]);
        x.iter().zip(h).fold(0.0, |a, (&x, &h)| x.mul_add(h, a))
    };
    let n = out.len();
    let mut i = 0;
    let periods = BLOCK / l;
    // Single outputs up to a phase 0 with a whole block ahead, blocks, then single outputs to the end.
    while i < n {
        if r == 0 && i + BLOCK <= n {
            assert!(q + periods - 1 + taps <= hist.len(), "window beyond history");
            let mut y = [0.0f64; BLOCK];
            // SAFETY: the last window read, `hist[q + periods - 1..][..taps]`,
            // was bounds-checked above; AVX2+FMA per this function's contract.
            unsafe {
                if l == 4 {
                    block::<4, 2>(hist.as_ptr().add(q), coef, taps, &mut y);
                } else {
                    block::<2, 4>(hist.as_ptr().add(q), coef, taps, &mut y);
                }
            }
            for (o, v) in out[i..i + BLOCK].iter_mut().zip(y) {
                *o = put(v);
            }
            i += BLOCK;
            q += periods;
            continue;
        }
        out[i] = put(one(q, r));
        i += 1;
        r += 1;
        if r == l {
            r = 0;
            q += 1;
        }
    }
}

/// `4 G` periods of `L` phases (`4 G L` = [`BLOCK`] outputs, in output
/// order into `y`) from the windows at `x, x + 1, ...`.
///
/// # Safety
/// `x` is valid for `4 G - 1 + taps` reads, `coef` holds `L` rows of
/// `taps`; the CPU supports AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::needless_range_loop, unused_unsafe)]
unsafe fn block<const L: usize, const G: usize>(x: *const f64, coef: &[f64], taps: usize, y: &mut [f64; BLOCK]) {
    use std::arch::x86_64::*;
    // SAFETY: loads read `x + 4g + u..+4` with `4g + 3 + u < 4G - 1 + taps`
    // (the contract) and `coef[e * taps + u]` (bounds-checked indexing).
    unsafe {
        let mut acc = [[_mm256_setzero_pd(); L]; G];
        for u in 0..taps {
            let xs: [__m256d; G] = std::array::from_fn(|g| _mm256_loadu_pd(x.add(4 * g + u)));
            for e in 0..L {
                let hv = _mm256_set1_pd(coef[e * taps + u]);
                for g in 0..G {
                    acc[g][e] = _mm256_fmadd_pd(xs[g], hv, acc[g][e]);
                }
            }
        }
        // Lane `o` of acc[g][e] is period 4g + o, phase e: output (4g + o) L + e.
        for g in 0..G {
            for e in 0..L {
                let mut lane = [0.0f64; 4];
                _mm256_storeu_pd(lane.as_mut_ptr(), acc[g][e]);
                for o in 0..4 {
                    y[(4 * g + o) * L + e] = lane[o];
                }
            }
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// Every output of a run, blocks included, has the bits of the same
    /// output computed alone (the single-output chain), from any phase.
    #[test]
    fn blocks_match_single_outputs() {
        let Some(cpu) = Avx2Fma::detect() else {
            eprintln!("skipped: no AVX2+FMA");
            return;
        };
        let mut s = 3u64;
        let mut rnd = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let hist: Vec<f64> = (0..400).map(|_| rnd()).collect();
        for l in [2usize, 4] {
            for taps in [8usize, 16, 24, 40] {
                let coef: Vec<f64> = (0..l * taps).map(|_| rnd()).collect();
                for r in 0..l {
                    for n in [1usize, 31, 32, 33, 95, 200] {
                        let mut got = vec![0.0f64; n];
                        // SAFETY: AVX2+FMA detected above.
                        unsafe { run(cpu, l, taps, &coef, &hist, 5, r, &mut got, |v| v) };
                        for (k, g) in got.iter().enumerate() {
                            let (kk, rr) = (r + k, (r + k) % l);
                            let mut one = [0.0f64];
                            // SAFETY: as above.
                            unsafe { run(cpu, l, taps, &coef, &hist, 5 + kk / l, rr, &mut one, |v| v) };
                            assert_eq!(g.to_bits(), one[0].to_bits(), "l {l} taps {taps} r {r} n {n} k {k}");
                        }
                        let want: f64 = (0..taps).map(|u| hist[5 + r / l + u] * coef[r * taps + u]).sum();
                        assert!((got[0] - want).abs() < 1e-12);
                    }
                }
            }
        }
    }
}
