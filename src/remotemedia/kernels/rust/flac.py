"""Rust-core body (either binding) of FLAC decoding: one binding call per file, into one buffer.

The native decoder writes the whole stream into one int16 buffer laid out
as the streaming path's blocks (each block planar, one after another), so
every block handed out is a C-contiguous view: no transpose, no copy.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np


def make_flac_decode(binding: ModuleType) -> Callable[[Any, int, int, int], list[np.ndarray]]:
    """Bind ``binding.flac_decode_i16`` once; see :meth:`remotemedia.kernels.KernelSet.decode_flac`."""
    decode_i16 = binding.flac_decode_i16

    def decode_flac(data: Any, channels: int, frames: int, block_frames: int) -> list[np.ndarray]:
        out = np.empty(frames * channels, np.int16)
        decode_i16(data, channels, frames, block_frames, out)
        blocks = []
        for start in range(0, frames, block_frames):
            n = min(block_frames, frames - start)
            view = out[start * channels : (start + n) * channels]
            blocks.append(view if channels == 1 else view.reshape(channels, n))
        return blocks

    return decode_flac
