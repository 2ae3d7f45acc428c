"""Planning and running native chains (DESIGN section 6b).

When a pipeline is planned, every maximal linear run of nodes that
advertise a chain stage (:meth:`Node.native_stage`) and share one kernel
set becomes a :class:`ChainPlan`. A run continues while the current node
has exactly one downstream node, that node has exactly one upstream, the
current node is not an output and not a VAD (a VAD ends a chain), and the
next node runs on the same kernel set (a node without kernels of its own,
the downmix, joins when its hint allows). Nodes without a native body
(user nodes, sources, sinks, async nodes) split chains; a DAG gets one
plan per linear run.

A chain is compiled per input layout (dtype, channels, rate, ndim) on
first use and kept, so later runs reuse it (concurrent runs of one
pipeline each take their own).
Whole-buffer runs (:func:`run_chain`) push the buffer through the chain
in one call; streams use :class:`remotemedia.stream.stages.ChainStage`.
Input the chain cannot take (bad types, unsupported rates) runs node by
node instead, so errors are exactly the nodes' own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from remotemedia import kernels
from remotemedia.core import log
from remotemedia.core.audio import AudioBuffer
from remotemedia.errors import NativeKernelError
from remotemedia.kernels import KernelSet
from remotemedia.kernels.chain import Chain, Layout, VadStage

if TYPE_CHECKING:
    from remotemedia.core.executor import NodePlan
    from remotemedia.core.graph import Topology


#: Returned by run_chain when the input must go node by node.
NOT_APPLICABLE: Any = object()


@dataclass
class ChainPlan:
    """One linear run of nodes compiled into a chain."""

    names: tuple[str, ...]
    plans: tuple[NodePlan, ...] = field(repr=False)
    stages: tuple[Any, ...]
    kernels: KernelSet
    #: The numpy set a native failure re-runs the nodes on (None: loaded on
    #: the first failure, so a native run never imports the numpy bodies).
    python: KernelSet | None = None
    #: True when some node of the chain keeps metrics (else a run does not read the stage times).
    timed: bool = False
    #: The thread setting its chains get (core/threads.py; 0: auto).
    threads: int = 0
    #: Idle compiled chains by input layout (None: that layout runs node by node).
    compiled: dict[Layout, list[Chain] | None] = field(default_factory=dict, repr=False)

    #: True when the chain ends with a VAD stage.
    vad: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.vad = isinstance(self.stages[-1], VadStage)

    def describe(self) -> str:
        """``'a' -> 'b' -> 'c'`` for messages."""
        return " -> ".join(repr(n) for n in self.names)

    def chain_for(self, layout: Layout) -> Chain | None:
        """An idle compiled chain for ``layout``, now the caller's (None: run node by node).

        Give it back with :meth:`release`. Concurrent runs of one pipeline
        each get their own chain (a chain's state serves one call at a time).
        """
        idle = self.compiled.get(layout, [])
        if idle is None:
            return None
        try:
            chain = idle.pop()
        except IndexError:
            pass
        else:
            chain.stage_times()  # times of an earlier user are not this run's
            return chain
        try:
            chain = self.kernels.Chain(self.stages, layout)
        except (ValueError, TypeError, NotImplementedError):
            self.compiled[layout] = None
            return None
        if self.threads:
            chain.set_threads(self.threads)
        return chain

    def release(self, chain: Chain) -> None:
        """Return a chain (reset) for the next run with its layout."""
        idle = self.compiled.setdefault(chain.layout, [])
        if idle is not None and len(idle) < 4:
            idle.append(chain)

    def record(self, chain: Chain, extra_ns: int = 0) -> None:
        """Add each stage's time to its node's metrics (``extra_ns``: Python work of the last node)."""
        times = chain.stage_times()
        ks = self.kernels
        last = len(self.plans) - 1
        for i, p in enumerate(self.plans):
            stats = p.stats
            if stats is not None:
                stats.add(times[i] + (extra_ns if i == last else 0))
                stats.runtime, stats.binding = ks.name, ks.binding


def _stage_kernels(p: NodePlan, chain_ks: KernelSet) -> KernelSet | None:
    """The kernel set node ``p`` would run a stage on (None: it cannot join)."""
    if p.kernels is not None:
        return p.kernels
    hint = p.node.runtime_hint
    if hint == "auto" or hint == chain_ks.name:
        return chain_ks
    return None


def plan_chains(topo: Topology, nodes: dict[str, NodePlan], threads: int = 0) -> dict[str, ChainPlan]:
    """The chains of a planned graph, keyed by the name of their first node.

    ``threads``: the thread setting of every chain (core/threads.py; 0: auto).
    """
    outputs = set(topo.sinks)
    taken: set[str] = set()
    chains: dict[str, ChainPlan] = {}

    def stage_of(p: NodePlan) -> Any:
        if p.is_async or p.node.is_source:
            return None
        return p.node.native_stage()

    for name in topo.order:
        if name in taken:
            continue
        p = nodes[name]
        if p.kernels is None or stage_of(p) is None:
            continue
        run = [p]
        ks = p.kernels
        while True:
            last = run[-1]
            succ = topo.succs[last.name]
            if last.name in outputs or len(succ) != 1 or isinstance(stage_of(last), VadStage):
                break
            nxt = nodes[succ[0]]
            if len(topo.preds[nxt.name]) != 1 or stage_of(nxt) is None:
                break
            nks = _stage_kernels(nxt, ks)
            if nks is None or nks is not ks:
                break
            run.append(nxt)
        # A run starts at a node with kernels of its own: its set is the chain's.
        taken.update(q.name for q in run)
        chains[name] = ChainPlan(
            names=tuple(q.name for q in run),
            plans=tuple(run),
            stages=tuple(stage_of(q) for q in run),
            kernels=ks,
            timed=any(q.stats is not None for q in run),
            threads=threads,
        )
    return chains


def layout_of(buf: AudioBuffer) -> Layout | None:
    """The chain layout of a buffer, or None when it must go node by node."""
    x = buf.data
    if x.ndim not in (1, 2):
        return None
    return Layout(x.dtype, 1 if x.ndim == 1 else x.shape[0], buf.sample_rate, x.ndim)


def wrap(buf: AudioBuffer, y: Any, rate: int) -> AudioBuffer:
    """The chain's output as an AudioBuffer (input metadata kept; no copy of ``y``)."""
    out = AudioBuffer.__new__(AudioBuffer)
    out.data = buf.data if y is None else y
    out.sample_rate = rate
    out.metadata = buf.metadata.copy()
    return out


def run_chain(cp: ChainPlan, data: Any, pipeline: str) -> Any:
    """Run a whole buffer through a chain; NOT_APPLICABLE when it must go node by node.

    A native failure inside the chain (:class:`NativeKernelError`) re-runs
    the chain's nodes in Python with one warning, as a node's failure does.
    """
    for p in cp.plans:
        breaker = p.breaker
        if breaker.state != "closed" or breaker.failures:
            return NOT_APPLICABLE
    try:
        buf = AudioBuffer.from_any(data)
    except (TypeError, ValueError):
        return NOT_APPLICABLE
    layout = layout_of(buf)
    chain = cp.chain_for(layout) if layout is not None else None
    if chain is None:
        return NOT_APPLICABLE
    x = buf.data if buf.data.flags.c_contiguous else np.ascontiguousarray(buf.data)
    try:
        y, flags = chain.run(x)
    except NativeKernelError as exc:
        chain.reset()
        chain.stage_times()
        cp.release(chain)
        return _python_rerun(cp, buf, pipeline, exc)
    out = wrap(buf, y, chain.out.rate)
    extra = 0
    if cp.vad:
        t0 = time.perf_counter_ns()
        vad: Any = cp.plans[-1].node  # a VADNode: its stage is the VAD's
        out = vad.annotate(out, flags)
        extra = time.perf_counter_ns() - t0
    if cp.timed:
        cp.record(chain, extra)
    cp.release(chain)
    return out


def _python_rerun(cp: ChainPlan, buf: AudioBuffer, pipeline: str, exc: Exception) -> Any:
    log.logger().warning(
        "pipeline %r: native chain %s failed internally (%s); re-running these nodes in Python",
        pipeline,
        cp.describe(),
        exc,
    )
    if cp.python is None:
        cp.python = kernels.get("python")
    python = cp.python
    out: Any = buf
    for p in cp.plans:
        t0 = time.perf_counter_ns()
        out = p.node.process_with(out, python) if p.node.uses_kernels else p.node.process(out)
        if p.stats is not None:
            p.stats.add(time.perf_counter_ns() - t0)
            p.stats.runtime, p.stats.binding = python.name, python.binding
            p.stats.fallbacks += 1
    return out
