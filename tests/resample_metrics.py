"""Quality measurements of a resampler, shared by the quality tests and the
benchmarks: every figure is computed the same way for us and for soxr; and
the awkward rate pairs and preset pairs they all use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Resample = Callable[[np.ndarray, int, int], np.ndarray]

EDGE_S = 0.25  # seconds trimmed from both ends before measuring

# Pairs the exact polyphase kernel cannot hold or that lie outside the old
# 8..192 kHz range (issue 15); the first four run on the interpolated-phase
# kernel. The any-ratio tests and both resampler benchmarks use this list.
AWKWARD = [
    (48_000, 48_001),  # drift-sized step: terms 48000:48001
    (44_100, 44_056),  # NTSC pull-down
    (100_000, 78_901),  # co-prime terms, down
    (11_025, 96_001),  # co-prime terms, up by 8.7
    (6_000, 16_000),  # telephony capture, up
    (384_000, 48_000),  # measurement audio, down 8:1
    (8_000, 384_000),  # up 48:1
]
# Each resampler preset and its soxr counterpart.
PRESET_PAIRS = [("low", "LQ"), ("medium", "MQ"), ("high", "HQ"), ("very_high", "VHQ")]


def stream(r: Any, x: np.ndarray, sizes: list[int]) -> np.ndarray:
    """A resampler ``r`` fed ``x`` in chunks of ``sizes`` (cycled), then flushed: the joined output."""
    parts, pos, i = [], 0, 0
    while pos < x.shape[-1]:
        n = sizes[i % len(sizes)]
        parts.append(r.process(x[..., pos : pos + n]))
        pos += n
        i += 1
    parts.append(r.flush())
    return np.concatenate(parts, axis=-1)


def _trim(y: np.ndarray, rate: int) -> np.ndarray:
    e = int(EDGE_S * rate)
    return y[e : len(y) - e]


def sine_snr_db(fn: Resample, in_rate: int, out_rate: int, freq: float = 1000.0, seconds: float = 2.0) -> float:
    """SNR (dB) of a resampled full-scale sine against the ideal sine at the output rate."""
    n = int(seconds * in_rate)
    x = np.sin(2 * np.pi * freq * np.arange(n) / in_rate).astype(np.float32)
    y = np.asarray(fn(x, in_rate, out_rate), dtype=np.float64)
    ref = np.sin(2 * np.pi * freq * np.arange(len(y)) / out_rate)
    y, ref = _trim(y, out_rate), _trim(ref, out_rate)
    return float(10 * np.log10(np.sum(ref**2) / np.sum((y - ref) ** 2)))


def alias_db(fn: Resample, in_rate: int, out_rate: int, freq: float, seconds: float = 2.0) -> float:
    """Output power (dB re input power) of a full-scale tone above the output Nyquist."""
    n = int(seconds * in_rate)
    x = np.sin(2 * np.pi * freq * np.arange(n) / in_rate).astype(np.float32)
    y = _trim(np.asarray(fn(x, in_rate, out_rate), dtype=np.float64), out_rate)
    return float(10 * np.log10(np.mean(y**2) / 0.5))


def passband_deviation_db(
    fn: Resample, in_rate: int, out_rate: int, edge: float = 0.9, seconds: float = 4.0, band_hz: float = 100.0
) -> float:
    """Largest gain deviation (dB) over 100 Hz bands of white noise, up to ``edge`` x the lower Nyquist.

    The input and output spectra are taken over the same time span with
    the same (Hann) window, so band by band their power ratio is the
    resampler's gain there.
    """
    n = int(seconds * in_rate)
    x = np.random.default_rng(1234).uniform(-0.5, 0.5, n).astype(np.float32)
    y = np.asarray(fn(x, in_rate, out_rate), dtype=np.float64)
    span = seconds - 2 * EDGE_S - 0.5
    nx, ny = round(span * in_rate), round(span * out_rate)
    xs = x[int(EDGE_S * in_rate) :][:nx].astype(np.float64)
    ys = y[int(EDGE_S * out_rate) :][:ny]
    X = np.abs(np.fft.rfft(xs * np.hanning(nx))) ** 2
    Y = np.abs(np.fft.rfft(ys * np.hanning(ny))) ** 2
    res = 1.0 / span  # Hz per bin, the same in both
    top = edge * min(in_rate, out_rate) / 2
    per = round(band_hz / res)
    worst = 0.0
    for b0 in range(per, int(top / res) - per + 1, per):
        g = np.sum(Y[b0 : b0 + per]) / np.sum(X[b0 : b0 + per]) * (in_rate / out_rate) ** 2
        worst = max(worst, abs(10 * np.log10(g)))
    return worst
