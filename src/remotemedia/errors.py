"""Exception classes shared by every layer of remotemedia."""

from __future__ import annotations


class RemoteMediaError(Exception):
    """Base class of the errors remotemedia raises on its own account."""


class RuntimeUnavailableError(RemoteMediaError, ImportError):
    """A runtime that was asked for (by env var or hint) cannot be loaded."""


class NativeKernelError(RemoteMediaError, RuntimeError):
    """The native core failed internally (a bug, e.g. a caught Rust panic).

    Never raised for bad input: input is validated before any kernel runs,
    identically for every body. Pipelines re-run the failing step in Python
    when they see this error.
    """


class ConcurrentUseError(RemoteMediaError, RuntimeError):
    """A stateful kernel object (Resampler, VAD) was entered from a second thread.

    One object serves one call at a time, on every body: a call that finds
    another thread inside raises this instead of corrupting the stream
    state. Use one object per thread, or serialise the calls with a lock.
    """


# Status codes of the C ABI (include/remotemedia_runtime.h).
RM_OK = 0
RM_ERR_INVALID_ARGUMENT = 1
RM_ERR_NULL_POINTER = 2
RM_ERR_BUFFER_TOO_SMALL = 3
RM_ERR_ALLOCATION = 4
RM_ERR_STATE = 5
RM_ERR_PANIC = 99


def raise_for_status(status: int, message: str) -> None:
    """Raise the Python exception that maps to an ABI status code.

    Both bindings call this, so a status means the same exception whichever
    binding produced it.
    """
    if status == RM_OK:
        return
    if status in (RM_ERR_INVALID_ARGUMENT, RM_ERR_NULL_POINTER, RM_ERR_BUFFER_TOO_SMALL, RM_ERR_STATE):
        raise ValueError(message)
    if status == RM_ERR_ALLOCATION:
        raise MemoryError(message)
    raise NativeKernelError(message or f"native call failed with status {status}")
