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
- silence shorter than ``min_silence_ms`` inside a segment is bridged
  (it becomes a *pause* of the segment);
- a segment ends (an ``end`` event) once silence has lasted
  ``max(min_silence_ms, hangover_ms)``; its end is the last speech frame's
  last sample plus ``hangover_ms``; at the end of the input it is clipped
  to the input's length;
- ``max_segment_s``: no segment is longer. When speech would carry a
  segment past the limit it is cut inside its longest pause that ends
  within the limit (at the pause's middle, or at the limit if the middle
  lies beyond it; the latest of equally long pauses), and the rest goes
  on as a new segment starting at the cut (no padding, no minimum), cut
  again the same way if needed. Only where the segment has no pause
  before the limit is it cut hard at the limit. Cut pieces touch: no
  audio is lost, the cut lands in silence whenever there is one. A
  hangover that would pass the limit is clipped to it;
- ``merge_up_to_s``: neighbouring segments are joined while the joined
  span (first start to last end, the silence between them included)
  stays at most this long (and at most ``max_segment_s``): chunks for a
  recogniser with a fixed window (Whisper's 30 s). A joined segment's
  ``end`` event comes once the next segment is known not to fit.

Durations are rounded to whole samples (padding, hangover, maximum and
merge lengths) or up to whole frames (minimum speech, minimum silence).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["SegmentEvent", "SegmentTracker", "pair_events", "whole_buffer_segments"]


@dataclass(frozen=True)
class SegmentEvent:
    """A segment boundary: ``kind`` is "start" or "end", ``sample`` its index."""

    kind: str
    sample: int


#: Longest duration a rule takes (one million seconds, about 11.6 days): larger
#: values are mistakes, and they would overflow the sample arithmetic.
MAX_DURATION_S = 1e6

#: Arrays of at least this many flags go run by run through SegmentTracker.push.
RUNS_FROM = 64


def _non_negative(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"speech segments: {name} must be a finite number >= 0, got {value!r}")
    limit = MAX_DURATION_S * (1000 if name.endswith("_ms") else 1)
    if value > limit:
        raise ValueError(f"speech segments: {name} must be at most {limit:g}, got {value!r}")
    return float(value)


def _length(name: str, value: float | None, sample_rate: int) -> int | None:
    """A positive length in seconds as whole samples (None: no limit)."""
    if value is None:
        return None
    if _non_negative(name, value) <= 0:
        raise ValueError(f"speech segments: {name} must be > 0 or None, got {value!r}")
    return max(1, round(value * sample_rate))


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
    merge_up_to_s : float or None
        Join neighbouring segments while the result is at most this long
        (seconds, > 0); None (the default) joins nothing.

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
        merge_up_to_s: float | None = None,
    ) -> None:
        sr = sample_rate
        self.frame_length = frame_length
        self.padding = round(_non_negative("padding_ms", padding_ms) * sr / 1000)
        self.hangover = round(_non_negative("hangover_ms", hangover_ms) * sr / 1000)
        frame_ms = frame_length * 1000 / sr
        self.min_speech = max(1, math.ceil(_non_negative("min_speech_ms", min_speech_ms) / frame_ms - 1e-9))
        min_sil = math.ceil(_non_negative("min_silence_ms", min_silence_ms) / frame_ms - 1e-9)
        self.close_after = max(1, min_sil, math.ceil(self.hangover / frame_length - 1e-9))
        self.max_len = _length("max_segment_s", max_segment_s, sr)
        merge = _length("merge_up_to_s", merge_up_to_s, sr)
        if merge is not None and self.max_len is not None:
            merge = min(merge, self.max_len)
        self.merge_len = merge
        self.reset()

    def params(self) -> tuple[int, int, int, int, int, int, int]:
        """The settings as the integers the rules use, for a native chain's tracker.

        (frame length, padding, hangover, minimum speech frames, closing
        silence frames, maximum segment length, merge length), lengths in
        samples, -1 for no limit: the input of ``rm_chain_set_segments``
        and of :meth:`from_params`.
        """
        return (
            self.frame_length,
            self.padding,
            self.hangover,
            self.min_speech,
            self.close_after,
            -1 if self.max_len is None else self.max_len,
            -1 if self.merge_len is None else self.merge_len,
        )

    @classmethod
    def from_params(cls, params: tuple[int, ...]) -> SegmentTracker:
        """A new tracker with the integer settings of :meth:`params`."""
        frame_length, padding, hangover, min_speech, close_after, max_len, merge_len = params
        t = cls.__new__(cls)
        t.frame_length, t.padding, t.hangover = frame_length, padding, hangover
        t.min_speech, t.close_after = min_speech, close_after
        t.max_len = None if max_len < 0 else max_len
        t.merge_len = None if merge_len < 0 else merge_len
        t.reset()
        return t

    def reset(self) -> None:
        """Forget everything: the next flag is frame 0 of a new stream."""
        self.frame = 0  # index of the next flag
        self.last_end = 0  # end of the last closed segment (samples)
        self.open_start: int | None = None  # start of the open segment
        self.cand_start: int | None = None  # first speech sample of a candidate
        self.cand_speech = 0  # speech frames in the candidate
        self.last_speech_end = 0  # one past the last speech sample
        self.silence = 0  # silence frames since the last speech frame
        self.pauses: list[tuple[int, int]] = []  # bridged silences of the open segment, in order
        # merging: the joined segment being built (start; end once a part has closed)
        self.group_start: int | None = None
        self.group_end: int | None = None
        self.next_start: int | None = None  # an open part not yet known to fit the group

    # ---- the segment rules (before merging) ------------------------------------

    def _close(self, end: int, events: list[SegmentEvent]) -> None:
        assert self.open_start is not None
        if self.max_len is not None:
            end = min(end, self.open_start + self.max_len)
        self._raw_end(end, events)
        self.last_end = end
        self.open_start = None
        self.pauses.clear()

    def _cut_point(self, limit: int) -> int:
        """Where to cut the open segment so that its first piece ends by ``limit``."""
        assert self.open_start is not None
        best, best_len = limit, 0
        for p0, p1 in self.pauses:
            cut = min((p0 + p1) // 2, limit)
            if p0 <= cut and cut > self.open_start and p1 - p0 >= best_len:
                best, best_len = cut, p1 - p0
        return best

    def _enforce_max(self, b: int, events: list[SegmentEvent]) -> None:
        """A speech frame ends at ``b``: cut the open segment until no piece passes the limit."""
        assert self.max_len is not None
        while self.open_start is not None and b - self.open_start > self.max_len:
            cut = self._cut_point(self.open_start + self.max_len)
            self._raw_end(cut, events)
            self._raw_start(cut, events)
            self.open_start = cut
            self.pauses = [p for p in self.pauses if p[0] >= cut]

    def push(self, flags: object) -> list[SegmentEvent]:
        """Feed the next flags (any iterable of 0/1); return the events they cause.

        A long 1-D array of flags (a whole buffer's, or a stream's block)
        goes run by run instead of frame by frame (:meth:`_push_runs`): the same events and
        state, several times faster.
        """
        if isinstance(flags, np.ndarray):
            if flags.ndim == 1 and flags.shape[0] >= RUNS_FROM:
                return self._push_runs(flags)
            flags = flags.tolist()  # a few flags (a stream's frame): Python ints iterate faster
        return self._push_frames(flags)

    def _push_frames(self, flags: object) -> list[SegmentEvent]:
        """:meth:`push`, one frame at a time (the reference the run-wise path follows)."""
        events: list[SegmentEvent] = []
        n = self.frame_length
        for f in flags:  # type: ignore[attr-defined]
            a = self.frame * n
            b = a + n
            self.frame += 1
            if f:
                if self.open_start is not None and self.silence and self.max_len is not None:
                    self.pauses.append((self.last_speech_end, a))
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
                        self._raw_start(start, events)
                if self.max_len is not None and self.open_start is not None:
                    self._enforce_max(b, events)
            else:
                self.silence += 1
                if self.open_start is not None and self.silence >= self.close_after:
                    self._close(self.last_speech_end + self.hangover, events)
                elif self.open_start is None and self.cand_start is not None and self.silence >= self.close_after:
                    self.cand_start = None  # too little speech: dropped
            if self.merge_len is not None:
                self._group_overflow(b, events)
        return events

    def _push_runs(self, flags: np.ndarray) -> list[SegmentEvent]:
        """:meth:`push` of a 1-D array, one run of equal flags at a time.

        Within a run only the run's ends matter unless a segment could
        pass ``max_segment_s`` inside it or segments are merged: such runs
        (and every run when merging) go frame by frame through
        :meth:`_push_frames`, so the events and the state after the call
        are exactly those of the frame-by-frame path.
        """
        if self.merge_len is not None:
            return self._push_frames(flags.tolist())
        speech = flags != 0
        total = speech.shape[0]
        edges = np.flatnonzero(speech[1:] != speech[:-1]) + 1
        starts = [0, *edges.tolist()]
        ends = [*starts[1:], total]
        first = bool(speech[0])
        events: list[SegmentEvent] = []
        n = self.frame_length
        max_len = self.max_len
        for r, (i, j) in enumerate(zip(starts, ends, strict=True)):
            k = j - i
            frame = self.frame
            if (r % 2 == 0) == first:  # a run of speech frames
                a, b_end = frame * n, (frame + k) * n
                start = self.open_start
                if start is None:
                    cand = a if self.cand_start is None else self.cand_start
                    need = self.min_speech - (0 if self.cand_start is None else self.cand_speech)
                    if k >= need:
                        start = max(cand - self.padding, self.last_end, 0)
                if max_len is not None and start is not None and b_end - start > max_len:
                    events += self._push_frames([1] * k)  # a cut may fall inside this run
                    continue
                if self.open_start is not None and self.silence and max_len is not None:
                    self.pauses.append((self.last_speech_end, a))
                self.silence = 0
                self.last_speech_end = b_end
                if self.open_start is None:
                    if start is None:
                        if self.cand_start is None:
                            self.cand_start, self.cand_speech = a, 0
                        self.cand_speech += k
                    else:
                        self.open_start = start
                        self.cand_start, self.cand_speech = None, self.min_speech
                        self._raw_start(start, events)
            else:  # a run of silent frames
                self.silence += k
                if self.silence >= self.close_after:
                    if self.open_start is not None:
                        self._close(self.last_speech_end + self.hangover, events)
                    self.cand_start = None
            self.frame = frame + k
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
        if self.group_start is not None:
            assert self.group_end is not None and self.next_start is None
            events.append(SegmentEvent("end", self.group_end))
            self.group_start = self.group_end = None
        return events

    # ---- merging neighbours -------------------------------------------------------

    def _raw_start(self, sample: int, events: list[SegmentEvent]) -> None:
        if self.merge_len is None:
            events.append(SegmentEvent("start", sample))
        elif self.group_start is None:
            self.group_start, self.group_end = sample, None
            events.append(SegmentEvent("start", sample))
        else:
            self.next_start = sample

    def _raw_end(self, sample: int, events: list[SegmentEvent]) -> None:
        if self.merge_len is None:
            events.append(SegmentEvent("end", sample))
            return
        assert self.group_start is not None
        if self.next_start is not None:
            if sample - self.group_start <= self.merge_len:
                self.next_start = None  # the part fits: joined
            else:
                self._split_group(events)
        self.group_end = sample

    def _split_group(self, events: list[SegmentEvent]) -> None:
        """Close the group at its last part; the pending part starts a new group."""
        assert self.group_end is not None and self.next_start is not None
        events.append(SegmentEvent("end", self.group_end))
        events.append(SegmentEvent("start", self.next_start))
        self.group_start, self.group_end, self.next_start = self.next_start, None, None

    def _group_overflow(self, b: int, events: list[SegmentEvent]) -> None:
        """After the frame ending at ``b``: close a group that nothing more can join."""
        limit = self.merge_len
        if self.group_start is None or self.group_end is None or limit is None or b - self.group_start <= limit:
            return
        if self.next_start is not None:
            # The open part ends at its hangover's end or later, unless a
            # maximum length may cut it earlier: then wait for its end.
            if self.max_len is None and min(self.last_speech_end + self.hangover, b) - self.group_start > limit:
                self._split_group(events)
        elif self.open_start is None:
            events.append(SegmentEvent("end", self.group_end))  # any later part ends after b
            self.group_start = self.group_end = None

    # ---- for streaming consumers ---------------------------------------------------------

    def committed(self, received: int) -> int | None:
        """Sample up to which the open (output) segment surely extends; None if none is open.

        A streaming filter may emit the audio of the open segment up to
        here: later flags can end or cut the segment after this sample,
        never before it (and a cut loses no audio).
        """
        if self.merge_len is not None:
            if self.group_start is None:
                return None
            if self.next_start is not None or self.open_start is None:
                assert self.group_end is not None
                return self.group_end
        if self.open_start is None:
            return None
        bound = min(self.last_speech_end + self.hangover, received)
        if self.max_len is not None:
            bound = min(bound, self.open_start + self.max_len)
        return bound


def whole_buffer_segments(
    tracker: SegmentTracker, flags: np.ndarray, total: int | None
) -> list[tuple[int, int]] | None:
    """The segments (start, end samples) of ``push(flags)`` then ``finish(total)`` on a new tracker, array-wise.

    A whole buffer's flags (``VADNode.annotate``) need only the final
    events, so the speech runs are grouped with numpy instead of walking
    them one by one: runs separated by less than the closing silence form
    one candidate, which becomes a segment when it holds ``min_speech``
    speech frames (from its first speech frame, minus the padding, never
    before the previous end), and ends at its last speech frame plus the
    hangover (clipped to the maximum length, and at the end of the input
    to ``total``), exactly as :meth:`SegmentTracker.push` decides it frame
    by frame. Returns None (the caller then uses the tracker) when
    segments are merged or a segment would pass the maximum length (a cut
    depends on its pauses) or when ``tracker`` has seen flags already.
    """
    if (
        tracker.merge_len is not None
        or tracker.frame
        or tracker.open_start is not None
        or tracker.cand_start is not None
    ):
        return None
    speech = np.asarray(flags).reshape(-1) != 0
    count = speech.shape[0]
    if count == 0:
        return []
    edges = np.flatnonzero(speech[1:] != speech[:-1]) + 1
    run_starts = np.concatenate(([0], edges))
    run_ends = np.concatenate((edges, [count]))
    talk = speech[run_starts]
    first, last = run_starts[talk], run_ends[talk]  # speech runs, in frames
    if first.shape[0] == 0:
        return []
    # A silence of close_after frames or more ends a candidate (and a segment).
    breaks = np.flatnonzero(first[1:] - last[:-1] >= tracker.close_after)
    group_first = np.concatenate(([0], breaks + 1))
    group_last = np.concatenate((breaks, [first.shape[0] - 1]))
    frames = np.add.reduceat(last - first, group_first)
    kept = np.flatnonzero(frames >= tracker.min_speech)
    n, max_len = tracker.frame_length, tracker.max_len
    # The last group is still open at the end unless enough silence follows it.
    open_at_end = count - int(last[-1]) < tracker.close_after
    segments: list[tuple[int, int]] = []
    last_end = 0
    final = group_first.shape[0] - 1
    for g in kept.tolist():
        a = int(first[group_first[g]]) * n
        b = int(last[group_last[g]]) * n
        start = max(a - tracker.padding, last_end, 0)
        if max_len is not None and b - start > max_len:
            return None
        end = b + tracker.hangover
        if g == final and open_at_end:
            if total is not None:
                end = min(end, total)
            end = max(end, start)
        if max_len is not None:
            end = min(end, start + max_len)
        segments.append((start, end))
        last_end = end
    return segments


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
