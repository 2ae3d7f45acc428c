"""The VAD algorithm's constants and tables, shared by the numpy body.

The Rust body (rust/remotemedia-runtime/src/vad/) holds the same numbers;
tests/test_vad.py checks that both bodies give identical flags. Every table
here is computed with IEEE-exact operations only (+, -, *, /, sqrt) in a
fixed order, so that Rust computes the very same bits.
"""

from __future__ import annotations

import math

# Input rate (Hz) -> decimation factor D. The analysis runs on the signal
# low-passed by a triangular kernel of length 2D-1 and decimated by D:
# 8 kHz for 8/16/32/48 kHz input, 6.3 kHz for 44.1 kHz (441 = 7 * 63, so
# every 10 ms frame holds a whole number of analysis samples).
DECIMATION = {8000: 1, 16000: 2, 32000: 4, 44100: 7, 48000: 6}
RATES = tuple(sorted(DECIMATION))
FRAME_MS = (10, 20, 30)
AGGRESSIVENESS = (0, 1, 2, 3)

LAGS = 16  # autocorrelation lags 0..LAGS per frame
GRID = 32  # spectral grid: GRID + 1 points from 0 Hz to the analysis Nyquist
BANDS_HZ = (
    (150, 400),
    (400, 700),
    (700, 1000),
    (1000, 1400),
    (1400, 1900),
    (1900, 2500),
    (2500, 3200),
    (3200, 4000),
)
SUBWINDOW_MS = 300  # minimum statistics: sub-window length
SUBWINDOWS = 8  # ... and count: the noise floor looks back 2.4 s
SMOOTH_10MS = 0.7  # energy smoothing factor per 10 ms
FLOOR_BIAS = 1.5  # noise >= FLOOR_BIAS * minimum of the smoothed energy
NOISE_10MS = 0.995  # noise average: smoothing per 10 ms over non-speech frames
SNOISE_10MS = 0.97  # average score of non-speech frames: smoothing per 10 ms
KAPPA = 1.0  # threshold = THRESHOLD[aggressiveness] + KAPPA * that average
# Per aggressiveness: threshold on the mean band log-likelihood ratio, and
# hangover in ms (flags stay up this long after the last speech frame):
# after a run of at least LONG_RUN_MS of speech, after a shorter burst, and
# after a long run whose peak score reached CLEAR_PEAK (speech well above
# the noise: its weak tail is heard directly, so less hangover is needed).
THRESHOLD = (0.08, 0.15, 0.3, 4.0)
HANGOVER_MS = (240, 150, 240, 180)
HANGOVER_SHORT_MS = (240, 150, 150, 90)
HANGOVER_CLEAR_MS = (120, 150, 90, 180)
LONG_RUN_MS = 120
CLEAR_PEAK = 40.0
# A frame whose every band energy is at most the floor (about 1 LSB rms:
# digital silence) is non-speech and ends any hangover.
# Per aggressiveness: weights of the bands in the mean score. Mode 3 leans on
# the bands below 1 kHz, where voiced speech has most of its energy and
# clatter, hiss and hum the least.
BAND_WEIGHT = (
    (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5),
    (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5),
    (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5),
    (4.0, 2.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25),
)
# Per aggressiveness: a frame is also speech when the lowest band (150-400 Hz,
# voicing) alone has a log-likelihood ratio above this (plus the same
# fluctuation term): catches the onsets of voiced speech early. Off (inf) in
# modes 0-2, whose mean threshold is low enough already.
LOW_BAND_THRESHOLD = (math.inf, math.inf, math.inf, 3.0)

LN2 = 0.6931471805599453
SQRT_HALF = 0.7071067811865476


def cos_table(grid: int = GRID) -> list[float]:
    """cos(pi * q / grid) for q in 0 .. 2*grid-1, by half angles and rotation."""
    c = -1.0  # cos(pi)
    half = grid
    while half > 1:
        c = math.sqrt((1.0 + c) / 2.0)
        half //= 2
    s = math.sqrt(1.0 - c * c)
    out = [1.0]
    cq, sq = 1.0, 0.0
    for _ in range(1, 2 * grid):
        cq, sq = cq * c - sq * s, sq * c + cq * s
        out.append(cq)
    return out


def band_weights(rate_internal: int) -> list[list[float]]:
    """Weights C[k][l]: band energy k = sum over l of C[k][l] * r[l].

    A Blackman-Tukey estimate (Bartlett lag window) of the power spectrum,
    summed over the grid points of each band. Bands with no grid point
    below the analysis Nyquist frequency are dropped.
    """
    cos = cos_table()
    out = []
    for lo, hi in BANDS_HZ:
        ms = [m for m in range(GRID + 1) if lo * 2 * GRID <= m * rate_internal < hi * 2 * GRID]
        if not ms:
            continue
        row = []
        for lag in range(LAGS + 1):
            acc = 0.0
            for m in ms:
                acc = acc + cos[(m * lag) % (2 * GRID)]
            w = float((1 if lag == 0 else 2) * (LAGS + 1 - lag)) / float(LAGS + 1)
            row.append(acc * w)
        out.append(row)
    return out


def per_frame(factor_10ms: float, frame_ms: int) -> float:
    """A per-10-ms factor raised to the frame length (exact, fixed order)."""
    f = factor_10ms
    for _ in range(frame_ms // 10 - 1):
        f = f * factor_10ms
    return f
