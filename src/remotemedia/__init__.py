"""remotemedia: audio pipelines whose hot kernels run in a Rust core.

The same code runs with or without the native core; only the speed
changes. See ``get_runtime_info()`` for what runs here and why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remotemedia._lazy import lazy_exports
from remotemedia._version import __version__

if TYPE_CHECKING:
    import numpy as np

    from remotemedia.core import (
        AudioBuffer,
        CircuitBreakerConfig,
        Node,
        NodeError,
        Pipeline,
        RetryPolicy,
        TransientError,
    )
    from remotemedia.core.registry import register as register_node
    from remotemedia.errors import ConcurrentUseError, NativeKernelError, RemoteMediaError, RuntimeUnavailableError
    from remotemedia.kernels.resample import Resampler
    from remotemedia.kernels.vad import VAD, speech_segments
    from remotemedia.runtime import (
        get_runtime_info,
        get_rust_runtime,
        is_rust_runtime_available,
        try_load_rust_runtime,
    )

__all__ = [
    "VAD",
    "AudioBuffer",
    "CircuitBreakerConfig",
    "ConcurrentUseError",
    "NativeKernelError",
    "Node",
    "NodeError",
    "Pipeline",
    "RemoteMediaError",
    "Resampler",
    "RetryPolicy",
    "RuntimeUnavailableError",
    "TransientError",
    "__version__",
    "convert",
    "get_runtime_info",
    "get_rust_runtime",
    "is_rust_runtime_available",
    "register_node",
    "resample",
    "speech_segments",
    "try_load_rust_runtime",
]

# Public names imported on first use (PEP 562), so that `import remotemedia`
# (and the `remotemedia` command's start-up) loads only what is asked for;
# the subpackages are reachable as attributes without an explicit import
# (as they were when the package imported them eagerly).
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AudioBuffer": ".core.audio",
        "CircuitBreakerConfig": ".core.retry",
        "Node": ".core.node",
        "NodeError": ".core.errors",
        "Pipeline": ".core.pipeline",
        "RetryPolicy": ".core.retry",
        "TransientError": ".core.errors",
        "register_node": ".core.registry:register",
        "ConcurrentUseError": ".errors",
        "NativeKernelError": ".errors",
        "RemoteMediaError": ".errors",
        "RuntimeUnavailableError": ".errors",
        "Resampler": ".kernels.resample",
        "VAD": ".kernels.vad",
        "speech_segments": ".kernels.vad",
        "get_runtime_info": ".runtime",
        "get_rust_runtime": ".runtime",
        "is_rust_runtime_available": ".runtime",
        "try_load_rust_runtime": ".runtime",
        **{
            name: f".{name}" for name in ("batch", "core", "errors", "kernels", "nodes", "runtime", "stream", "testing")
        },
    },
)


def convert(x: np.ndarray, to: Any) -> np.ndarray:
    """Convert PCM samples to "i16", "i32" or "f32" with the automatic kernel set.

    See :mod:`remotemedia.kernels.convert` for the rounding and clipping rules.
    """
    from remotemedia import kernels

    return kernels.get().convert(x, to)


def resample(x: np.ndarray, in_rate: int, out_rate: int, quality: str | None = None) -> np.ndarray:
    """Resample ``x`` from ``in_rate`` to ``out_rate`` Hz with the automatic kernel set.

    ``quality`` None is the default preset (``kernels.resample.DEFAULT_QUALITY``,
    "high"). See :mod:`remotemedia.kernels.resample` for the presets and rules.
    """
    from remotemedia import kernels
    from remotemedia.kernels.resample import DEFAULT_QUALITY

    return kernels.get().resample(x, in_rate, out_rate, DEFAULT_QUALITY if quality is None else quality)
