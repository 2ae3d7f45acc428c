//! Prediction restore: a subframe's residual plus its predictor's
//! estimate, in place. `buf[..order]` holds the warm-up samples and
//! `buf[order..]` the residual on entry, the samples on return.
//!
//! Arithmetic wraps (as libFLAC's does in C): valid streams never wrap, and
//! a corrupt one must not panic; its samples are refused later by the range
//! check or its CRC-16.

/// FIXED predictor of `order` 0 to 4 (the caller checks the order). The
/// history is kept in locals: reading back the sample just stored would wait
/// on store forwarding.
pub fn restore_fixed(order: usize, buf: &mut [i32]) {
    if order == 0 || buf.len() <= order {
        return;
    }
    let (warm, rest) = buf.split_at_mut(order);
    match order {
        1 => {
            let mut a = warm[0];
            for x in rest.iter_mut() {
                a = x.wrapping_add(a);
                *x = a;
            }
        }
        2 => {
            let (mut b, mut a) = (warm[0], warm[1]);
            for x in rest.iter_mut() {
                let v = x.wrapping_add(a.wrapping_mul(2).wrapping_sub(b));
                (b, a) = (a, v);
                *x = v;
            }
        }
        3 => {
            let (mut c, mut b, mut a) = (warm[0], warm[1], warm[2]);
            for x in rest.iter_mut() {
                let p = a.wrapping_sub(b).wrapping_mul(3).wrapping_add(c);
                let v = x.wrapping_add(p);
                (c, b, a) = (b, a, v);
                *x = v;
            }
        }
        _ => {
            let (mut d, mut c, mut b, mut a) = (warm[0], warm[1], warm[2], warm[3]);
            for x in rest.iter_mut() {
                let p = a
                    .wrapping_add(c)
                    .wrapping_mul(4)
                    .wrapping_sub(b.wrapping_mul(6))
                    .wrapping_sub(d);
                let v = x.wrapping_add(p);
                (d, c, b, a) = (c, b, a, v);
                *x = v;
            }
        }
    }
}

/// LPC of a fixed order `N` with 32-bit sums (the caller checked that they
/// cannot overflow): the order is a constant, so the loops unroll, and the
/// history stays in registers (a vector load of samples just stored would
/// stall on store forwarding). The samples go `N` at a time through a ring of
/// the last `N`: within a group every ring index is a constant, so the
/// history never moves from register to register.
#[inline(always)]
fn lpc32_n<const N: usize>(coefs: &[i32], shift: u32, buf: &mut [i32]) {
    let mut c = [0i32; N];
    c.copy_from_slice(&coefs[..N]);
    // ring[t]: the sample N - t places before the group's first (before the
    // first group: the warm-up samples, oldest first).
    let mut ring = [0i32; N];
    ring.copy_from_slice(&buf[..N]);
    let mut groups = buf[N..].chunks_exact_mut(N);
    for group in &mut groups {
        for (t, x) in group.iter_mut().enumerate() {
            ring_step(&c, &mut ring, t, shift, x);
        }
    }
    // The last few samples (fewer than N), from the ring in the same way.
    for (t, x) in groups.into_remainder().iter_mut().enumerate() {
        ring_step(&c, &mut ring, t, shift, x);
    }
}

/// One sample of [`lpc32_n`]: the residual `x` becomes the sample, stored
/// in place and at `ring[t]`. The sample j + 1 places back is
/// `ring[(t + N - 1 - j) % N]`: this group's own (already written) or the
/// previous group's. The newest sample's product comes last: the chain from
/// one sample to the next is one multiply and three adds/shifts, the rest
/// runs alongside.
#[inline(always)]
fn ring_step<const N: usize>(c: &[i32; N], ring: &mut [i32; N], t: usize, shift: u32, x: &mut i32) {
    let mut sum = 0i32;
    for j in (1..N).rev() {
        sum = sum.wrapping_add(c[j].wrapping_mul(ring[(t + N - 1 - j) % N]));
    }
    sum = sum.wrapping_add(c[0].wrapping_mul(ring[(t + N - 1) % N]));
    let v = x.wrapping_add(sum >> shift);
    *x = v;
    ring[t] = v;
}

/// The history moved one place per sample (the ring below costs more for
/// order 1, where there is nothing to move, and 11-12, too large to unroll
/// the ring well: callgrind over pink noise encoded at each maximum order).
#[inline(always)]
fn lpc32_shift_n<const N: usize>(coefs: &[i32], shift: u32, buf: &mut [i32]) {
    let mut c = [0i32; N];
    c.copy_from_slice(&coefs[..N]);
    // h[j] = buf[i - 1 - j]: newest first, as the coefficients
    let mut h = [0i32; N];
    for (j, v) in h.iter_mut().enumerate() {
        *v = buf[N - 1 - j];
    }
    for x in buf[N..].iter_mut() {
        let mut sum = 0i32;
        for j in (1..N).rev() {
            sum = sum.wrapping_add(c[j].wrapping_mul(h[j]));
        }
        sum = sum.wrapping_add(c[0].wrapping_mul(h[0]));
        let v = x.wrapping_add(sum >> shift);
        *x = v;
        for j in (1..N).rev() {
            h[j] = h[j - 1];
        }
        h[0] = v;
    }
}

/// As [`lpc32_n`] with 64-bit sums.
#[inline(always)]
fn lpc64_n<const N: usize>(coefs: &[i32], shift: u32, buf: &mut [i32]) {
    let mut c = [0i64; N];
    for (d, &s) in c.iter_mut().zip(coefs) {
        *d = s as i64;
    }
    let mut h = [0i64; N];
    for (j, v) in h.iter_mut().enumerate() {
        *v = buf[N - 1 - j] as i64;
    }
    for x in buf[N..].iter_mut() {
        let mut sum = 0i64;
        for j in 0..N {
            sum = sum.wrapping_add(c[j].wrapping_mul(h[j]));
        }
        let v = x.wrapping_add((sum >> shift) as i32);
        *x = v;
        for j in (1..N).rev() {
            h[j] = h[j - 1];
        }
        h[0] = v as i64;
    }
}

fn lpc32_any(coefs: &[i32], shift: u32, buf: &mut [i32]) {
    let order = coefs.len();
    for i in order..buf.len() {
        let mut sum = 0i32;
        for (j, &c) in coefs.iter().enumerate() {
            sum = sum.wrapping_add(c.wrapping_mul(buf[i - 1 - j]));
        }
        buf[i] = buf[i].wrapping_add(sum >> shift);
    }
}

fn lpc64(coefs: &[i32], shift: u32, buf: &mut [i32]) {
    let order = coefs.len();
    for i in order..buf.len() {
        let mut sum = 0i64;
        for (j, &c) in coefs.iter().enumerate() {
            sum = sum.wrapping_add(c as i64 * buf[i - 1 - j] as i64);
        }
        buf[i] = buf[i].wrapping_add((sum >> shift) as i32);
    }
}

/// LPC predictor with `coefs` (newest sample first, order 1 to 32) and
/// `shift` (0 to 31) for samples of `bps` bits. Sums are 32-bit when they
/// cannot overflow for samples of that width (libFLAC's bound: the sum of
/// the coefficients' magnitudes times the largest sample fits), else 64-bit.
pub fn restore_lpc(coefs: &[i32], shift: u32, bps: u32, buf: &mut [i32]) {
    let magnitude: u64 = coefs.iter().map(|&c| c.unsigned_abs() as u64).sum();
    if magnitude << (bps - 1) > i32::MAX as u64 {
        return match coefs.len() {
            8 => lpc64_n::<8>(coefs, shift, buf),
            12 => lpc64_n::<12>(coefs, shift, buf),
            _ => lpc64(coefs, shift, buf),
        };
    }
    match coefs.len() {
        1 => lpc32_shift_n::<1>(coefs, shift, buf),
        2 => lpc32_n::<2>(coefs, shift, buf),
        3 => lpc32_n::<3>(coefs, shift, buf),
        4 => lpc32_n::<4>(coefs, shift, buf),
        5 => lpc32_n::<5>(coefs, shift, buf),
        6 => lpc32_n::<6>(coefs, shift, buf),
        7 => lpc32_n::<7>(coefs, shift, buf),
        8 => lpc32_n::<8>(coefs, shift, buf),
        9 => lpc32_n::<9>(coefs, shift, buf),
        10 => lpc32_n::<10>(coefs, shift, buf),
        11 => lpc32_shift_n::<11>(coefs, shift, buf),
        12 => lpc32_shift_n::<12>(coefs, shift, buf),
        _ => lpc32_any(coefs, shift, buf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_orders_invert_differences() {
        let x: Vec<i32> = (0..50).map(|i: i32| (i * i * 7 - i * 300 + 11) % 5000).collect();
        for order in 0..=4 {
            // residual = order-th difference, warm-up = the first samples
            let mut d = x.clone();
            for _ in 0..order {
                for i in (1..d.len()).rev() {
                    d[i] -= d[i - 1];
                }
            }
            let mut buf = x[..order].to_vec();
            buf.extend_from_slice(&d[order..]);
            restore_fixed(order, &mut buf);
            assert_eq!(buf, x, "order {order}");
        }
    }

    #[test]
    fn lpc_restores_what_prediction_took_away() {
        for (bps, amp) in [(16u32, 32_000i64), (24, 8_000_000)] {
            let x: Vec<i32> = (0..300i64)
                .map(|i| ((i * 7919 % 20011 - 10000) * amp / 10000) as i32)
                .collect();
            for order in 1..=32usize {
                let coefs: Vec<i32> = (0..order as i32).map(|j| (j * 37 % 61) - 30).collect();
                let mut buf = x.clone();
                for i in order..x.len() {
                    let sum: i64 = (0..order).map(|j| coefs[j] as i64 * x[i - 1 - j] as i64).sum();
                    buf[i] = (x[i] as i64 - (sum >> 5)) as i32;
                }
                restore_lpc(&coefs, 5, bps, &mut buf);
                assert_eq!(buf, x, "bps {bps}, order {order}");
            }
        }
    }
}
