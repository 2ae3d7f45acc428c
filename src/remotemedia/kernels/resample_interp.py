"""Sizes and position arithmetic of the interpolated-phase resampler (any ratio).

The exact polyphase kernel stores one filter row per phase, ``L`` rows for
``L / M = out_rate / in_rate`` in lowest terms: 48000 -> 48001 Hz would need
48001 rows. The interpolated-phase kernel stores a fixed number of phases
per input frame instead and evaluates the filter between them with a cubic
polynomial per phase segment (as soxr and libsamplerate interpolate between
stored phases), so its table depends only on the preset and on
``min(1, ratio)``, never on the ratio's terms. It is one stage at the input
rate: output ``k`` sits at input position ``P_k / den`` (integers, exact)
and is ``sum_u x[i - behind + u] * c_u(alpha)`` with ``i = P_k // den``,
the phase segment ``j = (P_k mod den) * q // den`` and ``alpha`` the
position inside that segment; ``c_u`` is the segment's cubic for tap ``u``.

Positions are integers in units of ``1 / den``: for integer rates
``den = L * 2**32`` and each output steps ``M * 2**32`` (so the positions
are exact and the stream has ``ceil(n * out / in)`` frames, as on the exact
path); for a non-integer ratio ``den = 2**52`` and the step is
``round(2**52 / ratio)``. A new ratio (``set_ratio``) becomes a new step,
``round(den / ratio)``; a ramp moves the step linearly over the next
``ramp_frames`` outputs (integer arithmetic). An output's position, and so
its arithmetic, never depends on how the input was chunked.

From a ratio of 1/2 up the stage runs after an exact sharp stage up by 2
(``oversampled``, ``post_shape``): it then only rejects the images of the
2x-rate samples, a short filter, and its positions are those of the ratio
``out / (2 in)``. Upward by 4 or more between integer rates an exact stage
up by ``K`` (``back_factor``) comes last, and the positions are those of
``out / (2 K in)``.

The same formulas live in ``rust/remotemedia-runtime/src/resample/interp.rs``
and ``oversampled.rs``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

#: Stored phase segments per input frame at ratio >= 1, per preset (cubic
#: interpolation error below the preset's stopband by 25 dB or more).
PHASES: dict[str, int] = {"low": 32, "medium": 64, "high": 64, "very_high": 128}
#: Phase segments per frame (at a stopband edge of 1) of the quadratic pieces
#: the stage after the exact 2x stage uses up to :data:`WIDE_DB`: its input
#: holds nothing above 0.23 cycles per frame, where their error stays 160 dB
#: under the signal (three fused multiply-adds per tap instead of four).
QUADRATIC_PHASES = 96
#: The same for the float64 ("very_high") stage after the exact 2x stage:
#: on 384 segments its quadratic pieces stay about 198 dB under a tone at
#: the passband edge (the cubic pieces on 128: 187 dB).
WIDE_QUADRATIC_PHASES = 384
#: Designs attenuating more than this (dB) run in float64 (cubic pieces);
#: the rest in float32 on the native body.
WIDE_DB = 150.0
#: Taps are padded to a multiple of this (float32 designs), or of
#: :data:`WIDE_TAP_BLOCK` (float64 designs, one 4-lane vector per block).
TAP_BLOCK = 8
WIDE_TAP_BLOCK = 4
#: Fixed-point units of a position for integer rates (times L) and for a
#: non-integer ratio.
RATE_SHIFT = 32
RATIO_DEN = 1 << 52
#: Largest ratio either way.
MAX_RATIO = 256.0
#: Attenuation added to the interpolated-phase stage after the exact 2x stage.
POST_EXTRA_DB = 10.0
#: That stage's attenuation at "medium" (16 taps instead of 24; see ``post_shape``).
MEDIUM_POST_DB = 120.0
#: ``set_ratio`` stays within this factor of the ratio the filter was designed for.
VARIABLE_RANGE = 1.05


@dataclass(frozen=True)
class InterpShape:
    """Sizes of an interpolated-phase filter.

    Attributes
    ----------
    low : float
        ``min(1, ratio)``: the cutoff scale relative to the input Nyquist.
    q : int
        Phase segments per input frame.
    half_q : int
        Half-length of the window in segments (the window is ``half_q / q``
        input frames either side of the output position).
    taps : int
        Input frames per output, a multiple of ``TAP_BLOCK`` (or of
        ``WIDE_TAP_BLOCK`` beyond ``WIDE_DB``).
    behind, ahead : int
        Frames the window reaches before / after the output's frame.
    fc : float
        Cutoff (middle of the transition band), fraction of the input Nyquist.
    beta : float
        Kaiser window parameter.
    order : int
        Degree of the polynomial per segment and tap (3, or 2 for the
        stage after the exact 2x stage).
    """

    low: float
    q: int
    half_q: int
    taps: int
    behind: int
    ahead: int
    fc: float
    beta: float
    order: int = 3


@lru_cache(maxsize=256)
def interp_shape(low: float, quality: str, spec: tuple[float, float, float]) -> InterpShape:
    """Filter sizes for cutoff scale ``low`` (``min(1, out/in)``) at a preset.

    ``spec``: the preset's (passband end, stopband start, attenuation dB).
    """
    pb, sb, atten = spec
    return interp_band(low, pb * low, sb * low, atten, PHASES[quality])


@lru_cache(maxsize=256)
def interp_band(low: float, fp: float, fs: float, atten: float, per_unit: int, order: int = 3) -> InterpShape:
    """Sizes for a passband to ``fp`` and a stopband from ``fs`` (fractions of the input Nyquist).

    ``fs`` may exceed 1 when the input is oversampled; ``per_unit`` phase
    segments per frame at ``fs = 1``, polynomials of degree ``order`` (same
    arithmetic as Rust).
    """
    width = math.pi * (fs - fp)
    length = (atten - 7.95) / (2.285 * width)
    q = max(1, math.ceil(per_unit * fs))
    half_q = math.ceil(length / 2.0 * q)
    # Every tap with a nonzero piece: floor(half_q / q) frames back to one
    # more than that ahead (the Rust comment has the reasoning).
    behind = half_q // q
    block = WIDE_TAP_BLOCK if atten > WIDE_DB else TAP_BLOCK
    taps = -(-(2 * behind + 2) // block) * block
    beta = 0.1102 * (atten - 8.7)
    return InterpShape(low, q, half_q, taps, behind, taps - 1 - behind, (fp + fs) / 2.0, beta, order)


def oversampled(ratio: float) -> bool:
    """Whether a ratio ``out / in`` runs as an exact 2x stage then interpolated phases (from 1/2 up)."""
    return ratio >= 0.5


def post_shape(ratio: float, quality: str, spec: tuple[float, float, float]) -> InterpShape:
    """The interpolated-phase filter after the exact 2x stage.

    The 2x stage leaves nothing above ``sb * min(1, ratio)`` of the input
    Nyquist, so this filter only rejects the images of the 2x-rate samples:
    passband to ``pb * low / 2``, stopband from ``2 - sb * low / 2`` of its
    own input Nyquist (a short filter).
    """
    pb, sb, atten = spec
    low = min(1.0, ratio)
    # 10 dB more than the preset: its ripple adds to the 2x stage's, and on
    # this wide transition band the extra decibels cost a few taps. At
    # "medium" 120 dB (Rust ``post_atten``): this stage sets the route's SNR
    # (117-120 dB, soxr "MQ" 106-113), and 120 dB fits 16 taps.
    atten = MEDIUM_POST_DB if quality == "medium" else atten + POST_EXTRA_DB
    # Quadratic pieces on more segments than cubic ones would need (the
    # input holds nothing above a quarter of the stage's rate).
    per_unit = WIDE_QUADRATIC_PHASES if atten > WIDE_DB else QUADRATIC_PHASES
    return interp_band(low, pb * low / 2.0, 2.0 - sb * low / 2.0, atten, per_unit, 2)


def front_block(taps: int) -> int:
    """Periods per block of the exact 2x stage on the fast-convolution kernel (Rust ``plan::front_block``).

    It runs as 4 phases over a doubled period (``taps`` per phase); its
    transform size is the power of two from 4 times the correlation length
    ``q`` (twice an exact stage's), within 256..4096: longer blocks, fewer
    transforms per output, up to one block more latency.
    """
    q = (1 + taps + 1) // 2
    n = min(max(1 << (4 * q - 1).bit_length(), 256), 4096)
    return n - q + 1


#: Largest factor of the exact stage after the interpolated phases.
MAX_BACK = 4


def back_factor(in_rate: int, out_rate: int, variable: bool = False) -> int:
    """The factor ``K`` of an exact stage up by ``K`` after the interpolated phases (1: none).

    Upward by 4 or more between integer rates (never on a variable
    resampler), the interpolated stage produces ``out / K`` frames a second
    (a ratio of 1 to 2 on the 2x signal) and a short exact stage with ``K``
    phases the rest: the polynomial per tap runs on a quarter of the outputs.
    """
    k = 1
    while not variable and k < MAX_BACK and out_rate >= 4 * k * in_rate:
        k *= 2
    return k


def round_half_up(x: float) -> int:
    """``floor(x + 0.5)`` as an int (the same rounding as the Rust core)."""
    return math.floor(x + 0.5)


def rate_units(in_rate: int, out_rate: int) -> tuple[int, int]:
    """``(den, step)`` of exact positions for integer rates."""
    g = math.gcd(in_rate, out_rate)
    return (out_rate // g) << RATE_SHIFT, (in_rate // g) << RATE_SHIFT


def ratio_units(ratio: float) -> tuple[int, int]:
    """``(den, step)`` for a non-integer ratio ``out / in``."""
    return RATIO_DEN, round_half_up(float(RATIO_DEN) / ratio)


def ratio_step(den: int, ratio: float) -> int:
    """The step of a new ratio in a stream's units."""
    return round_half_up(float(den) / ratio)


__all__ = [
    "MAX_BACK",
    "MAX_RATIO",
    "PHASES",
    "QUADRATIC_PHASES",
    "RATIO_DEN",
    "VARIABLE_RANGE",
    "WIDE_DB",
    "WIDE_QUADRATIC_PHASES",
    "InterpShape",
    "back_factor",
    "interp_band",
    "interp_shape",
    "oversampled",
    "post_shape",
    "rate_units",
    "ratio_step",
    "ratio_units",
]
