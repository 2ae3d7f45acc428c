"""A native chain bound into one stream: several nodes, one call per chunk.

:func:`~remotemedia.stream.stages.open_stages` puts one
:class:`ChainStage` where the planner found a chain
(:mod:`remotemedia.core.chains`). To the session and to ``stream()`` it
looks like one stage named after the chain's last node, fed from the
first node's upstream. The chain is compiled for the stream's format on
its first chunk (a fresh native state per stream); each chunk is then
one call into the chain's body. When the chain ends with a VAD in
"annotate" mode (no audio kept), the chain also tracks the speech
segments, so the events come out of that same call and the VAD node only
turns them into ``SpeechEvent`` objects; in the other modes the node's
own tracker takes the chain's flags. A format the chain cannot take runs the
chain's nodes one by one for the whole stream, so their own errors come
out. A native failure fails the stream (its state lives in the core, so
the step cannot be re-run in Python), as for a single node.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from remotemedia.core.audio import AudioBuffer
from remotemedia.core.chains import ChainPlan, layout_of, wrap
from remotemedia.core.metrics import NodeStats
from remotemedia.kernels.chain import ResampleStage, VadStage


class _ChainStats:
    """What the stream machinery records on a chain stage.

    Per-node times come from the chain itself (each stage's time goes to
    its node), so ``add`` and the runtime fields are ignored here; errors
    belong to the chain's last node; its input queue's counters are
    reported under every node of the chain (they share that queue).
    """

    def __init__(self, node: NodeStats, others: list[NodeStats]) -> None:
        self._node = node
        self._others = others

    def add(self, ns: int) -> None:
        """Ignored: the chain records each node's own time."""

    @property
    def errors(self) -> int:
        return self._node.errors

    @errors.setter
    def errors(self, value: int) -> None:
        self._node.errors = value

    @property
    def stream(self) -> Any:
        return self._node.stream

    @stream.setter
    def stream(self, value: Any) -> None:
        self._node.stream = value
        for s in self._others:
            s.stream = value

    @property
    def runtime(self) -> str:
        return self._node.runtime

    @runtime.setter
    def runtime(self, value: str) -> None:
        pass

    @property
    def binding(self) -> str | None:
        return self._node.binding

    @binding.setter
    def binding(self, value: str | None) -> None:
        pass


class ChainStage:
    """The nodes of one chain bound into one stream (see the module doc).

    ``subs`` are the nodes' own stages (states opened): the VAD's state
    keeps its events, and the node-by-node path uses them all.
    """

    def __init__(self, cp: ChainPlan, subs: list[Any]) -> None:
        first, last = subs[0], subs[-1]
        self.cp = cp
        self.subs = subs
        self.names = cp.names
        self.node = last.node
        self.name = last.name
        self.node_type = last.node_type
        self.kernels = cp.kernels
        others = [s.stats for s in subs[:-1] if s.stats is not None]
        self.stats: Any = _ChainStats(last.stats, others) if last.stats is not None else None
        self.preds = first.preds
        self.succs = last.succs
        self.state: Any = None
        self.fn = self.push
        self.blame: Any = None  # the sub-stage an error belongs to
        # push returns a new AudioBuffer with its own metadata dict (False once
        # the stream runs node by node: nodes may hand their input on).
        self.fresh = True
        self._chain: Any = None
        self._layout: Any = None
        self._direct = False  # True: this stream runs node by node
        self._ended = False  # flushed without error: the chain can serve another stream
        self._vad = last.state if cp.vad else None
        # True once the VAD's state took a chunk on its annotate fast path: later
        # chunks (one format, the chain's output) skip its opening and format checks.
        self._lean = False
        # True when the chain tracks the segments itself (events from process_events).
        self._native = False
        self._timed = any(p.stats is not None for p in cp.plans)
        self._rate = 0
        self._dtype: Any = None
        self._rate_in = 0
        self._lead: tuple[int, ...] = ()
        self._ndim = 0
        self._frame_ms = last.node.frame_duration_ms if cp.vad else 0

    def _open(self, buf: AudioBuffer) -> None:
        layout = layout_of(buf)
        chain = self.cp.chain_for(layout) if layout is not None else None
        self._layout = layout
        if layout is not None:  # what every later chunk must match
            self._dtype, self._rate_in = layout.dtype, layout.rate
            self._lead = () if layout.ndim == 1 else (layout.channels,)
            self._ndim = layout.ndim
        if chain is None:
            self._direct = True
            self.fresh = False
        else:
            self._chain, self._rate = chain, chain.out.rate
            if not self._timed:
                chain.set_timing(False)  # nobody reads the stage times: skip the clock readings
            vad = self._vad
            if vad is not None:
                try:
                    self._native = vad.track_in_chain(chain, chain.out)
                except Exception:
                    self.blame = self.subs[-1]
                    raise
                if self._native:  # later chunks go straight to the tracked path
                    self.push = self.fn = self._push_tracked  # type: ignore[method-assign]

    def _as_buffer(self, x: Any) -> AudioBuffer:
        """A pushed chunk that is not an AudioBuffer, made one (a failure blames the first node)."""
        try:
            return AudioBuffer.from_any(x, self.subs[0].node_type)
        except Exception:
            self.blame = self.subs[0]
            raise

    def push(self, x: Any, state: Any, kernels: Any) -> Any:
        """One chunk through the chain (the stage's ``fn``)."""
        buf = x if type(x) is AudioBuffer else self._as_buffer(x)
        chain = self._chain
        if chain is None:
            if not self._direct:
                self._open(buf)
                chain = self._chain
            if self._direct:
                return self._by_nodes(buf, 0)
        x = buf.data
        if (x.dtype is not self._dtype or buf.sample_rate != self._rate_in or x.shape[:-1] != self._lead) and (
            x.dtype != self._dtype or buf.sample_rate != self._rate_in or x.shape[:-1] != self._lead
        ):
            raise ValueError(self._changed(buf))
        if not x.flags.c_contiguous:
            x = np.ascontiguousarray(x)  # a slice of a bigger array: the kernels copy it too
        if self._native:  # the first chunk opened a chain that tracks the segments
            return self._push_tracked(buf)
        try:
            y, flags = chain.process(x)
        except Exception:
            self.blame = self.subs[0]
            raise
        vad = self._vad
        if vad is None:
            if self._timed:
                self.cp.record(chain)
            return wrap(buf, y, self._rate)
        timed = self._timed
        t0 = time.perf_counter_ns() if timed else 0
        out = AudioBuffer.__new__(AudioBuffer)
        out.data = x if y is None else y
        out.sample_rate = self._rate
        try:
            if self._lean:  # annotate mode, state open, format fixed by the chain
                meta = vad.chain_meta(out.data.shape[-1], flags)
            else:
                meta = vad.annotate_flags(out, flags)
                self._lean = meta is not None
            if meta is None:
                out.metadata = buf.metadata.copy()
                out = vad.process(out, flags, owned=y is not None)  # the chain's output is a new array
            else:
                out.metadata = {**buf.metadata, **meta} if buf.metadata else meta
        except Exception:
            self.blame = self.subs[-1]
            raise
        if timed:
            self.cp.record(chain, time.perf_counter_ns() - t0)
        return out

    def _push_tracked(self, x: Any, state: Any = None, kernels: Any = None) -> Any:
        """One chunk through a chain that also tracks the speech segments (the stream's hot path).

        The chain's output and the VAD's metadata (flags, events) come from
        one binding call; the format checks use only cheap attributes
        (dtype identity, ndim, ``len``) and fall back to the full ones when
        something differs; a non-contiguous chunk (the binding refuses it)
        is copied and pushed again.
        """
        buf = x if type(x) is AudioBuffer else self._as_buffer(x)
        x = buf.data
        nd = self._ndim
        if (
            x.dtype is not self._dtype
            or buf.sample_rate != self._rate_in
            or x.ndim != nd
            or (nd == 2 and len(x) != self._lead[0])
        ) and (x.dtype != self._dtype or buf.sample_rate != self._rate_in or x.shape[:-1] != self._lead):
            raise ValueError(self._changed(buf))
        chain = self._chain
        try:
            try:
                y, flags, events = chain.process_events(x)
            except ValueError:
                if x.flags.c_contiguous:
                    raise
                x = np.ascontiguousarray(x)  # a slice of a bigger array: the kernels copy it too
                y, flags, events = chain.process_events(x)
        except Exception:
            self.blame = self.subs[0]
            raise
        timed = self._timed
        t0 = time.perf_counter_ns() if timed else 0
        out = AudioBuffer.__new__(AudioBuffer)
        out.data = x if y is None else y
        out.sample_rate = self._rate
        vad = self._vad
        assert vad is not None  # a tracking chain ends in the VAD
        meta = {
            "vad_flags": flags,
            "vad_events": vad.speech_events(events) if events else [],
            "vad_frame_duration_ms": self._frame_ms,
        }
        out.metadata = {**buf.metadata, **meta} if buf.metadata else meta
        if timed:
            self.cp.record(chain, time.perf_counter_ns() - t0)
        return out

    def arm_pusher(self, pusher: Any, position: Any, stamp: Any) -> None:
        """Hand this stream's later chunks to ``pusher`` (the binding's ``ChainPush``).

        Only once the first chunk compiled a chain that tracks the segments
        (the ``_push_tracked`` path), untimed, on the pusher's binding;
        otherwise nothing changes. ``position`` and ``stamp`` are the
        session's Position and Stamper.
        """
        chain = self._chain
        if not self._native or self._direct or self._timed or chain is None or not pusher.accepts(chain.core):
            return
        from remotemedia.nodes.vad_stream import SpeechEvent

        vad = self._vad
        assert vad is not None  # a tracking chain ends in the VAD
        pusher.arm(
            chain.core,
            AudioBuffer,
            self._dtype,
            self._rate_in,
            self._ndim,
            self._lead[0] if self._ndim == 2 else 0,
            self._rate,
            self._frame_ms,
            SpeechEvent,  # made as vad.speech_events makes them (tested against it)
            vad.rate,
            position,
            stamp,
        )

    def _changed(self, buf: AudioBuffer) -> str:
        """Blame the node that would have noticed the change; the message says what changed."""
        lay = self._layout
        was, now = f"{lay.channels} ch at {lay.rate} Hz", f"{buf.channels} ch at {buf.sample_rate} Hz"
        stateful = [
            sub for sub, st in zip(self.subs, self.cp.stages, strict=True) if isinstance(st, (ResampleStage, VadStage))
        ]
        if was != now and stateful:
            sub = stateful[0]
            self.blame = sub
            return f"{sub.node_type} {sub.name!r}: stream changed from {was} to {now} mid-stream; open a new stream"
        self.blame = self.subs[0]
        return (
            f"{self.subs[0].node.describe()}: stream changed from {was} ({lay.dtype}, {lay.ndim}-D) to {now} "
            f"({buf.data.dtype}, {buf.data.ndim}-D) mid-stream; the native chain {self.cp.describe()} runs one "
            "format per stream: open a new stream"
        )

    def _by_nodes(self, x: Any, start: int) -> Any:
        for sub in self.subs[start:]:
            stats = sub.stats
            t0 = time.perf_counter_ns() if stats is not None else 0
            try:
                x = sub.fn(x, sub.state, sub.kernels)
            except Exception:
                self.blame = sub
                raise
            if stats is not None:
                stats.add(time.perf_counter_ns() - t0)
                if sub.kernels is not None:
                    stats.runtime, stats.binding = sub.kernels.name, sub.kernels.binding
            if x is None:
                return None
        return x

    def flush(self) -> Any:
        """End of stream: the resamplers' tails through the later stages, then the VAD's closing event."""
        from remotemedia.stream.stages import join_outputs

        pieces: list[Any] = []
        if self._direct:
            for i, sub in enumerate(self.subs):
                try:
                    out = sub.flush()
                except Exception:
                    self.blame = sub
                    raise
                if out is not None and i + 1 < len(self.subs):
                    out = self._by_nodes(out, i + 1)
                if out is not None:
                    pieces.append(out)
            return join_outputs(pieces)
        chain = self._chain
        if chain is None:
            return None
        try:
            y, flags = chain.flush()
        except Exception:
            self.blame = self.subs[0]
            raise
        t0 = time.perf_counter_ns()
        if self._native:
            try:
                events = chain.events()
                tail = None
                if chain.has_tail:
                    tail = AudioBuffer.__new__(AudioBuffer)
                    tail.data = y if y is not None else self._empty()
                    tail.sample_rate, tail.metadata = self._rate, {}
                assert self._vad is not None  # a tracking chain ends in the VAD
                end = self._vad.native_tail(tail, flags, events)
            except Exception:
                self.blame = self.subs[-1]
                raise
            if end is not None:
                pieces.append(end)
        elif chain.has_tail:
            tail = AudioBuffer.__new__(AudioBuffer)
            tail.data = y if y is not None else self._empty()
            tail.sample_rate, tail.metadata = self._rate, {}
            pieces.append(self._vad.process(tail, flags) if self._vad is not None else tail)
        if self._vad is not None:
            last = self.subs[-1]
            try:
                end = last.flush()
            except Exception:
                self.blame = last
                raise
            if end is not None:
                pieces.append(end)
        if self._timed:
            self.cp.record(chain, time.perf_counter_ns() - t0)
        self._ended = True  # the flush reset the chain: the next stream may take it
        return join_outputs(pieces)

    def _empty(self) -> Any:
        out = self._chain.out
        return np.zeros(0 if out.ndim == 1 else (out.channels, 0), out.dtype)

    def close(self) -> BaseException | None:
        """Release every node's stream state; return (not raise) the first failure."""
        first = None
        for sub in self.subs:
            exc = sub.close()
            if first is None:
                first = exc
        if self._chain is not None and self._ended:
            if not self._timed:
                self._chain.set_timing(True)  # the next user may record metrics
            self.cp.release(self._chain)
        self._chain = None
        return first
