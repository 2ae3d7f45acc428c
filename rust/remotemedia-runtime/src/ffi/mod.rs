//! The C ABI. Every `extern "C"` function lives under this module, runs its
//! body inside [`guard`], and returns a status code. Nothing here computes:
//! it checks pointers, builds slices and calls the safe kernels.

mod chain;
mod convert;
mod exclusive;
mod flac;
mod resample;
mod vad;

use crate::error::{Error, Status};
use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

pub(crate) use exclusive::Exclusive;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    static PANIC_MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

static QUIET_PANIC_HOOK: Once = Once::new();

/// Replaces the default hook (which prints to stderr) with one that keeps
/// the message for `rm_last_error`: a caught panic is reported once, as a
/// Python exception, instead of as noise on the terminal.
fn install_panic_hook() {
    QUIET_PANIC_HOOK.call_once(|| {
        panic::set_hook(Box::new(|info| {
            let payload = info.payload();
            let msg = if let Some(s) = payload.downcast_ref::<&str>() {
                (*s).to_string()
            } else if let Some(s) = payload.downcast_ref::<String>() {
                s.clone()
            } else {
                "unknown panic payload".to_string()
            };
            let location = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            PANIC_MESSAGE.with(|m| *m.borrow_mut() = Some(format!("{msg}{location}")));
        }));
    });
}

fn set_last_error(message: String) {
    let c = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Runs an ABI body: maps `Err` to its status and a message, and a panic
/// to `RM_ERR_PANIC`. `func` names the entry point in the message.
pub(crate) fn guard<F>(func: &str, body: F) -> i32
where
    F: FnOnce() -> Result<(), Error>,
{
    install_panic_hook();
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => Status::Ok as i32,
        Ok(Err(err)) => {
            set_last_error(format!("{func}: {err}"));
            err.status() as i32
        }
        Err(_) => {
            let detail = PANIC_MESSAGE
                .with(|m| m.borrow_mut().take())
                .unwrap_or_else(|| "no message".to_string());
            set_last_error(format!("{func}: internal error (Rust panic): {detail}"));
            Status::Panic as i32
        }
    }
}

/// Builds a shared slice from a C pointer; a null pointer is only allowed
/// for an empty slice.
///
/// # Safety
/// Unless null, `ptr` points to `len` initialised values of `T` that
/// nothing writes while the slice lives. The caller chooses `'a`: it must
/// end before the exported function that received `ptr` returns (the C
/// caller only lends the buffer for the call), so never store the slice.
pub(crate) unsafe fn slice_in<'a, T>(ptr: *const T, len: usize, what: &'static str) -> Result<&'a [T], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Error::NullPointer(what));
    }
    // SAFETY: non-null, and valid for `len` reads for `'a` by this function's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Builds a mutable slice from a C pointer; see [`slice_in`].
///
/// # Safety
/// Unless null, `ptr` points to `len` values of `T` that nothing else
/// reads or writes while the slice lives; `'a` ends within the exported
/// call, as for [`slice_in`].
pub(crate) unsafe fn slice_out<'a, T>(ptr: *mut T, len: usize, what: &'static str) -> Result<&'a mut [T], Error> {
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(Error::NullPointer(what));
    }
    // SAFETY: non-null, valid and exclusive for `len` values for `'a` by this function's contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// Frees a handle made by `Box::into_raw` (null is ignored), inside
/// [`guard`]: a free has nothing to report, but a panic must not unwind into C.
///
/// # Safety
/// `h` is null or came from `Box::<T>::into_raw`, was not freed before and
/// is not used afterwards.
pub(crate) unsafe fn free_handle<T>(func: &str, h: *mut T) {
    let _ = guard(func, || {
        if !h.is_null() {
            // SAFETY: `h` owns a live `Box<T>` per this function's contract.
            drop(unsafe { Box::from_raw(h) });
        }
        Ok(())
    });
}

/// Writes a value through an out-pointer that must not be null.
///
/// # Safety
/// Unless null, `ptr` is valid and aligned for one write of `T` (the old
/// value is not dropped).
pub(crate) unsafe fn write_out<T>(ptr: *mut T, value: T, what: &'static str) -> Result<(), Error> {
    if ptr.is_null() {
        return Err(Error::NullPointer(what));
    }
    // SAFETY: non-null and writable per this function's contract.
    unsafe { ptr.write(value) };
    Ok(())
}

/// The ABI version this library implements (`RM_ABI_VERSION`).
#[no_mangle]
pub extern "C" fn rm_abi_version() -> u32 {
    crate::ABI_VERSION
}

/// The crate version, a static NUL-terminated string.
#[no_mangle]
pub extern "C" fn rm_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Comma-separated instruction sets the kernels use on this CPU.
#[no_mangle]
pub extern "C" fn rm_cpu_features() -> *const c_char {
    crate::cpu::features().as_ptr()
}

/// The message of the last failed call on this thread ("" if none). The
/// pointer stays valid until the next failing call on the same thread.
#[no_mangle]
pub extern "C" fn rm_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Test hook: panics on purpose so tests can prove a panic comes back as
/// `RM_ERR_PANIC` and the process lives on. Harmless to call.
#[no_mangle]
pub extern "C" fn rm_debug_panic() -> i32 {
    guard("rm_debug_panic", || -> Result<(), Error> {
        panic!("deliberate panic requested by rm_debug_panic")
    })
}
