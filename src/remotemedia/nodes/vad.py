"""VADNode: voice activity detection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from remotemedia.core.audio import AudioBuffer
from remotemedia.core.node import Node

if TYPE_CHECKING:
    from remotemedia.core.retry import RetryPolicy
    from remotemedia.kernels import KernelSet

MODES = ("annotate", "filter")
FRAME_DURATIONS_MS = (10, 20, 30)


class VADNode(Node):
    """Detect speech (kernels ``VAD`` and ``speech_segments``).

    Metadata added to the output buffer:

    - ``vad_flags``: uint8 array, one flag per complete frame of the input;
    - ``vad_segments``: list of ``(start_s, end_s)`` speech segments, in
      seconds from the start of this node's input;
    - ``vad_frame_duration_ms``: the frame length of the flags.

    Parameters
    ----------
    frame_duration_ms : {10, 20, 30}
        Frame length of the decisions.
    aggressiveness : {0, 1, 2, 3}
        Higher drops more non-speech (and more speech).
    mode : {"annotate", "filter"}
        "annotate" passes the audio through unchanged; "filter" keeps only
        the speech segments, concatenated.
    runtime_hint, name, retry
        See :class:`~remotemedia.Node`.

    Raises
    ------
    ValueError
        Bad frame length, aggressiveness or mode.
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

    def process_with(self, data: Any, kernels: KernelSet) -> AudioBuffer:
        """Annotate (or filter) one whole buffer."""
        buf = AudioBuffer.from_any(data, "VADNode")
        vad = kernels.VAD(buf.sample_rate, self.frame_duration_ms, self.aggressiveness)
        flags = vad.process(buf.data)
        segments = [
            (float(s), float(e))
            for s, e in kernels.speech_segments(
                buf.data,
                buf.sample_rate,
                frame_duration_ms=self.frame_duration_ms,
                aggressiveness=self.aggressiveness,
            )
        ]
        meta: dict[str, Any] = {
            "vad_flags": flags,
            "vad_segments": segments,
            "vad_frame_duration_ms": self.frame_duration_ms,
        }
        if self.mode == "annotate":
            return buf.replace(**meta)
        return buf.derive(keep_segments(buf.data, buf.sample_rate, segments), **meta)

    def open_state(self, kernels: KernelSet | None) -> dict[str, Any]:
        """Per-stream state: the streaming VAD, created on the first chunk."""
        return {"vad": None, "rate": None}

    def process_chunk(self, data: Any, state: dict[str, Any], kernels: KernelSet | None) -> AudioBuffer:
        """Flag the complete frames of one chunk (leftover samples wait for the next chunk).

        Streaming adds only ``vad_flags``; speech start/end events are the
        stream layer's job.
        """
        assert kernels is not None
        buf = AudioBuffer.from_any(data, "VADNode")
        if state["vad"] is None:
            state["vad"] = kernels.VAD(buf.sample_rate, self.frame_duration_ms, self.aggressiveness)
            state["rate"] = buf.sample_rate
        elif buf.sample_rate != state["rate"]:
            raise ValueError(
                f"VADNode {self.name!r}: sample rate changed from {state['rate']} to {buf.sample_rate} Hz "
                "mid-stream; open a new stream"
            )
        return buf.replace(vad_flags=state["vad"].process(buf.data), vad_frame_duration_ms=self.frame_duration_ms)


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
