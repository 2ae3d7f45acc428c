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
# ---- the detector (v2): per 10 ms block, integer features, a small MLP ----
# Features and scores are computed on 10 ms blocks whatever the frame length;
# a frame's score is the mean of its blocks' scores, so 10, 20 and 30 ms
# frames behave alike.
BLOCK_MS = 10
LOG_SCALE = 16  # log-energy units per neper (about 0.54 dB)
SMOOTH_SHIFT = 2  # smoothed log energy: s += (q - s) >> SMOOTH_SHIFT per block
# A block pulls the smoothed log energy at most SMOOTH_DROP units below it
# (2 nepers): next to a loud tone the autocorrelation estimate of a quiet
# band can dip to the digital floor for a block, and without this limit
# that one block would drag the band's noise floor down for 2 s (a steady
# buzz left its noise looking like speech in the top bands afterwards).
SMOOTH_DROP = 32
# For its first SETTLE_BLOCKS blocks after the first, the floor is the
# smoothed energy itself: the smoothed energy starts at the first block's
# value, and one low first block would otherwise be the floor for 2 s.
SETTLE_BLOCKS = 8
SUB_BLOCKS = 25  # minimum statistics: sub-window of 25 blocks (250 ms) ...
SUBWINDOWS = 8  # ... times 8: the noise floor looks back 2 s
SLOW_SHIFT = 4  # slow average of the per-band SNR: time constant about 160 ms ...
# ... except that once every band's SNR has been below QUIET_SNR (1.5
# nepers, about 6.5 dB) for QUIET_BLOCKS blocks in a row it falls with
# SLOW_FALL_SHIFT (halves per block): a sound that has stopped is forgotten
# within about 100 ms, before the model's 120 ms of context forget it too
# (otherwise the model reads "a pause inside speech" and its score comes
# back up), while a shorter pause, or one in which some band stays above
# its floor, keeps the memory.
SLOW_FALL_SHIFT = 1
QUIET_SNR = 24
QUIET_BLOCKS = 5
FIX = 8  # fixed-point bits of the tracked quantities
R_MIN, R_MAX = -64, 511  # clip of the per-band SNR feature
# Features per block: SNR per band (8), spectral shape (8), level (1); the
# model sees them at these block delays, then the slow SNR average (8).
BLOCK_FEATURES = 17
CONTEXT = (0, 1, 2, 3, 5, 8, 12)
N_INPUTS = BLOCK_FEATURES * len(CONTEXT) + 8
SCORE_ONE = 32768  # score units: probability = score / SCORE_ONE
LOGIT_Q = 4  # the logit's fixed-point bits at the sigmoid table
LUT_HALF = 256  # sigmoid table: logits -16 .. +16 in steps of 1/16

# Aggressiveness presets: (threshold, release threshold, hangover in ms).
# A frame starts speech when its score >= threshold, speech goes on while
# the score >= release, then the flag is held for the hangover. Each later
# preset is at least as strict in all three, so more aggressive never flags
# more frames.
PRESETS = (
    (0.50, 0.35, 90),
    (0.60, 0.45, 90),
    (0.70, 0.55, 90),
    (0.80, 0.65, 60),
)

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
