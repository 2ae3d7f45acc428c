"""numpy body of the interpolated-phase resampler (any ratio, variable ratio).

The twin of ``rust/remotemedia-runtime/src/resample/interp.rs``: the same
design formulas (float64), the same integer positions and step schedule,
the same per-output arithmetic (each tap's polynomial in the in-segment
position ``alpha`` by Horner's rule, then one dot product), in float64; the
sizes and position units are in :mod:`remotemedia.kernels.resample_interp`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from remotemedia.kernels._resample_spec import SPECS
from remotemedia.kernels.python.design_cache import DesignCache
from remotemedia.kernels.python.resample import Plan, ResamplerCore, _band, _Stage
from remotemedia.kernels.python.resample_design import (
    SHORT_EXTRA_DB,
    Spec,
    bessel_i0,
    stage_shape,
)
from remotemedia.kernels.python.resample_design import design as exact_design
from remotemedia.kernels.resample import uses_interp
from remotemedia.kernels.resample_interp import (
    RATIO_DEN,
    InterpShape,
    back_factor,
    front_block,
    interp_shape,
    oversampled,
    post_shape,
    rate_units,
    ratio_step,
    ratio_units,
    round_half_up,
)

# Outputs per vectorised batch: keeps ``r0 + k * step`` inside int64 and the
# gathered windows near _BLOCK float64 elements.
_BATCH = 1024
# Ramp outputs per batch: k steps of at most 2**52 * 1.05 stay inside int64.
_RAMP_BATCH = 512
_BLOCK = 1 << 20


def design(s: InterpShape) -> np.ndarray:
    """The ``(q, taps, order + 1)`` table: polynomial coefficients (powers of alpha) per segment and tap.

    The prototype is a Kaiser-windowed sinc in input frames, evaluated at
    ``order + 1`` equally spaced points of each segment (both ends
    included, so the pieces join); the polynomial through them (cubic or
    quadratic) comes from Newton's forward differences.
    """
    q, t, d = s.q, s.taps, s.order
    half = d * s.half_q
    j = np.arange(q, dtype=np.int64)[:, None, None]
    u = np.arange(t, dtype=np.int64)[None, :, None]
    i = np.arange(d + 1, dtype=np.int64)[None, None, :]
    num = d * q * (s.behind - u) + d * j + i  # t = num / (d q) input frames
    tt = num.astype(np.float64) / float(d * q)
    a = s.fc * tt
    with np.errstate(invalid="ignore", divide="ignore"):
        sinc = np.where(num == 0, 1.0, np.sin(np.pi * a) / (np.pi * a))
    r = np.abs(num).astype(np.float64) / float(half)
    inside = np.abs(num) <= half
    w = bessel_i0(s.beta * np.sqrt(np.maximum(1.0 - r * r, 0.0))) / bessel_i0(np.float64(s.beta))
    f = np.where(inside, s.fc * sinc * w, 0.0)
    if d == 2:
        f0, f1, f2 = f[..., 0], f[..., 1], f[..., 2]
        d1 = f1 - f0
        d2 = (f2 - f1) - d1
        return np.stack([f0, 2.0 * d1 - d2, 2.0 * d2], axis=-1)
    f0, f1, f2, f3 = f[..., 0], f[..., 1], f[..., 2], f[..., 3]
    d1 = f1 - f0
    d2 = (f2 - f1) - d1
    d3 = ((f3 - f2) - (f2 - f1)) - d2
    c1 = (d1 - d2 / 2.0 + d3 / 3.0) * 3.0
    c2 = (d2 / 2.0 - d3 / 2.0) * 9.0
    c3 = d3 * 4.5
    return np.stack([f0, c1, c2, c3], axis=-1)


#: Bytes of tables kept for shapes no resampler uses any more (the most
#: recently used first), as for the exact designs
#: (:data:`remotemedia.kernels.python.resample.RETAIN_BYTES`); a table in
#: use is shared through a weak reference and freed with its last user.
RETAIN_BYTES = 16 << 20

_cache: DesignCache[InterpShape, np.ndarray] = DesignCache(RETAIN_BYTES)


def table(s: InterpShape) -> np.ndarray:
    """The design of a shape: shared while in use, then kept within :data:`RETAIN_BYTES`."""
    return _cache.get(s, lambda: design(s))


def table_cache_stats() -> tuple[int, int]:
    """``(tables alive, bytes kept for reuse)`` in this process's numpy body."""
    return _cache.stats()


class Clock:
    """Positions of successive outputs: integers in units of ``1 / den``.

    ``pos`` is the position of the next output; each output advances it by
    the current step. A ramp moves the step linearly from ``ramp_from`` to
    ``target`` over ``ramp_len`` outputs (step ``j`` of the ramp is
    ``ramp_from + floor((target - ramp_from) * j / ramp_len)``).
    """

    def __init__(self, den: int, step: int) -> None:
        self.den = den
        self.initial = step
        self.reset()

    def reset(self) -> None:
        self.pos = 0
        self.step = self.initial
        self.target = self.initial
        self.ramp_from = self.initial
        self.ramp_len = 0
        self.ramp_done = 0

    def current_step(self) -> int:
        """The step applied last (during a ramp) or next (otherwise)."""
        if self.ramp_done < self.ramp_len:
            return self.ramp_from + (self.target - self.ramp_from) * self.ramp_done // self.ramp_len
        return self.step

    def set_step(self, target: int, ramp: int) -> None:
        start = self.current_step()
        if ramp <= 0 or target == start:
            self.step = self.target = self.ramp_from = target
            self.ramp_len = self.ramp_done = 0
        else:
            self.ramp_from, self.target, self.ramp_len, self.ramp_done = start, target, ramp, 0
            self.step = target

    def _ramp_steps(self, k: int, done: int | None = None) -> np.ndarray:
        """Steps of ramp outputs ``done + 1 .. done + k`` (int64; default the current ``done``)."""
        first = self.ramp_done if done is None else done
        j = range(first + 1, first + k + 1)
        delta, length = self.target - self.ramp_from, self.ramp_len
        if abs(delta) * length < 1 << 62:
            jj = np.arange(j.start, j.stop, dtype=np.int64)
            return self.ramp_from + (delta * jj) // length
        return np.array([self.ramp_from + delta * i // length for i in j], dtype=np.int64)

    def count_below(self, limit: int) -> int:
        """Outputs from the next one whose position is below ``limit`` (no state change)."""
        pos, n, done = self.pos, 0, self.ramp_done
        while done < self.ramp_len and pos < limit:
            k = min(self.ramp_len - done, _RAMP_BATCH)
            cum = np.cumsum(self._ramp_steps(k, done))
            room = limit - pos  # outputs at pos + [0, cum[0], ..., cum[k - 2]]
            if room > int(cum[-2] if k > 1 else 0):
                n += k
                pos += int(cum[-1])
                done += k
                continue
            return n + 1 + int(np.searchsorted(cum[:-1], room, side="left"))
        if pos >= limit:
            return n
        return n + -(-(limit - pos) // self.step)

    def take(self, n: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """The next ``n`` outputs as runs of ``(frame base, frame offsets, remainders)``; advances.

        Output position = ``(base + offset) * den + remainder``.
        """
        runs: list[tuple[int, np.ndarray, np.ndarray]] = []
        den = self.den
        while n > 0 and self.ramp_done < self.ramp_len:
            k = min(n, self.ramp_len - self.ramp_done, _RAMP_BATCH)
            steps = self._ramp_steps(k)
            base, r0 = divmod(self.pos, den)
            # r0 < den <= 2**52 and k * step < 2**62: the offsets stay in int64.
            offs = r0 + np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(steps[:-1])])
            runs.append((base, offs // den, offs % den))
            self.pos += int(steps.sum())
            self.ramp_done += k
            if self.ramp_done == self.ramp_len:
                self.ramp_len = self.ramp_done = 0
            n -= k
        while n > 0:
            k = min(n, _BATCH)
            base, r0 = divmod(self.pos, den)
            sq, sr = divmod(self.step, den)
            idx = np.arange(k, dtype=np.int64)
            # r0 < den <= 2**52 and sr < den: r0 + k * sr stays inside int64.
            tot = r0 + idx * sr
            runs.append((base, idx * sq + tot // den, tot % den))
            self.pos += k * self.step
            n -= k
        return runs


def _outputs(
    c: np.ndarray, s: InterpShape, den: int, hist: np.ndarray, start: int, run: tuple[int, np.ndarray, np.ndarray]
) -> np.ndarray:
    """Outputs of one run of positions (see :meth:`Clock.take`) from ``hist`` (input index ``start`` first)."""
    base, frames, rem = run
    rq = rem * s.q
    seg = rq // den
    alpha = (rq - seg * den).astype(np.float64) / float(den)
    first = base + frames - s.behind - start
    windows = sliding_window_view(hist, s.taps, axis=1)
    out = np.empty((hist.shape[0], len(rem)))
    step = max(1, _BLOCK // (4 * s.taps * hist.shape[0]))
    for b in range(0, len(rem), step):
        sl = slice(b, b + step)
        x = windows[:, first[sl]]  # (channels, n, taps)
        cs = c[seg[sl]]  # (n, taps, order + 1)
        al = alpha[sl, None]
        coef = cs[..., -1]  # Horner's rule from the highest power
        for p in range(cs.shape[-1] - 2, -1, -1):
            coef = cs[..., p] + al * coef
        out[:, sl] = np.einsum("cnt,nt->cn", x, coef)
    return out


class InterpCore:
    """Streaming over validated ``(channels, n)`` float32; mirrors the Rust interpolated stage."""

    def __init__(self, shape: InterpShape, den: int, step: int, channels: int, ratio: float) -> None:
        self._shape = shape
        self._coef = table(shape)
        self._clock = Clock(den, step)
        self._channels = channels
        self._ratio = ratio
        self.reset()

    def reset(self) -> None:
        s = self._shape
        self._hist = np.zeros((self._channels, s.behind))
        self._start = -s.behind
        self._received = 0
        self._clock.reset()

    def set_ratio(self, ratio: float, ramp: int) -> None:
        """New ``out / in`` ratio from the next output on, reached after ``ramp`` outputs."""
        self._clock.set_step(ratio_step(self._clock.den, ratio), ramp)

    def output_frames(self, n: int) -> int:
        s = self._shape
        return self._clock.count_below((self._received + n - s.ahead) * self._clock.den)

    def flush_frames(self) -> int:
        return self.flush_frames_after(0)

    def flush_frames_after(self, n: int) -> int:
        """What ``flush`` would return after ``n`` more input frames."""
        return self._clock.count_below((self._received + n) * self._clock.den)

    def delay(self) -> int:
        covered = -(-self._clock.pos // self._clock.den)
        return max(0, self._received - covered)

    def _emit(self, n: int) -> np.ndarray:
        s, den = self._shape, self._clock.den
        parts = []
        with np.errstate(invalid="ignore", over="ignore"):  # NaN/Inf input propagates
            for run in self._clock.take(n):
                parts.append(_outputs(self._coef, s, den, self._hist, self._start, run))
        keep_from = self._clock.pos // den - s.behind
        drop = min(max(keep_from - self._start, 0), self._hist.shape[1])
        if drop:
            self._hist = self._hist[:, drop:]
            self._start += drop
        if not parts:
            return np.zeros((self._channels, 0), np.float32)
        return np.concatenate(parts, axis=1).astype(np.float32)

    def process(self, x: np.ndarray) -> np.ndarray:
        n_out = self.output_frames(x.shape[1])
        self._hist = np.concatenate([self._hist, x.astype(np.float64)], axis=1)
        self._received += x.shape[1]
        return self._emit(n_out)

    def flush(self) -> np.ndarray:
        s, den = self._shape, self._clock.den
        n = self.flush_frames()
        y = np.zeros((self._channels, 0), np.float32)
        if n:
            # Position of the last output still owed: pad the input to its window's end.
            last = self._last_position(n)
            need = max(0, last // den + s.ahead + 1 - self._received)
            self._hist = np.concatenate([self._hist, np.zeros((self._channels, need))], axis=1)
            y = self._emit(n)
        self.reset()
        return y

    def _last_position(self, n: int) -> int:
        """Position of the ``n``-th next output (``n >= 1``), without advancing."""
        c = self._clock
        pos, done, length, left = c.pos, c.ramp_done, c.ramp_len, n - 1
        while left > 0 and done < length:
            done += 1
            pos += c.ramp_from + (c.target - c.ramp_from) * done // length
            left -= 1
        return pos + left * c.step


def _exact(spec: Spec, channels: int, quality: str, doubled: bool = False) -> ResamplerCore:
    """One exact stage by ``spec.l / spec.m`` at the preset's attenuation, as a core.

    ``doubled``: a fast-convolution stage up by 2 takes the block grid of
    the Rust kernel, which runs it as 4 phases over a doubled period
    (``plan::front_plan``): blocks of ``2 * front_block(taps)``
    periods, so both bodies return the same frames per call.
    """
    atten = SPECS[quality][2]
    shape = stage_shape(spec, atten)
    if doubled and shape.block:
        shape = dataclasses.replace(shape, block=2 * front_block(shape.taps))
    coef = exact_design(spec, shape, atten)
    band, group = _band(shape, coef)
    core = ResamplerCore.__new__(ResamplerCore)
    core._stages = [_Stage(Plan(shape, coef, band, group), channels)]
    core._l, core._m = spec.l, spec.m
    core._channels = channels
    core.reset()
    return core


def _front(ratio: float, channels: int, quality: str) -> ResamplerCore:
    """The exact 2x stage: passband to ``pb * low``, stopband from ``sb * low`` of the input Nyquist."""
    pb, sb, _ = SPECS[quality]
    low = min(1.0, ratio)
    return _exact(Spec(2, 1, 2, pb * low, sb * low), channels, quality, doubled=True)


def _back(k: int, edge: float, channels: int, quality: str) -> ResamplerCore:
    """The exact stage up by ``k`` after the interpolated phases (Rust ``plan::back``).

    Its input holds nothing above ``edge`` of its Nyquist frequency
    (``pb * k * in / out``, stopband edge ``sb / pb`` times that): the
    stopband starts at the first image of that band, a short filter.
    """
    pb, sb, _ = SPECS[quality]
    return _exact(Spec(k, 1, 2, edge, 2.0 - edge * sb / pb, SHORT_EXTRA_DB), channels, quality)


class OversampledCore:
    """Ratios from 1/2: the exact 2x stage, then interpolated phases (mirrors Rust ``Oversampled``).

    With ``rates`` (integer ``in_rate, out_rate``) and ``back`` > 1, an exact
    stage up by ``back`` comes last; its flush may give up to ``back - 1``
    frames beyond ``ceil(n * out / in)``, which are dropped.
    """

    def __init__(
        self,
        ratio: float,
        den: int,
        step: int,
        channels: int,
        quality: str,
        back: int = 1,
        rates: tuple[int, int] | None = None,
    ) -> None:
        self._pre = _front(ratio, channels, quality)
        post_ratio = ratio / (2.0 * back)
        self._post = InterpCore(post_shape(ratio, quality, SPECS[quality]), den, step, channels, post_ratio)
        self._back: ResamplerCore | None = None
        self._lm = (1, 1)
        if back > 1 and rates is not None:
            i, o = rates
            g = math.gcd(i, o)
            self._lm = (o // g, i // g)
            self._back = _back(back, SPECS[quality][0] * back / ratio, channels, quality)
        self._received = 0
        self._emitted = 0

    def set_ratio(self, ratio: float, ramp: int) -> None:
        self._post.set_ratio(ratio / 2.0, ramp)

    def output_frames(self, n: int) -> int:
        j = self._post.output_frames(self._pre.output_frames(n))
        return j if self._back is None else self._back.output_frames(j)

    def flush_frames(self) -> int:
        if self._back is None:
            return self._post.flush_frames_after(self._pre.flush_frames())
        up, down = self._lm
        return -(-self._received * up // down) - self._emitted

    def delay(self) -> int:
        if self._back is None:
            c = self._post._clock
            return max(0, self._received - -(-c.pos // (2 * c.den)))
        up, down = self._lm
        return max(0, self._received - -(-self._emitted * down // up))

    def reset(self) -> None:
        self._pre.reset()
        self._post.reset()
        if self._back is not None:
            self._back.reset()
        self._received = 0
        self._emitted = 0

    def process(self, x: np.ndarray) -> np.ndarray:
        self._received += x.shape[1]
        y = self._post.process(self._pre.process(x))
        if self._back is not None:
            y = self._back.process(y)
            self._emitted += y.shape[1]
        return y

    def flush(self) -> np.ndarray:
        want = self.flush_frames()
        y = np.concatenate([self._post.process(self._pre.flush()), self._post.flush()], axis=1)
        if self._back is not None:
            y = np.concatenate([self._back.process(y), self._back.flush()], axis=1)[:, :want]
        self.reset()
        return y


def make_core(
    in_rate: int, out_rate: int, channels: int, quality: str, variable: bool = False, ratio: float | None = None
) -> Any:
    """The numpy core for a conversion: exact cascade or interpolated phases (the Rust rule)."""
    if ratio is None and not variable and not uses_interp(in_rate, out_rate, quality):
        return ResamplerCore(in_rate, out_rate, channels, quality)
    if ratio is None:
        r = out_rate / in_rate
        if oversampled(r):
            back = back_factor(in_rate, out_rate, variable)
            den, step = rate_units(2 * back * in_rate, out_rate)
            return OversampledCore(r, den, step, channels, quality, back, (in_rate, out_rate))
        den, step = rate_units(in_rate, out_rate)
        return InterpCore(interp_shape(min(1.0, r), quality, SPECS[quality]), den, step, channels, r)
    if oversampled(ratio):
        return OversampledCore(ratio, RATIO_DEN, round_half_up(float(RATIO_DEN) / (ratio / 2.0)), channels, quality)
    den, step = ratio_units(ratio)
    return InterpCore(interp_shape(min(1.0, ratio), quality, SPECS[quality]), den, step, channels, ratio)


def resample_one_shot(x: np.ndarray, in_rate: int, out_rate: int, quality: str) -> np.ndarray:
    """One shot over validated ``(channels, frames)`` float32, on either kernel."""
    core = make_core(in_rate, out_rate, x.shape[0], quality)
    return np.concatenate([core.process(x), core.flush()], axis=1)


__all__ = [
    "RETAIN_BYTES",
    "Clock",
    "InterpCore",
    "OversampledCore",
    "design",
    "make_core",
    "resample_one_shot",
    "table",
    "table_cache_stats",
]
