"""Voice activity detection: the public face shared by every body and engine.

The default engine ("remotemedia") scores each 10 ms block with a small
integer MLP over band log energies against a tracked noise floor, with
identical scores and flags in the Rust and numpy bodies (docs/vad.md). The
"silero" engine runs silero-vad's ONNX model (optional extra, see
remotemedia.kernels.vad_silero). Both feed the same decision rule: a frame
starts speech when its score (probability of speech) reaches
``threshold``, speech goes on while the score stays at or above
``release``, then the flag is held for ``hold_ms``. The four
aggressiveness levels are presets of (threshold, release, hold_ms), each
at least as strict as the one before (never more speech frames).

Input rules (the same for every body):

- any sample rate from 8000 to 192000 Hz: 8000, 16000, 32000, 44100 and
  48000 Hz are analysed as they are (the silero engine: 8000 and 16000),
  any other rate is resampled internally to 16 kHz (``analysis_rate``)
  by the streaming resampler ("medium" quality); frames are then frames
  of the resampled stream;
- frames of 10, 20 or 30 ms; aggressiveness 0 (misses the least speech)
  to 3 (the fewest false alarms);
- samples are int16, int32, float32 or float64 (full scale 1.0), mono
  (1-D) or ``(channels, frames)`` (channels are averaged), or raw
  little-endian int16 ``bytes`` (as pipecat and livekit pass them);
- floats are quantised like ``convert(x, "i16")``, int32 like
  ``convert(x, "i16")`` too (divided by 2**16, rounded half to even);
  values beyond full scale clip, NaN counts as 0. A frame of exact zeros
  (digital silence) is never speech and ends any hold.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import numpy as np

from remotemedia.kernels import _vad_spec as spec
from remotemedia.kernels._validate import planar
from remotemedia.kernels.vad_segments import SegmentTracker, pair_events

if TYPE_CHECKING:
    from remotemedia.kernels import KernelSet

__all__ = ["VAD", "speech_segments"]

ENGINES = ("remotemedia", "silero")
ANALYSIS_RATE = 16000  # rate other input rates are resampled to
_DTYPES = (np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.float32), np.dtype(np.float64))
_SCALE = {np.dtype(np.int16): 1.0 / 32768.0, np.dtype(np.int32): 1.0 / 2147483648.0}


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def check_settings(sample_rate: Any, frame_duration_ms: Any, aggressiveness: Any) -> tuple[int, int, int]:
    """Validate VAD settings; return them as ints.

    Raises
    ------
    ValueError
        Sample rate outside 8000..192000 Hz, unsupported frame duration or aggressiveness.
    """
    if not _is_int(sample_rate) or not 8000 <= sample_rate <= 192000:
        raise ValueError(
            f"VAD: sample rate {sample_rate!r} Hz is not supported; use an integer rate from 8000 to 192000 Hz "
            f"({', '.join(str(r) for r in spec.RATES)} are analysed directly, others are resampled to 16 kHz)"
        )
    if not _is_int(frame_duration_ms) or frame_duration_ms not in spec.FRAME_MS:
        raise ValueError(f"VAD: frame duration {frame_duration_ms!r} ms is not supported; use 10, 20 or 30 ms")
    if not _is_int(aggressiveness) or aggressiveness not in spec.AGGRESSIVENESS:
        raise ValueError(f"VAD: aggressiveness {aggressiveness!r} is out of range; use 0, 1, 2 or 3")
    return int(sample_rate), int(frame_duration_ms), int(aggressiveness)


def check_decision(aggressiveness: int, threshold: Any, release: Any, hold_ms: Any) -> tuple[float, float, int]:
    """The decision rule: the aggressiveness preset, overridden by any value given.

    ``release`` defaults to the preset's when ``threshold`` is not given,
    else to ``threshold - 0.15`` (at least 0), as silero's ``neg_threshold``.

    Raises
    ------
    ValueError
        A threshold outside [0, 1], ``release > threshold``, or ``hold_ms`` outside 0..10000.
    """
    t0, r0, h0 = spec.PRESETS[aggressiveness]
    for name, v in (("threshold", threshold), ("release", release)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not 0.0 <= v <= 1.0):
            raise ValueError(f"VAD: {name} {v!r} is out of range; use a probability from 0 to 1")
    t = t0 if threshold is None else float(threshold)
    r = (r0 if threshold is None else max(0.0, t - 0.15)) if release is None else float(release)
    if r > t:
        raise ValueError(f"VAD: release {r} is above threshold {t}; the release threshold must not exceed it")
    if hold_ms is None:
        hold_ms = h0
    if not _is_int(hold_ms) or not 0 <= hold_ms <= 10000:
        raise ValueError(f"VAD: hold_ms {hold_ms!r} is out of range; use an integer from 0 to 10000 ms")
    return t, r, int(hold_ms)


def threshold_units(value: float) -> int:
    """The smallest integer score S with S / SCORE_ONE >= value (what the bodies compare)."""
    import math

    return math.ceil(value * spec.SCORE_ONE)


def samples(x: Any, op: str) -> np.ndarray:
    """Validate samples and return them mono and C-contiguous: bytes as int16, channels averaged."""
    if isinstance(x, (bytes, bytearray, memoryview)):
        b = memoryview(x).cast("B")
        if b.nbytes % 2:
            raise ValueError(f"{op}: raw PCM bytes must be int16 (an even number of bytes), got {b.nbytes} bytes")
        return np.frombuffer(b, "<i2").astype(np.int16, copy=False)
    x = planar(x, op, _DTYPES)
    if x.ndim == 1:
        return x
    if x.shape[0] == 1:
        return x[0]
    if x.shape[0] == 0:
        raise ValueError(f"{op}: audio has 0 channels")
    scale = _SCALE.get(x.dtype, 1.0)
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
    """Streaming voice activity detector: one flag and one score per frame.

    Parameters
    ----------
    sample_rate : int
        8000 to 192000 Hz (see the module docstring for resampling).
    frame_duration_ms : int
        10, 20 or 30: one flag and score per frame of this length.
    aggressiveness : int
        0 (misses the least speech) to 3 (the fewest false alarms): a
        preset of ``threshold``, ``release`` and ``hold_ms``.
    threshold : float, optional
        Speech starts at a frame score >= threshold (probability, 0..1).
    release : float, optional
        Speech goes on while the score >= release (<= threshold).
    hold_ms : int, optional
        The flag stays up this long after the score falls below release.
    engine : {"remotemedia", "silero"}
        The scorer; "silero" needs ``pip install 'remotemedia[silero]'``.
    model_path : str or Path, optional
        silero engine: the ONNX model (default: the silero-vad package's).
    kernel_set : KernelSet, optional
        The body to run on; default: the automatic choice (``kernels.get()``).

    Raises
    ------
    ValueError
        Unsupported settings.
    ImportError
        engine="silero" without onnxruntime or silero-vad (names the extra).

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
        threshold: float | None = None,
        release: float | None = None,
        hold_ms: int | None = None,
        engine: str = "remotemedia",
        model_path: Any = None,
        kernel_set: KernelSet | None = None,
    ) -> None:
        sr, ms, ag = check_settings(sample_rate, frame_duration_ms, aggressiveness)
        t, r, h = check_decision(ag, threshold, release, hold_ms)
        if engine not in ENGINES:
            raise ValueError(f"VAD: engine {engine!r} is unknown; use 'remotemedia' or 'silero'")
        ks = _kernel_set(kernel_set)
        direct = spec.RATES if engine == "remotemedia" else (8000, 16000)
        self.sample_rate = sr
        self.analysis_rate = sr if sr in direct else ANALYSIS_RATE
        self.frame_duration_ms = ms
        self.aggressiveness = ag
        self.threshold, self.release, self.hold_ms = t, r, h
        self.engine = engine
        self.frame_length = self.analysis_rate * ms // 1000  # samples of the analysed stream per frame
        self.kernel_set_name = ks.name
        args = (self.analysis_rate, ms, threshold_units(t), threshold_units(r), h)
        if engine == "silero":
            from remotemedia.kernels.vad_silero import SileroStream

            self._stream: Any = SileroStream(*args, model_path=model_path)
        else:
            if ks._vad is None:
                raise NotImplementedError(f"VAD: kernel set {ks.name!r} has no voice activity detector")
            self._stream = ks._vad(*args)
        self._flags = self._stream.process  # bound once: the per-call path is short
        self._resampler = None if self.analysis_rate == sr else ks.Resampler(sr, self.analysis_rate, 1, "medium")
        # The Cython body's checked per-call path: flags, or None when x needs _input first.
        self._fast = getattr(self._stream, "fast_flags", None) if self._resampler is None else None

    def _input(self, x: Any, op: str) -> np.ndarray:
        x = samples(x, op)
        if self._resampler is not None:
            xf = x.astype(np.float32) * np.float32(_SCALE[x.dtype]) if x.dtype in _SCALE else x.astype(np.float32)
            return self._resampler.process(xf)
        return x

    def process(self, x: Any) -> np.ndarray:
        """Feed samples; return one flag (uint8, 1 = speech) per completed frame.

        Samples that do not complete a frame are kept for the next call, so
        any chunking of a signal gives the same flags as one call.

        Parameters
        ----------
        x : ndarray or bytes
            int16, int32, float32 or float64; 1-D or ``(channels, frames)``;
            or raw little-endian int16 bytes.

        Returns
        -------
        ndarray of uint8
            One flag per frame completed by this call.

        Raises
        ------
        TypeError
            ``x`` is not an ndarray of a supported dtype nor bytes.
        ValueError
            ``x`` is not 1-D or ``(channels, frames)``, or odd-length bytes.
        """
        # Fast paths for the common case (mono, contiguous, accepted dtype).
        fast = self._fast
        if fast is not None:
            out = fast(x)
            if out is not None:
                return out
        if (
            type(x) is np.ndarray
            and x.ndim == 1
            and x.dtype in _DTYPES
            and x.flags.c_contiguous
            and self._resampler is None
        ):
            return self._flags(x)
        return self._flags(self._input(x, "VAD.process"))

    def scores(self, x: Any) -> np.ndarray:
        """Feed samples; return each completed frame's speech probability (float32 in [0, 1]).

        Advances the stream like :meth:`process` (the flags are decided too;
        use :meth:`process_scores` to get both).
        """
        return self._stream.run(self._input(x, "VAD.scores"))[1]

    def process_scores(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        """Feed samples; return flags and scores of every completed frame."""
        flags, scores = self._stream.run(self._input(x, "VAD.process_scores"))
        return flags, scores

    def reset(self) -> None:
        """Forget the stream (buffered samples, noise floor, context, hold)."""
        self._stream.reset()
        if self._resampler is not None:
            self._resampler.reset()

    def __repr__(self) -> str:
        return (
            f"VAD(sample_rate={self.sample_rate}, frame_duration_ms={self.frame_duration_ms}, "
            f"aggressiveness={self.aggressiveness}, threshold={self.threshold}, release={self.release}, "
            f"hold_ms={self.hold_ms}, engine={self.engine!r}, kernel_set={self.kernel_set_name!r})"
        )


def speech_segments(
    x: Any,
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
    threshold: float | None = None,
    release: float | None = None,
    hold_ms: int | None = None,
    engine: str = "remotemedia",
    model_path: Any = None,
    kernel_set: KernelSet | None = None,
) -> list[tuple[float, float]]:
    """Speech segments of a whole signal as ``(start_s, end_s)`` pairs.

    Runs a fresh :class:`VAD` over ``x`` and turns its flags into segments
    with :func:`segments_from_flags` (the rules of
    :class:`~remotemedia.kernels.vad_segments.SegmentTracker`); a
    streaming consumer that feeds the same tracker gets the same segments.

    Parameters
    ----------
    x : ndarray or bytes
        As for :meth:`VAD.process`.
    sample_rate, frame_duration_ms, aggressiveness, threshold, release, hold_ms, engine, model_path
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
    rules: dict[str, Any] = {
        "padding_ms": padding_ms,
        "hangover_ms": hangover_ms,
        "min_speech_ms": min_speech_ms,
        "min_silence_ms": min_silence_ms,
        "max_segment_s": max_segment_s,
        "merge_up_to_s": merge_up_to_s,
    }
    vad = VAD(
        sample_rate,
        frame_duration_ms,
        aggressiveness,
        threshold=threshold,
        release=release,
        hold_ms=hold_ms,
        engine=engine,
        model_path=model_path,
        kernel_set=kernel_set,
    )
    SegmentTracker(vad.analysis_rate, vad.frame_length, **rules)  # bad rules fail before the work
    mono_x = samples(x, "speech_segments")
    flags = vad.process(mono_x)
    return segments_from_flags(flags, mono_x.shape[0], vad, rules)


def segments_from_flags(
    flags: np.ndarray, n_samples: int, vad: VAD, rules: dict[str, Any]
) -> list[tuple[float, float]]:
    """Segments (seconds) of a whole signal of ``n_samples`` input samples from the flags ``vad`` gave it."""
    tracker = SegmentTracker(vad.analysis_rate, vad.frame_length, **rules)
    total = n_samples if vad.analysis_rate == vad.sample_rate else n_samples * vad.analysis_rate // vad.sample_rate
    events = tracker.push(flags)  # an array: run by run
    events += tracker.finish(total)
    return pair_events(events, vad.analysis_rate)


SEGMENT_DEFAULTS: dict[str, Any] = {
    k: p.default
    for k, p in inspect.signature(speech_segments).parameters.items()
    if k in ("padding_ms", "hangover_ms", "min_speech_ms", "min_silence_ms", "max_segment_s", "merge_up_to_s")
}
"""The segment rules' defaults (their one home is the signature of :func:`speech_segments`)."""
