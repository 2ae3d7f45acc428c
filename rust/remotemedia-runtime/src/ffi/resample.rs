//! Resampler across the ABI: an opaque handle for streaming, and a
//! one-shot call. Output goes into caller-provided buffers whose size the
//! caller gets from `rm_resampler_output_frames` / `rm_resampler_flush_frames`.

use super::{free_handle, guard, slice_in, slice_out, write_out, Exclusive};
use crate::error::Error;
use crate::resample::{self, Quality, Resampler};

/// Opaque streaming resampler (`rm_resampler` in the header). Every entry
/// point claims it (see [`Exclusive`]): a call made while another thread is
/// inside fails with `RM_ERR_STATE` instead of racing on the state.
pub struct RmResampler(Exclusive<Resampler>);

/// Runs `f` on the resampler behind `h` (null: an error), one caller at a time.
///
/// # Safety
/// `h` is null or a live handle from the matching `_new`.
unsafe fn with_handle<R>(
    h: *const RmResampler,
    f: impl FnOnce(&mut Resampler) -> Result<R, Error>,
) -> Result<R, Error> {
    // SAFETY: null or live, per this function\'s contract; `Exclusive` serialises the callers.
    let r = unsafe { h.as_ref() }.ok_or(Error::NullPointer("resampler handle"))?;
    r.0.with("resampler", f)
}

/// `frames * channels` samples, or an error when that overflows `usize`.
fn samples(frames: usize, channels: usize, what: &str) -> Result<usize, Error> {
    frames
        .checked_mul(channels)
        .ok_or_else(|| Error::InvalidArgument(format!("{what}: {frames} frames x {channels} channels overflows")))
}

/// The constructors' shared body: the quality code checked, `make` run,
/// the new handle written to `*out`.
///
/// # Safety
/// `out` must be a valid pointer to a handle slot.
unsafe fn new_handle(
    quality: i32,
    out: *mut *mut RmResampler,
    make: impl FnOnce(Quality) -> Result<Resampler, Error>,
) -> Result<(), Error> {
    let r = make(Quality::from_code(quality)?)?;
    // SAFETY: `out` is writable, per this function's contract.
    unsafe { write_out(out, Box::into_raw(Box::new(RmResampler(Exclusive::new(r)))), "out") }
}

/// Creates a resampler; `*out` receives the handle (free it with
/// `rm_resampler_free`).
///
/// # Safety
/// `out` must be a valid pointer to a handle slot.
#[no_mangle]
pub unsafe extern "C" fn rm_resampler_new(
    in_rate: u32,
    out_rate: u32,
    channels: u32,
    quality: i32,
    out: *mut *mut RmResampler,
) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_resampler_new", || unsafe {
        new_handle(quality, out, |q| {
            Resampler::new(in_rate, out_rate, channels as usize, q)
        })
    })
}

/// Creates a resampler whose ratio may change later
/// (`rm_resampler_set_ratio`): integer rates on the interpolated-phase
/// kernel, equal rates included.
///
/// # Safety
/// `out` must be a valid pointer to a handle slot.
#[no_mangle]
pub unsafe extern "C" fn rm_resampler_new_variable(
    in_rate: u32,
    out_rate: u32,
    channels: u32,
    quality: i32,
    out: *mut *mut RmResampler,
) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_resampler_new_variable", || unsafe {
        new_handle(quality, out, |q| {
            Resampler::variable(in_rate, out_rate, channels as usize, q)
        })
    })
}

/// Creates a resampler for a non-integer ratio `out / in` (1/256..256);
/// its ratio may change later.
///
/// # Safety
/// `out` must be a valid pointer to a handle slot.
#[no_mangle]
pub unsafe extern "C" fn rm_resampler_new_ratio(
    ratio: f64,
    channels: u32,
    quality: i32,
    out: *mut *mut RmResampler,
) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_resampler_new_ratio", || unsafe {
        new_handle(quality, out, |q| Resampler::from_ratio(ratio, channels as usize, q))
    })
}

/// Sets a new ratio `out / in` from the next output on, reached linearly
/// over `ramp_frames` output frames (0: at once). Only for handles from
/// `rm_resampler_new_variable` / `rm_resampler_new_ratio` (else
/// `RM_ERR_STATE`), within 5% of the ratio they were made for.
///
/// # Safety
/// `h` a live handle.
#[no_mangle]
pub unsafe extern "C" fn rm_resampler_set_ratio(h: *mut RmResampler, ratio: f64, ramp_frames: u64) -> i32 {
    // SAFETY: `h` is a live handle, per this function's `# Safety` contract.
    guard("rm_resampler_set_ratio", || unsafe {
        with_handle(h, |r| r.set_ratio(ratio, ramp_frames))
    })
}

/// Frees a handle from `rm_resampler_new` (null is ignored).
///
/// # Safety
/// `h` must come from `rm_resampler_new` and not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn rm_resampler_free(h: *mut RmResampler) {
    // SAFETY: `h` came from the matching `_new` and is not used again (the contract).
    unsafe { free_handle("rm_resampler_free", h) }
}

/// Frames per channel the next `rm_resampler_process` of `in_frames` frames
/// writes.
///
/// # Safety
/// `h` a live handle; `out_frames` a valid pointer.
#[no_mangle]
pub unsafe extern "C" fn rm_resampler_output_frames(
    h: *const RmResampler,
    in_frames: usize,
    out_frames: *mut usize,
) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_resampler_output_frames", || unsafe {
        let n = with_handle(h, |r| Ok(r.output_frames(in_frames)))?;
        write_out(out_frames, n, "out_frames")
    })
}

/// Frames per channel `rm_resampler_flush` writes now.
///
/// # Safety
/// `h` a live handle; `out_frames` a valid pointer.
#[no_mangle]
pub unsafe extern "C" fn rm_resampler_flush_frames(h: *const RmResampler, out_frames: *mut usize) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_resampler_flush_frames", || unsafe {
        let n = with_handle(h, |r| Ok(r.flush_frames()))?;
        write_out(out_frames, n, "out_frames")
    })
}

/// Input frames whose output is still pending.
///
/// # Safety
/// `h` a live handle; `frames` a valid pointer.
#[no_mangle]
pub unsafe extern "C" fn rm_resampler_delay(h: *const RmResampler, frames: *mut usize) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_resampler_delay", || unsafe {
        let n = with_handle(h, |r| Ok(r.delay()))?;
        write_out(frames, n, "frames")
    })
}

/// Resamples `in_frames` frames per channel of planar float32 input
/// (`channels` rows of `in_frames`) into `out` (row `c` at `c * out_stride`,
/// `out_len` floats in all). `*out_frames` receives the frames written per
/// channel.
///
/// # Safety
/// Pointers valid for the given lengths; `h` a live handle.
#[no_mangle]
pub unsafe extern "C" fn rm_resampler_process(
    h: *mut RmResampler,
    input: *const f32,
    in_frames: usize,
    out: *mut f32,
    out_len: usize,
    out_stride: usize,
    out_frames: *mut usize,
) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_resampler_process", || unsafe {
        let n = with_handle(h, |r| {
            let x = slice_in(input, samples(in_frames, r.channels(), "input")?, "input")?;
            let y = slice_out(out, out_len, "out")?;
            r.process(x, in_frames, y, out_stride)
        })?;
        write_out(out_frames, n, "out_frames")
    })
}

/// Writes the remaining output (input assumed silent after the end) and
/// resets the resampler. Layout as in `rm_resampler_process`.
///
/// # Safety
/// Pointers valid for the given lengths; `h` a live handle.
#[no_mangle]
pub unsafe extern "C" fn rm_resampler_flush(
    h: *mut RmResampler,
    out: *mut f32,
    out_len: usize,
    out_stride: usize,
    out_frames: *mut usize,
) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_resampler_flush", || unsafe {
        let n = with_handle(h, |r| {
            let y = slice_out(out, out_len, "out")?;
            r.flush(y, out_stride)
        })?;
        write_out(out_frames, n, "out_frames")
    })
}

/// Clears the history, as if newly created.
///
/// # Safety
/// `h` a live handle.
#[no_mangle]
pub unsafe extern "C" fn rm_resampler_reset(h: *mut RmResampler) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_resampler_reset", || unsafe {
        with_handle(h, |r| {
            r.reset();
            Ok(())
        })
    })
}

/// One-shot: `channels x in_frames` planar float32 in, `channels x
/// out_frames` out, where `out_frames` must equal
/// `ceil(in_frames * out_rate / in_rate)`.
///
/// # Safety
/// Pointers valid for the given lengths.
#[no_mangle]
pub unsafe extern "C" fn rm_resample(
    in_rate: u32,
    out_rate: u32,
    quality: i32,
    channels: u32,
    input: *const f32,
    in_frames: usize,
    out: *mut f32,
    out_frames: usize,
) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_resample", || unsafe {
        let q = Quality::from_code(quality)?;
        // Rates first: the frame count below divides by in_rate, and bad
        // input must come back as an error, never as a (caught) panic.
        resample::check_rates(in_rate, out_rate)?;
        let ch = channels as usize;
        let x = slice_in(input, samples(in_frames, ch, "input")?, "input")?;
        let y = slice_out(out, samples(out_frames, ch, "out")?, "out")?;
        let want = resample::one_shot_frames(in_rate, out_rate, in_frames);
        if out_frames != want {
            return Err(Error::InvalidArgument(format!(
                "out_frames is {out_frames}, the result has {want}"
            )));
        }
        resample::resample(in_rate, out_rate, q, ch, x, in_frames, y).map(|_| ())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Status;

    #[test]
    fn zero_rates_are_invalid_arguments_not_panics() {
        let x = [0.0f32; 4];
        let mut y = [0.0f32; 4];
        for (i, o) in [(0, 16000), (16000, 0), (0, 0)] {
            // SAFETY: both buffers hold 4 floats, 1 channel.
            let st = unsafe { rm_resample(i, o, 2, 1, x.as_ptr(), 4, y.as_mut_ptr(), 4) };
            assert_eq!(st, Status::InvalidArgument as i32, "rates {i} -> {o}");
        }
    }

    #[test]
    fn overflowing_frame_counts_are_invalid_arguments() {
        let x = [0.0f32; 4];
        let mut y = [0.0f32; 4];
        // SAFETY: the sizes overflow and are refused before any pointer is read.
        let st = unsafe { rm_resample(48000, 16000, 2, 64, x.as_ptr(), usize::MAX / 2, y.as_mut_ptr(), 4) };
        assert_eq!(st, Status::InvalidArgument as i32);
    }
}
