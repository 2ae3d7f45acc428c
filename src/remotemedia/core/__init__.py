"""Pipeline machinery: nodes, audio buffers, graphs, execution, manifests, reliability, metrics.

The names below are imported on first access (PEP 562): importing one core
module (``remotemedia.core.audio``, say) does not load the executor,
asyncio or the registry's plug-in machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from remotemedia.core.audio import AudioBuffer
    from remotemedia.core.errors import (
        CircuitOpenError,
        CycleError,
        GraphError,
        ManifestError,
        NodeError,
        RuntimeContradictionError,
        TransientError,
    )
    from remotemedia.core.node import Node
    from remotemedia.core.pipeline import Pipeline
    from remotemedia.core.registry import register
    from remotemedia.core.retry import CircuitBreakerConfig, RetryPolicy

__all__ = [
    "AudioBuffer",
    "CircuitBreakerConfig",
    "CircuitOpenError",
    "CycleError",
    "GraphError",
    "ManifestError",
    "Node",
    "NodeError",
    "Pipeline",
    "RetryPolicy",
    "RuntimeContradictionError",
    "TransientError",
    "register",
]

_HOME = {
    "AudioBuffer": "audio",
    "CircuitBreakerConfig": "retry",
    "CircuitOpenError": "errors",
    "CycleError": "errors",
    "GraphError": "errors",
    "ManifestError": "errors",
    "Node": "node",
    "NodeError": "errors",
    "Pipeline": "pipeline",
    "RetryPolicy": "retry",
    "RuntimeContradictionError": "errors",
    "TransientError": "errors",
    "register": "registry",
}


def __getattr__(name: str) -> Any:
    """Import a public name on first access and keep it."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'remotemedia.core' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"remotemedia.core.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
