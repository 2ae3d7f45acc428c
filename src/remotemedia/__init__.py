"""remotemedia: audio pipelines whose hot kernels run in a Rust core.

The same code runs with or without the native core; only the speed
changes. See ``get_runtime_info()`` for what runs here and why.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from remotemedia._version import __version__
from remotemedia.errors import NativeKernelError, RemoteMediaError, RuntimeUnavailableError
from remotemedia.kernels.vad import VAD, speech_segments
from remotemedia.runtime import (
    get_runtime_info,
    get_rust_runtime,
    is_rust_runtime_available,
    try_load_rust_runtime,
)

__all__ = [
    "VAD",
    "NativeKernelError",
    "RemoteMediaError",
    "RuntimeUnavailableError",
    "__version__",
    "convert",
    "get_runtime_info",
    "get_rust_runtime",
    "is_rust_runtime_available",
    "speech_segments",
    "try_load_rust_runtime",
]


def convert(x: np.ndarray, to: Any) -> np.ndarray:
    """Convert PCM samples to "i16", "i32" or "f32" with the automatic kernel set.

    See :mod:`remotemedia.kernels.convert` for the rounding and clipping rules.
    """
    from remotemedia import kernels

    return kernels.get().convert(x, to)
