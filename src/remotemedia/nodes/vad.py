"""VADNode: voice activity detection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from remotemedia.core.audio import AudioBuffer
from remotemedia.core.node import Node, computes_as
from remotemedia.kernels.chain import VadStage
from remotemedia.kernels.vad import ENGINES, SEGMENT_DEFAULTS, check_decision, check_settings
from remotemedia.kernels.vad_segments import SegmentTracker, pair_events, whole_buffer_segments
from remotemedia.nodes.vad_stream import VadStreamState

if TYPE_CHECKING:
    from remotemedia.core.retry import RetryPolicy
    from remotemedia.kernels import KernelSet

MODES = ("annotate", "filter")


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
        Higher drops more non-speech (and more speech): a preset of
        ``threshold``, ``release`` and ``hold_ms``.
    threshold, release, hold_ms, engine, model_path
        The decision rule and scorer, as for :class:`remotemedia.VAD`
        (None: the aggressiveness preset; ``engine="silero"`` needs the
        ``silero`` extra).
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
        padding_ms: float | None = None,
        hangover_ms: float | None = None,
        min_speech_ms: float | None = None,
        min_silence_ms: float | None = None,
        max_segment_s: float | None = SEGMENT_DEFAULTS["max_segment_s"],
        pre_roll_audio: bool = False,
        threshold: float | None = None,
        release: float | None = None,
        hold_ms: int | None = None,
        engine: str = "remotemedia",
        model_path: str | None = None,
        merge_up_to_s: float | None = None,
    ) -> None:
        super().__init__(name=name, runtime_hint=runtime_hint, retry=retry)
        # The kernel's own checks (any valid rate stands in for the stream's).
        try:
            _, ms, ag = check_settings(16000, frame_duration_ms, aggressiveness)
            check_decision(ag, threshold, release, hold_ms)
        except ValueError as exc:
            raise ValueError(f"VADNode {self.name!r}: {exc}") from None
        if mode not in MODES:
            raise ValueError(f"VADNode {self.name!r}: mode must be 'annotate' or 'filter', got {mode!r}")
        if engine not in ENGINES:
            raise ValueError(f"VADNode {self.name!r}: engine must be 'remotemedia' or 'silero', got {engine!r}")
        self.frame_duration_ms = ms
        self.aggressiveness = ag
        self.mode = mode
        given = {
            "padding_ms": padding_ms,
            "hangover_ms": hangover_ms,
            "min_speech_ms": min_speech_ms,
            "min_silence_ms": min_silence_ms,
        }
        self._segments = {k: SEGMENT_DEFAULTS[k] if v is None else v for k, v in given.items()}
        self._segments["max_segment_s"] = max_segment_s
        self._segments["merge_up_to_s"] = merge_up_to_s
        try:
            SegmentTracker(16000, 480, **self._segments)  # validates the rules now
        except ValueError as exc:
            raise ValueError(f"VADNode {self.name!r}: {exc}") from None
        self.pre_roll_audio = bool(pre_roll_audio)
        self._decision = {"threshold": threshold, "release": release, "hold_ms": hold_ms}
        self.engine = engine
        self.model_path = model_path

    def params(self) -> dict[str, Any]:
        """Constructor arguments; the optional ones only when not at their defaults."""
        out: dict[str, Any] = {
            "frame_duration_ms": self.frame_duration_ms,
            "aggressiveness": self.aggressiveness,
            "mode": self.mode,
        }
        out.update({k: v for k, v in self._segments.items() if v != SEGMENT_DEFAULTS[k]})
        if self.pre_roll_audio:
            out["pre_roll_audio"] = True
        out.update({k: v for k, v in self._decision.items() if v is not None})
        if self.engine != "remotemedia":
            out["engine"] = self.engine
        if self.model_path is not None:
            out["model_path"] = self.model_path
        return out

    def segment_settings(self) -> dict[str, Any]:
        """The segment rules as keyword arguments of ``speech_segments`` / ``SegmentTracker``."""
        return dict(self._segments)

    def make_vad(self, kernels: KernelSet, sample_rate: int) -> Any:
        """A fresh :class:`remotemedia.VAD` with this node's settings."""
        return kernels.VAD(
            sample_rate,
            self.frame_duration_ms,
            self.aggressiveness,
            engine=self.engine,
            model_path=self.model_path,
            **self._decision,
        )

    def native_stage(self) -> VadStage | None:
        """Chain stage: the flags (segments and filtering stay here, see :meth:`annotate`).

        Only the default engine with its preset decision rule runs in a
        chain; other settings run node by node.
        """
        preset = self.engine == "remotemedia" and all(v is None for v in self._decision.values())
        return VadStage(self.frame_duration_ms, self.aggressiveness) if preset and computes_as(self, VADNode) else None

    def process_with(self, data: Any, kernels: KernelSet) -> AudioBuffer:
        """Annotate (or filter) one whole buffer."""
        buf = AudioBuffer.from_any(data, "VADNode")
        vad = self.make_vad(kernels, buf.sample_rate)
        return self.annotate(buf, vad.process(buf.data), vad.analysis_rate)

    def annotate(self, buf: AudioBuffer, flags: np.ndarray, analysis_rate: int | None = None) -> AudioBuffer:
        """The output for a whole buffer whose frames got ``flags``.

        Segments come from the flags through the same tracker
        ``speech_segments`` uses (so the detector runs once); a chain that
        computed the flags natively finishes here too. ``analysis_rate``:
        the rate the detector framed (the buffer's own when None).
        """
        rate = buf.sample_rate if analysis_rate is None else analysis_rate
        tracker = SegmentTracker(rate, rate * self.frame_duration_ms // 1000, **self._segments)
        total = buf.frames if rate == buf.sample_rate else buf.frames * rate // buf.sample_rate
        # The groups of speech runs array-wise when no cut or merge is
        # involved (a few hundred µs instead of ms per 10 min); else the tracker.
        found = whole_buffer_segments(tracker, flags, total)
        if found is None:
            events = tracker.push(flags)  # an array: run by run
            events += tracker.finish(total)
            segments = [(float(s), float(e)) for s, e in pair_events(events, rate)]
        else:
            segments = [(s / rate, e / rate) for s, e in found]
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
