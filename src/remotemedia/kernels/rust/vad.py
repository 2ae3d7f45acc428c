"""Rust-core body (either binding) of the voice activity detector: one binding call per chunk."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np


def make_vad(binding: ModuleType) -> Callable[[int, int, int, int, int], Any]:
    """A factory of native VAD streams on ``binding`` (cython or ctypes)."""
    handle_cls = binding.Vad
    empty = np.empty
    u8 = np.uint8
    f32 = np.float32

    class NativeVadStream:
        """Streaming state in the native core; input already validated and mono.

        ``threshold`` and ``release`` in score units (see the numpy body's
        ``threshold_units``), ``hangover_ms`` in ms.
        """

        __slots__ = ("_frame", "_h", "_pending", "_run")

        def __init__(self, sample_rate: int, frame_ms: int, threshold: int, release: int, hangover_ms: int) -> None:
            h = handle_cls(sample_rate, frame_ms, 0)
            h.set_decision(threshold, release, hangover_ms)
            self._h = h
            self._run = h.process
            self._frame = h.frame_length
            self._pending = 0

        def process(self, x: np.ndarray) -> np.ndarray:
            total = self._pending + x.shape[0]
            out = empty(total // self._frame, u8)
            self._run(x, out)
            self._pending = total % self._frame
            return out

        def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            total = self._pending + x.shape[0]
            n = total // self._frame
            out = empty(n, u8)
            scores = empty(n, f32)
            self._run(x, out, scores)
            self._pending = total % self._frame
            return out, scores

        def scores(self, x: np.ndarray) -> np.ndarray:
            return self.run(x)[1]

        def set_decision(self, threshold: int, release: int, hangover_ms: int) -> None:
            self._h.set_decision(threshold, release, hangover_ms)

        def reset(self) -> None:
            self._h.reset()
            self._pending = 0

    return NativeVadStream
