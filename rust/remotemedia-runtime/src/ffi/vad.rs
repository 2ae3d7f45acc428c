//! `rm_vad_*`: the voice activity detector across the ABI. The handle is
//! an opaque `Box<Vad>`; one handle is used from one thread at a time.

use super::{free_handle, guard, slice_in, slice_out, write_out};
use crate::abi::{RM_FORMAT_F32, RM_FORMAT_F64, RM_FORMAT_I16};
use crate::error::Error;
use crate::vad::{Samples, Vad};
use std::ffi::c_void;

/// The detector behind a handle.
///
/// # Safety
/// `h` is null or a live handle from `rm_vad_new` that no other thread
/// uses meanwhile; `'a` ends within the exported call.
unsafe fn handle<'a>(h: *mut Vad) -> Result<&'a mut Vad, Error> {
    // SAFETY: null or live and unshared, per this function's contract.
    unsafe { h.as_mut() }.ok_or(Error::NullPointer("vad handle"))
}

/// Creates a detector; see `Vad::new`. On success `*out` owns it: free it
/// with `rm_vad_free`.
///
/// # Safety
/// `out` must be a valid pointer to write a handle to.
#[no_mangle]
pub unsafe extern "C" fn rm_vad_new(sample_rate: u32, frame_ms: u32, aggressiveness: u32, out: *mut *mut Vad) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_vad_new", || unsafe {
        let v = Vad::new(sample_rate, frame_ms, aggressiveness)?;
        write_out(out, Box::into_raw(Box::new(v)), "out")
    })
}

/// Frees a detector (null is allowed and ignored).
///
/// # Safety
/// `h` must come from `rm_vad_new` and not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn rm_vad_free(h: *mut Vad) {
    // SAFETY: `h` came from the matching `_new` and is not used again (the contract).
    unsafe { free_handle("rm_vad_free", h) }
}

/// Forgets the stream state (buffered samples, noise estimates, hangover).
///
/// # Safety
/// `h` must be a live handle.
#[no_mangle]
pub unsafe extern "C" fn rm_vad_reset(h: *mut Vad) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_vad_reset", || unsafe {
        handle(h)?.reset();
        Ok(())
    })
}

/// Input samples per frame (`*out`).
///
/// # Safety
/// `h` must be a live handle, `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rm_vad_frame_length(h: *mut Vad, out: *mut usize) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_vad_frame_length", || unsafe {
        write_out(out, handle(h)?.frame_len(), "out")
    })
}

/// Samples buffered, waiting for the rest of their frame (`*out`).
///
/// # Safety
/// `h` must be a live handle, `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rm_vad_buffered(h: *mut Vad, out: *mut usize) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_vad_buffered", || unsafe {
        write_out(out, handle(h)?.buffered(), "out")
    })
}

/// Feeds `n` samples of `format` (RM_FORMAT_I16, F32 or F64); writes one
/// flag per completed frame into `flags` (capacity `cap`, at least
/// `(buffered + n) / frame_length`) and their count into `*n_flags`.
///
/// # Safety
/// `x` must hold `n` samples of `format`, `flags` `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn rm_vad_process(
    h: *mut Vad,
    x: *const c_void,
    format: i32,
    n: usize,
    flags: *mut u8,
    cap: usize,
    n_flags: *mut usize,
) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_vad_process", || unsafe {
        let v = handle(h)?;
        let s = match format {
            RM_FORMAT_I16 => Samples::I16(slice_in(x.cast(), n, "x")?),
            RM_FORMAT_F32 => Samples::F32(slice_in(x.cast(), n, "x")?),
            RM_FORMAT_F64 => Samples::F64(slice_in(x.cast(), n, "x")?),
            other => {
                return Err(Error::InvalidArgument(format!(
                    "VAD input format code {other} is not i16, f32 or f64"
                )))
            }
        };
        let out = slice_out(flags, cap, "flags")?;
        let k = v.process(s, out)?;
        write_out(n_flags, k, "n_flags")
    })
}
