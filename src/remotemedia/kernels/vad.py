"""Voice activity detection: the public face shared by every body.

The detector (identical flags in the Rust and numpy bodies) is a
noise-adaptive multi-band likelihood-ratio test; docs/vad.md describes it.
In short, per frame: quantise to int16, low-pass and decimate to about
8 kHz, pre-emphasise, take 8 band energies (150 Hz to 4 kHz) from the
autocorrelation, compare each with a tracked noise level, average Sohn's
log-likelihood ratio over the bands and threshold it; a hangover holds the
flag after speech.

Input rules (the same for every body):

- sample rates 8000, 16000, 32000, 44100 and 48000 Hz; frames of 10, 20
  or 30 ms; aggressiveness 0 (misses the least speech) to 3 (the fewest
  false alarms). Anything else raises ``ValueError`` listing what is
  allowed: resample other rates first (``remotemedia.resample``);
- samples are int16, float32 or float64 (full scale 1.0), mono (1-D) or
  ``(channels, frames)``: channels are averaged (summed in float64 in
  channel order, then divided by the channel count);
- floats are quantised like ``convert(x, "i16")``: values beyond full
  scale clip, +-Inf clip to full scale, NaN counts as 0 (silence). A frame
  of exact zeros (digital silence) is never speech and ends any hangover;
  a DC offset is removed by the pre-emphasis and does not matter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from remotemedia.kernels import _vad_spec as spec
from remotemedia.kernels._validate import planar
from remotemedia.kernels.vad_segments import SegmentTracker, pair_events

if TYPE_CHECKING:
    from remotemedia.kernels import KernelSet

__all__ = ["VAD", "speech_segments"]

VadFactory = Callable[[int, int, int], Any]
_DTYPES = (np.dtype(np.int16), np.dtype(np.float32), np.dtype(np.float64))


def check_settings(sample_rate: Any, frame_duration_ms: Any, aggressiveness: Any) -> tuple[int, int, int]:
    """Validate VAD settings; return them as ints.

    Raises
    ------
    ValueError
        Unsupported sample rate, frame duration or aggressiveness.
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate not in spec.RATES:
        allowed = ", ".join(str(r) for r in spec.RATES)
        raise ValueError(
            f"VAD: sample rate {sample_rate!r} Hz is not supported; use one of {allowed} Hz "
            "(resample other rates first, e.g. with remotemedia.resample)"
        )
    if (
        isinstance(frame_duration_ms, bool)
        or not isinstance(frame_duration_ms, (int, np.integer))
        or frame_duration_ms not in spec.FRAME_MS
    ):
        raise ValueError(f"VAD: frame duration {frame_duration_ms!r} ms is not supported; use 10, 20 or 30 ms")
    if (
        isinstance(aggressiveness, bool)
        or not isinstance(aggressiveness, (int, np.integer))
        or aggressiveness not in spec.AGGRESSIVENESS
    ):
        raise ValueError(f"VAD: aggressiveness {aggressiveness!r} is out of range; use 0, 1, 2 or 3")
    return int(sample_rate), int(frame_duration_ms), int(aggressiveness)


def mono(x: Any, op: str) -> np.ndarray:
    """Validate samples and return them mono, C-contiguous (downmix: channel mean)."""
    x = planar(x, op, _DTYPES)
    if x.ndim == 1:
        return x
    if x.shape[0] == 1:
        return x[0]
    if x.shape[0] == 0:
        raise ValueError(f"{op}: audio has 0 channels")
    scale = 1.0 / 32768.0 if x.dtype == np.int16 else 1.0
    acc = x[0].astype(np.float64) * scale
    with np.errstate(over="ignore", invalid="ignore"):  # huge floats: inf/NaN clip later, no warning
        for c in range(1, x.shape[0]):
            acc = acc + x[c].astype(np.float64) * scale
        return acc / float(x.shape[0])


def _kernel_set(kernel_set: KernelSet | None) -> KernelSet:
    if kernel_set is not None:
        return kernel_set
    from remotemedia import kernels

    return kernels.get()


class VAD:
    """Streaming voice activity detector.

    Parameters
    ----------
    sample_rate : int
        8000, 16000, 32000, 44100 or 48000 (Hz).
    frame_duration_ms : int
        10, 20 or 30: one flag per frame of this length.
    aggressiveness : int
        0 (misses the least speech) to 3 (the fewest false alarms).
    kernel_set : KernelSet, optional
        The body to run on; default: the automatic choice (``kernels.get()``).

    Raises
    ------
    ValueError
        Unsupported sample rate, frame duration or aggressiveness.

    Notes
    -----
    Streams are independent objects. One object serves one call at a time,
    on every body: ``process`` or ``reset`` made while another thread is
    inside raises :class:`~remotemedia.errors.ConcurrentUseError` (a
    RuntimeError) and leaves the stream untouched. The native body releases
    the GIL while it computes, so separate objects run in parallel.
    """

    def __init__(
        self,
        sample_rate: int,
        frame_duration_ms: int = 30,
        aggressiveness: int = 2,
        *,
        kernel_set: KernelSet | None = None,
    ) -> None:
        sr, ms, ag = check_settings(sample_rate, frame_duration_ms, aggressiveness)
        ks = _kernel_set(kernel_set)
        self.sample_rate = sr
        self.frame_duration_ms = ms
        self.aggressiveness = ag
        self.frame_length = sr * ms // 1000
        self.kernel_set_name = ks.name
        if ks._vad is None:
            raise NotImplementedError(f"VAD: kernel set {ks.name!r} has no voice activity detector")
        self._stream = ks._vad(sr, ms, ag)

    def process(self, x: np.ndarray) -> np.ndarray:
        """Feed samples; return one flag (uint8, 1 = speech) per completed frame.

        Samples that do not complete a frame are kept for the next call, so
        any chunking of a signal gives the same flags as one call.

        Parameters
        ----------
        x : ndarray
            int16, float32 or float64; 1-D or ``(channels, frames)``.

        Returns
        -------
        ndarray of uint8
            ``(buffered + len(x)) // frame_length`` flags.

        Raises
        ------
        TypeError
            ``x`` is not an ndarray of a supported dtype.
        ValueError
            ``x`` is not 1-D or ``(channels, frames)``.
        """
        # Fast path for the common case (mono, contiguous, accepted dtype):
        # the same checks as mono(), done inline to keep per-call cost low.
        if type(x) is np.ndarray and x.ndim == 1 and x.dtype in _DTYPES and x.flags.c_contiguous:
            return self._stream.process(x)
        return self._stream.process(mono(x, "VAD.process"))

    def reset(self) -> None:
        """Forget the stream (buffered samples, noise estimate, hangover)."""
        self._stream.reset()

    def __repr__(self) -> str:
        return (
            f"VAD(sample_rate={self.sample_rate}, frame_duration_ms={self.frame_duration_ms}, "
            f"aggressiveness={self.aggressiveness}, kernel_set={self.kernel_set_name!r})"
        )


def speech_segments(
    x: np.ndarray,
    sample_rate: int,
    frame_duration_ms: int = 30,
    aggressiveness: int = 2,
    padding_ms: float = 60.0,
    hangover_ms: float = 60.0,
    min_speech_ms: float = 90.0,
    min_silence_ms: float = 300.0,
    max_segment_s: float | None = 30.0,
    merge_up_to_s: float | None = None,
    *,
    kernel_set: KernelSet | None = None,
) -> list[tuple[float, float]]:
    """Speech segments of a whole signal as ``(start_s, end_s)`` pairs.

    Runs a fresh :class:`VAD` over ``x`` and turns its flags into segments
    with :class:`~remotemedia.kernels.vad_segments.SegmentTracker` (whose
    docstring states the rules); a streaming consumer that feeds the same
    tracker gets the same segments. Edges fall on exact samples.

    Parameters
    ----------
    x : ndarray
        int16, float32 or float64; 1-D or ``(channels, frames)``.
    sample_rate, frame_duration_ms, aggressiveness
        As for :class:`VAD`.
    padding_ms : float
        Pre-roll: audio kept before the first speech frame (ms).
    hangover_ms : float
        Audio kept after the last speech frame (ms).
    min_speech_ms : float
        Shortest speech that makes a segment (ms).
    min_silence_ms : float
        Shortest silence that ends a segment; shorter gaps are bridged (ms).
    max_segment_s : float or None
        No segment is longer (s): an over-long one is cut inside its longest
        pause, hard only where it has none; None: no limit.
    merge_up_to_s : float or None
        Join neighbouring segments (with the silence between them) while the
        result is at most this long (s), e.g. 30 for Whisper; None: no joining.
    kernel_set : KernelSet, optional
        The body to run on; default: the automatic choice.

    Returns
    -------
    list of (float, float)
        Start and end times in seconds, increasing, not overlapping.

    Raises
    ------
    TypeError
        ``x`` is not an ndarray of a supported dtype.
    ValueError
        Unsupported settings, a negative duration, or ``x`` not planar audio.
    """
    sr, ms, ag = check_settings(sample_rate, frame_duration_ms, aggressiveness)
    tracker = SegmentTracker(
        sr, sr * ms // 1000, padding_ms, hangover_ms, min_speech_ms, min_silence_ms, max_segment_s, merge_up_to_s
    )
    samples = mono(x, "speech_segments")
    flags = VAD(sr, ms, ag, kernel_set=kernel_set).process(samples)
    events = tracker.push(flags.tolist())
    events += tracker.finish(samples.shape[0])
    return pair_events(events, sr)
