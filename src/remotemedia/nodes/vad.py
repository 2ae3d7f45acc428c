"""VADNode: voice activity detection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from remotemedia.core.audio import AudioBuffer
from remotemedia.core.node import Node, computes_as
from remotemedia.kernels.chain import VadStage
from remotemedia.kernels.vad_segments import SegmentTracker, pair_events
from remotemedia.nodes.vad_stream import VadStreamState

if TYPE_CHECKING:
    from remotemedia.core.retry import RetryPolicy
    from remotemedia.kernels import KernelSet

MODES = ("annotate", "filter")
_DEFAULTS: dict[str, Any] = {
    "padding_ms": 60.0,
    "hangover_ms": 60.0,
    "min_speech_ms": 90.0,
    "min_silence_ms": 300.0,
    "max_segment_s": 30.0,
    "merge_up_to_s": None,
    "pre_roll_audio": False,
}
FRAME_DURATIONS_MS = (10, 20, 30)


class VADNode(Node):
    """Detect speech (kernels ``VAD`` and ``speech_segments``).

    Metadata added to the output buffer:

    - ``vad_flags``: uint8 array, one flag per complete frame of the input;
    - ``vad_segments``: list of ``(start_s, end_s)`` speech segments, in
      seconds from the start of this node's input;
    - ``vad_frame_duration_ms``: the frame length of the flags.

    In a stream (``Pipeline.stream()`` / ``open_stream()``) each output
    chunk carries the flags of the frames it completed and ``vad_events``,
    the :class:`~remotemedia.nodes.vad_stream.SpeechEvent` list (speech
    start / end, sample-accurate) its flags decided; the segments these
    events pair into are the ``vad_segments`` of a whole-buffer run. In
    "filter" mode stream chunks also carry ``vad_source_spans``: ``(start
    sample in the node's input, frames)`` of each piece they hold.

    Parameters
    ----------
    frame_duration_ms : {10, 20, 30}
        Frame length of the decisions.
    aggressiveness : {0, 1, 2, 3}
        Higher drops more non-speech (and more speech).
    mode : {"annotate", "filter"}
        "annotate" passes the audio through unchanged; "filter" keeps only
        the speech segments, concatenated.
    padding_ms, hangover_ms, min_speech_ms, min_silence_ms, max_segment_s, merge_up_to_s
        Segment rules, as for :func:`remotemedia.speech_segments` (same
        defaults; the same settings give the same segments offline and in
        streams).
    pre_roll_audio : bool
        In streams, attach to each start event the audio from the segment
        start (pre-roll included) to the end of the deciding chunk.
    runtime_hint, name, retry
        See :class:`~remotemedia.Node`.

    Raises
    ------
    ValueError
        Bad frame length, aggressiveness, mode or segment setting.
    """

    uses_kernels = True

    def __init__(
        self,
        frame_duration_ms: int = 30,
        aggressiveness: int = 2,
        mode: str = "annotate",
        runtime_hint: str = "auto",
        name: str | None = None,
        retry: RetryPolicy | None = None,
        padding_ms: float = 60.0,
        hangover_ms: float = 60.0,
        min_speech_ms: float = 90.0,
        min_silence_ms: float = 300.0,
        max_segment_s: float | None = 30.0,
        pre_roll_audio: bool = False,
        merge_up_to_s: float | None = None,
    ) -> None:
        super().__init__(name=name, runtime_hint=runtime_hint, retry=retry)
        if frame_duration_ms not in FRAME_DURATIONS_MS or isinstance(frame_duration_ms, bool):
            raise ValueError(f"VADNode: frame_duration_ms must be 10, 20 or 30, got {frame_duration_ms!r}")
        if aggressiveness not in (0, 1, 2, 3) or isinstance(aggressiveness, bool):
            raise ValueError(f"VADNode: aggressiveness must be 0, 1, 2 or 3, got {aggressiveness!r}")
        if mode not in MODES:
            raise ValueError(f"VADNode: mode must be 'annotate' or 'filter', got {mode!r}")
        self.frame_duration_ms = int(frame_duration_ms)
        self.aggressiveness = int(aggressiveness)
        self.mode = mode
        self.padding_ms = padding_ms
        self.hangover_ms = hangover_ms
        self.min_speech_ms = min_speech_ms
        self.min_silence_ms = min_silence_ms
        self.max_segment_s = max_segment_s
        self.merge_up_to_s = merge_up_to_s
        SegmentTracker(16000, 480, **self.segment_settings())  # validates the settings now
        self.pre_roll_audio = bool(pre_roll_audio)

    def params(self) -> dict[str, Any]:
        """Constructor arguments; segment rules and ``pre_roll_audio`` only when not at their defaults."""
        out: dict[str, Any] = {
            "frame_duration_ms": self.frame_duration_ms,
            "aggressiveness": self.aggressiveness,
            "mode": self.mode,
        }
        extra = {**self.segment_settings(), "pre_roll_audio": self.pre_roll_audio}
        out.update({k: v for k, v in extra.items() if v != _DEFAULTS[k]})
        return out

    def segment_settings(self) -> dict[str, Any]:
        """The segment rules as keyword arguments of ``speech_segments`` / ``SegmentTracker``."""
        return {
            "padding_ms": self.padding_ms,
            "hangover_ms": self.hangover_ms,
            "min_speech_ms": self.min_speech_ms,
            "min_silence_ms": self.min_silence_ms,
            "max_segment_s": self.max_segment_s,
            "merge_up_to_s": self.merge_up_to_s,
        }

    def native_stage(self) -> VadStage | None:
        """Chain stage: the flags (segments and filtering stay here, see :meth:`annotate`)."""
        return VadStage(self.frame_duration_ms, self.aggressiveness) if computes_as(self, VADNode) else None

    def process_with(self, data: Any, kernels: KernelSet) -> AudioBuffer:
        """Annotate (or filter) one whole buffer."""
        buf = AudioBuffer.from_any(data, "VADNode")
        vad = kernels.VAD(buf.sample_rate, self.frame_duration_ms, self.aggressiveness)
        return self.annotate(buf, vad.process(buf.data))

    def annotate(self, buf: AudioBuffer, flags: np.ndarray) -> AudioBuffer:
        """The output for a whole buffer whose frames got ``flags``.

        Segments come from the flags through the same tracker
        ``speech_segments`` uses (so the detector runs once); a chain that
        computed the flags natively finishes here too.
        """
        frame = buf.sample_rate * self.frame_duration_ms // 1000
        tracker = SegmentTracker(buf.sample_rate, frame, **self.segment_settings())
        events = tracker.push(flags.tolist())
        events += tracker.finish(buf.frames)
        segments = [(float(s), float(e)) for s, e in pair_events(events, buf.sample_rate)]
        meta: dict[str, Any] = {
            "vad_flags": flags,
            "vad_segments": segments,
            "vad_frame_duration_ms": self.frame_duration_ms,
        }
        if self.mode == "annotate":
            return buf.replace(**meta)
        return buf.derive(keep_segments(buf.data, buf.sample_rate, segments), **meta)

    def open_state(self, kernels: KernelSet | None) -> VadStreamState:
        """Per-stream state: VAD, segment tracker (and history for pre-roll / filter)."""
        return VadStreamState(self, kernels)

    def process_chunk(self, data: Any, state: VadStreamState, kernels: KernelSet | None) -> AudioBuffer:
        """Flag the complete frames of one chunk (leftover samples wait for the next chunk).

        Adds ``vad_flags`` and ``vad_events`` (see the class docstring); in
        "filter" mode the output holds the speech audio known so far.
        """
        return state.process(AudioBuffer.from_any(data, "VADNode"))

    def flush(self, state: VadStreamState, kernels: KernelSet | None) -> AudioBuffer | None:
        """End of stream: the closing event of an open segment (and its audio in "filter" mode)."""
        return state.flush()


def keep_segments(x: np.ndarray, sample_rate: int, segments: list[tuple[float, float]]) -> np.ndarray:
    """Concatenate the samples of ``x`` inside ``segments`` (seconds), along the last axis."""
    n = x.shape[-1]
    parts = []
    for start, end in segments:
        a = min(n, max(0, round(start * sample_rate)))
        b = min(n, max(a, round(end * sample_rate)))
        parts.append(x[..., a:b])
    if not parts:
        return x[..., :0].copy()
    return np.concatenate(parts, axis=-1)
