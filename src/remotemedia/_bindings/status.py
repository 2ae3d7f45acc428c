"""ABI status code -> Python exception, shared by both bindings.

Both bindings call :func:`raise_for_status`, so a status means the same
exception whichever binding produced it. The exception classes themselves
are public and live in :mod:`remotemedia.errors`.
"""

from __future__ import annotations

from remotemedia._bindings.abi import (
    RM_ERR_ALLOCATION,
    RM_ERR_BUFFER_TOO_SMALL,
    RM_ERR_INVALID_ARGUMENT,
    RM_ERR_NULL_POINTER,
    RM_ERR_STATE,
    RM_OK,
)
from remotemedia.errors import NativeKernelError

# Bad input that slipped past validation: the same exception Python raises.
_VALUE_ERRORS = frozenset({RM_ERR_INVALID_ARGUMENT, RM_ERR_NULL_POINTER, RM_ERR_BUFFER_TOO_SMALL, RM_ERR_STATE})


def raise_for_status(status: int, message: str) -> None:
    """Raise the Python exception that maps to an ABI status code (nothing for RM_OK).

    ``RM_ERR_INVALID_ARGUMENT``, ``_NULL_POINTER``, ``_BUFFER_TOO_SMALL`` and
    ``_STATE`` raise ValueError; ``RM_ERR_ALLOCATION`` MemoryError; anything
    else (``RM_ERR_PANIC``, unknown codes) :class:`remotemedia.NativeKernelError`.
    """
    if status == RM_OK:
        return
    if status in _VALUE_ERRORS:
        raise ValueError(message)
    if status == RM_ERR_ALLOCATION:
        raise MemoryError(message)
    raise NativeKernelError(message or f"native call failed with status {status}")
