//! `rm_vad_*`: the voice activity detector across the ABI. The handle is
//! an opaque `Box<Vad>`; one handle is used from one thread at a time.

use super::{free_handle, guard, slice_in, slice_out, write_out};
use crate::error::Error;
use crate::vad::{Samples, Vad};
use std::ffi::c_void;

const RM_FORMAT_I16: i32 = 1;
const RM_FORMAT_I32: i32 = 2;
const RM_FORMAT_F32: i32 = 3;
const RM_FORMAT_F64: i32 = 4;

unsafe fn handle<'a>(h: *mut Vad) -> Result<&'a mut Vad, Error> {
    h.as_mut().ok_or(Error::NullPointer("vad handle"))
}

/// Creates a detector; see `Vad::new`. On success `*out` owns it: free it
/// with `rm_vad_free`.
///
/// # Safety
/// `out` must be a valid pointer to write a handle to.
#[no_mangle]
pub unsafe extern "C" fn rm_vad_new(sample_rate: u32, frame_ms: u32, aggressiveness: u32, out: *mut *mut Vad) -> i32 {
    guard("rm_vad_new", || {
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
    free_handle("rm_vad_free", h)
}

/// Forgets the stream state (buffered samples, noise estimates, hangover).
///
/// # Safety
/// `h` must be a live handle.
#[no_mangle]
pub unsafe extern "C" fn rm_vad_reset(h: *mut Vad) -> i32 {
    guard("rm_vad_reset", || {
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
    guard("rm_vad_frame_length", || write_out(out, handle(h)?.frame_len(), "out"))
}

/// Samples buffered, waiting for the rest of their frame (`*out`).
///
/// # Safety
/// `h` must be a live handle, `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rm_vad_buffered(h: *mut Vad, out: *mut usize) -> i32 {
    guard("rm_vad_buffered", || write_out(out, handle(h)?.buffered(), "out"))
}

unsafe fn samples<'a>(x: *const c_void, format: i32, n: usize) -> Result<Samples<'a>, Error> {
    Ok(match format {
        RM_FORMAT_I16 => Samples::I16(slice_in(x.cast(), n, "x")?),
        RM_FORMAT_I32 => Samples::I32(slice_in(x.cast(), n, "x")?),
        RM_FORMAT_F32 => Samples::F32(slice_in(x.cast(), n, "x")?),
        RM_FORMAT_F64 => Samples::F64(slice_in(x.cast(), n, "x")?),
        other => {
            return Err(Error::InvalidArgument(format!(
                "VAD input format code {other} is not i16, i32, f32 or f64"
            )))
        }
    })
}

/// Sets the decision rule (see `Vad::set_decision`): thresholds in score
/// units (probability x 32768), hangover in ms.
///
/// # Safety
/// `h` must be a live handle.
#[no_mangle]
pub unsafe extern "C" fn rm_vad_set_decision(h: *mut Vad, threshold: u32, release: u32, hangover_ms: u32) -> i32 {
    guard("rm_vad_set_decision", || {
        handle(h)?.set_decision(threshold, release, hangover_ms);
        Ok(())
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
    h: *mut Vad,
    x: *const c_void,
    format: i32,
    n: usize,
    flags: *mut u8,
    cap: usize,
    n_flags: *mut usize,
) -> i32 {
    guard("rm_vad_process", || {
        let v = handle(h)?;
        let s = samples(x, format, n)?;
        let out = slice_out(flags, cap, "flags")?;
        let k = v.process(s, out)?;
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
    h: *mut Vad,
    x: *const c_void,
    format: i32,
    n: usize,
    flags: *mut u8,
    scores: *mut f32,
    cap: usize,
    n_flags: *mut usize,
) -> i32 {
    guard("rm_vad_process_scores", || {
        let v = handle(h)?;
        let s = samples(x, format, n)?;
        let out = slice_out(flags, cap, "flags")?;
        let sc = slice_out(scores, cap, "scores")?;
        let k = v.process_scores(s, out, Some(sc))?;
        write_out(n_flags, k, "n_flags")
    })
}
