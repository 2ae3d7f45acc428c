//! `rm_chain_*`: native chains across the ABI. The handle is an opaque
//! box around the chain; one thread at a time may use it, and a call made
//! while another thread is inside fails with `RM_ERR_STATE` (see
//! [`Exclusive`]) instead of racing on the state. Input is
//! `channels` contiguous rows of `in_frames` samples in the chain's input
//! format; output rows are `out_frames` apart in the output format.

use super::{free_handle, guard, slice_in, slice_out, write_out, Exclusive};
use crate::abi::{RM_STAGE_CONVERT, RM_STAGE_DOWNMIX, RM_STAGE_RESAMPLE, RM_STAGE_VAD};
use crate::chain::{Chain, ChainPlane, ChainPlaneMut, ChainView, ChainViewMut, Fmt, SegmentEvent, SegmentParams, Spec};
use crate::error::Error;
use crate::resample::Quality;
use std::ffi::c_void;

/// One stage description (`rm_stage` in the header).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RmStage {
    pub kind: i32,
    pub a: i32,
    pub b: i32,
}

fn spec_of(i: usize, s: &RmStage) -> Result<Spec, Error> {
    let non_negative = |v: i32, what: &str| {
        u32::try_from(v).map_err(|_| Error::InvalidArgument(format!("stage {i}: {what} {v} is negative")))
    };
    Ok(match s.kind {
        RM_STAGE_CONVERT => Spec::Convert(Fmt::from_code(s.a)?),
        RM_STAGE_DOWNMIX => Spec::Downmix,
        RM_STAGE_RESAMPLE => Spec::Resample {
            rate: non_negative(s.a, "rate")?,
            quality: Quality::from_code(s.b)?,
        },
        RM_STAGE_VAD => Spec::Vad {
            frame_ms: non_negative(s.a, "frame_ms")?,
            aggressiveness: non_negative(s.b, "aggressiveness")?,
        },
        other => return Err(Error::InvalidArgument(format!("stage {i}: unknown stage kind {other}"))),
    })
}

/// Opaque chain (`rm_chain` in the header), claimed by every entry point.
pub struct RmChain(Exclusive<Chain>);

/// Runs `f` on the chain behind `h` (null: an error), one caller at a time.
///
/// # Safety
/// `h` is null or a live handle from `rm_chain_new`.
unsafe fn with_chain<R>(h: *mut RmChain, f: impl FnOnce(&mut Chain) -> Result<R, Error>) -> Result<R, Error> {
    // SAFETY: null or live, per this function's contract; `Exclusive` serialises the callers.
    let c = unsafe { h.as_ref() }.ok_or(Error::NullPointer("chain handle"))?;
    c.0.with("chain", f)
}

/// The caller's input rows as a view in the chain's input format.
///
/// # Safety
/// `x` is valid for `frames * channels` samples of that format during `'a`.
unsafe fn input_view<'a>(c: &Chain, x: *const c_void, frames: usize) -> Result<ChainView<'a>, Error> {
    let (fmt, ch, _) = c.input_format();
    let n = frames
        .checked_mul(ch)
        .ok_or_else(|| Error::InvalidArgument(format!("input: {frames} frames x {ch} channels overflows")))?;
    // SAFETY: `x` holds `n` samples of `fmt`, per this function's contract.
    let data = unsafe {
        match fmt {
            Fmt::I16 => ChainPlane::I16(slice_in(x.cast(), n, "input")?),
            Fmt::I32 => ChainPlane::I32(slice_in(x.cast(), n, "input")?),
            Fmt::F32 => ChainPlane::F32(slice_in(x.cast(), n, "input")?),
            Fmt::F64 => ChainPlane::F64(slice_in(x.cast(), n, "input")?),
        }
    };
    ChainView::new(data, ch, frames, frames)
}

/// The caller's output rows as a view in the chain's output format (None
/// when the chain writes no audio).
///
/// # Safety
/// `out` is valid for writing `frames * channels` samples of that format during `'a`.
unsafe fn output_view<'a>(c: &Chain, out: *mut c_void, frames: usize) -> Result<Option<ChainViewMut<'a>>, Error> {
    if !c.writes() {
        return Ok(None);
    }
    let (fmt, ch, _) = c.output_format();
    let n = frames
        .checked_mul(ch)
        .ok_or_else(|| Error::InvalidArgument(format!("out: {frames} frames x {ch} channels overflows")))?;
    // SAFETY: `out` is writable for `n` samples of `fmt`, per this function's contract.
    let data = unsafe {
        match fmt {
            Fmt::I16 => ChainPlaneMut::I16(slice_out(out.cast(), n, "out")?),
            Fmt::I32 => ChainPlaneMut::I32(slice_out(out.cast(), n, "out")?),
            Fmt::F32 => ChainPlaneMut::F32(slice_out(out.cast(), n, "out")?),
            Fmt::F64 => ChainPlaneMut::F64(slice_out(out.cast(), n, "out")?),
        }
    };
    ChainViewMut::new(data, ch, frames, frames).map(Some)
}

/// What `rm_chain_process` and `rm_chain_run` share: the caller's buffers
/// as views, `op` on them, and the sizes written back.
///
/// # Safety
/// As for those two functions: pointers valid for the given sizes, `h` a live handle.
unsafe fn block_call(
    h: *mut RmChain,
    (input, in_frames): (*const c_void, usize),
    (out, out_frames): (*mut c_void, usize),
    (flags, flags_cap): (*mut u8, usize),
    (frames, n_flags): (*mut usize, *mut usize),
    op: impl FnOnce(&mut Chain, ChainView<'_>, Option<ChainViewMut<'_>>, &mut [u8]) -> Result<(usize, usize), Error>,
) -> Result<(), Error> {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    unsafe {
        with_chain(h, |c| {
            let x = input_view(c, input, in_frames)?;
            let y = output_view(c, out, out_frames)?;
            let f = slice_out(flags, flags_cap, "flags")?;
            let (n, k) = op(c, x, y, f)?;
            write_out(frames, n, "frames")?;
            write_out(n_flags, k, "n_flags")
        })
    }
}

/// Compiles `n_stages` stages for input of `format`, `channels`, `rate`;
/// `*out` owns the chain (free it with `rm_chain_free`).
///
/// # Safety
/// `stages` must hold `n_stages` entries; `out` must be writable.
#[no_mangle]
pub unsafe extern "C" fn rm_chain_new(
    format: i32,
    channels: u32,
    rate: u32,
    stages: *const RmStage,
    n_stages: usize,
    out: *mut *mut RmChain,
) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_chain_new", || unsafe {
        let raw = slice_in(stages, n_stages, "stages")?;
        let specs = raw
            .iter()
            .enumerate()
            .map(|(i, s)| spec_of(i, s))
            .collect::<Result<Vec<_>, _>>()?;
        let c = Chain::new(Fmt::from_code(format)?, channels as usize, rate, &specs)?;
        write_out(out, Box::into_raw(Box::new(RmChain(Exclusive::new(c)))), "out")
    })
}

/// Frees a chain (null is ignored).
///
/// # Safety
/// `h` must come from `rm_chain_new` and not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn rm_chain_free(h: *mut RmChain) {
    // SAFETY: `h` came from the matching `_new` and is not used again (the contract).
    unsafe { free_handle("rm_chain_free", h) }
}

/// Output format, channels and rate; `*writes` is 0 when the output is the
/// input itself (no stage changes the audio).
///
/// # Safety
/// `h` a live handle; the out-pointers writable.
#[no_mangle]
pub unsafe extern "C" fn rm_chain_output_format(
    h: *mut RmChain,
    format: *mut i32,
    channels: *mut u32,
    rate: *mut u32,
    writes: *mut i32,
) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_chain_output_format", || unsafe {
        with_chain(h, |c| {
            let (f, ch, r) = c.output_format();
            write_out(format, f as i32, "format")?;
            write_out(channels, ch as u32, "channels")?;
            write_out(rate, r, "rate")?;
            write_out(writes, c.writes() as i32, "writes")
        })
    })
}

/// Frames per row and flags the next `rm_chain_process` of `in_frames` writes.
///
/// # Safety
/// `h` a live handle; the out-pointers writable.
#[no_mangle]
pub unsafe extern "C" fn rm_chain_output_frames(
    h: *mut RmChain,
    in_frames: usize,
    frames: *mut usize,
    flags: *mut usize,
) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_chain_output_frames", || unsafe {
        let (n, k) = with_chain(h, |c| Ok(c.output_frames(in_frames)))?;
        write_out(frames, n, "frames")?;
        write_out(flags, k, "flags")
    })
}

/// Frames per row and flags `rm_chain_run` of `in_frames` writes.
///
/// # Safety
/// `h` a live handle; the out-pointers writable.
#[no_mangle]
pub unsafe extern "C" fn rm_chain_run_frames(
    h: *mut RmChain,
    in_frames: usize,
    frames: *mut usize,
    flags: *mut usize,
) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_chain_run_frames", || unsafe {
        let (n, k) = with_chain(h, |c| Ok(c.run_frames(in_frames)))?;
        write_out(frames, n, "frames")?;
        write_out(flags, k, "flags")
    })
}

/// Pushes a block through every stage: output rows `out_frames` apart
/// (ignored when the chain does not write audio), flags into `flags`.
///
/// # Safety
/// Pointers valid for the given sizes; `h` a live handle.
#[no_mangle]
pub unsafe extern "C" fn rm_chain_process(
    h: *mut RmChain,
    input: *const c_void,
    in_frames: usize,
    out: *mut c_void,
    out_frames: usize,
    flags: *mut u8,
    flags_cap: usize,
    frames: *mut usize,
    n_flags: *mut usize,
) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_chain_process", || unsafe {
        block_call(
            h,
            (input, in_frames),
            (out, out_frames),
            (flags, flags_cap),
            (frames, n_flags),
            Chain::process,
        )
    })
}

/// A whole buffer: reset, process, flush, with the tail written after the
/// rest (`rm_chain_run_frames` gives the sizes). Leaves the chain reset.
///
/// # Safety
/// Pointers valid for the given sizes; `h` a live handle.
#[no_mangle]
pub unsafe extern "C" fn rm_chain_run(
    h: *mut RmChain,
    input: *const c_void,
    in_frames: usize,
    out: *mut c_void,
    out_frames: usize,
    flags: *mut u8,
    flags_cap: usize,
    frames: *mut usize,
    n_flags: *mut usize,
) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_chain_run", || unsafe {
        block_call(
            h,
            (input, in_frames),
            (out, out_frames),
            (flags, flags_cap),
            (frames, n_flags),
            Chain::run,
        )
    })
}

/// End of stream: runs every resampler's tail through the stages after it
/// and keeps the result for `rm_chain_take`; `*frames` and `*n_flags`
/// receive its size. The chain is reset afterwards.
///
/// # Safety
/// `h` a live handle; the out-pointers writable.
#[no_mangle]
pub unsafe extern "C" fn rm_chain_flush(h: *mut RmChain, frames: *mut usize, n_flags: *mut usize) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_chain_flush", || unsafe {
        let (n, k) = with_chain(h, |c| c.flush())?;
        write_out(frames, n, "frames")?;
        write_out(n_flags, k, "n_flags")
    })
}

/// Writes what `rm_chain_flush` kept: rows `out_frames` apart, flags.
///
/// # Safety
/// Pointers valid for the given sizes; `h` a live handle.
#[no_mangle]
pub unsafe extern "C" fn rm_chain_take(
    h: *mut RmChain,
    out: *mut c_void,
    out_frames: usize,
    flags: *mut u8,
    flags_cap: usize,
    frames: *mut usize,
    n_flags: *mut usize,
) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_chain_take", || unsafe {
        with_chain(h, |c| {
            let y = output_view(c, out, out_frames)?;
            let f = slice_out(flags, flags_cap, "flags")?;
            let (n, k) = c.take(y, f)?;
            write_out(frames, n, "frames")?;
            write_out(n_flags, k, "n_flags")
        })
    })
}

/// Back to the state of a new chain.
///
/// # Safety
/// `h` a live handle.
#[no_mangle]
pub unsafe extern "C" fn rm_chain_reset(h: *mut RmChain) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_chain_reset", || unsafe {
        with_chain(h, |c| {
            c.reset();
            Ok(())
        })
    })
}

/// Copies each stage's nanoseconds since the last call into `ns` (`n`
/// entries, at most the stage count) and zeroes them.
///
/// # Safety
/// `ns` writable for `n` entries; `h` a live handle.
#[no_mangle]
pub unsafe extern "C" fn rm_chain_stage_times(h: *mut RmChain, ns: *mut u64, n: usize) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_chain_stage_times", || unsafe {
        with_chain(h, |c| {
            let out = slice_out(ns, n, "ns")?;
            c.take_times(out);
            Ok(())
        })
    })
}

/// Test hook: the next call panics inside stage `stage` (the panic comes
/// back as `RM_ERR_PANIC`, like any kernel bug).
///
/// # Safety
/// `h` a live handle.
#[no_mangle]
pub unsafe extern "C" fn rm_chain_debug_fail(h: *mut RmChain, stage: usize) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_chain_debug_fail", || unsafe {
        with_chain(h, |c| c.debug_fail(stage))
    })
}

/// Turns on speech events for streams (see `Chain::set_segments`):
/// `params` holds 7 values, the Python `SegmentTracker.params()`: frame
/// length, padding, hangover (samples), minimum speech and closing
/// silence (frames), maximum segment and merge lengths (samples, negative:
/// none). The chain must end in a VAD stage with that frame length.
///
/// # Safety
/// `params` valid for `n` values; `h` a live handle.
#[no_mangle]
pub unsafe extern "C" fn rm_chain_set_segments(h: *mut RmChain, params: *const i64, n: usize) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_chain_set_segments", || unsafe {
        let p = SegmentParams::from_array(slice_in(params, n, "params")?)?;
        with_chain(h, |c| c.set_segments(p))
    })
}

/// Takes up to `cap` pending speech events, oldest first, into `out` as
/// pairs (kind: 1 start, 0 end; sample in the VAD's input, from the
/// stream's start); `*n` receives how many. Call again while `*n == cap`.
///
/// # Safety
/// `out` writable for `2 * cap` values; `h` a live handle; `n` writable.
#[no_mangle]
pub unsafe extern "C" fn rm_chain_events(h: *mut RmChain, out: *mut i64, cap: usize, n: *mut usize) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_chain_events", || unsafe {
        let k = with_chain(h, |c| {
            let want = c.pending_events().min(cap);
            if want == 0 {
                return Ok(0);
            }
            let pairs = cap
                .checked_mul(2)
                .ok_or(Error::InvalidArgument("cap overflows".into()))?;
            let dst = slice_out(out, pairs, "out")?;
            let mut ev = [SegmentEvent {
                start: false,
                sample: 0,
            }; 16];
            let mut done = 0;
            while done < want {
                let k = c.take_events(&mut ev[..(want - done).min(16)]);
                for (i, e) in ev[..k].iter().enumerate() {
                    dst[2 * (done + i)] = i64::from(e.start);
                    dst[2 * (done + i) + 1] = e.sample;
                }
                done += k;
                if k == 0 {
                    break;
                }
            }
            Ok(done)
        })?;
        write_out(n, k, "n")
    })
}

/// Stage timing on (`on` != 0, the default) or off: off saves a clock
/// reading per stage and block; `rm_chain_stage_times` then reports
/// nothing new.
///
/// # Safety
/// `h` a live handle.
#[no_mangle]
pub unsafe extern "C" fn rm_chain_set_timing(h: *mut RmChain, on: i32) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_chain_set_timing", || unsafe {
        with_chain(h, |c| {
            c.set_timing(on != 0);
            Ok(())
        })
    })
}

/// Threads (the calling one included) a big block's per-channel stages
/// may use: 0 (the default) one per channel up to the cores the process
/// may run on ([`Chain::set_threads`]), 1 none started, n at most n (and
/// at most one per channel). The results are the same bits for every
/// setting.
///
/// # Safety
/// `h` a live handle.
#[no_mangle]
pub unsafe extern "C" fn rm_chain_set_threads(h: *mut RmChain, threads: u32) -> i32 {
    // SAFETY: the pointers satisfy this function's `# Safety` contract.
    guard("rm_chain_set_threads", || unsafe {
        with_chain(h, |c| {
            c.set_threads(threads as usize);
            Ok(())
        })
    })
}
