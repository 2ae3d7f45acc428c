"""What every stream shares: bound stages, error reports, time stamps, collect().

A stream binds each node once when it opens: the kernel set chosen for
its runtime hint, its per-stream state (``open_state``) and its bound
``process_chunk`` / ``flush`` methods. Nothing is planned or looked up per
chunk afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from remotemedia.core import log
from remotemedia.core.audio import AudioBuffer
from remotemedia.core.chunks import collect, join_outputs
from remotemedia.core.errors import NodeError, node_error
from remotemedia.core.graph import Topology
from remotemedia.core.metrics import NodeStats

__all__ = [
    "START_S",
    "START_SAMPLE",
    "Position",
    "Stage",
    "Stamper",
    "close_stage",
    "close_stages",
    "collect",
    "join_outputs",
    "open_stages",
    "stream_error",
]


#: Metadata keys of the stream time stamps on every output chunk.
START_SAMPLE = "start_sample"
START_S = "start_s"


class Stage:
    """One node bound into one stream."""

    __slots__ = ("closed", "fn", "kernels", "name", "node", "node_type", "preds", "state", "stats", "succs")

    def __init__(self, node: Any, name: str, kernels: Any, stats: NodeStats | None, topo: Topology) -> None:
        self.node = node
        self.name = name
        self.node_type = node.type_name()
        self.kernels = kernels
        self.stats = stats
        self.preds = topo.preds[name]
        self.succs = topo.succs[name]
        self.state: Any = None
        self.closed = False
        self.fn = node.process_chunk  # bound once

    def flush(self) -> Any:
        """The node's end-of-stream output (or None)."""
        return self.node.flush(self.state, self.kernels)

    def close(self) -> BaseException | None:
        """Release the stream state once (later calls do nothing); return (not raise) what failed."""
        if self.closed:
            return None
        self.closed = True
        try:
            self.node.close_state(self.state, self.kernels)
        except Exception as exc:
            return exc
        return None


@dataclass
class Position:
    """Where a stream is: chunks taken in and source samples (for error messages)."""

    chunks: int = 0
    samples: int = 0
    rate: int = 0

    def advance(self, chunk: Any) -> None:
        """Count one input chunk (AudioBuffer or (ndarray, rate))."""
        self.chunks += 1
        if isinstance(chunk, AudioBuffer):
            self.samples += chunk.data.shape[-1]
            self.rate = chunk.sample_rate
        elif isinstance(chunk, (tuple, list)) and len(chunk) == 2 and isinstance(chunk[0], np.ndarray):
            self.samples += chunk[0].shape[-1] if chunk[0].ndim else 0
            self.rate = int(chunk[1]) if isinstance(chunk[1], (int, np.integer)) else self.rate

    def describe(self, chunk: int | None, sample: int | None = None) -> str:
        """``stream chunk 3 (input sample 1440, 0.030 s)`` or ``end of stream (...)``.

        ``sample``: the chunk's first input sample (default: the samples counted so far).
        """
        n = self.samples if sample is None else sample
        at = f"input sample {n}"
        if self.rate:
            at += f", {n / self.rate:.3f} s"
        if chunk is None:
            return f"end of stream (after {self.chunks} chunks, {at})"
        return f"stream chunk {chunk} ({at})"


def open_stages(pipeline: Any, use_rust: bool) -> tuple[Topology, list[Stage]]:
    """Plan once and bind every node with a fresh state, in topological order.

    Raises
    ------
    NodeError
        A node's ``open_state`` failed (states opened so far are closed).
    GraphError, RuntimeContradictionError, RuntimeUnavailableError
        From planning, before any state exists.
    """
    from remotemedia.stream.chained import ChainStage

    plan = pipeline.plan(use_rust)
    topo = plan.topology
    stages: list[Any] = []
    subs: list[Stage] = []
    chain = None
    for name in topo.order:
        p = plan.nodes[name]
        st = Stage(p.node, name, p.kernels, p.stats, topo)
        try:
            st.state = p.node.open_state(p.kernels)
        except Exception as exc:
            close_stages(stages + subs)
            raise node_error(pipeline.name, name, st.node_type, "open_state", 1, exc) from exc
        if chain is None:
            chain = plan.chains.get(name)
        if chain is None:
            stages.append(st)
            continue
        subs.append(st)
        if len(subs) == len(chain.names):
            stages.append(ChainStage(chain, subs))
            subs, chain = [], None
    if len(stages) == len(topo.order):
        return topo, stages
    # Chains stand for several nodes: the stages' own graph (order kept whole for the metrics).
    preds = {st.name: st.preds for st in stages}
    fused = Topology(
        order=topo.order,
        preds=preds,
        succs={st.name: st.succs for st in stages},
        sources=tuple(n for n, ps in preds.items() if not ps),
        sinks=topo.sinks,
        chain=topo.chain,
    )
    return fused, stages


def close_stages(stages: list[Stage]) -> None:
    """Close every stage's state; all are attempted.

    A failing ``close_state`` is logged (WARNING on ``remotemedia.pipeline``)
    rather than raised: closing runs in ``finally`` blocks, where raising
    would hide the error that ended the stream.
    """
    for st in stages:
        close_stage(st)


def close_stage(st: Stage) -> None:
    """Close one stage's state (idempotent); a failure is logged as in :func:`close_stages`."""
    exc = st.close()
    if exc is not None:
        log.logger().warning("node %r (%s): close_state failed: %s: %s", st.name, st.node_type, type(exc).__name__, exc)


def stream_error(pipeline: str, st: Stage, operation: str, where: str, exc: BaseException) -> NodeError:
    """A NodeError naming the node, the operation and the stream position.

    The position is also on the error as ``stream_position`` (text) so
    handlers can log it; the original exception is the cause.
    """
    st = getattr(st, "blame", None) or st  # a chain stage names the node that failed
    err = node_error(pipeline, st.name, st.node_type, f"{operation} at {where}", 1, exc)
    err.stream_position = where  # type: ignore[attr-defined]
    err.__cause__ = exc
    return err


class Stamper:
    """Adds ``start_sample`` / ``start_s`` to the output chunks of one sink.

    Times are in the output's own timeline: the frames this sink has
    output before the chunk, at the chunk's sample rate.
    """

    __slots__ = ("frames",)

    def __init__(self) -> None:
        self.frames = 0

    def __call__(self, out: Any) -> Any:
        if type(out) is not AudioBuffer:
            return out
        if not out.sample_rate > 0:
            raise ValueError(
                f"the node output a chunk with sample rate {out.sample_rate!r}; output chunks need a rate > 0"
            )
        n = self.frames
        self.frames = n + out.data.shape[-1]
        meta = out.metadata.copy()
        meta[START_SAMPLE] = n
        meta[START_S] = n / out.sample_rate
        stamped = AudioBuffer.__new__(AudioBuffer)
        stamped.data, stamped.sample_rate, stamped.metadata = out.data, out.sample_rate, meta
        return stamped

    def in_place(self, out: AudioBuffer) -> AudioBuffer:
        """Stamp a buffer nobody else holds (a chain stage's fresh output) without copying it."""
        n = self.frames
        self.frames = n + out.data.shape[-1]
        meta = out.metadata
        meta[START_SAMPLE] = n
        meta[START_S] = n / out.sample_rate
        return out
