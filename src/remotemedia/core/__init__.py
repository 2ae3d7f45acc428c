"""Pipeline machinery: nodes, audio buffers, graphs, execution, manifests, reliability, metrics."""

from __future__ import annotations

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
