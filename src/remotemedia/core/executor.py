"""Runs a planned graph: inline when only one node is ready, concurrently otherwise.

The scheduler receives its executor: synchronous nodes that run beside
others go to ``pool`` (a ``concurrent.futures.Executor``; None means the
event loop's default thread pool), so independent branches overlap
(native kernels release the GIL). A node that is the only one ready runs
inline on the event loop thread: a linear pipeline pays no thread hops.
"""

from __future__ import annotations

import inspect
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from remotemedia import kernels
from remotemedia.core import log
from remotemedia.core.errors import CircuitOpenError, node_error
from remotemedia.core.graph import Topology
from remotemedia.core.metrics import MemoryProbe, Metrics, NodeStats
from remotemedia.core.node import Node
from remotemedia.core.retry import CircuitBreaker, RetryPolicy
from remotemedia.errors import NativeKernelError
from remotemedia.kernels import KernelSet

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from remotemedia.core.chains import ChainPlan


@dataclass
class NodePlan:
    """How one node runs in a planned run."""

    node: Node
    name: str
    node_type: str
    kernels: KernelSet | None
    python: KernelSet | None  # None: kernels.get("python") when a native step fails
    is_async: bool
    retry: RetryPolicy
    breaker: CircuitBreaker
    stats: NodeStats | None


@dataclass
class Plan:
    """A checked topology with every node's kernel set chosen."""

    topology: Topology
    nodes: dict[str, NodePlan]
    #: Native chains by the name of their first node (see core.chains).
    chains: dict[str, ChainPlan] = field(default_factory=dict)


def _invoke_sync(p: NodePlan, data: Any, pipeline: str, memory: bool) -> Any:
    """One attempt of a synchronous node, timed, with the native -> Python re-run."""
    stats = p.stats
    if stats is not None:
        base = MemoryProbe.begin() if memory else 0
        t0 = time.perf_counter_ns()
    ks = used = p.kernels
    if ks is None:
        out = p.node.process(data)
    elif ks.name == "rust":
        try:
            out = p.node.process_with(data, ks)
        except NativeKernelError as exc:
            log.logger().warning(
                "pipeline %r: native kernel of node %r (%s) failed internally (%s); re-running this step in Python",
                pipeline,
                p.name,
                p.node_type,
                exc,
            )
            used = p.python if p.python is not None else kernels.get("python")
            out = p.node.process_with(data, used)
            if stats is not None:
                stats.fallbacks += 1
    else:
        out = p.node.process_with(data, ks)
    if stats is not None:
        stats.add(time.perf_counter_ns() - t0)
        if used is not None:
            stats.runtime, stats.binding = used.name, used.binding
        if memory:
            peak = MemoryProbe.end(base)
            if stats.peak is None or peak > stats.peak:
                stats.peak = peak
    return out


async def _invoke_async(p: NodePlan, data: Any, memory: bool) -> Any:
    stats = p.stats
    if stats is not None:
        base = MemoryProbe.begin() if memory else 0
        t0 = time.perf_counter_ns()
    out = p.node.process(data)
    if inspect.isawaitable(out):
        out = await out
    if stats is not None:
        stats.add(time.perf_counter_ns() - t0)
        if memory:
            peak = MemoryProbe.end(base)
            if stats.peak is None or peak > stats.peak:
                stats.peak = peak
    return out


async def call_node(
    p: NodePlan,
    data: Any,
    pipeline: str,
    inline: bool,
    pool: Executor | None,
    memory: bool,
    failed: Exception | None = None,
) -> Any:
    """Run one node with its breaker and retry policy; raise a NodeError on failure.

    ``failed``: the exception of a first attempt already made by the
    caller's fast path (it counts as attempt 1).
    """
    if failed is None:
        try:
            p.breaker.before_call()
        except CircuitOpenError as exc:
            if p.stats is not None:
                p.stats.errors += 1
            raise node_error(pipeline, p.name, p.node_type, "process", 0, exc) from exc
    attempt = 0
    while True:
        attempt += 1
        try:
            if failed is not None:
                first_failure, failed = failed, None
                raise first_failure
            if p.is_async:
                out = await _invoke_async(p, data, memory)
            elif inline:
                out = _invoke_sync(p, data, pipeline, memory)
            else:
                import asyncio

                loop = asyncio.get_running_loop()
                out = await loop.run_in_executor(pool, _invoke_sync, p, data, pipeline, memory)
        except Exception as exc:
            if p.stats is not None:
                p.stats.errors += 1
            if RetryPolicy.is_transient(exc) and attempt <= p.retry.max_retries:
                if p.stats is not None:
                    p.stats.retries += 1
                delay = p.retry.delay_s(attempt)
                log.logger().info(
                    "pipeline %r: node %r failed transiently (%s); retry %d/%d in %.0f ms",
                    pipeline,
                    p.name,
                    exc,
                    attempt,
                    p.retry.max_retries,
                    delay * 1e3,
                )
                import asyncio

                await asyncio.sleep(delay)
                continue
            p.breaker.record_failure(exc)
            raise node_error(pipeline, p.name, p.node_type, "process", attempt, exc) from exc
        p.breaker.record_success()
        return out


async def call_chain(cp: ChainPlan, data: Any, pipeline: str, inline: bool, pool: Executor | None, memory: bool) -> Any:
    """Run a chain's nodes on ``data``: one chain call, or node by node when the input needs it."""
    from remotemedia.core.chains import NOT_APPLICABLE, run_chain

    if inline:
        out = run_chain(cp, data, pipeline)
    else:
        import asyncio

        out = await asyncio.get_running_loop().run_in_executor(pool, run_chain, cp, data, pipeline)
    if out is not NOT_APPLICABLE:
        return out
    out = data
    for p in cp.plans:
        out = await call_node(p, out, pipeline, True, pool, memory)
    return out


async def execute(
    plan: Plan, data: Any, pipeline: str, metrics: Metrics | None, pool: Executor | None = None
) -> dict[str, Any]:
    """Run every node once; return the outputs of the sinks by node id.

    Sources get ``data``; a node with one upstream gets its output (the
    same object for every downstream node: fan-out never copies); a node
    with several gets a dict ``{upstream id: output}``.
    """
    import asyncio  # here, not at module level: importing the core stays light (asyncio ~15 ms)

    topo = plan.topology
    memory = metrics is not None and metrics.track_memory
    t_run = time.perf_counter_ns() if metrics is not None else 0
    chains = plan.chains
    if topo.chain:  # a linear pipeline: no scheduling bookkeeping
        out = data
        skip = 0
        for name in topo.order:
            if skip:
                skip -= 1
                continue
            cp = chains.get(name)
            if cp is not None:
                out = await call_chain(cp, out, pipeline, True, pool, memory)
                skip = len(cp.names) - 1
                continue
            p = plan.nodes[name]
            if p.is_async or p.breaker.state != "closed":
                out = await call_node(p, out, pipeline, True, pool, memory)
                continue
            try:  # fast path: one attempt inline, the full policy only on failure
                result = _invoke_sync(p, out, pipeline, memory)
            except Exception as exc:
                out = await call_node(p, out, pipeline, True, pool, memory, failed=exc)
                continue
            if p.breaker.failures:
                p.breaker.record_success()
            out = result
        if metrics is not None:
            metrics.add_run(time.perf_counter_ns() - t_run, list(topo.order))
        return {topo.order[-1]: out}
    preds, succs = topo.preds, topo.succs
    results: dict[str, Any] = {}
    waiting = {n: len(preds[n]) for n in topo.order}
    consumers = {n: len(succs[n]) for n in topo.order}
    sinks = set(topo.sinks)
    order: list[str] = []
    ready = deque(n for n in topo.order if not preds[n])
    running: dict[asyncio.Task[Any], str] = {}
    inside = {n for cp in chains.values() for n in cp.names[1:]}  # run by their chain

    def input_of(name: str) -> Any:
        ps = preds[name]
        if not ps:
            return data
        if len(ps) == 1:
            return results[ps[0]]
        return {p: results[p] for p in ps}

    def finish(name: str, out: Any) -> None:
        cp = chains.get(name)
        if cp is not None:  # the chain's inner nodes are done too; only its last output is kept
            for inner in cp.names[:-1]:
                _finish(inner, None)
            name = cp.names[-1]
        _finish(name, out)

    def _finish(name: str, out: Any) -> None:
        results[name] = out
        order.append(name)
        for p in preds[name]:
            consumers[p] -= 1
            if not consumers[p] and p not in sinks:
                del results[p]  # nobody needs it any more: free big buffers early
        for s in succs[name]:
            waiting[s] -= 1
            if not waiting[s] and s not in inside:
                ready.append(s)

    def _call(name: str, inline: bool) -> Any:
        cp = chains.get(name)
        if cp is not None:
            return call_chain(cp, input_of(name), pipeline, inline, pool, memory)
        return call_node(plan.nodes[name], input_of(name), pipeline, inline, pool, memory)

    try:
        while ready or running:
            if len(ready) == 1 and not running:
                name = ready.popleft()
                finish(name, await _call(name, True))
                continue
            while ready:
                name = ready.popleft()
                coro = _call(name, False)
                running[asyncio.ensure_future(coro)] = name
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                name = running.pop(task)
                finish(name, task.result())
    finally:
        if running:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
    if metrics is not None:
        metrics.add_run(time.perf_counter_ns() - t_run, order)
    return {n: results[n] for n in topo.sinks}
