"""ctypes signatures of every function in include/remotemedia_runtime.h.

Kept apart from the binding so tests can compare it with the header even
where the library is absent.
"""

from __future__ import annotations

import ctypes as c
from typing import Any

# name -> (restype, argtypes)
SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "rm_abi_version": (c.c_uint32, []),
    "rm_version": (c.c_char_p, []),
    "rm_cpu_features": (c.c_char_p, []),
    "rm_last_error": (c.c_char_p, []),
    "rm_debug_panic": (c.c_int32, []),
    "rm_convert": (c.c_int32, [c.c_void_p, c.c_int32, c.c_void_p, c.c_int32, c.c_size_t]),
}


def declare(lib: c.CDLL) -> None:
    """Set restype and argtypes of every ABI function on a loaded library."""
    for name, (restype, argtypes) in SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
