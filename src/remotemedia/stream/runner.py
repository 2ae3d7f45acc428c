"""``Pipeline.stream()``: an async stream through the graph with bounded queues.

One task feeds the input chunks, one task per node runs it, and bounded
:class:`~remotemedia.stream.channel.Channel` queues connect them (one per
connection), so a fast producer never piles up memory and per-node queue
depth and lag can be measured. All tasks run on the caller's event loop;
synchronous nodes run inline (native kernels are short and release the
GIL), async nodes are awaited.

Every node gets exactly one item per upstream item (None when a node
returned nothing), so a node with several upstreams takes one item from
each per step (lock-step): ``{upstream id: output}`` of those that
produced something. At the end each node flushes; its flush output goes
through the nodes downstream, then they flush in turn. Once one upstream
has ended, a fan-in node takes the others' remaining items alone.
With ``overflow="drop_oldest"`` a dropped chunk breaks that pairing:
fan-in then pairs by arrival.

A consumer that stops early (``break``, an exception, ``aclose()``)
cancels every task; states are closed (files deleted, handles freed).
Each node task also closes its own state when it ends, however it ends
(cancelled by the event loop's shutdown included), so a stream whose
generator is never closed still leaves no temporary file behind.

Whatever a node raises (a ``NodeError``, any other exception, an async
node's own ``CancelledError``, an output the machinery cannot handle)
reaches the consumer as a ``NodeError`` naming the node: a node task never
ends silently, so the consumer never waits forever.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from remotemedia.core.audio import AudioBuffer
from remotemedia.core.errors import NodeError
from remotemedia.stream.channel import POLICIES, Channel, QueueStats
from remotemedia.stream.stages import (
    Position,
    Stage,
    Stamper,
    close_stage,
    close_stages,
    join_outputs,
    open_stages,
    stream_error,
)

_END = object()  # end-of-stream marker on a channel


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def check_chunks(chunks: Any, pipeline: str) -> None:
    """Refuse a single buffer where an iterable of chunks is expected."""
    single = isinstance(chunks, (AudioBuffer, np.ndarray)) or (
        isinstance(chunks, tuple) and len(chunks) == 2 and isinstance(chunks[0], np.ndarray)
    )
    if single:
        raise TypeError(
            f"pipeline {pipeline!r}: stream() takes an iterable of chunks, got one {type(chunks).__name__}; "
            "wrap it in a list ([chunk]) or use run() for a whole buffer"
        )
    if not (hasattr(chunks, "__aiter__") or hasattr(chunks, "__iter__")):
        raise TypeError(
            f"pipeline {pipeline!r}: stream() takes a sync or async iterable of AudioBuffer / (ndarray, rate) "
            f"chunks, got {type(chunks).__name__}"
        )


class _Run:
    """The tasks and channels of one stream."""

    def __init__(self, pipeline: Any, stages: list[Stage], sinks: tuple[str, ...], size: int, policy: str) -> None:
        self.name = pipeline.name
        self.stages = stages
        self.sinks = sinks
        self.position = Position()
        self.out = Channel(size, "block", None)
        self.inbox: dict[str, list[tuple[str | None, Channel]]] = {}
        metrics = pipeline.metrics
        for st in stages:
            stats = None
            if metrics is not None:
                assert st.stats is not None
                stats = st.stats.stream = QueueStats()
            if st.node.is_source:
                self.inbox[st.name] = []
            elif not st.preds:
                self.inbox[st.name] = [(None, Channel(size, policy, stats))]
            else:
                self.inbox[st.name] = [(p, Channel(size, policy, stats)) for p in st.preds]
        self.outbox: dict[str, list[Channel]] = {st.name: [] for st in stages}
        for st in stages:
            for p, ch in self.inbox[st.name]:
                if p is not None:
                    self.outbox[p].append(ch)
        self.stamps = {s: Stamper() for s in sinks}
        self.closing = False  # set when the consumer side ends the stream and cancels the tasks

    def cancelled_from_outside(self) -> bool:
        """True when the current task is being cancelled (by the runner or the loop), not by a node."""
        if self.closing:
            return True
        task = asyncio.current_task()
        cancelling = getattr(task, "cancelling", None)  # Python >= 3.11
        return bool(cancelling is not None and cancelling())

    def fail(self, err: BaseException) -> None:
        """Report a failure to the consumer at once (never waits for queue room)."""
        self.out.force(_Failure(err))

    async def emit(self, st: Stage, seq: int | None, sample: int, out: Any) -> None:
        for ch in self.outbox[st.name]:
            await ch.put((seq, sample, out))
        if st.name in self.stamps and out is not None:
            await self.out.put((st.name, self.stamps[st.name](out)))

    async def end(self, st: Stage) -> None:
        for ch in self.outbox[st.name]:
            await ch.put(_END, control=True)
        if st.name in self.stamps:
            await self.out.put(_END, control=True)

    async def call(self, st: Stage, x: Any, seq: int | None, sample: int) -> Any:
        stats = st.stats
        t0 = time.perf_counter_ns() if stats is not None else 0
        try:
            out = st.fn(x, st.state, st.kernels)
            if inspect.isawaitable(out):
                out = await out
        except (Exception, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError) and self.cancelled_from_outside():
                raise
            if stats is not None:
                stats.errors += 1
            raise stream_error(self.name, st, "process_chunk", self.position.describe(seq, sample), exc) from exc
        if stats is not None:
            stats.add(time.perf_counter_ns() - t0)
            if st.kernels is not None:
                stats.runtime, stats.binding = st.kernels.name, st.kernels.binding
        return out

    async def feed(self, chunks: Any) -> None:
        targets = [ch for st in self.stages for p, ch in self.inbox[st.name] if p is None]
        pos = self.position
        try:
            if hasattr(chunks, "__aiter__"):
                async for chunk in chunks:
                    item = (pos.chunks, pos.samples, chunk)
                    pos.advance(chunk)
                    for ch in targets:
                        await ch.put(item)
            else:
                for chunk in chunks:
                    item = (pos.chunks, pos.samples, chunk)
                    pos.advance(chunk)
                    for ch in targets:
                        await ch.put(item)
        except (Exception, asyncio.CancelledError) as exc:  # the input's own error reaches the consumer unchanged
            if isinstance(exc, asyncio.CancelledError) and self.cancelled_from_outside():
                raise
            self.fail(exc)
            return
        for ch in targets:
            await ch.put(_END, control=True)

    async def source(self, st: Stage) -> None:
        pos = self.position
        blocks = st.node.blocks()
        try:
            while True:
                try:
                    block = next(blocks)
                except StopIteration:
                    break
                except Exception as exc:
                    raise stream_error(self.name, st, "read", pos.describe(pos.chunks), exc) from exc
                seq, sample = pos.chunks, pos.samples
                pos.advance(block)
                await self.emit(st, seq, sample, block)
        finally:
            blocks.close()

    async def next_input(self, inbox: list[tuple[str | None, Channel]], live: list[bool]) -> Any:
        if len(inbox) == 1:
            return await inbox[0][1].get()
        got: dict[str, Any] = {}
        seq: int | None = None
        sample = 0
        for i, (p, ch) in enumerate(inbox):
            if not live[i]:
                continue
            item = await ch.get()
            if item is _END:
                live[i] = False
                continue
            s, sample, v = item
            seq = s if seq is None or (s is not None and s < seq) else seq
            if v is not None:
                got[p] = v  # type: ignore[index]
        if not any(live) and not got:
            return _END
        return (seq, sample, got or None)

    async def stage(self, st: Stage) -> None:
        operation = "process_chunk"
        try:
            if st.node.is_source:
                await self.source(st)
            else:
                inbox = self.inbox[st.name]
                live = [True] * len(inbox)
                while True:
                    item = await self.next_input(inbox, live)
                    if item is _END:
                        break
                    seq, sample, x = item
                    out = None if x is None else await self.call(st, x, seq, sample)
                    await self.emit(st, seq, sample, out)
            operation = "flush"
            try:
                out = st.flush()
            except Exception as exc:
                raise stream_error(self.name, st, "flush", self.position.describe(None), exc) from exc
            await self.emit(st, None, self.position.samples, out)
            await self.end(st)
        except NodeError as err:
            self.fail(err)
        except (Exception, asyncio.CancelledError) as exc:
            # Not from the node call itself: its output could not be passed on
            # (e.g. a chunk with rate 0), or the task was cancelled.
            if isinstance(exc, asyncio.CancelledError) and self.cancelled_from_outside():
                raise
            where = self.position.describe(None if operation == "flush" else self.position.chunks)
            self.fail(stream_error(self.name, st, f"{operation} (passing its output on)", where, exc))
        finally:
            close_stage(st)  # as soon as this node is done, however it ended


async def run_stream(pipeline: Any, chunks: Any, use_rust: bool, queue_size: int, overflow: str) -> AsyncIterator[Any]:
    """The body of :meth:`Pipeline.stream` (an async generator; see there)."""
    if overflow not in POLICIES:
        raise ValueError(f"stream(): overflow must be 'block' or 'drop_oldest', got {overflow!r}")
    if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
        raise ValueError(f"stream(): queue_size must be an integer >= 1, got {queue_size!r}")
    plan = pipeline.plan(use_rust)
    has_source = any(plan.nodes[n].node.is_source for n in plan.topology.sources)
    if chunks is None and not has_source:
        raise TypeError(
            f"pipeline {pipeline.name!r}: stream() needs chunks (an iterable of AudioBuffer or (ndarray, rate)) "
            "unless the pipeline starts with a source node such as AudioFileSource"
        )
    if chunks is not None:
        check_chunks(chunks, pipeline.name)
        if all(plan.nodes[n].node.is_source for n in plan.topology.sources):
            raise TypeError(
                f"pipeline {pipeline.name!r} starts with source node(s) and reads its own input; "
                "call stream() without chunks"
            )
    if not pipeline.initialized:
        await pipeline.initialize()
    topo, stages = open_stages(pipeline, use_rust)
    run = _Run(pipeline, stages, topo.sinks, queue_size, overflow)
    t0 = time.perf_counter_ns()
    tasks = [asyncio.ensure_future(run.stage(st)) for st in stages]
    if chunks is not None and any(p is None for st in stages for p, _ in run.inbox[st.name]):
        tasks.append(asyncio.ensure_future(run.feed(chunks)))
    single = len(topo.sinks) == 1
    try:
        ended = 0
        while ended < len(topo.sinks):
            item = await run.out.get()
            if item is _END:
                ended += 1
            elif type(item) is _Failure:
                raise item.error
            else:
                yield item[1] if single else item
        if pipeline.metrics is not None:
            pipeline.metrics.add_run(time.perf_counter_ns() - t0, list(topo.order))
    finally:
        run.closing = True
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        close_stages(stages)  # stages whose task never started


async def run_to_end(pipeline: Any, use_rust: bool) -> Any:
    """``run()`` of a pipeline that starts with a source: stream to the end, join each sink's outputs."""
    plan = pipeline.plan(use_rust)
    sinks = plan.topology.sinks
    parts: dict[str, list[Any]] = {s: [] for s in sinks}
    gen = run_stream(pipeline, None, use_rust, 8, "block")
    try:
        async for item in gen:
            if len(sinks) == 1:
                parts[sinks[0]].append(item)
            else:
                parts[item[0]].append(item[1])
    finally:
        await gen.aclose()  # type: ignore[attr-defined]
    joined = {s: join_outputs(v) for s, v in parts.items()}
    return joined[sinks[0]] if len(sinks) == 1 else joined
