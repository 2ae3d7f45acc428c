"""Per-run and per-node metrics.

Timing uses ``time.perf_counter_ns`` around each node call (two clock
reads and a few attribute updates per call). Peak memory is measured with
:mod:`tracemalloc` only when the pipeline is created with
``track_memory=True``: the peak of traced allocations during the node's
calls, relative to the allocation level when the call started (numpy
arrays, and so every kernel's output buffers, are traced; memory the Rust
core allocates internally is not). tracemalloc slows all Python code, so
it is off by default and ``peak_memory_bytes`` is then None. With
concurrent branches the peaks of overlapping nodes include each other's
allocations.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class NodeStats:
    """Counters of one node."""

    __slots__ = (
        "binding",
        "calls",
        "errors",
        "fallbacks",
        "max_ns",
        "min_ns",
        "node_type",
        "peak",
        "retries",
        "runtime",
        "stream",
        "total_ns",
    )

    def __init__(self, node_type: str) -> None:
        self.node_type = node_type
        self.reset()

    def reset(self) -> None:
        """Zero every counter (the entry stays, so plans holding it stay valid)."""
        self.runtime = "python"  # the runtime of the last call; kernel nodes update it
        self.binding: str | None = None
        self.calls = 0
        self.total_ns = 0
        self.min_ns = 0
        self.max_ns = 0
        self.errors = 0
        self.retries = 0
        self.fallbacks = 0
        self.peak: int | None = None
        self.stream: Any = None  # queue counters of the last Pipeline.stream() (stream.channel.QueueStats)

    def add(self, ns: int) -> None:
        """Record one successful call that took ``ns`` nanoseconds."""
        if self.calls == 0 or ns < self.min_ns:
            self.min_ns = ns
        if ns > self.max_ns:
            self.max_ns = ns
        self.calls += 1
        self.total_ns += ns

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (microseconds)."""
        n = self.calls
        out = {
            "node_type": self.node_type,
            "runtime": self.runtime,
            "binding": self.binding,
            "calls": n,
            "total_us": self.total_ns / 1e3,
            "mean_us": self.total_ns / 1e3 / n if n else 0.0,
            "min_us": self.min_ns / 1e3,
            "max_us": self.max_ns / 1e3,
            "errors": self.errors,
            "retries": self.retries,
            "fallbacks": self.fallbacks,
            "peak_memory_bytes": self.peak,
        }
        if self.stream is not None:
            out["stream"] = self.stream.as_dict()
        return out


class Metrics:
    """Metrics of one pipeline, accumulated over its runs."""

    def __init__(self, pipeline: str, track_memory: bool = False) -> None:
        self.pipeline = pipeline
        self.track_memory = track_memory
        self.runs = 0
        self.total_ns = 0
        self.last_run_ns = 0
        self.execution_order: list[str] = []
        self.nodes: dict[str, NodeStats] = {}

    def node(self, name: str, node_type: str) -> NodeStats:
        """The stats entry of a node (created on first use)."""
        stats = self.nodes.get(name)
        if stats is None:
            stats = self.nodes[name] = NodeStats(node_type)
        return stats

    def reset(self) -> None:
        """Forget every run and zero each node's counters, in place."""
        self.runs = 0
        self.total_ns = 0
        self.last_run_ns = 0
        self.execution_order = []
        for stats in self.nodes.values():
            stats.reset()

    def add_run(self, ns: int, order: list[str]) -> None:
        """Record one finished run."""
        self.runs += 1
        self.total_ns += ns
        self.last_run_ns = ns
        self.execution_order = order

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable snapshot (field names of the design, section 6)."""
        return {
            "pipeline": self.pipeline,
            "runs": self.runs,
            "total_us": self.total_ns / 1e3,
            "last_run_us": self.last_run_ns / 1e3,
            "execution_order": list(self.execution_order),
            "memory_tracking": "tracemalloc" if self.track_memory else "off",
            "nodes": {name: s.as_dict() for name, s in self.nodes.items()},
        }

    def to_json(self, path: str | Path | None = None, indent: int = 2) -> str:
        """The snapshot as JSON text; also written to ``path`` if given."""
        text = json.dumps(self.as_dict(), indent=indent)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text


class MemoryProbe:
    """tracemalloc around node calls (see the module doc).

    tracemalloc is imported where it is used, not with this module: most
    runs never track memory and should not pay for the import.
    """

    def __init__(self) -> None:
        self.started_here = False

    def start(self) -> None:
        """Start tracing unless someone else already is."""
        import tracemalloc

        if not tracemalloc.is_tracing():
            tracemalloc.start(1)
            self.started_here = True

    def stop(self) -> None:
        """Stop tracing if this probe started it."""
        import tracemalloc

        if self.started_here:
            tracemalloc.stop()
            self.started_here = False

    @staticmethod
    def begin() -> int:
        """Reset the peak; return the current traced size."""
        import tracemalloc

        tracemalloc.reset_peak()
        return tracemalloc.get_traced_memory()[0]

    @staticmethod
    def end(base: int) -> int:
        """Peak traced bytes above ``base`` since :meth:`begin`."""
        import tracemalloc

        return max(0, tracemalloc.get_traced_memory()[1] - base)
