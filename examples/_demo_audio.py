"""Test audio for the examples: speech-like harmonic bursts, generated (no files needed)."""

from __future__ import annotations

import numpy as np


def speech_like(seconds: float = 3.0, rate: int = 48000, channels: int = 2) -> np.ndarray:
    """int16 ``(channels, frames)``: voiced bursts (F0 ~ 120 Hz) separated by silences."""
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(120 + 20 * np.sin(2 * np.pi * 0.7 * t)) / rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 25))
    envelope = np.clip(np.sin(2 * np.pi * 3 * t), 0, None) ** 0.5 * ((t % 2.0) > 0.6)
    mono = 0.3 * tone * envelope
    return (np.stack([mono * (1 - 0.2 * c) for c in range(channels)]) * 32767).astype(np.int16)
