//! PCM sample-format conversion.
//!
//! Rules, shared with the numpy body sample for sample:
//! - integer to float divides by 2^15 (i16) or 2^31 (i32);
//! - float to integer multiplies by the same scale, clips to the integer
//!   range, then rounds to nearest with ties to even; NaN becomes 0 and
//!   ±Inf clip to the extremes;
//! - i32 to i16 divides by 2^16 with the same rounding; i16 to i32
//!   multiplies by 2^16 (exact);
//! - f64 to f32 rounds to nearest f32; float targets pass NaN and Inf on.

use crate::error::{Error, Result};

/// Input samples, in any supported format.
pub enum Src<'a> {
    I16(&'a [i16]),
    I32(&'a [i32]),
    F32(&'a [f32]),
    F64(&'a [f64]),
}

/// Output buffer, in a target format.
pub enum Dst<'a> {
    I16(&'a mut [i16]),
    I32(&'a mut [i32]),
    F32(&'a mut [f32]),
}

impl Src<'_> {
    fn len(&self) -> usize {
        match self {
            Src::I16(s) => s.len(),
            Src::I32(s) => s.len(),
            Src::F32(s) => s.len(),
            Src::F64(s) => s.len(),
        }
    }
}

impl Dst<'_> {
    fn len(&self) -> usize {
        match self {
            Dst::I16(s) => s.len(),
            Dst::I32(s) => s.len(),
            Dst::F32(s) => s.len(),
        }
    }
}

const I16_SCALE: f32 = 32768.0;
const I32_SCALE: f64 = 2147483648.0;
// Adding then subtracting 1.5 * 2^mantissa_bits rounds to nearest, ties to
// even, for |v| < 2^(mantissa_bits - 1). Unlike `round_ties_even` it
// vectorises on baseline SSE2, and it gives the same result as numpy's rint.
const ROUND_F32: f32 = 12_582_912.0;
const ROUND_F64: f64 = 6_755_399_441_055_744.0;

// NaN is mapped to 0 first, so that the clamp cannot see it (it would
// propagate NaN) and the final cast only sees in-range integers.
#[inline(always)]
fn f32_to_i16(x: f32) -> i16 {
    let v = if x.is_nan() { 0.0 } else { x * I16_SCALE };
    let v = v.clamp(-32768.0, 32767.0);
    let r = (v + ROUND_F32) - ROUND_F32;
    // SAFETY: r is an integer in [-32768, 32767], exactly representable in i32.
    unsafe { r.to_int_unchecked::<i32>() as i16 }
}

#[inline(always)]
fn f64_to_i16(x: f64) -> i16 {
    let v = if x.is_nan() { 0.0 } else { x * I16_SCALE as f64 };
    let v = v.clamp(-32768.0, 32767.0);
    let r = (v + ROUND_F64) - ROUND_F64;
    // SAFETY: as above.
    unsafe { r.to_int_unchecked::<i32>() as i16 }
}

#[inline(always)]
fn f64_to_i32(x: f64) -> i32 {
    let v = if x.is_nan() { 0.0 } else { x * I32_SCALE };
    let v = v.clamp(-2147483648.0, 2147483647.0);
    let r = (v + ROUND_F64) - ROUND_F64;
    // SAFETY: r is an integer in the i32 range.
    unsafe { r.to_int_unchecked::<i32>() }
}

#[inline(always)]
fn i32_to_i16(x: i32) -> i16 {
    let floor = x >> 16;
    let rem = x & 0xFFFF;
    let up = (rem > 0x8000) | ((rem == 0x8000) & (floor & 1 == 1));
    (floor + up as i32).min(32767) as i16
}

#[inline(always)]
fn map<S: Copy, D>(src: &[S], dst: &mut [D], f: impl Fn(S) -> D) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = f(s);
    }
}

/// Declares a conversion loop with a baseline body and, on x86_64, an
/// AVX2 body chosen at run time. Both compile the same scalar closure, so
/// they give identical results.
macro_rules! kernel {
    ($name:ident, $s:ty, $d:ty, $f:expr) => {
        fn $name(src: &[$s], dst: &mut [$d]) {
            #[cfg(target_arch = "x86_64")]
            {
                /// The same loop compiled for AVX2.
                ///
                /// # Safety
                /// The CPU supports AVX2.
                #[target_feature(enable = "avx2")]
                unsafe fn wide(src: &[$s], dst: &mut [$d]) {
                    map(src, dst, $f)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2, checked just above.
                    return unsafe { wide(src, dst) };
                }
            }
            map(src, dst, $f)
        }
    };
}

kernel!(i16_f32, i16, f32, |x| x as f32 * (1.0 / I16_SCALE));
kernel!(i16_i32, i16, i32, |x| (x as i32) << 16);
kernel!(i32_f32, i32, f32, |x| x as f32 * (1.0 / I32_SCALE as f32));
kernel!(i32_i16, i32, i16, i32_to_i16);
kernel!(f32_i16, f32, i16, f32_to_i16);
kernel!(f32_i32, f32, i32, |x| f64_to_i32(x as f64));
kernel!(f64_i16, f64, i16, f64_to_i16);
kernel!(f64_i32, f64, i32, f64_to_i32);
kernel!(f64_f32, f64, f32, |x| x as f32);

/// Converts `src` into `dst`, which must have the same length.
pub fn convert(src: Src<'_>, dst: Dst<'_>) -> Result<()> {
    if src.len() != dst.len() {
        return Err(Error::InvalidArgument(format!(
            "input has {} samples but output has room for {}",
            src.len(),
            dst.len()
        )));
    }
    match (src, dst) {
        (Src::I16(s), Dst::I16(d)) => d.copy_from_slice(s),
        (Src::I16(s), Dst::I32(d)) => i16_i32(s, d),
        (Src::I16(s), Dst::F32(d)) => i16_f32(s, d),
        (Src::I32(s), Dst::I16(d)) => i32_i16(s, d),
        (Src::I32(s), Dst::I32(d)) => d.copy_from_slice(s),
        (Src::I32(s), Dst::F32(d)) => i32_f32(s, d),
        (Src::F32(s), Dst::I16(d)) => f32_i16(s, d),
        (Src::F32(s), Dst::I32(d)) => f32_i32(s, d),
        (Src::F32(s), Dst::F32(d)) => d.copy_from_slice(s),
        (Src::F64(s), Dst::I16(d)) => f64_i16(s, d),
        (Src::F64(s), Dst::I32(d)) => f64_i32(s, d),
        (Src::F64(s), Dst::F32(d)) => f64_f32(s, d),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_to_i16_rounds_half_to_even_and_clips() {
        let src = [
            0.5 / 32768.0,
            1.5 / 32768.0,
            -0.5 / 32768.0,
            1.0,
            -1.0,
            2.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ];
        let mut dst = [7i16; 9];
        convert(Src::F32(&src), Dst::I16(&mut dst)).unwrap();
        assert_eq!(dst, [0, 2, 0, 32767, -32768, 32767, 0, 32767, -32768]);
    }

    #[test]
    fn i32_to_i16_rounds_half_to_even() {
        let src = [0x8000, 0x18000, 0x7FFF_FFFF, i32::MIN, -0x8000, 0x8001];
        let mut dst = [0i16; 6];
        convert(Src::I32(&src), Dst::I16(&mut dst)).unwrap();
        assert_eq!(dst, [0, 2, 32767, -32768, 0, 1]);
    }

    #[test]
    fn int_to_float_divides_by_full_scale() {
        let mut dst = [0f32; 3];
        convert(Src::I16(&[-32768, 16384, 32767]), Dst::F32(&mut dst)).unwrap();
        assert_eq!(dst, [-1.0, 0.5, 32767.0 / 32768.0]);
    }

    #[test]
    fn length_mismatch_is_an_error() {
        let mut dst = [0f32; 2];
        let err = convert(Src::I16(&[1, 2, 3]), Dst::F32(&mut dst)).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)));
    }
}
