# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Cython binding of the remotemedia C ABI (include/remotemedia_runtime.h).

Module ``remotemedia._bindings.cython_binding``; it links the Rust
staticlib. Low level on purpose: arguments are already validated and
contiguous; the functions take typed memoryviews (no copy), release the
GIL around every native call and turn a status code into an exception
(``_bindings.status``). The ctypes binding (``ctypes_binding.py``) exports
the same names with the same signatures. Declarations of the header are in
``cython_abi.pxd``; one ``cython_<kernel>.pxi`` per kernel is included
below.
"""

from libc.stdint cimport int16_t, int32_t, uint8_t, uint32_t, uint64_t
from remotemedia._bindings.cython_abi cimport *

from remotemedia._bindings.status import raise_for_status

BINDING = "cython"


cdef int _fail(int32_t status) except -1:
    raise_for_status(status, rm_last_error().decode("utf-8", "replace"))
    return -1


def abi_version():
    return rm_abi_version()


def version():
    return rm_version().decode()


def cpu_features():
    return rm_cpu_features().decode()


def debug_panic():
    cdef int32_t st
    with nogil:
        st = rm_debug_panic()
    if st != RM_OK:
        _fail(st)


include "cython_convert.pxi"
include "cython_resample.pxi"
include "cython_vad.pxi"
include "cython_chain.pxi"
include "cython_chain_push.pxi"
include "cython_flac.pxi"
