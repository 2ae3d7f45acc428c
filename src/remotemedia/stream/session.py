"""StreamSession: a synchronous per-frame stream, for callback-driven real time.

``with pipeline.open_stream() as s: out = s.push(frame)``: no event loop,
no task, no thread. Opening plans the pipeline once and binds every node's
kernel set, state and ``process_chunk`` method; ``push`` then calls the
bound methods in order (for a linear pipeline, a plain loop over them).
Native kernels release the GIL while they compute, so a session can run in
an audio callback thread while Python work goes on elsewhere.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

from remotemedia.core.audio import AudioBuffer
from remotemedia.core.errors import NodeError
from remotemedia.core.node import Node
from remotemedia.stream.stages import (
    START_S,
    START_SAMPLE,
    Position,
    Stage,
    Stamper,
    close_stages,
    join_outputs,
    open_stages,
    stream_error,
)


class StreamSession:
    """A synchronous stream through a pipeline (see :meth:`Pipeline.open_stream`).

    Not thread-safe: push from one thread at a time.

    Raises
    ------
    TypeError
        The pipeline starts with a source node (iterate it with
        ``Pipeline.stream()`` instead).
    """

    def __init__(self, pipeline: Any, use_rust: bool = True) -> None:
        self.pipeline = pipeline
        self._name = pipeline.name
        topo, stages = open_stages(pipeline, use_rust)
        self._stages = stages
        self._closed = False
        self._flushed = False
        src = [st.name for st in stages if st.node.is_source]
        if src:
            close_stages(stages)
            self._closed = True
            raise TypeError(
                f"pipeline {self._name!r} starts with source node(s) {', '.join(map(repr, src))}: it produces "
                "its own stream; iterate `pipeline.stream()` or call `pipeline.run()` instead of open_stream()"
            )
        for st in stages:
            node = st.node
            if inspect.iscoroutinefunction(node.process) and type(node).process_chunk is Node.process_chunk:
                self.close()
                raise TypeError(
                    f"node {node.describe()} is async: a synchronous stream cannot await it; "
                    "use `async for out in pipeline.stream(...)`"
                )
        self._chain = topo.chain
        self._sinks = topo.sinks
        self._sources = set(topo.sources)
        self._stamps = {s: Stamper() for s in topo.sinks}
        self._timed = any(st.stats is not None for st in stages)
        self._fresh = stages[-1] if stages and hasattr(stages[-1], "fresh") else None
        # The common case, one native chain feeding the one sink, untimed: push()
        # takes a short path (one stage call, stamps written in place). None once
        # the session ends, so push() then takes the general path and raises.
        only = stages[0] if len(stages) == 1 and self._fresh is not None and self._chain else None
        self._only: Any = only if only is not None and not self._timed and len(topo.sinks) == 1 else None
        self._pusher: Any = None
        self._stamp = self._stamps[topo.sinks[0]]
        self._position = Position()
        self._metrics = pipeline.metrics
        # The short path in C (the binding's ChainPush), armed once the first
        # chunk compiled a chain that tracks the segments: push() is then its
        # method, one call per chunk (see _chain_pusher).
        # The pusher holds this session through its callbacks, as a bound method
        # would (``push = s.push`` keeps the stream usable); the session holds the
        # pusher: a cycle, so such a session dropped without close() is closed by
        # the garbage collector.
        self._pusher = _chain_pusher(self._only, self._pusher_fallback, self._pusher_fail)
        if self._pusher is not None:
            self.push = self._pusher.push  # type: ignore[method-assign]
        self._t0 = time.perf_counter_ns()

    @property
    def position(self) -> Position:
        """Where the stream is: chunks taken in and input samples (for error messages)."""
        pusher = self._pusher
        if pusher is not None:
            pusher.sync()  # the short path counts in C until asked
        return self._position

    # protocol ---------------------------------------------------------------

    def __enter__(self) -> StreamSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def push(self, chunk: Any) -> Any:
        """Process one chunk; return the output it completes.

        Parameters
        ----------
        chunk : AudioBuffer or (ndarray, sample_rate)
            The next piece of the stream.

        Returns
        -------
        AudioBuffer, dict or None
            The sink's output chunk (with ``start_sample`` / ``start_s``
            metadata), ``{sink id: chunk}`` for several sinks, or None when
            nothing came out.

        Raises
        ------
        NodeError
            A node failed; names the node and the stream position. The
            session is then closed (open a new one; the pipeline is fine).
        RuntimeError
            The session is closed or flushed.
        """
        only = self._only
        if only is not None:
            return self._push_chain(only, chunk)
        if self._closed or self._flushed:
            raise self._ended()
        pos = self.position
        index = pos.chunks
        if self._chain and not self._timed:
            x = chunk
            for st in self._stages:
                try:
                    x = st.fn(x, st.state, st.kernels)
                except Exception as exc:
                    raise self._fail(st, "process_chunk", pos.describe(index), exc) from exc
                if x is None:
                    pos.advance(chunk)
                    return None
            pos.advance(chunk)
            fresh = self._fresh
            if fresh is not None and fresh.fresh:  # a chain stage's output: a new buffer, its own metadata
                return self._stamps[self._sinks[0]].in_place(x)
            return self._stamp_output(self._sinks[0], x, "process_chunk", pos.describe(index))
        where = pos.describe(index)
        outs = self._run({s: chunk for s in self._sources}, 0, where)
        pos.advance(chunk)
        return self._result(outs, where)

    def flush(self) -> Any:
        """End the stream: flush every node in order; return what comes out.

        A node's flush output goes through the nodes downstream of it before
        they flush in turn. The outputs are joined with :func:`collect`
        (one AudioBuffer, or ``{sink id: AudioBuffer}`` for several sinks;
        None when nothing came out). The session is closed afterwards.

        Raises
        ------
        NodeError
            A node failed while flushing (names node and stream position).
        """
        if self._closed or self._flushed:
            raise self._ended()
        self._flushed = True
        self._only = None
        if self._pusher is not None:
            self._pusher.disarm()
        where = self.position.describe(None)
        pieces: dict[str, list[Any]] = {s: [] for s in self._sinks}
        try:
            for i, st in enumerate(self._stages):
                try:
                    out = st.flush()
                except Exception as exc:
                    raise self._fail(st, "flush", where, exc) from exc
                if out is None:
                    continue
                done = {st.name: out}
                if st.succs:
                    done = self._run(done, i + 1, where, seeded=True)
                for sink, value in done.items():
                    if sink in pieces:
                        pieces[sink].append(self._stamp_output(sink, value, "flush (passing its output on)", where))
        finally:
            self.close()
        if self._metrics is not None:
            self._metrics.add_run(
                time.perf_counter_ns() - self._t0, [n for st in self._stages for n in getattr(st, "names", (st.name,))]
            )
        joined = {s: join_outputs(v) for s, v in pieces.items()}
        return joined[self._sinks[0]] if len(self._sinks) == 1 else joined

    def set_ratio(self, node: str, ratio: float, ramp_frames: int = 0) -> None:
        """Change the resampling ratio of this stream at node ``node`` (drift correction).

        The node must support it (``AudioResampleNode(..., variable=True)``);
        see :meth:`remotemedia.Resampler.set_ratio` for the ratio and ramp.

        Raises
        ------
        ValueError
            No node of that name, or it cannot change its ratio.
        """
        for st in self._stages:
            if st.name == node:
                fn = getattr(st.node, "set_ratio", None)
                if fn is None:
                    raise ValueError(f"stream of pipeline {self._name!r}: node {node!r} has no ratio to set")
                fn(st.state, ratio, ramp_frames)
                return
        raise ValueError(f"stream of pipeline {self._name!r}: no node named {node!r}")

    def close(self) -> None:
        """Release every node's stream state (idempotent; no flush)."""
        self._only = None
        if getattr(self, "_pusher", None) is not None:
            self._pusher.disarm()
        if not self._closed:
            self._closed = True
            close_stages(self._stages)

    def __del__(self) -> None:
        # A session dropped without close(): release the states (temporary files...).
        if not getattr(self, "_closed", True):
            self.close()

    # machinery --------------------------------------------------------------

    def _push_chain(self, only: Any, chunk: Any) -> Any:
        """``push`` of a session that is one chain stage: what the general path does, inlined.

        No dict of inputs, no stage loop; the chain's output is a new buffer
        with its own metadata dict, so the time stamps go into that dict.
        """
        pos = self.position
        try:
            out = only.push(chunk, None, None)
        except Exception as exc:
            raise self._fail(only, "process_chunk", pos.describe(pos.chunks), exc) from exc
        if type(chunk) is AudioBuffer:
            pos.chunks += 1
            pos.samples += chunk.data.shape[-1]
            pos.rate = chunk.sample_rate
        else:
            pos.advance(chunk)
        if out is None:
            return None
        if not only.fresh:  # the stream runs node by node: nodes may hand their input on
            return self._stamp(out)
        stamp = self._stamp
        n = stamp.frames
        stamp.frames = n + out.data.shape[-1]
        meta = out.metadata
        meta[START_SAMPLE] = n
        meta[START_S] = n / out.sample_rate
        return out

    def _pusher_fallback(self, chunk: Any) -> Any:
        """The short path's general push; arms it once a chunk compiled a tracking chain."""
        out = StreamSession.push(self, chunk)
        pusher, only = self._pusher, self._only
        if pusher is not None and only is not None and not pusher.armed:
            only.arm_pusher(pusher, self._position, self._stamp)
        return out

    def _pusher_fail(self, exc: BaseException, native: bool) -> NodeError:
        """The error the short path raises for ``exc`` (the session is then closed)."""
        only: Any = self._stages[0]  # the ChainStage
        if native:
            only.blame = only.subs[0]  # as ChainStage: the chain call failed, its first node answers
        pos = self.position
        return self._fail(only, "process_chunk", pos.describe(pos.chunks), exc)

    def _ended(self) -> RuntimeError:
        state = "is flushed" if self._flushed else "is closed"
        return RuntimeError(f"stream of pipeline {self._name!r} {state}; open a new one with pipeline.open_stream()")

    def _fail(self, st: Stage, operation: str, where: str, exc: BaseException) -> NodeError:
        if st.stats is not None:
            st.stats.errors += 1
        self.close()
        return stream_error(self._name, st, operation, where, exc)

    def _run(self, results: dict[str, Any], start: int, where: str, seeded: bool = False) -> dict[str, Any]:
        """Evaluate stages from index ``start`` in order; sources take ``results`` as input (or, seeded, as output)."""
        inputs = {} if seeded else results
        done: dict[str, Any] = dict(results) if seeded else {}
        for st in self._stages[start:]:
            if st.name in inputs:
                x = inputs[st.name]
            else:
                got = [(p, done[p]) for p in st.preds if done.get(p) is not None]
                if not got:
                    continue
                x = got[0][1] if len(st.preds) == 1 else dict(got)
            stats = st.stats
            t0 = time.perf_counter_ns() if stats is not None else 0
            try:
                out = st.fn(x, st.state, st.kernels)
            except Exception as exc:
                raise self._fail(st, "process_chunk", where, exc) from exc
            if stats is not None:
                stats.add(time.perf_counter_ns() - t0)
                if st.kernels is not None:
                    stats.runtime, stats.binding = st.kernels.name, st.kernels.binding
            done[st.name] = out
        return {s: done[s] for s in self._sinks if done.get(s) is not None}

    def _result(self, outs: dict[str, Any], where: str) -> Any:
        if len(self._sinks) == 1:
            out = outs.get(self._sinks[0])
            return None if out is None else self._stamp_output(self._sinks[0], out, "process_chunk", where)
        return {s: self._stamp_output(s, v, "process_chunk", where) for s, v in outs.items()}

    def _stamp_output(self, sink: str, out: Any, operation: str, where: str) -> Any:
        """Stamp a sink's output; an output that cannot be stamped fails naming the sink node."""
        try:
            return self._stamps[sink](out)
        except ValueError as exc:
            st = next(s for s in self._stages if s.name == sink)
            raise self._fail(st, operation, where, exc) from exc


def _chain_pusher(stage: Any, fallback: Any, fail: Any) -> Any:
    """The binding's ``ChainPush`` for a session whose one stage is the ChainStage ``stage``, or None.

    ``ChainPush`` (the Cython binding, ``cython_chain_push.pxi``) is the
    whole push of a session that is one native chain ending in an
    annotating VAD, in one C method: the format check, the chain call, the
    events, the output buffer with its metadata dict and stamps, the
    position (counted in C, added to ``position`` when read). It takes
    AudioBuffers and ``(array, int rate)`` tuples of the stream's format,
    with the general path's results key for key and bit for bit; anything
    else (another type, a format change, a non-contiguous or byte-swapped
    array, an ended session) goes to ``fallback(chunk)``, the session's
    general push, which gives the same output or the same error;
    ``fail(exc, native)`` makes the error a failure raises. None when
    there is no such stage (several stages, metrics or sinks) or the
    chain's binding has no ``ChainPush`` (ctypes, numpy). The pusher
    starts unarmed; the session arms it (:meth:`ChainStage.arm_pusher`)
    once a chunk left a tracking chain compiled.
    """
    if stage is None or stage.kernels is None or stage.kernels.binding is None:
        return None
    from remotemedia import runtime

    module, _ = runtime.load_binding(stage.kernels.binding)
    cls = getattr(module, "ChainPush", None)
    return None if cls is None else cls(fallback, fail)
