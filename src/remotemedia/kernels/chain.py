"""Native chains: consecutive pipeline stages run as one object (public face).

A pipeline's planner turns every run of consecutive nodes with a native
body into one chain (docs/pipelines.md). Nodes describe their stage with
the small frozen records below; :func:`compile_chain` checks a chain
against the input format it will see and builds it on a kernel set's
body: the Rust core (one ``rm_chain`` behind the C ABI: every stage's
state and buffers, one call per block, GIL released, convert + downmix
fused) or numpy (the same interface built from the numpy kernels). The
results are those of the nodes run one by one: bit for bit on the native
core, and on numpy the numpy kernels' own results.

Rules: a VAD stage ends a chain (its flags leave with the audio); a
stage that changes nothing for the input (a conversion to the input's
own format, a downmix of mono, a resample to the same rate) passes the
audio on untouched. Bad input raises here, before any state exists, so a
caller can fall back to the node-by-node path and its exact errors.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from remotemedia.kernels._vad_spec import RATES as _VAD_RATES
from remotemedia.kernels.resample import check_pair, check_quality
from remotemedia.kernels.resample import check_rate as check_resample_rate
from remotemedia.kernels.vad import check_decision, check_settings, threshold_units
from remotemedia.kernels.vad import samples as mono
from remotemedia.kernels.vad_segments import SegmentTracker

if TYPE_CHECKING:
    from remotemedia.kernels import KernelSet


@dataclass(frozen=True)
class ConvertStage:
    """PCM conversion to "f32", "i16" or "i32" (``FormatConverterNode``)."""

    to: str


@dataclass(frozen=True)
class DownmixStage:
    """Channel mean (``DownmixNode``): float64 sum in channel order, integers rounded."""


@dataclass(frozen=True)
class ResampleStage:
    """Sample-rate conversion (``AudioResampleNode``)."""

    rate: int
    quality: str = "high"


@dataclass(frozen=True)
class VadStage:
    """Voice activity flags (``VADNode``); the audio passes through."""

    frame_ms: int = 30
    aggressiveness: int = 2


StageSpec = ConvertStage | DownmixStage | ResampleStage | VadStage

DTYPES: tuple[np.dtype[Any], ...] = (np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.float32), np.dtype(np.float64))
_TARGETS: dict[str, np.dtype[Any]] = {"i16": np.dtype(np.int16), "i32": np.dtype(np.int32), "f32": np.dtype(np.float32)}
_VAD_DTYPES: tuple[np.dtype[Any], ...] = (np.dtype(np.int16), np.dtype(np.float32), np.dtype(np.float64))


class Layout(NamedTuple):
    """What flows between two stages: dtype, channels, rate, ndim.

    A named tuple: a run builds one per call and looks its compiled chain
    up by it, so it is made and hashed in C.
    """

    dtype: np.dtype
    channels: int
    rate: int
    ndim: int


def check_stages(stages: tuple[StageSpec, ...], layout: Layout) -> Layout:
    """The output layout of ``stages`` on input of ``layout``.

    Raises
    ------
    ValueError, TypeError
        The chain cannot take this input (a rate the resampler or the VAD
        refuses, int32 into the VAD, a VAD before the end, ...): run the
        nodes one by one instead, they report it.
    """
    if layout.dtype not in DTYPES:
        raise TypeError(f"chain: unsupported sample type {layout.dtype}")
    if not 1 <= layout.channels <= 64:
        raise ValueError(f"chain: {layout.channels} channels")
    d, ch, rate, ndim = layout.dtype, layout.channels, layout.rate, layout.ndim
    for i, st in enumerate(stages):
        if isinstance(st, VadStage) and i != len(stages) - 1:
            raise ValueError("chain: a VAD stage must end the chain")
        if isinstance(st, ConvertStage):
            d = _TARGETS[st.to]
        elif isinstance(st, DownmixStage):
            ch, ndim = 1, 1
        elif isinstance(st, ResampleStage):
            if st.rate != rate:
                check_resample_rate(rate, "in_rate", "chain")
                check_resample_rate(st.rate, "out_rate", "chain")
                check_quality(st.quality, "chain")
                check_pair(rate, st.rate, "chain")
                d, rate = np.dtype(np.float32), st.rate
        elif isinstance(st, VadStage):
            check_settings(rate, st.frame_ms, st.aggressiveness)
            if rate not in _VAD_RATES:  # the detector would resample internally: node by node
                raise ValueError(f"chain: the VAD analyses {rate} Hz through a resampler; run it as a node")
            if d not in _VAD_DTYPES:
                raise TypeError(f"chain: the VAD does not take {d}")
        else:
            raise TypeError(f"chain: unknown stage {st!r}")
    return Layout(d, ch, rate, ndim)


class Chain:
    """A compiled chain on one body, for one input layout.

    Methods (bound straight to the body: a call is one binding call):

    - ``process(x) -> (y, flags)``: push a block (``x`` C-contiguous, the
      compiled layout). ``y`` is None when no stage changes the audio
      (the output is ``x`` itself); ``flags`` holds the VAD flags of the
      frames the block completed (empty without a VAD stage).
    - ``run(x) -> (y, flags)``: a whole buffer, resampler tails included
      (the one-shot result); leaves the chain reset.
    - ``flush() -> (y, flags)``: end of stream, the tails through the
      stages after them; resets the chain.
    - ``reset()``, ``stage_times() -> list[int]`` (ns per stage since the
      last call), ``debug_fail(stage)`` (native: the next call panics in
      that stage, a test hook).
    - ``set_timing(on)``: stage times measured (the default) or not (the
      native body then saves a clock reading per stage and block; for
      streams without metrics).
    - ``set_threads(n)``: threads the native body may use for the
      per-channel stages of a big block (0: one per channel up to the
      usable cores, the default; 1: none started; same bits for every
      setting; see :mod:`remotemedia.core.threads`). The numpy body runs
      on the calling thread whatever the setting.
    - Speech events for streams (a chain that ends in a VAD):
      ``set_segments(params)`` (the integers of
      :meth:`~remotemedia.kernels.vad_segments.SegmentTracker.params`)
      turns them on; then ``process_events(x) -> (y, flags, events)`` is
      ``process`` plus the events the block's flags decided, and after
      ``flush`` ``events()`` takes the tail's and the end of stream's.
      ``events`` is a tuple of ``(kind, sample)``: kind 1 start, 0 end,
      sample in the VAD's input from the stream's start; the rules of
      ``SegmentTracker``, so the same flags give the same events.

    Attributes: ``stages``, ``layout`` (input), ``out`` (output layout),
    ``kernels``, ``core`` (the body's chain object).
    """

    def __init__(self, kernels: KernelSet, stages: tuple[StageSpec, ...], layout: Layout) -> None:
        self.kernels = kernels
        self.stages = stages
        self.layout = layout
        self.out = check_stages(stages, layout)
        rate, tail = layout.rate, False
        for st in stages:
            if isinstance(st, ResampleStage):
                tail, rate = tail or st.rate != rate, st.rate
        #: True when a stage holds audio back until flush (a resampler).
        self.has_tail = tail
        if kernels._chain_core is None:
            raise NotImplementedError(f"kernel set {kernels.name!r} has no chains")
        core = kernels._chain_core(stages, layout, self.out)
        #: The body's own chain object (the binding's ``Chain`` on the native
        #: body): a stream session's short path calls it directly.
        self.core = core
        self.process = core.process
        self.run = core.run
        self.flush = core.flush
        self.reset = core.reset
        self.stage_times = core.stage_times
        self.debug_fail = core.debug_fail
        self.set_segments = core.set_segments
        self.set_timing = core.set_timing
        self.set_threads = core.set_threads
        self.process_events = core.process_events
        self.events = core.events

    def __repr__(self) -> str:
        return f"Chain({list(self.stages)}, {self.layout}, body={self.kernels.name}/{self.kernels.binding})"


def compile_chain(kernels: KernelSet, stages: tuple[StageSpec, ...], layout: Layout) -> Chain:
    """Check ``stages`` against ``layout`` and build the chain on ``kernels``' body."""
    return Chain(kernels, tuple(stages), layout)


class PythonChainCore:
    """The numpy body of a chain: the numpy kernels, stage after stage.

    Works on ``(channels, frames)`` arrays; whole-buffer runs use the
    one-shot resampler, as the nodes do.
    """

    def __init__(self, kernels: KernelSet, stages: tuple[StageSpec, ...], layout: Layout, out: Layout) -> None:
        self.kernels = kernels
        self.stages = stages
        self.layout = layout
        self.out = out
        self.out_1d = out.ndim == 1
        self.times = [0] * len(stages)
        self.fail_at: int | None = None
        # The layout in front of each stage, and whether it changes the audio.
        self.before: list[Layout] = []
        self.active: list[bool] = []
        cur = layout
        for st in stages:
            self.before.append(cur)
            nxt = check_stages((st,), cur)
            if isinstance(st, ConvertStage):
                self.active.append(nxt.dtype != cur.dtype)
            elif isinstance(st, DownmixStage):
                self.active.append(cur.channels > 1)
            elif isinstance(st, ResampleStage):
                self.active.append(st.rate != cur.rate)
            else:
                self.active.append(False)
            cur = nxt
        self.writes = any(self.active)
        self._streams: list[Any] = [None] * len(stages)
        self._tracker: SegmentTracker | None = None
        self._received = 0  # samples the VAD received (the tracker's input)
        self._events: list[tuple[int, int]] = []
        self.reset()

    def reset(self) -> None:
        self._received = 0
        self._events = []
        if self._tracker is not None:
            self._tracker.reset()
        ks = self.kernels
        for i, st in enumerate(self.stages):
            b = self.before[i]
            if isinstance(st, ResampleStage) and self.active[i]:
                self._streams[i] = ks._resampler_core(b.rate, st.rate, b.channels, st.quality)
            elif isinstance(st, VadStage):
                assert ks._vad is not None
                t, r, hold = check_decision(st.aggressiveness, None, None, None)  # the preset's rule
                self._streams[i] = ks._vad(b.rate, st.frame_ms, threshold_units(t), threshold_units(r), hold)

    def _step(self, i: int, x: np.ndarray, whole: bool) -> tuple[np.ndarray, np.ndarray | None]:
        st = self.stages[i]
        if self.fail_at == i:
            self.fail_at = None
            raise RuntimeError(f"deliberate failure in chain stage {i} (debug_fail)")
        if not self.active[i] and not isinstance(st, VadStage):
            return x, None
        ks = self.kernels
        if isinstance(st, ConvertStage):
            return ks._convert(x, st.to), None
        if isinstance(st, DownmixStage):
            mean = np.add(x[0], x[1], dtype=np.float64)
            for c in range(2, x.shape[0]):
                np.add(mean, x[c], out=mean)
            mean /= x.shape[0]
            if x.dtype.kind in "iu":
                mean = np.rint(mean)
            return mean.astype(x.dtype).reshape(1, -1), None
        if isinstance(st, ResampleStage):
            f = x if x.dtype == np.float32 else ks._convert(x, "f32")
            if whole:
                b = self.before[i]
                return ks._resample_one_shot(f, b.rate, st.rate, st.quality), None
            return self._streams[i].process(f), None
        samples = x[0] if x.shape[0] == 1 else mono(x, "chain")
        return x, self._streams[i].process(np.ascontiguousarray(samples))

    def _through(self, x: np.ndarray, first: int, whole: bool) -> tuple[np.ndarray, np.ndarray]:
        flags = None
        for i in range(first, len(self.stages)):
            t0 = time.perf_counter_ns()
            x, f = self._step(i, x, whole)
            if f is not None:
                flags = f
            self.times[i] += time.perf_counter_ns() - t0
        return x, (flags if flags is not None else np.zeros(0, np.uint8))

    def _shape(self, y: np.ndarray) -> np.ndarray | None:
        if not self.writes:
            return None
        return y.reshape(-1) if self.out_1d else y

    def process(self, x: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        y, flags = self._through(x.reshape(self.layout.channels, -1), 0, False)
        return self._shape(y), flags

    def run(self, x: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        self.reset()
        try:
            y, flags = self._through(x.reshape(self.layout.channels, -1), 0, True)
        finally:
            self.reset()
        return self._shape(y), flags

    def flush(self) -> tuple[np.ndarray | None, np.ndarray]:
        outs: list[np.ndarray] = []
        flags: list[np.ndarray] = []
        for i, st in enumerate(self.stages):
            if isinstance(st, ResampleStage) and self.active[i]:
                t0 = time.perf_counter_ns()
                tail = self._streams[i].flush()
                self.times[i] += time.perf_counter_ns() - t0
                if tail.shape[1]:
                    y, f = self._through(tail, i + 1, False)
                    outs.append(y)
                    flags.append(f)
        o = self.out
        y = np.concatenate(outs, axis=1) if outs else np.zeros((o.channels, 0), o.dtype)
        f = np.concatenate(flags) if flags else np.zeros(0, np.uint8)
        t = self._tracker
        events: list[tuple[int, int]] = []
        if t is not None:  # the tail's flags, then the end of the stream
            self._track(y.shape[-1] if self.writes else 0, f)
            events = self._events + [(1 if e.kind == "start" else 0, e.sample) for e in t.finish(self._received)]
        self.reset()
        self._events = events
        return self._shape(y), f

    def stage_times(self) -> list[int]:
        t, self.times = self.times, [0] * len(self.stages)
        return t

    def set_timing(self, on: bool) -> None:
        """Accepted for the native interface; the numpy stages are always timed (the clock is cheap next to them)."""

    def set_segments(self, params: tuple[int, ...]) -> None:
        if not self.stages or not isinstance(self.stages[-1], VadStage):
            raise ValueError("chain: speech segments need a chain that ends in a VAD stage")
        vad = self._streams[-1]
        if params[0] != vad.frame:
            raise ValueError(
                f"chain: speech segments for frames of {params[0]} samples, but the chain's VAD frames have {vad.frame}"
            )
        self._tracker = SegmentTracker.from_params(tuple(params))
        self._received = 0
        self._events = []

    def _track(self, samples: int, flags: np.ndarray) -> None:
        t = self._tracker
        assert t is not None
        self._received += samples
        if flags.shape[0]:
            self._events += [(1 if e.kind == "start" else 0, e.sample) for e in t.push(flags)]

    def events(self) -> tuple[tuple[int, int], ...]:
        ev, self._events = self._events, []
        return tuple(ev)

    def process_events(self, x: np.ndarray) -> tuple[np.ndarray | None, np.ndarray, tuple[tuple[int, int], ...]]:
        y, flags = self.process(x)
        if self._tracker is None:
            return y, flags, ()
        self._track((x if y is None else y).shape[-1], flags)
        return y, flags, self.events()

    def set_threads(self, threads: int) -> None:
        """Accepted for the same interface; numpy runs on the calling thread."""
        if threads < 0:
            raise ValueError(f"Chain.set_threads: threads must be 0 (auto) or more, got {threads}")

    def debug_fail(self, stage: int) -> None:
        if not 0 <= stage < len(self.stages):
            raise ValueError(f"stage {stage} out of range (chain of {len(self.stages)})")
        self.fail_at = stage


def python_chain_core(kernels_getter: Any) -> Any:
    """The numpy body's chain factory (bound to its kernel set lazily)."""

    def make(stages: tuple[StageSpec, ...], layout: Layout, out: Layout) -> PythonChainCore:
        return PythonChainCore(kernels_getter(), stages, layout, out)

    return make
