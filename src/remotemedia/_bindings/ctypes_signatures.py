"""ctypes signatures of every function in include/remotemedia_runtime.h.

Kept apart from ``ctypes_binding`` so tests can compare it with the header
even where the library is absent.
"""

from __future__ import annotations

import ctypes as c
from typing import Any

_SIZE_P = c.POINTER(c.c_size_t)

# name -> (restype, argtypes)
SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "rm_abi_version": (c.c_uint32, []),
    "rm_version": (c.c_char_p, []),
    "rm_cpu_features": (c.c_char_p, []),
    "rm_last_error": (c.c_char_p, []),
    "rm_debug_panic": (c.c_int32, []),
    "rm_convert": (c.c_int32, [c.c_void_p, c.c_int32, c.c_void_p, c.c_int32, c.c_size_t]),
    # resampler
    "rm_resampler_new": (c.c_int32, [c.c_uint32, c.c_uint32, c.c_uint32, c.c_int32, c.POINTER(c.c_void_p)]),
    "rm_resampler_new_variable": (
        c.c_int32,
        [c.c_uint32, c.c_uint32, c.c_uint32, c.c_int32, c.POINTER(c.c_void_p)],
    ),
    "rm_resampler_new_ratio": (c.c_int32, [c.c_double, c.c_uint32, c.c_int32, c.POINTER(c.c_void_p)]),
    "rm_resampler_set_ratio": (c.c_int32, [c.c_void_p, c.c_double, c.c_uint64]),
    "rm_resampler_free": (None, [c.c_void_p]),
    "rm_resampler_output_frames": (c.c_int32, [c.c_void_p, c.c_size_t, _SIZE_P]),
    "rm_resampler_flush_frames": (c.c_int32, [c.c_void_p, _SIZE_P]),
    "rm_resampler_delay": (c.c_int32, [c.c_void_p, _SIZE_P]),
    "rm_resampler_process": (
        c.c_int32,
        [c.c_void_p, c.c_void_p, c.c_size_t, c.c_void_p, c.c_size_t, c.c_size_t, _SIZE_P],
    ),
    "rm_resampler_flush": (c.c_int32, [c.c_void_p, c.c_void_p, c.c_size_t, c.c_size_t, _SIZE_P]),
    "rm_resampler_reset": (c.c_int32, [c.c_void_p]),
    "rm_resample": (
        c.c_int32,
        [c.c_uint32, c.c_uint32, c.c_int32, c.c_uint32, c.c_void_p, c.c_size_t, c.c_void_p, c.c_size_t],
    ),
    # voice activity detection
    "rm_vad_new": (c.c_int32, [c.c_uint32, c.c_uint32, c.c_uint32, c.POINTER(c.c_void_p)]),
    "rm_vad_free": (None, [c.c_void_p]),
    "rm_vad_reset": (c.c_int32, [c.c_void_p]),
    "rm_vad_frame_length": (c.c_int32, [c.c_void_p, _SIZE_P]),
    "rm_vad_buffered": (c.c_int32, [c.c_void_p, _SIZE_P]),
    "rm_vad_process": (c.c_int32, [c.c_void_p, c.c_void_p, c.c_int32, c.c_size_t, c.c_void_p, c.c_size_t, _SIZE_P]),
    "rm_vad_process_scores": (
        c.c_int32,
        [c.c_void_p, c.c_void_p, c.c_int32, c.c_size_t, c.c_void_p, c.c_void_p, c.c_size_t, _SIZE_P],
    ),
    "rm_vad_set_decision": (c.c_int32, [c.c_void_p, c.c_uint32, c.c_uint32, c.c_uint32]),
    # native chains
    "rm_chain_new": (
        c.c_int32,
        [c.c_int32, c.c_uint32, c.c_uint32, c.c_void_p, c.c_size_t, c.POINTER(c.c_void_p)],
    ),
    "rm_chain_free": (None, [c.c_void_p]),
    "rm_chain_output_format": (
        c.c_int32,
        [c.c_void_p, c.POINTER(c.c_int32), c.POINTER(c.c_uint32), c.POINTER(c.c_uint32), c.POINTER(c.c_int32)],
    ),
    "rm_chain_output_frames": (c.c_int32, [c.c_void_p, c.c_size_t, _SIZE_P, _SIZE_P]),
    "rm_chain_run_frames": (c.c_int32, [c.c_void_p, c.c_size_t, _SIZE_P, _SIZE_P]),
    "rm_chain_process": (
        c.c_int32,
        [c.c_void_p, c.c_void_p, c.c_size_t, c.c_void_p, c.c_size_t, c.c_void_p, c.c_size_t, _SIZE_P, _SIZE_P],
    ),
    "rm_chain_run": (
        c.c_int32,
        [c.c_void_p, c.c_void_p, c.c_size_t, c.c_void_p, c.c_size_t, c.c_void_p, c.c_size_t, _SIZE_P, _SIZE_P],
    ),
    "rm_chain_flush": (c.c_int32, [c.c_void_p, _SIZE_P, _SIZE_P]),
    "rm_chain_take": (c.c_int32, [c.c_void_p, c.c_void_p, c.c_size_t, c.c_void_p, c.c_size_t, _SIZE_P, _SIZE_P]),
    "rm_chain_reset": (c.c_int32, [c.c_void_p]),
    "rm_chain_stage_times": (c.c_int32, [c.c_void_p, c.POINTER(c.c_uint64), c.c_size_t]),
    "rm_chain_debug_fail": (c.c_int32, [c.c_void_p, c.c_size_t]),
    "rm_chain_set_segments": (c.c_int32, [c.c_void_p, c.POINTER(c.c_int64), c.c_size_t]),
    "rm_chain_events": (c.c_int32, [c.c_void_p, c.POINTER(c.c_int64), c.c_size_t, _SIZE_P]),
    "rm_chain_set_timing": (c.c_int32, [c.c_void_p, c.c_int32]),
    "rm_chain_set_threads": (c.c_int32, [c.c_void_p, c.c_uint32]),
    # FLAC decoding
    "rm_flac_decode": (
        c.c_int32,
        [c.c_void_p, c.c_size_t, c.c_uint32, c.c_uint64, c.c_size_t, c.c_void_p, c.c_int32, c.c_size_t],
    ),
}


class RmStage(c.Structure):
    """``rm_stage``: one stage description."""

    _fields_ = [("kind", c.c_int32), ("a", c.c_int32), ("b", c.c_int32)]


def declare(lib: c.CDLL) -> None:
    """Set restype and argtypes of every ABI function on a loaded library."""
    for name, (restype, argtypes) in SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
