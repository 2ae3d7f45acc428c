"""Per-stream state of VADNode: flags, speech events and streaming filter.

Speech start and end events come from the kernel module's
:class:`~remotemedia.kernels.vad_segments.SegmentTracker`, the same one
``speech_segments`` uses offline, fed with the flags of each chunk. So a
stream gives the segments a whole-buffer run gives, at the same samples.

Event samples count from the first sample this node received in the
stream (the node's input timeline). An event is reported with the chunk
whose flags decided it: a start only once ``min_speech_ms`` of speech has
been seen (its sample lies earlier, pre-roll included), an end once the
silence has lasted long enough.

In "filter" mode the output is the audio inside segments, in order, as
soon as it is known to belong to one: audio after the last speech frame
is held back until the segment goes on or ends (at most the hangover).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from remotemedia.core.audio import AudioBuffer
from remotemedia.kernels.vad_segments import SegmentTracker


@dataclass(frozen=True)
class SpeechEvent:
    """A speech boundary in a stream.

    Attributes
    ----------
    kind : {"start", "end"}
        Segment start or end.
    sample : int
        Sample index in the VAD node's input stream (from 0).
    time_s : float
        ``sample / sample_rate`` (seconds from the start of the stream).
    audio : ndarray or None
        Start events of a ``VADNode(pre_roll_audio=True)``: the samples
        from ``sample`` to the end of the chunk that decided the start (the
        pre-roll and the speech so far), so a consumer that starts
        recording at the event misses nothing. None otherwise.
    """

    kind: str
    sample: int
    time_s: float
    audio: np.ndarray | None = field(default=None, compare=False, repr=False)


_new = object.__new__


def _speech_event(kind: str, sample: int, time_s: float) -> SpeechEvent:
    """``SpeechEvent(kind, sample, time_s)``, filled in directly.

    The same object the dataclass's ``__init__`` makes (no ``__post_init__``,
    no ``__slots__``), without its frozen ``__setattr__`` per field: less
    than half the time, on the push that carries an event.
    """
    e = _new(SpeechEvent)
    d = e.__dict__
    d["kind"] = kind
    d["sample"] = sample
    d["time_s"] = time_s
    d["audio"] = None
    return e


class VadStreamState:
    """Streaming VAD, segment tracker and sample history of one stream."""

    def __init__(self, node: Any, kernels: Any) -> None:
        self.node = node
        self.kernels = kernels
        self.vad: Any = None
        self.tracker: SegmentTracker | None = None
        self.rate = 0
        self.channels = 0
        self.received = 0  # samples received so far
        self.keep = node.mode == "filter" or node.pre_roll_audio
        self.hist: list[np.ndarray] = []  # recent input, in order
        self.hist_start = 0  # sample index of hist[0][..., 0]
        self.emit: int | None = None  # filter: next sample to output of the open segment
        self.emitted = 0  # filter: end of the audio output so far
        self.flag_frames = 0
        self.frame_ms = node.frame_duration_ms

    def _open(self, buf: AudioBuffer) -> None:
        node = self.node
        self.rate, self.channels = buf.sample_rate, buf.channels
        self.template = buf.data[..., :0].copy()
        self.vad = node.make_vad(self.kernels, buf.sample_rate)
        if self.vad.analysis_rate != buf.sample_rate:
            raise ValueError(
                f"VADNode {node.name!r}: streams at {buf.sample_rate} Hz are not supported (the detector would "
                f"resample to {self.vad.analysis_rate} Hz and events are sample-accurate); put an "
                "AudioResampleNode to 16000 Hz before it"
            )
        self.tracker = SegmentTracker(buf.sample_rate, self.vad.frame_length, **node.segment_settings())

    def _check(self, buf: AudioBuffer) -> None:
        if buf.sample_rate != self.rate:
            raise ValueError(
                f"VADNode {self.node.name!r}: sample rate changed from {self.rate} to {buf.sample_rate} Hz "
                "mid-stream; open a new stream"
            )
        if buf.channels != self.channels:
            raise ValueError(
                f"VADNode {self.node.name!r}: stream changed from {self.channels} ch at {self.rate} Hz to "
                f"{buf.channels} ch at {buf.sample_rate} Hz mid-stream; open a new stream"
            )

    def _slice(self, a: int, b: int) -> np.ndarray:
        """Samples [a, b) of the stream from the history."""
        parts = []
        pos = self.hist_start
        for h in self.hist:
            n = h.shape[-1]
            lo, hi = max(a, pos), min(b, pos + n)
            if lo < hi:
                parts.append(h[..., lo - pos : hi - pos])
            pos += n
            if pos >= b:
                break
        if len(parts) == 1:
            return parts[0].copy()
        if not parts:
            return self.template.copy()
        return np.concatenate(parts, axis=-1)

    def _trim(self) -> None:
        t = self.tracker
        assert t is not None
        keep_from = t.frame * t.frame_length - t.padding  # earliest start of a future candidate
        if t.cand_start is not None:
            keep_from = min(keep_from, t.cand_start - t.padding)
        if self.emit is not None:
            keep_from = min(keep_from, self.emit)
        if self.node.pre_roll_audio and t.open_start is not None and t.max_len is not None:
            keep_from = min(keep_from, t.open_start)  # a cut may start a segment anywhere in it (<= max_len)
        hist = self.hist
        while hist and self.hist_start + hist[0].shape[-1] <= keep_from:
            self.hist_start += hist.pop(0).shape[-1]

    def _events(self, raw: list[Any], pieces: list[tuple[int, int]]) -> list[SpeechEvent]:
        out = []
        for ev in raw:
            audio = None
            if ev.kind == "start":
                if self.node.pre_roll_audio:
                    audio = self._slice(ev.sample, self.received)
                self.emit = max(ev.sample, self.emitted)  # a cut piece goes on where the output is
            else:
                if self.emit is not None and ev.sample > self.emit:
                    pieces.append((self.emit, ev.sample))
                    self.emitted = ev.sample
                self.emit = None
            out.append(SpeechEvent(ev.kind, ev.sample, ev.sample / self.rate, audio))
        return out

    def _pending_speech(self, pieces: list[tuple[int, int]]) -> None:
        """Filter: output the open segment up to the earliest sample its end can have."""
        t = self.tracker
        assert t is not None
        bound = t.committed(self.received)
        if self.emit is None or bound is None:
            return
        if bound > self.emit:
            pieces.append((self.emit, bound))
            self.emit = self.emitted = bound

    def _output(self, buf: AudioBuffer, flags: np.ndarray, events: list[SpeechEvent], pieces: Any) -> AudioBuffer:
        meta: dict[str, Any] = {"vad_flags": flags, "vad_events": events}
        meta["vad_frame_duration_ms"] = self.node.frame_duration_ms
        if self.node.mode == "annotate":
            return buf.replace(**meta)
        if len(pieces) == 1:
            data = self._slice(*pieces[0])
        elif pieces:
            data = np.concatenate([self._slice(a, b) for a, b in pieces], axis=-1)
        else:
            data = buf.data[..., :0].copy()
        meta["vad_source_spans"] = [(a, b - a) for a, b in pieces]
        return buf.derive(data, **meta)

    def process(self, buf: AudioBuffer, flags: np.ndarray | None = None, owned: bool = False) -> AudioBuffer:
        """Flag one chunk; report the events its flags decide.

        ``flags``: the chunk's flags when a native chain computed them
        already (the state's own detector then stays idle). ``owned``:
        ``buf.data`` is a new array nobody else holds (a chain's output),
        so the history keeps it without a copy.
        """
        if self.vad is None:
            self._open(buf)
        elif buf.sample_rate != self.rate or buf.channels != self.channels:
            self._check(buf)
        x = buf.data
        if flags is None:
            flags = self.vad.process(x)
        self.received += x.shape[-1]
        if self.keep:
            self.hist.append(x if owned else x.copy())  # callers may reuse their frame buffers
        raw = self.tracker.push(flags) if flags.shape[0] else []  # type: ignore[union-attr]
        pieces: list[tuple[int, int]] = []
        events = self._events(raw, pieces) if raw else []
        if self.node.mode == "filter":
            self._pending_speech(pieces)
        out = self._output(buf, flags, events, pieces)
        if self.keep:
            self._trim()
        return out

    def annotate_flags(self, buf: AudioBuffer, flags: np.ndarray) -> dict[str, Any] | None:
        """A native chain's fast path: the metadata of one chunk whose flags the chain computed.

        Only for "annotate" without pre-roll audio (nothing to keep); returns
        None otherwise, and the caller uses :meth:`process`. Same events as
        :meth:`process`, without building intermediate buffers.
        """
        if self.keep:
            return None
        if self.vad is None:
            self._open(buf)
        elif buf.sample_rate != self.rate or buf.channels != self.channels:
            self._check(buf)
        return self.chain_meta(buf.data.shape[-1], flags)

    def chain_meta(self, frames: int, flags: np.ndarray) -> dict[str, Any]:
        """:meth:`annotate_flags` for the next chunk of a native chain, once it returned a dict.

        The chain fixes the chunks' rate and channels and the state is
        open, so only the bookkeeping is left: ``frames`` samples received,
        the events of ``flags``.
        """
        self.received += frames
        events: list[SpeechEvent] = []
        if flags.shape[0]:
            raw = self.tracker.push(flags)  # type: ignore[union-attr]
            if raw:
                events = self._events(raw, [])
        return {"vad_flags": flags, "vad_events": events, "vad_frame_duration_ms": self.frame_ms}

    def track_in_chain(self, chain: Any, layout: Any) -> bool:
        """Hand the segment tracking of this stream to ``chain`` (which ends in this VAD).

        Only for "annotate" without pre-roll audio (nothing to keep) and a
        chain body that tracks segments; ``layout`` is the chain's output
        (this state's input). The state opens for it and its own tracker
        stays idle: each chunk's events come from the chain
        (:meth:`speech_events`), the end of stream's from its flush
        (:meth:`native_tail`). The chain counts the samples, so
        ``received`` is not kept up to date. Returns False (nothing
        changed) otherwise.
        """
        if self.keep or self.vad is not None or getattr(chain, "set_segments", None) is None:
            return False
        shape = (0,) if layout.ndim == 1 else (layout.channels, 0)
        self._open(AudioBuffer(np.zeros(shape, layout.dtype), layout.rate))
        assert self.tracker is not None
        chain.set_segments(self.tracker.params())
        return True

    def speech_events(self, events: tuple[tuple[int, int], ...]) -> list[SpeechEvent]:
        """A tracking chain's ``(kind, sample)`` events (kind 1 start, 0 end) as :class:`SpeechEvent`."""
        rate = self.rate
        return [_speech_event("start" if kind else "end", sample, sample / rate) for kind, sample in events]

    def native_tail(
        self, tail: AudioBuffer | None, flags: np.ndarray, events: tuple[tuple[int, int], ...]
    ) -> AudioBuffer | None:
        """End of a tracking chain's stream: its tail (if any) with the last flags and events.

        ``events`` are the tail's and the end of stream's (an open segment
        closed, clipped to the stream's length). None when there is
        neither tail nor event.
        """
        if tail is None:
            if not events:
                return None
            tail = AudioBuffer(self.template, self.rate)
        return tail.replace(
            vad_flags=flags,
            vad_events=self.speech_events(events),
            vad_frame_duration_ms=self.frame_ms,
        )

    def flush(self) -> AudioBuffer | None:
        """End of stream: close an open segment (clipped to the stream's length); None if none was open."""
        if self.vad is None or self.tracker is None:
            return None
        pieces: list[tuple[int, int]] = []
        events = self._events(self.tracker.finish(self.received), pieces)
        if not events:
            return None
        empty = AudioBuffer(self.template, self.rate)
        out = self._output(empty, np.zeros(0, np.uint8), events, pieces)
        self.hist.clear()
        return out
