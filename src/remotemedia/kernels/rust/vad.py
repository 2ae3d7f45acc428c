"""Rust-core body (either binding) of the voice activity detector: one binding call per chunk."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np


def make_vad(binding: ModuleType) -> Callable[[int, int, int], Any]:
    """A factory of native VAD streams on ``binding`` (cython or ctypes)."""
    handle_cls = binding.Vad
    empty = np.empty
    u8 = np.uint8

    class NativeVadStream:
        """Streaming state in the native core; input already validated and mono."""

        __slots__ = ("_fns", "_frame", "_h", "_pending")

        def __init__(self, sample_rate: int, frame_ms: int, aggressiveness: int) -> None:
            h = handle_cls(sample_rate, frame_ms, aggressiveness)
            self._h = h
            self._frame = h.frame_length
            self._pending = 0
            self._fns = {
                np.dtype(np.int16): h.process_i16,
                np.dtype(np.float32): h.process_f32,
                np.dtype(np.float64): h.process_f64,
            }

        def process(self, x: np.ndarray) -> np.ndarray:
            total = self._pending + x.shape[0]
            out = empty(total // self._frame, u8)
            self._fns[x.dtype](x, out)
            self._pending = total % self._frame
            return out

        def reset(self) -> None:
            self._h.reset()
            self._pending = 0

    return NativeVadStream
