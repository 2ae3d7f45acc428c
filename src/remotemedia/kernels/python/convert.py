"""numpy body of PCM conversion; the rules are in remotemedia.kernels.convert."""

from __future__ import annotations

import numpy as np

from remotemedia.kernels._validate import FORMATS


def _float_to_int(v: np.ndarray, lo: float, hi: float, dtype: type) -> np.ndarray:
    np.clip(v, lo, hi, out=v)
    np.rint(v, out=v)
    v[np.isnan(v)] = 0
    return v.astype(dtype)


def convert_flat(x: np.ndarray, to: str) -> np.ndarray:
    """Convert validated, C-contiguous samples to the target format code.

    Values beyond a format's range saturate silently, as in the native
    core: no overflow RuntimeWarning (which ``-W error`` would turn into an
    exception on this body alone).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return _convert(x, to)


def _convert(x: np.ndarray, to: str) -> np.ndarray:
    src = x.dtype
    if src == FORMATS[to]:
        return x.copy()
    if to == "f32":
        if src == np.int16:
            return x.astype(np.float32) * np.float32(1.0 / 32768.0)
        if src == np.int32:
            return x.astype(np.float32) * np.float32(2.0**-31)
        return x.astype(np.float32)
    if to == "i16":
        if src == np.int32:
            return _float_to_int(x / 65536.0, -32768.0, 32767.0, np.int16)
        work = np.float32 if src == np.float32 else np.float64
        return _float_to_int(x.astype(work) * work(32768.0), -32768.0, 32767.0, np.int16)
    # to == "i32"
    if src == np.int16:
        return x.astype(np.int32) << 16
    return _float_to_int(x.astype(np.float64) * 2.0**31, -(2.0**31), 2.0**31 - 1, np.int32)
