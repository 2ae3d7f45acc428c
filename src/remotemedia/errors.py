"""Exception classes shared by every layer of remotemedia.

The mapping from the C ABI's status codes to these lives with the bindings
(``remotemedia._bindings.status``).
"""

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
