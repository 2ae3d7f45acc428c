"""Sample-rate conversion: the public face shared by every body.

The resampler is a polyphase FIR with a Kaiser-windowed sinc prototype,
designed in float64 with the same formulas in the Rust core and in numpy.
Conversions by a factor of 2.5 or more run in two stages (a short
half-band-like stage at the higher rate, the sharp filter at the lower).
With ``L / M = out_rate / in_rate`` in lowest terms, output ``k`` is the
dot product of filter row ``(k M) mod L`` with the input around
``floor(k M / L)``. The filter is zero-phase: the one-shot result is
delay-compensated (a click at time t comes out at time t) and has
``ceil(n * out_rate / in_rate)`` frames.

Presets (passband end and stopband start as fractions of the lower
Nyquist frequency; attenuation of the stopband; see docs/resampler.md for
measured figures):

============  ========  ========  ===========  ===========================
quality       passband  stopband  attenuation  native arithmetic
============  ========  ========  ===========  ===========================
"low"         0.70      1.00      125 dB       float32, FMA
"medium"      0.90      1.00      137 dB       float64 FFT sharp stage,
                                               float32 FMA
"high"        0.91      1.00      139 dB       float64 FFT sharp stage,
                                               float32 FMA (default)
"very_high"   0.91      1.00      175 dB       float64 FFT and FMA
============  ========  ========  ===========  ===========================

The numpy body computes in float64 for every preset. Stages with long
filters and few phases (``Shape.block > 0``, see
``kernels/python/resample_design.py``: the sharp stage of 48k -> 16k,
44.1k -> 16k, 16k -> 48k, 8k -> 16k at "high", the sharp stages of
"very_high") run on the Rust core's fast-convolution kernel and emit whole blocks of output,
which adds up to one block of latency (19 ms at 48k -> 16k "high"); both
bodies follow the same block grid, so ``process`` returns the same number
of frames in each.

Rules shared by every body:

- rates are integers from 1000 to 768000 Hz, at most 256:1 either way;
  equal rates return a copy; rates whose exact polyphase tables would
  exceed ``EXACT_LIMIT`` coefficients (48000 -> 48001, 44100 -> 44056)
  run on the interpolated-phase kernel (``remotemedia.kernels.resample_interp``),
  as does a non-integer ratio (``Resampler.from_ratio``) and a resampler
  made ``variable=True`` (``Resampler.set_ratio``);
- input is 1-D (mono) or 2-D ``(channels, frames)``; int16, int32 and
  float64 are converted to float32 on the way in (int16 / 2**15, int32 /
  2**31); the output is float32 with the same number of dimensions;
- an empty input gives an empty output (no error);
- NaN or Inf in the input makes NaN (or Inf) every output whose filter
  window covers it; outputs further away are unaffected, nothing crashes;
- ``Resampler.flush()`` returns the tail (the input is taken as silent
  after its end) and resets the resampler for a new stream.
"""

from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING, Any

import numpy as np

from remotemedia.kernels._exclusive import Busy
from remotemedia.kernels._resample_spec import SPECS
from remotemedia.kernels._validate import MAX_CHANNELS, planar
from remotemedia.kernels.bodies import ResamplerCore

if TYPE_CHECKING:
    from remotemedia.kernels import KernelSet

MIN_RATE = 1_000
MAX_RATE = 768_000
#: The preset used when none is given (every entry point takes it from here).
DEFAULT_QUALITY = "high"
# Largest ratio either way.
MAX_RATIO = 256
# Exact polyphase tables (all stages) up to this many coefficients are used
# as they are; a conversion that needs more runs on the interpolated-phase
# kernel (remotemedia.kernels.resample_interp), whose table does not grow
# with the ratio's terms.
EXACT_LIMIT = 1 << 18
_F32 = np.dtype(np.float32)


def check_rate(rate: Any, what: str, op: str) -> int:
    """Return ``rate`` as an int, or raise if it is not an allowed rate."""
    if isinstance(rate, bool):
        raise TypeError(f"{op}: {what} must be an integer in Hz, got {rate!r}")
    try:
        value = operator.index(rate)
    except TypeError:
        if isinstance(rate, float) and rate.is_integer():
            value = int(rate)
        else:
            raise TypeError(f"{op}: {what} must be an integer in Hz, got {rate!r}") from None
    if not MIN_RATE <= value <= MAX_RATE:
        raise ValueError(f"{op}: {what} {value} Hz is outside the supported range {MIN_RATE}..{MAX_RATE} Hz")
    return value


def check_quality(quality: Any, op: str) -> str:
    """Return a valid quality name or raise ValueError naming the choices."""
    if not isinstance(quality, str) or quality not in SPECS:
        choices = ", ".join(repr(q) for q in SPECS)
        raise ValueError(f"{op}: unknown quality {quality!r}; expected one of {choices}")
    return quality


def uses_interp(in_rate: int, out_rate: int, quality: str) -> bool:
    """True when integer rates run on the interpolated-phase kernel (same rule as Rust).

    That is when the exact tables of every stage would hold more than
    ``EXACT_LIMIT`` coefficients (ratios with large terms).
    """
    if in_rate == out_rate:
        return False
    # here: the Python filter design (and its dataclasses) is not needed by a run on the Rust core
    from remotemedia.kernels.python.resample_design import filter_stages

    return sum(shape.l * shape.taps for _, shape in filter_stages(in_rate, out_rate, quality)) > EXACT_LIMIT


def check_pair(in_rate: int, out_rate: int, op: str) -> None:
    """Raise ValueError when the ratio of two valid rates exceeds ``MAX_RATIO``."""
    if max(in_rate, out_rate) > MAX_RATIO * min(in_rate, out_rate):
        raise ValueError(f"{op}: {in_rate} Hz -> {out_rate} Hz is a ratio beyond {MAX_RATIO}:1; convert in two steps")


def check_ratio(ratio: Any, op: str) -> float:
    """Return a ratio ``out / in`` as a float within ``1/MAX_RATIO .. MAX_RATIO`` or raise."""
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: ratio must be a number (output rate / input rate), got {ratio!r}")
    value = float(ratio)
    if not (math.isfinite(value) and 1.0 / MAX_RATIO <= value <= MAX_RATIO):
        raise ValueError(
            f"{op}: ratio {value!r} (output rate / input rate) is outside the supported range "
            f"1/{MAX_RATIO}..{MAX_RATIO}"
        )
    return value


def check_channels(channels: Any, op: str) -> int:
    """Return a channel count 1..MAX_CHANNELS or raise ValueError."""
    try:
        value = operator.index(channels)
    except TypeError:
        raise TypeError(f"{op}: channels must be an integer, got {channels!r}") from None
    if not 1 <= value <= MAX_CHANNELS:
        raise ValueError(f"{op}: channels must be 1..{MAX_CHANNELS}, got {value}")
    return value


def as_float32(x: Any, op: str) -> np.ndarray:
    """Validate planar audio and return it as C-contiguous float32 (same ndim)."""
    a = planar(x, op)
    if a.ndim == 2 and a.shape[0] == 0:
        raise ValueError(f"{op}: 2-D audio has 0 channels (shape {a.shape}); expected (channels, frames)")
    if a.dtype == np.int16:
        return a.astype(np.float32) * np.float32(1.0 / 32768.0)
    if a.dtype == np.int32:
        return a.astype(np.float32) * np.float32(2.0**-31)
    if a.dtype == np.float64:
        with np.errstate(over="ignore"):  # beyond float32 range: inf, silently on every body
            return a.astype(np.float32)
    return a


class _Identity:
    """Equal rates: every chunk comes straight back (as a copy)."""

    def __init__(self, channels: int) -> None:
        self._channels = channels

    def process(self, x: np.ndarray) -> np.ndarray:
        return x.copy()

    def flush(self) -> np.ndarray:
        return np.zeros((self._channels, 0), np.float32)

    def reset(self) -> None:
        pass

    def delay(self) -> int:
        return 0


def resample_with(
    kernels: KernelSet, x: Any, in_rate: Any, out_rate: Any, quality: Any = DEFAULT_QUALITY
) -> np.ndarray:
    """Validate, then resample ``x`` in one shot with a kernel set's body.

    Parameters
    ----------
    kernels : KernelSet
        The body that computes.
    x : ndarray
        1-D (mono) or 2-D ``(channels, frames)`` int16, int32, float32 or
        float64 samples.
    in_rate, out_rate : int
        Rates in Hz, 1000..768000, at most 256:1 either way.
    quality : {"low", "medium", "high", "very_high"}
        Filter preset.

    Returns
    -------
    ndarray
        float32, same number of dimensions, ``ceil(frames * out_rate /
        in_rate)`` frames, delay-compensated.

    Raises
    ------
    TypeError
        ``x`` is not an ndarray of a supported dtype, or a rate is not an integer.
    ValueError
        Bad layout, rate out of range, ratio beyond 256:1, or unknown quality.
    """
    op = "resample"
    a = as_float32(x, op)
    i = check_rate(in_rate, "in_rate", op)
    o = check_rate(out_rate, "out_rate", op)
    q = check_quality(quality, op)
    check_pair(i, o, op)
    if i == o:
        return a.copy()
    x2 = a.reshape(1, -1) if a.ndim == 1 else a
    y = kernels._resample_one_shot(x2, i, o, q)
    return y.reshape(-1) if a.ndim == 1 else y


class Resampler:
    """Streaming resampler; chunking never changes the result.

    Parameters
    ----------
    in_rate, out_rate : int
        Rates in Hz, 1000..768000, at most 256:1 either way.
    channels : int
        Number of channels, 1..64. Mono chunks may be 1-D.
    quality : {"low", "medium", "high", "very_high"}
        Filter preset (see :mod:`remotemedia.kernels.resample`).
    variable : bool
        Run on the interpolated-phase kernel so that :meth:`set_ratio` may
        change the ratio while streaming (drift correction); equal rates
        then resample too instead of copying.
    kernels : KernelSet, optional
        The body to run on; default the automatic choice.

    Attributes
    ----------
    ratio : float
        The ratio ``out / in`` now asked for (the last :meth:`set_ratio`).

    Raises
    ------
    TypeError, ValueError
        As for :func:`resample_with`, and for a bad channel count.

    Notes
    -----
    Concurrency: one object serves one call at a time, on every body. A
    call (``process``, ``flush``, ``reset``, ``delay``) made while another
    thread is inside raises :class:`~remotemedia.errors.ConcurrentUseError`
    and leaves the stream untouched; it never waits. Use one Resampler per
    thread (objects are independent) or serialise the calls yourself. The
    one-shot :func:`resample_with` is thread-safe.
    """

    in_rate: int | None
    out_rate: int | None

    def __init__(
        self,
        in_rate: Any,
        out_rate: Any,
        channels: Any = 1,
        quality: Any = DEFAULT_QUALITY,
        *,
        variable: bool = False,
        kernels: KernelSet | None = None,
    ) -> None:
        op = "Resampler"
        i = check_rate(in_rate, "in_rate", op)
        o = check_rate(out_rate, "out_rate", op)
        check_pair(i, o, op)
        self._setup(i, o, o / i, channels, quality, kernels, variable=bool(variable), by_ratio=False)

    @classmethod
    def from_ratio(
        cls, ratio: Any, channels: Any = 1, quality: Any = DEFAULT_QUALITY, *, kernels: Any = None
    ) -> Resampler:
        """A resampler for a non-integer ratio ``out / in`` (1/256..256); variable.

        The output has ``ceil(n * ratio)`` frames for ``n`` input frames, up
        to the 2**-52 resolution the ratio is held in (see
        docs/resampler.md, Rules). ``in_rate`` and
        ``out_rate`` are None.
        """
        r = cls.__new__(cls)
        value = check_ratio(ratio, "Resampler.from_ratio")
        r._setup(None, None, value, channels, quality, kernels, variable=True, by_ratio=True)
        return r

    def _setup(
        self,
        i: int | None,
        o: int | None,
        ratio: float,
        channels: Any,
        quality: Any,
        kernels: Any,
        *,
        variable: bool,
        by_ratio: bool,
    ) -> None:
        op = "Resampler"
        self.in_rate, self.out_rate = i, o
        self.quality = check_quality(quality, op)
        self.channels = check_channels(channels, op)
        self.variable = variable
        self.ratio = ratio
        self._design_ratio = ratio
        if kernels is None:
            from remotemedia import kernels as _k

            kernels = _k.get()
        self.kernels = kernels
        if by_ratio:
            self._core: ResamplerCore = kernels._resampler_core(0, 0, self.channels, self.quality, ratio=ratio)
        elif i == o and not variable:
            self._core = _Identity(self.channels)
        else:
            self._core = kernels._resampler_core(i, o, self.channels, self.quality, variable=variable)
        self._mono = self.channels == 1
        # One call at a time, on every body (see kernels._exclusive): a
        # second concurrent call fails loudly instead of racing on the state.
        self._busy = Busy("Resampler")

    def set_ratio(self, ratio: Any, ramp_frames: Any = 0) -> None:
        """Change the ratio ``out / in`` of a running stream (drift correction).

        The new ratio applies from the next output frame not yet emitted and
        is reached linearly over ``ramp_frames`` output frames (0: at once):
        output positions advance by a step that moves smoothly, so there is
        no discontinuity, and the output length follows the integral of the
        ratio over the input. Only for a resampler made with
        ``variable=True`` or :meth:`from_ratio`, and within 5% of the ratio
        it was made for (its filter's cutoff is that ratio's).
        ``reset``/``flush`` return to the first ratio.

        Raises
        ------
        ValueError
            Fixed-ratio resampler, ratio out of range, or a negative ramp.
        TypeError
            ``ratio`` is not a number or ``ramp_frames`` not an integer.
        """
        op = "Resampler.set_ratio"
        value = check_ratio(ratio, op)
        try:
            ramp = operator.index(ramp_frames)
        except TypeError:
            raise TypeError(f"{op}: ramp_frames must be an integer (output frames), got {ramp_frames!r}") from None
        if not 0 <= ramp <= 1 << 62:
            raise ValueError(f"{op}: ramp_frames must be >= 0 and at most 2**62, got {ramp}")
        if not self.variable:
            raise ValueError(
                f"{op}: this resampler has a fixed ratio; create it with Resampler(..., variable=True) "
                "or Resampler.from_ratio to change its ratio while streaming"
            )
        from remotemedia.kernels.resample_interp import VARIABLE_RANGE

        lo, hi = self._design_ratio / VARIABLE_RANGE, self._design_ratio * VARIABLE_RANGE
        if not lo <= value <= hi:
            raise ValueError(
                f"{op}: ratio {value!r} is more than 5% away from {self._design_ratio!r} (the ratio this "
                "resampler's filter was made for); make a new Resampler for that conversion"
            )
        self._busy.enter("set_ratio")
        try:
            self._core.set_ratio(value, ramp)  # type: ignore[attr-defined]
            self.ratio = value
        finally:
            self._busy.leave()

    def __repr__(self) -> str:
        return (
            f"Resampler({self.in_rate}, {self.out_rate}, channels={self.channels}, "
            f"quality={self.quality!r}, ratio={self.ratio!r}, body={self.kernels.name!r})"
        )

    def process(self, chunk: Any) -> np.ndarray:
        """Resample the next chunk; return the output frames now complete.

        Parameters
        ----------
        chunk : ndarray
            ``(channels, frames)``, or 1-D for mono; any accepted dtype.

        Returns
        -------
        ndarray
            float32, 1-D for 1-D input, else ``(channels, k)``.

        Raises
        ------
        ValueError
            The chunk's channel count differs from ``channels``.
        ConcurrentUseError
            Another thread is inside this resampler right now (a
            RuntimeError; see the class notes).
        """
        if type(chunk) is np.ndarray and chunk.dtype is _F32 and chunk.ndim == 1 and chunk.flags.c_contiguous:
            a = chunk  # the common real-time case: nothing to check or convert
        else:
            a = as_float32(chunk, "Resampler.process")
        got = 1 if a.ndim == 1 else a.shape[0]
        if got != self.channels:
            raise ValueError(
                f"Resampler.process: chunk has {got} channel(s) (shape {a.shape}) but this resampler was "
                f"created for {self.channels}; the channel count cannot change mid-stream (make a new Resampler)"
            )
        self._busy.enter("process")
        try:
            self._mono = a.ndim == 1
            y = self._core.process(a.reshape(1, -1) if self._mono else a)
        finally:
            self._busy.leave()
        return y.reshape(-1) if self._mono else y

    def flush(self) -> np.ndarray:
        """Return the remaining output (silence assumed after the end) and reset."""
        self._busy.enter("flush")
        try:
            y = self._core.flush()
            self.ratio = self._design_ratio
        finally:
            self._busy.leave()
        return y.reshape(-1) if self._mono else y

    def reset(self) -> None:
        """Forget all input; the next chunk starts a new stream (at the first ratio)."""
        self._busy.enter("reset")
        try:
            self._core.reset()
            self.ratio = self._design_ratio
        finally:
            self._busy.leave()

    @property
    def delay(self) -> int:
        """Input frames taken in whose output is still pending (what flush releases).

        Raises ConcurrentUseError while another thread is inside this resampler.
        """
        self._busy.enter("delay")
        try:
            return self._core.delay()
        finally:
            self._busy.leave()
