//! `rm_convert`: PCM conversion across the ABI.

use super::{guard, slice_in, slice_out};
use crate::abi::{RM_FORMAT_F32, RM_FORMAT_F64, RM_FORMAT_I16, RM_FORMAT_I32};
use crate::convert::{convert, Dst, Src};
use crate::error::Error;
use std::ffi::c_void;

/// Converts `n` samples from `src` (format `src_format`) into `dst`
/// (format `dst_format`). Formats are the `RM_FORMAT_*` codes.
///
/// # Safety
/// `src` and `dst` must point to at least `n` samples of their formats.
#[no_mangle]
pub unsafe extern "C" fn rm_convert(
    src: *const c_void,
    src_format: i32,
    dst: *mut c_void,
    dst_format: i32,
    n: usize,
) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_convert", || unsafe {
        let s = match src_format {
            RM_FORMAT_I16 => Src::I16(slice_in(src.cast(), n, "src")?),
            RM_FORMAT_I32 => Src::I32(slice_in(src.cast(), n, "src")?),
            RM_FORMAT_F32 => Src::F32(slice_in(src.cast(), n, "src")?),
            RM_FORMAT_F64 => Src::F64(slice_in(src.cast(), n, "src")?),
            other => return Err(Error::InvalidArgument(format!("unknown source format code {other}"))),
        };
        let d = match dst_format {
            RM_FORMAT_I16 => Dst::I16(slice_out(dst.cast(), n, "dst")?),
            RM_FORMAT_I32 => Dst::I32(slice_out(dst.cast(), n, "dst")?),
            RM_FORMAT_F32 => Dst::F32(slice_out(dst.cast(), n, "dst")?),
            other => return Err(Error::InvalidArgument(format!("unknown target format code {other}"))),
        };
        convert(s, d)
    })
}
