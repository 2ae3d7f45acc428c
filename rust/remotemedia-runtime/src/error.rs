//! Typed errors of the kernels and their mapping onto ABI status codes.

use std::fmt;

/// Status codes returned across the C ABI. Values are part of the ABI.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    /// An argument is out of range or inconsistent (maps to `ValueError`).
    InvalidArgument = 1,
    /// A required pointer was null (maps to `ValueError`).
    NullPointer = 2,
    /// An output buffer is smaller than the result (maps to `ValueError`).
    BufferTooSmall = 3,
    /// Memory for a filter or state could not be reserved (`MemoryError`).
    Allocation = 4,
    /// A call does not fit the object's state (maps to `ValueError`).
    State = 5,
    /// A bug: a panic caught at the boundary (`NativeKernelError`).
    Panic = 99,
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
