"""Rust-core body (either binding) of PCM conversion: one binding call per array, no copies."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from remotemedia.kernels._validate import DTYPE_CODES, FORMATS


def make_convert_flat(binding: ModuleType) -> Callable[[np.ndarray, str], np.ndarray]:
    """Bind the per-(source, target) native functions once."""
    table: dict[tuple[Any, str], Any] = {
        (dt, to): getattr(binding, f"convert_{code}_{to}") for dt, code in DTYPE_CODES.items() for to in FORMATS
    }
    empty = np.empty

    def convert_flat(x: np.ndarray, to: str) -> np.ndarray:
        out = empty(x.shape, FORMATS[to])
        if x.ndim == 1:
            table[x.dtype, to](x, out)
        else:
            table[x.dtype, to](x.reshape(-1), out.reshape(-1))
        return out

    return convert_flat
