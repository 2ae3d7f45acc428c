"""Errors raised by nodes and pipelines.

Every error a running pipeline raises to the user is a :class:`NodeError`
(or a subclass): it names the pipeline, the node id and type, the
operation, the number of attempts, and chains the original exception as
``__cause__``. Input errors keep their builtin type too
(:class:`NodeValueError` is a ``ValueError``), so ``except ValueError``
works the same whether a kernel is called directly or through a pipeline.
"""

from __future__ import annotations

from typing import Any

from remotemedia.errors import RemoteMediaError


class TransientError(RemoteMediaError):
    """Raise this (or a subclass) in a node to ask the pipeline for a retry.

    Every other exception is permanent: it is never retried.
    """


class GraphError(RemoteMediaError, ValueError):
    """The pipeline's graph is invalid (unknown or duplicate id, dangling link...)."""


class CycleError(GraphError):
    """The graph has a cycle; ``cycle`` lists the node ids on it, in order."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = list(cycle)
        path = " -> ".join([*cycle, cycle[0]])
        super().__init__(f"pipeline graph has a cycle: {path}; remove one of these connections")


class ManifestError(RemoteMediaError, ValueError):
    """A manifest is invalid; ``field`` points at the offending entry (e.g. ``nodes[1].params``)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.detail = message
        super().__init__(f"invalid manifest at {field}: {message}")


class RuntimeContradictionError(RemoteMediaError, ValueError):
    """A node hinted ``runtime_hint="rust"`` inside a ``run(use_rust=False)``."""


class CircuitOpenError(RemoteMediaError):
    """A node's circuit breaker is open: the call failed fast without running."""


class NodeError(RemoteMediaError):
    """A node failed while the pipeline ran it.

    Attributes
    ----------
    pipeline, node_id, node_type, operation : str
        Where it happened ("process", "initialize", "cleanup").
    attempts : int
        How many times the operation was tried (1 + retries; 0 when an open
        circuit breaker refused the call).
    The original exception is ``__cause__``.
    """

    def __init__(
        self, pipeline: str, node_id: str, node_type: str, operation: str, attempts: int, cause: BaseException
    ) -> None:
        self.pipeline = pipeline
        self.node_id = node_id
        self.node_type = node_type
        self.operation = operation
        self.attempts = attempts
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        if attempts == 0:
            tries = "0 attempts (not called)"
        super().__init__(
            f"pipeline {pipeline!r}: node {node_id!r} ({node_type}) failed in {operation} after {tries}: "
            f"{type(cause).__name__}: {cause}"
        )


class NodeValueError(NodeError, ValueError):
    """A node rejected its input or configuration (a ``ValueError``; never retried)."""


class NodeTypeError(NodeError, TypeError):
    """A node got input of the wrong type (a ``TypeError``; never retried)."""


class NodeCircuitOpenError(NodeError, CircuitOpenError):
    """The node's circuit breaker is open; the node was not called."""


def node_error(
    pipeline: str, node_id: str, node_type: str, operation: str, attempts: int, cause: BaseException
) -> NodeError:
    """Build the NodeError subclass matching ``cause`` (chain it with ``raise ... from cause``)."""
    cls: Any = NodeError
    if isinstance(cause, CircuitOpenError):
        cls = NodeCircuitOpenError
    elif isinstance(cause, ValueError):
        cls = NodeValueError
    elif isinstance(cause, TypeError):
        cls = NodeTypeError
    return cls(pipeline, node_id, node_type, operation, attempts, cause)
