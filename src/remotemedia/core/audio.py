"""AudioBuffer: planar samples, their sample rate and metadata."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from remotemedia.kernels._validate import planar

# Highest sample rate accepted (Hz). Nothing real goes above 768 kHz; a
# larger value is almost always a frame count passed by mistake.
MAX_SAMPLE_RATE = 768_000


def check_rate(rate: Any, what: str) -> int:
    """Return ``rate`` as an int after checking it is a positive integer in Hz.

    Raises
    ------
    TypeError
        ``rate`` is not an integer (bool included).
    ValueError
        ``rate`` is not in 1..768000.
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)):
        if isinstance(rate, (float, np.floating)) and float(rate).is_integer():
            rate = int(rate)
        else:
            raise TypeError(f"{what} must be an integer number of Hz, got {rate!r}")
    rate = int(rate)
    if not 0 < rate <= MAX_SAMPLE_RATE:
        raise ValueError(f"{what} must be in 1..{MAX_SAMPLE_RATE} Hz, got {rate}")
    return rate


class AudioBuffer:
    """Planar audio with its sample rate and metadata.

    Unpacks like the ``(ndarray, sample_rate)`` tuples scripts pass around:
    ``audio, sample_rate = buffer``.

    Parameters
    ----------
    data : ndarray
        1-D (mono) or 2-D ``(channels, frames)``; int16, int32, float32 or
        float64. A 2-D array shaped like ``(frames, channels)`` is rejected.
    sample_rate : int
        Samples per second per channel (Hz).
    metadata : dict, optional
        Free-form annotations (VAD flags and segments, timestamps...).

    Raises
    ------
    TypeError, ValueError
        ``data`` is not planar audio, or ``sample_rate`` is not a valid rate.
    """

    __slots__ = ("data", "metadata", "sample_rate")

    def __init__(self, data: np.ndarray, sample_rate: int, metadata: dict[str, Any] | None = None) -> None:
        self.data = planar(data, "AudioBuffer")
        self.sample_rate = check_rate(sample_rate, "AudioBuffer sample_rate")
        self.metadata: dict[str, Any] = dict(metadata) if metadata else {}

    @classmethod
    def from_any(cls, data: Any, op: str = "node input") -> AudioBuffer:
        """Accept an AudioBuffer (returned as is) or an ``(ndarray, sample_rate)`` pair.

        Raises
        ------
        TypeError
            Anything else (e.g. a bare array without its sample rate).
        """
        if isinstance(data, AudioBuffer):
            return data
        if isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], np.ndarray):
            return cls(data[0], data[1])
        raise TypeError(
            f"{op}: expected an AudioBuffer or an (ndarray, sample_rate) tuple, got {type(data).__name__}; "
            "a bare array carries no sample rate: pass (array, sample_rate)"
        )

    def replace(self, data: np.ndarray | None = None, sample_rate: int | None = None, **metadata: Any) -> AudioBuffer:
        """A new buffer with some fields replaced and ``metadata`` entries added.

        The metadata dict is copied (shallow), so annotating the new buffer
        never changes this one (fan-out branches share their input).
        """
        out = AudioBuffer.__new__(AudioBuffer)
        out.data = self.data if data is None else planar(data, "AudioBuffer")
        out.sample_rate = self.sample_rate if sample_rate is None else check_rate(sample_rate, "sample_rate")
        out.metadata = {**self.metadata, **metadata}
        return out

    def derive(self, data: np.ndarray, sample_rate: int | None = None, **metadata: Any) -> AudioBuffer:
        """Like :meth:`replace` for arrays a kernel returned, skipping the layout checks.

        Kernels return planar, C-contiguous arrays by contract; re-checking
        them would cost a few hundred nanoseconds per node call.
        """
        out = AudioBuffer.__new__(AudioBuffer)
        out.data = data
        out.sample_rate = self.sample_rate if sample_rate is None else sample_rate
        out.metadata = {**self.metadata, **metadata} if metadata else self.metadata.copy()
        return out

    @property
    def channels(self) -> int:
        """Number of channels."""
        return 1 if self.data.ndim == 1 else int(self.data.shape[0])

    @property
    def frames(self) -> int:
        """Number of frames (samples per channel)."""
        return int(self.data.shape[-1])

    @property
    def duration_s(self) -> float:
        """Duration in seconds."""
        return self.frames / self.sample_rate

    def __iter__(self) -> Iterator[Any]:
        return iter((self.data, self.sample_rate))

    def __repr__(self) -> str:
        keys = ", ".join(sorted(self.metadata))
        return (
            f"AudioBuffer({self.channels} ch x {self.frames} frames, {self.data.dtype}, "
            f"{self.sample_rate} Hz, metadata: [{keys}])"
        )
