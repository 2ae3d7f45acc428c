"""Input checks and normalisation shared by every kernel body.

Every body calls these before computing, so bad input raises the same
exception, with the same message, whichever body runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Largest channel count accepted. Real interfaces stop well below it; a
# larger first axis almost always means a (frames, channels) array.
MAX_CHANNELS = 64

FORMATS: dict[str, np.dtype[Any]] = {
    "i16": np.dtype(np.int16),
    "i32": np.dtype(np.int32),
    "f32": np.dtype(np.float32),
}
_FORMAT_ALIASES = {"int16": "i16", "int32": "i32", "float32": "f32", "s16": "i16", "s32": "i32"}
INPUT_DTYPES = (np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.float32), np.dtype(np.float64))
DTYPE_CODES = {
    np.dtype(np.int16): "i16",
    np.dtype(np.int32): "i32",
    np.dtype(np.float32): "f32",
    np.dtype(np.float64): "f64",
}


def target_format(to: Any, op: str) -> str:
    """Normalise a target format ("i16", "i32", "f32" or a dtype) to its code."""
    if to in FORMATS:
        return str(to)
    if isinstance(to, str):
        key = _FORMAT_ALIASES.get(to.lower(), to.lower())
        if key in FORMATS:
            return key
    else:
        try:
            dt = np.dtype(to)
        except TypeError:
            dt = None
        if dt is not None and dt in FORMATS.values() and dt.isnative:
            return DTYPE_CODES[dt]
    raise ValueError(f"{op}: unknown target format {to!r}; expected one of 'i16', 'i32', 'f32'")


def planar(x: Any, op: str, dtypes: tuple[np.dtype[Any], ...] = INPUT_DTYPES) -> np.ndarray:
    """Check that ``x`` is planar audio and return it C-contiguous.

    Accepts 1-D (mono) and 2-D ``(channels, frames)`` arrays of the given
    dtypes; copies only when ``x`` is not C-contiguous or not native-endian.

    Raises
    ------
    TypeError
        ``x`` is not an ndarray, or its dtype is not accepted.
    ValueError
        Wrong number of dimensions, or an array that looks like
        ``(frames, channels)``.
    """
    if type(x) is np.ndarray and x.ndim == 1 and x.dtype in dtypes and x.flags.c_contiguous:
        return x  # the common case, checked cheaply
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: expected a numpy array, got {type(x).__name__}")
    if x.dtype.newbyteorder("=") not in dtypes:
        names = ", ".join(d.name for d in dtypes)
        raise TypeError(f"{op}: unsupported dtype {x.dtype}; expected one of {names}")
    if x.ndim not in (1, 2):
        raise ValueError(f"{op}: expected 1-D (mono) or 2-D (channels, frames) audio, got {x.ndim}-D shape {x.shape}")
    if x.ndim == 2 and x.shape[0] > MAX_CHANNELS:
        hint = " It looks like (frames, channels): pass x.T." if x.shape[1] <= MAX_CHANNELS else ""
        raise ValueError(
            f"{op}: 2-D audio must be (channels, frames) with at most {MAX_CHANNELS} channels, "
            f"got shape {x.shape}.{hint}"
        )
    if not x.dtype.isnative:
        x = x.astype(x.dtype.newbyteorder("="))
    return np.ascontiguousarray(x)
