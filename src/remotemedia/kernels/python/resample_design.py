"""Filter design of the resampler: stage layout, filter sizes, coefficients.

The reference design, in float64, formula for formula the same as the Rust
core's ``src/resample/design.rs`` (same order of operations), so both
bodies use the same coefficients and the same stage and block layout. It
imports only the presets :data:`SPECS` (``kernels/_resample_spec.py``).
The public face (``kernels/resample.py``) uses :func:`filter_stages` for
its memory check (imported there on first use); the numpy body
(``kernels/python/resample.py``) uses :func:`design` for its tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from remotemedia.kernels._resample_spec import SPECS

# Sharp stages with at most this many phases (the native output-parallel
# kernel) come first; see stage_specs.
PHASE_LIMIT = 4
# Most phases of a downward conversion by less than 2.5 that still splits in
# two stages (22.05k -> 16k: 320); larger terms keep one stage and their route.
SPLIT_MAX_PHASES = 640
# Upward by at least this factor (sharp stage to half the output rate with
# more than PHASE_LIMIT phases), the sharp stage doubles the rate first.
UP_DOUBLE_FIRST = 16
# Attenuation added to the short stage of a two-stage conversion (its
# residue lands in the passband; extra dB cost few taps there).
SHORT_EXTRA_DB = 10.0
# The same for the many-phase short stage of a downward conversion (it runs
# at the input rate on the tap-parallel kernel): 44.1k -> 16k fits 48 taps.
MANY_PHASE_EXTRA_DB = 3.0
# Taps per phase are padded to a multiple of the native SIMD block.
TAP_BLOCK = 8
# Stages with at least this many taps and at most BLOCK_FACTOR phases and
# streams run on the Rust core's fast-convolution (FFT) kernel, which emits
# whole blocks of output; both bodies follow the same block grid.
BLOCK_MIN_TAPS = 176
BLOCK_FACTOR = 4
# Smallest transform of an exact sharp doubling stage (8k -> 16k; Rust
# ``DOUBLING_MIN_FFT``): 512 points at "medium" and "high" instead of 256.
DOUBLING_MIN_FFT = 512


@dataclass(frozen=True)
class Spec:
    """One stage: ratio ``l/m`` and band edges in virtual rate units (see :func:`stage_specs`)."""

    l: int  # noqa: E741 - the usual name of the interpolation factor
    m: int
    scale: int
    fp: float
    fs: float
    extra: float = 0.0  # dB added to the preset's attenuation (short stages)


@dataclass(frozen=True)
class Shape:
    """Sizes of a stage's filter (no coefficients).

    Attributes
    ----------
    l, m : int
        Interpolation and decimation factors of the stage.
    half : int
        Half-length of the prototype, in upsampled samples.
    taps : int
        Taps per output, a multiple of 8.
    ahead, behind : int
        Input frames the window reaches after / before an output's position.
    block : int
        Periods (``l`` outputs each) per block of the fast-convolution
        kernel, 0 for a direct stage: a block stage emits whole blocks only
        (``flush`` releases the last partial one).
    """

    l: int  # noqa: E741
    m: int
    half: int
    taps: int
    ahead: int
    behind: int
    block: int = 0


def stage_specs(l: int, m: int, pb: float, sb: float) -> tuple[Spec, ...]:  # noqa: E741
    """Stages for the reduced ratio ``l/m`` (same rules as the Rust core).

    A conversion by 2.5 or more runs in two stages so that the sharp filter
    never works at the higher rate. When the sharp filter at half the higher
    rate has at most ``PHASE_LIMIT`` phases (48k -> 16k): downward a
    half-band stage first, upward a short doubling stage last. Otherwise
    (44.1k -> 16k): downward a short polyphase stage to 1.5 times the output
    rate, then a sharp 3:2 stage (so does a downward conversion by less than
    2.5 with more than ``PHASE_LIMIT`` and at most ``SPLIT_MAX_PHASES``
    phases, 22.05k -> 16k); upward a sharp 2:3 stage to 1.5 times the
    input rate, then a short polyphase stage. Virtual units: input rate ``2m``, output rate
    ``2l``; a design thus depends only on the ratio.
    """
    lf, mf = float(l), float(m)
    # Downward by less than 2.5 with many phases (22.05k -> 16k) splits as 44.1k -> 16k does.
    if 2 * m >= 5 * l or (m > l and PHASE_LIMIT < l <= SPLIT_MAX_PHASES):
        g = math.gcd(2 * l, m)
        if 2 * m >= 5 * l and 2 * l // g <= PHASE_LIMIT:
            return (
                Spec(1, 2, 2 * m, sb * lf, mf - sb * lf, SHORT_EXTRA_DB),
                Spec(2 * l // g, m // g, m, pb * lf, sb * lf),
            )
        g = math.gcd(3 * l, 2 * m)
        return (
            Spec(3 * l // g, 2 * m // g, 2 * m, pb * lf, 3.0 * lf - sb * lf, MANY_PHASE_EXTRA_DB),
            Spec(2, 3, 3 * l, pb * lf, sb * lf),
        )
    if 2 * l >= 5 * m:
        g = math.gcd(l, 2 * m)
        if l // g <= PHASE_LIMIT:
            return (
                Spec(l // g, 2 * m // g, 2 * m, pb * mf, sb * mf),
                Spec(2, 1, l, pb * mf, lf - sb * mf, SHORT_EXTRA_DB),
            )
        if l >= UP_DOUBLE_FIRST * m:
            g = math.gcd(l, 2 * m)
            return (
                Spec(2, 1, 2 * m, pb * mf, sb * mf),
                Spec(l // g, 2 * m // g, 4 * m, pb * mf, 4.0 * mf - sb * mf, SHORT_EXTRA_DB),
            )
        g = math.gcd(2 * l, 3 * m)
        return (
            Spec(3, 2, 2 * m, pb * mf, sb * mf),
            Spec(2 * l // g, 3 * m // g, 3 * m, pb * mf, 3.0 * mf - sb * mf, SHORT_EXTRA_DB),
        )
    low = float(min(l, m))
    return (Spec(l, m, 2 * m, pb * low, sb * low),)


def stage_shape(spec: Spec, atten: float) -> Shape:
    """Sizes of the Kaiser design of one stage (same arithmetic as Rust)."""
    atten = atten + spec.extra
    rate = float(spec.l * spec.scale)
    width = 2.0 * math.pi * (spec.fs - spec.fp) / rate
    length = (atten - 7.95) / (2.285 * width)
    half = math.ceil(length / 2.0)
    ahead = -(-half // spec.l)
    back = half // spec.l
    taps = -(-(ahead + back + 1) // TAP_BLOCK) * TAP_BLOCK
    return Shape(spec.l, spec.m, half, taps, ahead, taps - 1 - ahead, block_periods(spec.l, spec.m, taps))


def block_periods(l: int, m: int, taps: int, min_fft: int = 256) -> int:  # noqa: E741
    """Periods per block of the fast-convolution kernel, 0 for a direct stage.

    The transform size is the power of two from twice the correlation
    length ``q`` (the union of the phase windows in periods), within
    ``min_fft``..4096; a block is what one transform yields, ``n - q + 1``
    periods.
    """
    if taps < BLOCK_MIN_TAPS or l > BLOCK_FACTOR or m > BLOCK_FACTOR:
        return 0
    q = -(-((l - 1) * m // l + taps) // m)
    n = min(max(1 << (2 * q - 1).bit_length(), min_fft), 4096)
    return n - q + 1


def reduced(in_rate: int, out_rate: int) -> tuple[int, int]:
    """``(l, m)``: ``out_rate / in_rate`` in lowest terms."""
    g = math.gcd(in_rate, out_rate)
    return out_rate // g, in_rate // g


@lru_cache(maxsize=256)
def filter_stages(in_rate: int, out_rate: int, quality: str) -> tuple[tuple[Spec, Shape], ...]:
    """Every stage of a conversion with its filter sizes."""
    l, m = reduced(in_rate, out_rate)  # noqa: E741
    pb, sb, atten = SPECS[quality]
    return tuple((s, stage_shape(s, atten)) for s in stage_specs(l, m, pb, sb))


def bessel_i0(x: np.ndarray) -> np.ndarray:
    """Modified Bessel function of the first kind, order 0 (power series)."""
    x = np.asarray(x, dtype=np.float64)
    q = x * x / 4.0
    term = np.ones_like(q)
    total = np.ones_like(q)
    k = 1.0
    while k < 500.0:
        term = term * (q / (k * k))
        total = total + term
        if np.all(term < total * 1e-17):
            break
        k += 1.0
    return total


def design(spec: Spec, shape: Shape, atten: float) -> np.ndarray:
    """The (L, taps) float64 coefficient table of a stage (same formulas as Rust)."""
    rate = float(spec.l * spec.scale)
    fc = (spec.fp + spec.fs) / (2.0 * rate)
    beta = 0.1102 * (atten + spec.extra - 8.7)
    half = shape.half
    i0_beta = bessel_i0(np.float64(beta))
    gain = float(spec.l)
    d = np.arange(half + 1, dtype=np.float64)
    arg = 2.0 * fc * d
    with np.errstate(invalid="ignore", divide="ignore"):
        sinc = np.sin(np.pi * arg) / (np.pi * arg)
    sinc[0] = 1.0
    sinc[1:][arg[1:] == np.round(arg[1:])] = 0.0  # exact zeros (half-band stages)
    ratio = d / float(half)
    w = bessel_i0(beta * np.sqrt(np.maximum(1.0 - ratio * ratio, 0.0))) / i0_beta
    proto = gain * 2.0 * fc * sinc * w
    r = np.arange(shape.l, dtype=np.int64)[:, None]
    mi = np.arange(shape.taps, dtype=np.int64)[None, :]
    dist = np.abs(r + (shape.behind - mi) * shape.l)
    return np.where(dist <= half, proto[np.minimum(dist, half)], 0.0)
