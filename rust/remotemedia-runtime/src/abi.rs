//! Constants of the C ABI (`include/remotemedia_runtime.h`), Rust's one copy.
//!
//! Every Rust use of an ABI number takes it from here: [`crate::Status`]
//! and [`crate::resample::Quality`] take their discriminants from these,
//! the FFI layer its format codes. `tests/header_constants.rs` parses the
//! header's `#define`s and checks each value against [`ALL`] (both ways),
//! and the Python suite does the same for `remotemedia._bindings.abi`.

/// Version of the C ABI. Bump it whenever a declaration in the header
/// changes meaning; the Python bindings refuse a library whose ABI differs.
pub const RM_ABI_VERSION: u32 = 1;

pub const RM_OK: i32 = 0;
pub const RM_ERR_INVALID_ARGUMENT: i32 = 1;
pub const RM_ERR_NULL_POINTER: i32 = 2;
pub const RM_ERR_BUFFER_TOO_SMALL: i32 = 3;
pub const RM_ERR_ALLOCATION: i32 = 4;
pub const RM_ERR_STATE: i32 = 5;
pub const RM_ERR_PANIC: i32 = 99;

pub const RM_FORMAT_I16: i32 = 1;
pub const RM_FORMAT_I32: i32 = 2;
pub const RM_FORMAT_F32: i32 = 3;
pub const RM_FORMAT_F64: i32 = 4;

pub const RM_QUALITY_LOW: i32 = 0;
pub const RM_QUALITY_MEDIUM: i32 = 1;
pub const RM_QUALITY_HIGH: i32 = 2;
pub const RM_QUALITY_VERY_HIGH: i32 = 3;

pub const RM_STAGE_CONVERT: i32 = 1;
pub const RM_STAGE_DOWNMIX: i32 = 2;
pub const RM_STAGE_RESAMPLE: i32 = 3;
pub const RM_STAGE_VAD: i32 = 4;

/// Every constant above with its header name.
pub const ALL: &[(&str, i64)] = &[
    ("RM_ABI_VERSION", RM_ABI_VERSION as i64),
    ("RM_OK", RM_OK as i64),
    ("RM_ERR_INVALID_ARGUMENT", RM_ERR_INVALID_ARGUMENT as i64),
    ("RM_ERR_NULL_POINTER", RM_ERR_NULL_POINTER as i64),
    ("RM_ERR_BUFFER_TOO_SMALL", RM_ERR_BUFFER_TOO_SMALL as i64),
    ("RM_ERR_ALLOCATION", RM_ERR_ALLOCATION as i64),
    ("RM_ERR_STATE", RM_ERR_STATE as i64),
    ("RM_ERR_PANIC", RM_ERR_PANIC as i64),
    ("RM_FORMAT_I16", RM_FORMAT_I16 as i64),
    ("RM_FORMAT_I32", RM_FORMAT_I32 as i64),
    ("RM_FORMAT_F32", RM_FORMAT_F32 as i64),
    ("RM_FORMAT_F64", RM_FORMAT_F64 as i64),
    ("RM_QUALITY_LOW", RM_QUALITY_LOW as i64),
    ("RM_QUALITY_MEDIUM", RM_QUALITY_MEDIUM as i64),
    ("RM_QUALITY_HIGH", RM_QUALITY_HIGH as i64),
    ("RM_QUALITY_VERY_HIGH", RM_QUALITY_VERY_HIGH as i64),
    ("RM_STAGE_CONVERT", RM_STAGE_CONVERT as i64),
    ("RM_STAGE_DOWNMIX", RM_STAGE_DOWNMIX as i64),
    ("RM_STAGE_RESAMPLE", RM_STAGE_RESAMPLE as i64),
    ("RM_STAGE_VAD", RM_STAGE_VAD as i64),
];
