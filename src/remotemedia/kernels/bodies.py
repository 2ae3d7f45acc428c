"""What a body must provide to make a kernel set: typed seams, no code.

A body is a set of plain functions and classes over validated input (the
public faces in ``convert.py``, ``resample.py`` and ``vad.py`` validate
once for every body). ``python/`` is the numpy body; ``rust/`` is the Rust
core's body, which runs through either binding (Cython or ctypes). A new
body, or a new kernel inside one (e.g. a different resampling kernel), only
has to satisfy these protocols.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class ConvertFlat(Protocol):
    """PCM conversion of validated C-contiguous samples to a format code ("i16", "i32", "f32")."""

    def __call__(self, x: np.ndarray, to: str, /) -> np.ndarray: ...


class ResampleOneShot(Protocol):
    """One-shot resampling of validated ``(channels, frames)`` float32 (rates differ, plan checked)."""

    def __call__(self, x: np.ndarray, in_rate: int, out_rate: int, quality: str, /) -> np.ndarray: ...


class ResamplerCore(Protocol):
    """Streaming resampler state over validated ``(channels, n)`` float32 chunks."""

    def process(self, x: np.ndarray) -> np.ndarray: ...
    def flush(self) -> np.ndarray: ...
    def reset(self) -> None: ...
    def delay(self) -> int: ...


class ResamplerCoreFactory(Protocol):
    """Makes a :class:`ResamplerCore` for validated rates (different), channels and quality.

    ``variable``: the interpolated-phase kernel even for equal or simple
    rates, so that the core's ``set_ratio(ratio, ramp_frames)`` may change
    the ratio; ``ratio``: a non-integer ratio ``out / in`` (rates ignored).
    """

    def __call__(
        self,
        in_rate: int,
        out_rate: int,
        channels: int,
        quality: str,
        /,
        variable: bool = False,
        ratio: float | None = None,
    ) -> ResamplerCore: ...


class VadStream(Protocol):
    """Streaming VAD state over validated mono samples (int16, int32, float32 or float64)."""

    def process(self, x: np.ndarray) -> np.ndarray: ...
    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...
    def set_decision(self, threshold: int, release: int, hangover_ms: int) -> None: ...
    def reset(self) -> None: ...


class VadStreamFactory(Protocol):
    """Makes a :class:`VadStream` for validated (sample_rate, frame_ms, threshold, release, hold_ms).

    Thresholds in score units (probability x 32768, see ``_vad_spec.SCORE_ONE``).
    """

    def __call__(self, sample_rate: int, frame_ms: int, threshold: int, release: int, hold_ms: int, /) -> VadStream: ...
