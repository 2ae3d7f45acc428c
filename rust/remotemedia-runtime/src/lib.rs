//! # remotemedia-runtime
//!
//! The native core of remotemedia: audio kernels (PCM conversion,
//! resampling, voice activity detection) behind a plain C ABI declared in
//! `include/remotemedia_runtime.h`. Python reaches it through a Cython
//! extension that links this crate as a staticlib, or through ctypes and
//! the cdylib. The crate has no dependencies outside `std`.
//!
//! Error model: every exported function returns an `int32_t` status
//! (`RM_OK` = 0). On failure a message for the calling thread is kept and
//! returned by `rm_last_error()`. A panic inside a kernel is caught at the
//! boundary and reported as `RM_ERR_PANIC`; it never unwinds into C.
//!
//! Unsafe code: every `unsafe fn` states its contract under `# Safety`,
//! every `unsafe` block says why the contract holds (`// SAFETY:`), and an
//! unsafe operation inside an `unsafe fn` still needs its own block. SIMD
//! paths are reached only through a [`cpu::Avx2Fma`] token.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod abi;
pub mod chain;
pub mod convert;
pub mod cpu;
pub mod error;
mod ffi;
pub mod flac;
pub mod resample;
pub mod vad;

pub use error::{Error, Status};

/// Version of the C ABI ([`abi::RM_ABI_VERSION`]).
pub const ABI_VERSION: u32 = abi::RM_ABI_VERSION;
