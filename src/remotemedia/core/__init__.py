"""Pipeline machinery: nodes, audio buffers, graphs, execution, manifests, reliability, metrics.

The names below are imported on first access (PEP 562): importing one core
module (``remotemedia.core.audio``, say) does not load the executor,
asyncio or the registry's plug-in machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from remotemedia._lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AudioBuffer": ".audio",
        "CircuitBreakerConfig": ".retry",
        "CircuitOpenError": ".errors",
        "CycleError": ".errors",
        "GraphError": ".errors",
        "ManifestError": ".errors",
        "Node": ".node",
        "NodeError": ".errors",
        "Pipeline": ".pipeline",
        "RetryPolicy": ".retry",
        "RuntimeContradictionError": ".errors",
        "TransientError": ".errors",
        "register": ".registry",
    },
)
