//! Typed errors of the kernels and their mapping onto ABI status codes.

use crate::abi;
use std::fmt;

/// Status codes returned across the C ABI (values from [`crate::abi`]).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok = abi::RM_OK,
    /// An argument is out of range or inconsistent (maps to `ValueError`).
    InvalidArgument = abi::RM_ERR_INVALID_ARGUMENT,
    /// A required pointer was null (maps to `ValueError`).
    NullPointer = abi::RM_ERR_NULL_POINTER,
    /// An output buffer is smaller than the result (maps to `ValueError`).
    BufferTooSmall = abi::RM_ERR_BUFFER_TOO_SMALL,
    /// Memory for a filter or state could not be reserved (`MemoryError`).
    Allocation = abi::RM_ERR_ALLOCATION,
    /// A call does not fit the object's state (maps to `ValueError`).
    State = abi::RM_ERR_STATE,
    /// A bug: a panic caught at the boundary (`NativeKernelError`).
    Panic = abi::RM_ERR_PANIC,
}

/// An error raised by a kernel, with the values that explain it.
#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    InvalidArgument(String),
    NullPointer(&'static str),
    BufferTooSmall { needed: usize, given: usize },
    Allocation { bytes: usize },
    State(String),
}

impl Error {
    pub fn status(&self) -> Status {
        match self {
            Error::InvalidArgument(_) => Status::InvalidArgument,
            Error::NullPointer(_) => Status::NullPointer,
            Error::BufferTooSmall { .. } => Status::BufferTooSmall,
            Error::Allocation { .. } => Status::Allocation,
            Error::State(_) => Status::State,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidArgument(msg) => write!(f, "invalid argument: {msg}"),
            Error::NullPointer(what) => write!(f, "null pointer passed for {what}"),
            Error::BufferTooSmall { needed, given } => {
                write!(f, "output buffer too small: needs {needed} elements, got {given}")
            }
            Error::Allocation { bytes } => write!(f, "could not allocate {bytes} bytes"),
            Error::State(msg) => write!(f, "invalid state: {msg}"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
