"""Rust-core body (either binding) of the voice activity detector: one binding call per chunk."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from remotemedia.kernels._exclusive import exclusive_vad


def make_vad(binding: ModuleType) -> Callable[[int, int, int, int, int], Any]:
    """A factory of native VAD streams on ``binding`` (cython or ctypes), one call at a time each.

    The Cython handle claims itself on every call (a C flag, the rule and
    error of ``kernels/_exclusive.py``); the ctypes handle does not, so its
    streams go behind :func:`~remotemedia.kernels._exclusive.exclusive_vad`.
    """
    handle_cls = binding.Vad
    if hasattr(handle_cls, "fast_flags"):
        return _make_claiming(handle_cls)
    return exclusive_vad(_make_plain(handle_cls))


def _make_claiming(handle_cls: Any) -> Callable[[int, int, int, int, int], Any]:
    class ClaimingVadStream:
        """Streaming state in the native core, which refuses a second thread itself.

        ``threshold`` and ``release`` in score units (see the numpy body's
        ``threshold_units``), ``hangover_ms`` in ms.
        """

        __slots__ = ("_h", "fast_flags", "process", "run")

        def __init__(self, sample_rate: int, frame_ms: int, threshold: int, release: int, hangover_ms: int) -> None:
            h = handle_cls(sample_rate, frame_ms, 0)
            h.set_decision(threshold, release, hangover_ms)
            self._h = h
            # flags of mono samples as a new array: the binding's own call
            self.process: Callable[[np.ndarray], np.ndarray] = h.flags
            # flags, or None when the input needs conversion first (VAD.process)
            self.fast_flags: Callable[[Any], np.ndarray | None] = h.fast_flags
            # flags and scores as new arrays
            self.run: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] = h.flags_scores

        def scores(self, x: np.ndarray) -> np.ndarray:
            return self._h.flags_scores(x, "scores")[1]

        def set_decision(self, threshold: int, release: int, hangover_ms: int) -> None:
            self._h.set_decision(threshold, release, hangover_ms)

        def reset(self) -> None:
            self._h.reset()

    return ClaimingVadStream


def _make_plain(handle_cls: Any) -> Callable[[int, int, int, int, int], Any]:
    empty = np.empty
    u8 = np.uint8
    f32 = np.float32

    class NativeVadStream:
        """Streaming state in the native core; input already validated and mono.

        ``threshold`` and ``release`` in score units (see the numpy body's
        ``threshold_units``), ``hangover_ms`` in ms.
        """

        __slots__ = ("_frame", "_h", "_run", "process")

        def __init__(self, sample_rate: int, frame_ms: int, threshold: int, release: int, hangover_ms: int) -> None:
            h = handle_cls(sample_rate, frame_ms, 0)
            h.set_decision(threshold, release, hangover_ms)
            self._h = h
            self._run = h.process
            self._frame = h.frame_length
            # flags of mono samples as a new array: the binding's own call
            self.process: Callable[[np.ndarray], np.ndarray] = h.flags

        def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            n = (self._h.buffered + x.shape[0]) // self._frame
            out = empty(n, u8)
            scores = empty(n, f32)
            self._run(x, out, scores)
            return out, scores

        def scores(self, x: np.ndarray) -> np.ndarray:
            return self.run(x)[1]

        def set_decision(self, threshold: int, release: int, hangover_ms: int) -> None:
            self._h.set_decision(threshold, release, hangover_ms)

        def reset(self) -> None:
            self._h.reset()

    return NativeVadStream
