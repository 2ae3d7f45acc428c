"""From per-frame speech flags to speech segments, offline or streaming.

:class:`SegmentTracker` is the one implementation of the segment rules.
``speech_segments`` feeds it all flags at once; a streaming consumer feeds
it the flags of each chunk as they come and gets the same events, so the
same settings mean the same thing offline and live.

Rules, in samples of the input (edges are exact sample indices; times are
``sample / sample_rate``):

- a candidate segment begins at the first speech frame after silence;
- it becomes a segment (a ``start`` event) once it holds ``min_speech_ms``
  of speech frames; shorter candidates are dropped. The start is the
  first speech frame's first sample minus ``padding_ms`` (pre-roll),
  never before 0 nor before the previous segment's end;
- silence shorter than ``min_silence_ms`` inside a segment is bridged;
- a segment ends (an ``end`` event) once silence has lasted
  ``max(min_silence_ms, hangover_ms)``; its end is the last speech frame's
  last sample plus ``hangover_ms``; at the end of the input it is clipped
  to the input's length;
- a segment that reaches ``max_segment_s`` is cut there and, if speech
  goes on, a new one starts at the same sample (no padding, no minimum).

Durations are rounded to whole samples (padding, hangover, maximum length)
or up to whole frames (minimum speech, minimum silence).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["SegmentEvent", "SegmentTracker"]


@dataclass(frozen=True)
class SegmentEvent:
    """A segment boundary: ``kind`` is "start" or "end", ``sample`` its index."""

    kind: str
    sample: int


def _non_negative(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"speech segments: {name} must be a finite number >= 0, got {value!r}")
    return float(value)


class SegmentTracker:
    """Incremental segmenter fed with VAD frame flags.

    Parameters
    ----------
    sample_rate : int
        Rate of the input the flags describe (Hz).
    frame_length : int
        Input samples per flag.
    padding_ms, hangover_ms, min_speech_ms, min_silence_ms : float
        See the module docstring; all >= 0.
    max_segment_s : float or None
        Longest segment (seconds, > 0); None for no limit.

    Raises
    ------
    ValueError
        A duration is negative, not finite or not a number.
    """

    def __init__(
        self,
        sample_rate: int,
        frame_length: int,
        padding_ms: float = 60.0,
        hangover_ms: float = 60.0,
        min_speech_ms: float = 90.0,
        min_silence_ms: float = 300.0,
        max_segment_s: float | None = 30.0,
    ) -> None:
        sr = sample_rate
        self.frame_length = frame_length
        self.padding = round(_non_negative("padding_ms", padding_ms) * sr / 1000)
        self.hangover = round(_non_negative("hangover_ms", hangover_ms) * sr / 1000)
        frame_ms = frame_length * 1000 / sr
        self.min_speech = max(1, math.ceil(_non_negative("min_speech_ms", min_speech_ms) / frame_ms - 1e-9))
        min_sil = math.ceil(_non_negative("min_silence_ms", min_silence_ms) / frame_ms - 1e-9)
        self.close_after = max(1, min_sil, math.ceil(self.hangover / frame_length - 1e-9))
        if max_segment_s is None:
            self.max_len: int | None = None
        else:
            if _non_negative("max_segment_s", max_segment_s) <= 0:
                raise ValueError(f"speech segments: max_segment_s must be > 0 or None, got {max_segment_s!r}")
            self.max_len = max(1, round(max_segment_s * sr))
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next flag is frame 0 of a new stream."""
        self.frame = 0  # index of the next flag
        self.last_end = 0  # end of the last closed segment (samples)
        self.open_start: int | None = None  # start of the open segment
        self.cand_start: int | None = None  # first speech sample of a candidate
        self.cand_speech = 0  # speech frames in the candidate
        self.last_speech_end = 0  # one past the last speech sample
        self.silence = 0  # silence frames since the last speech frame

    def _close(self, end: int, events: list[SegmentEvent]) -> None:
        assert self.open_start is not None
        if self.max_len is not None:
            end = min(end, self.open_start + self.max_len)
        events.append(SegmentEvent("end", end))
        self.last_end = end
        self.open_start = None

    def push(self, flags: object) -> list[SegmentEvent]:
        """Feed the next flags (any iterable of 0/1); return the events they cause."""
        events: list[SegmentEvent] = []
        n = self.frame_length
        for f in flags:  # type: ignore[attr-defined]
            a = self.frame * n
            b = a + n
            self.frame += 1
            if f:
                self.silence = 0
                self.last_speech_end = b
                if self.open_start is None:
                    if self.cand_start is None:
                        self.cand_start = a
                        self.cand_speech = 0
                    self.cand_speech += 1
                    if self.cand_speech >= self.min_speech:
                        start = max(self.cand_start - self.padding, self.last_end, 0)
                        self.open_start = start
                        self.cand_start = None
                        events.append(SegmentEvent("start", start))
            else:
                self.silence += 1
                if self.open_start is not None and self.silence >= self.close_after:
                    self._close(self.last_speech_end + self.hangover, events)
                elif self.open_start is None and self.cand_start is not None and self.silence >= self.close_after:
                    self.cand_start = None  # too little speech: dropped
            if self.max_len is not None and self.open_start is not None and b - self.open_start >= self.max_len:
                cut = self.open_start + self.max_len
                self._close(cut, events)
                if f:
                    self.open_start = cut
                    events.append(SegmentEvent("start", cut))
        return events

    def finish(self, total_samples: int | None = None) -> list[SegmentEvent]:
        """End of input: close an open segment (at most at ``total_samples``)."""
        events: list[SegmentEvent] = []
        if self.open_start is not None:
            end = self.last_speech_end + self.hangover
            if total_samples is not None:
                end = min(end, total_samples)
            self._close(max(end, self.open_start), events)
        self.cand_start = None
        return events


def pair_events(events: list[SegmentEvent], sample_rate: int) -> list[tuple[float, float]]:
    """(start_s, end_s) pairs from a complete, ordered list of events."""
    out: list[tuple[float, float]] = []
    start = None
    for ev in events:
        if ev.kind == "start":
            start = ev.sample
        else:
            assert start is not None
            out.append((start / sample_rate, ev.sample / sample_rate))
            start = None
    return out
