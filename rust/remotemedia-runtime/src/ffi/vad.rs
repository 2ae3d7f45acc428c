//! `rm_vad_*`: the voice activity detector across the ABI. The handle is
//! an opaque box around the detector; one thread at a time may use it, and
//! a call made while another thread is inside fails with `RM_ERR_STATE`
//! (see [`Exclusive`]) instead of racing on the state.

use super::{free_handle, guard, slice_in, slice_out, write_out, Exclusive};
use crate::abi::{RM_FORMAT_F32, RM_FORMAT_F64, RM_FORMAT_I16, RM_FORMAT_I32};
use crate::error::Error;
use crate::vad::{Samples, Vad};
use std::ffi::c_void;

/// Opaque detector (`rm_vad` in the header).
pub struct RmVad(Exclusive<Vad>);

/// Runs `f` on the detector behind `h` (null: an error), one caller at a time.
///
/// # Safety
/// `h` is null or a live handle from the matching `_new`.
unsafe fn with_handle<R>(h: *mut RmVad, f: impl FnOnce(&mut Vad) -> Result<R, Error>) -> Result<R, Error> {
    // SAFETY: null or live, per this function\'s contract; `Exclusive` serialises the callers.
    let v = unsafe { h.as_ref() }.ok_or(Error::NullPointer("vad handle"))?;
    v.0.with("VAD", f)
}

/// Creates a detector; see `Vad::new`. On success `*out` owns it: free it
/// with `rm_vad_free`.
///
/// # Safety
/// `out` must be a valid pointer to write a handle to.
#[no_mangle]
pub unsafe extern "C" fn rm_vad_new(sample_rate: u32, frame_ms: u32, aggressiveness: u32, out: *mut *mut RmVad) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_vad_new", || unsafe {
        let v = Vad::new(sample_rate, frame_ms, aggressiveness)?;
        write_out(out, Box::into_raw(Box::new(RmVad(Exclusive::new(v)))), "out")
    })
}

/// Frees a detector (null is allowed and ignored).
///
/// # Safety
/// `h` must come from `rm_vad_new` and not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn rm_vad_free(h: *mut RmVad) {
    // SAFETY: `h` came from the matching `_new` and is not used again (the contract).
    unsafe { free_handle("rm_vad_free", h) }
}

/// Forgets the stream state (buffered samples, noise estimates, hangover).
///
/// # Safety
/// `h` must be a live handle.
#[no_mangle]
pub unsafe extern "C" fn rm_vad_reset(h: *mut RmVad) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_vad_reset", || unsafe {
        with_handle(h, |v| {
            v.reset();
            Ok(())
        })
    })
}

/// Input samples per frame (`*out`).
///
/// # Safety
/// `h` must be a live handle, `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rm_vad_frame_length(h: *mut RmVad, out: *mut usize) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_vad_frame_length", || unsafe {
        let n = with_handle(h, |v| Ok(v.frame_len()))?;
        write_out(out, n, "out")
    })
}

/// Samples buffered, waiting for the rest of their frame (`*out`).
///
/// # Safety
/// `h` must be a live handle, `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rm_vad_buffered(h: *mut RmVad, out: *mut usize) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_vad_buffered", || unsafe {
        let n = with_handle(h, |v| Ok(v.buffered()))?;
        write_out(out, n, "out")
    })
}

/// The caller's samples as a typed slice.
///
/// # Safety
/// `x` holds `n` samples of `format` for `'a`.
unsafe fn samples<'a>(x: *const c_void, format: i32, n: usize) -> Result<Samples<'a>, Error> {
    // SAFETY: `x` holds `n` samples of `format`, per this function's contract.
    Ok(unsafe {
        match format {
            RM_FORMAT_I16 => Samples::I16(slice_in(x.cast(), n, "x")?),
            RM_FORMAT_I32 => Samples::I32(slice_in(x.cast(), n, "x")?),
            RM_FORMAT_F32 => Samples::F32(slice_in(x.cast(), n, "x")?),
            RM_FORMAT_F64 => Samples::F64(slice_in(x.cast(), n, "x")?),
            other => {
                return Err(Error::InvalidArgument(format!(
                    "VAD input format code {other} is not i16, i32, f32 or f64"
                )))
            }
        }
    })
}

/// Sets the decision rule (see `Vad::set_decision`): thresholds in score
/// units (probability x 32768), hangover in ms.
///
/// # Safety
/// `h` must be a live handle.
#[no_mangle]
pub unsafe extern "C" fn rm_vad_set_decision(h: *mut RmVad, threshold: u32, release: u32, hangover_ms: u32) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_vad_set_decision", || unsafe {
        with_handle(h, |v| {
            v.set_decision(threshold, release, hangover_ms);
            Ok(())
        })
    })
}

/// Feeds `n` samples of `format` (RM_FORMAT_I16, I32, F32 or F64); writes
/// one flag per completed frame into `flags` (capacity `cap`, at least
/// `(buffered + n) / frame_length`) and their count into `*n_flags`.
///
/// # Safety
/// `x` must hold `n` samples of `format`, `flags` `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn rm_vad_process(
    h: *mut RmVad,
    x: *const c_void,
    format: i32,
    n: usize,
    flags: *mut u8,
    cap: usize,
    n_flags: *mut usize,
) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_vad_process", || unsafe {
        let s = samples(x, format, n)?;
        let out = slice_out(flags, cap, "flags")?;
        let k = with_handle(h, |v| v.process(s, out))?;
        write_out(n_flags, k, "n_flags")
    })
}

/// As `rm_vad_process`, and writes each frame's score (speech probability
/// in [0, 1]) into `scores` (capacity `cap` too).
///
/// # Safety
/// `x` must hold `n` samples of `format`, `flags` `cap` bytes, `scores`
/// `cap` floats.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn rm_vad_process_scores(
    h: *mut RmVad,
    x: *const c_void,
    format: i32,
    n: usize,
    flags: *mut u8,
    scores: *mut f32,
    cap: usize,
    n_flags: *mut usize,
) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_vad_process_scores", || unsafe {
        let s = samples(x, format, n)?;
        let out = slice_out(flags, cap, "flags")?;
        let sc = slice_out(scores, cap, "scores")?;
        let k = with_handle(h, |v| v.process_scores(s, out, Some(sc)))?;
        write_out(n_flags, k, "n_flags")
    })
}
