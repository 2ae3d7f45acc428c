"""Helpers for testing nodes: ``run_node`` runs one node the way a pipeline does."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from remotemedia.core.node import Node
from remotemedia.core.pipeline import Pipeline


def run_node(node: Node, data: Any, use_rust: bool = True, sample_rate: int | None = None) -> Any:
    """Run ``node`` once inside a one-node pipeline and return its output.

    Goes through the real machinery (runtime selection, native -> Python
    re-run, retries, error wrapping), so a node test needs no pipeline
    boilerplate.

    Parameters
    ----------
    node : Node
        The node under test.
    data : Any
        Its input; a bare ndarray is paired with ``sample_rate``.
    use_rust : bool
        As in :meth:`Pipeline.run`.
    sample_rate : int, optional
        Sample rate (Hz) for a bare ndarray ``data``.

    Raises
    ------
    NodeError
        Whatever the node raised, wrapped as a pipeline would.
    """
    if isinstance(data, np.ndarray):
        if sample_rate is None:
            raise TypeError("run_node: a bare ndarray needs sample_rate=")
        data = (data, sample_rate)
    pipeline = Pipeline(f"test:{node.name}").add_node(node)
    return pipeline.run_sync(data, use_rust=use_rust)


async def run_node_async(node: Node, data: Any, use_rust: bool = True) -> Any:
    """:func:`run_node` for async tests (no sample_rate shortcut)."""
    pipeline = Pipeline(f"test:{node.name}").add_node(node)
    async with pipeline:
        return await pipeline.run(data, use_rust=use_rust)


def run_sync(coro: Any) -> Any:
    """Run a coroutine to completion (small convenience for scripts and tests)."""
    return asyncio.run(coro)
