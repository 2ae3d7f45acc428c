//! `rm_flac_decode`: a whole FLAC stream in memory to planar samples.

use super::{guard, slice_in, slice_out};
use crate::abi::{RM_FORMAT_I16, RM_FORMAT_I32};
use crate::error::Error;
use crate::flac;
use std::ffi::c_void;

/// Decodes the FLAC stream `data[..len]` (`channels` channels, `frames`
/// frames) into `out` (`out_len` samples of `format`, I16 or I32) in blocks
/// of `block_frames` frames, each planar. See the header.
///
/// # Safety
/// `data` points to `len` readable bytes and `out` to `out_len` writable
/// samples of `format`, not overlapping, for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn rm_flac_decode(
    data: *const u8,
    len: usize,
    channels: u32,
    frames: u64,
    block_frames: usize,
    out: *mut c_void,
    format: i32,
    out_len: usize,
) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_flac_decode", || unsafe {
        let bytes = slice_in(data, len, "data")?;
        let ch = channels as usize;
        match format {
            RM_FORMAT_I16 => {
                flac::decode::<i16>(bytes, ch, frames, block_frames, slice_out(out.cast(), out_len, "out")?)
            }
            RM_FORMAT_I32 => {
                flac::decode::<i32>(bytes, ch, frames, block_frames, slice_out(out.cast(), out_len, "out")?)
            }
            other => {
                return Err(Error::InvalidArgument(format!(
                    "FLAC output format code {other}: I16 or I32"
                )))
            }
        }
        .map(|_| ())
    })
}
