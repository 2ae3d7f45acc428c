"""Rust-core body of the resampler (either binding): one binding call per
chunk, output buffers allocated once at their exact size (the core reports it)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from remotemedia._bindings.abi import QUALITY_CODES


class ResamplerCore:
    """Streaming over validated ``(channels, n)`` float32 via a binding handle."""

    def __init__(self, binding: ModuleType, in_rate: int, out_rate: int, channels: int, quality: str) -> None:
        self._h = binding.Resampler(in_rate, out_rate, channels, QUALITY_CODES[quality])
        self._channels = channels

    def process(self, x: np.ndarray) -> np.ndarray:
        h = self._h
        out = np.empty((self._channels, h.output_frames(x.shape[1])), np.float32)
        h.process(x, out)
        return out

    def flush(self) -> np.ndarray:
        h = self._h
        out = np.empty((self._channels, h.flush_frames()), np.float32)
        h.flush(out)
        return out

    def reset(self) -> None:
        self._h.reset()

    def delay(self) -> int:
        return int(self._h.delay())


def make_resample(binding: ModuleType) -> tuple[Callable[..., np.ndarray], Callable[..., Any]]:
    """Bind the one-shot function and the streaming-core factory once."""
    native = binding.resample

    def one_shot(x: np.ndarray, in_rate: int, out_rate: int, quality: str) -> np.ndarray:
        out = np.empty((x.shape[0], -(-x.shape[1] * out_rate // in_rate)), np.float32)
        native(in_rate, out_rate, QUALITY_CODES[quality], x, out)
        return out

    def core(in_rate: int, out_rate: int, channels: int, quality: str) -> ResamplerCore:
        return ResamplerCore(binding, in_rate, out_rate, channels, quality)

    return one_shot, core
