"""remotemedia: audio pipelines whose hot kernels run in a Rust core.

The same code runs with or without the native core; only the speed
changes. See ``get_runtime_info()`` for what runs here and why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
# (and the `remotemedia` command's start-up) loads only what is asked for:
# name -> (module, attribute in it).
_LAZY = {
    "AudioBuffer": ("remotemedia.core.audio", "AudioBuffer"),
    "CircuitBreakerConfig": ("remotemedia.core.retry", "CircuitBreakerConfig"),
    "Node": ("remotemedia.core.node", "Node"),
    "NodeError": ("remotemedia.core.errors", "NodeError"),
    "Pipeline": ("remotemedia.core.pipeline", "Pipeline"),
    "RetryPolicy": ("remotemedia.core.retry", "RetryPolicy"),
    "TransientError": ("remotemedia.core.errors", "TransientError"),
    "register_node": ("remotemedia.core.registry", "register"),
    "ConcurrentUseError": ("remotemedia.errors", "ConcurrentUseError"),
    "NativeKernelError": ("remotemedia.errors", "NativeKernelError"),
    "RemoteMediaError": ("remotemedia.errors", "RemoteMediaError"),
    "RuntimeUnavailableError": ("remotemedia.errors", "RuntimeUnavailableError"),
    "Resampler": ("remotemedia.kernels.resample", "Resampler"),
    "VAD": ("remotemedia.kernels.vad", "VAD"),
    "speech_segments": ("remotemedia.kernels.vad", "speech_segments"),
    "get_runtime_info": ("remotemedia.runtime", "get_runtime_info"),
    "get_rust_runtime": ("remotemedia.runtime", "get_rust_runtime"),
    "is_rust_runtime_available": ("remotemedia.runtime", "is_rust_runtime_available"),
    "try_load_rust_runtime": ("remotemedia.runtime", "try_load_rust_runtime"),
}

# Subpackages reachable as attributes without an explicit import (as they
# were when the package imported them eagerly).
_SUBPACKAGES = frozenset({"batch", "core", "errors", "kernels", "nodes", "runtime", "stream", "testing"})


def __getattr__(name: str) -> Any:
    """Import a public name (or a subpackage) on first access and keep it."""
    from importlib import import_module

    target = _LAZY.get(name)
    if target is not None:
        value = getattr(import_module(target[0]), target[1])
    elif name in _SUBPACKAGES:
        value = import_module(f"remotemedia.{name}")
    else:
        raise AttributeError(f"module 'remotemedia' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
