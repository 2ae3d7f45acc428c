"""numpy body of the resampler; the rules are in remotemedia.kernels.resample.

Coefficients come from ``resample_design`` (the float64 reference design,
the same formulas as the Rust core), so both bodies use the same
coefficients. Filtering is vectorised: long runs of output go
through one matrix product per block (each row of the input matrix feeds
``G`` outputs, ``G`` a multiple of ``L``, through a banded coefficient
matrix); short runs (streaming chunks) gather their windows and use einsum.
Arithmetic is float64 throughout.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from remotemedia.kernels._resample_spec import SPECS
from remotemedia.kernels.python.design_cache import DesignCache
from remotemedia.kernels.python.resample_design import (
    DOUBLING_MIN_FFT,
    Shape,
    block_periods,
    design,
    filter_stages,
    reduced,
)

# Work arrays are cut into blocks of about this many float64 elements.
_BLOCK = 1 << 20
# Banded matrices larger than this (elements) are not built; gather instead.
_MAX_BAND = 1 << 22


@dataclass(frozen=True)
class Plan:
    """A designed filter: ``coef[r]`` is the row for phase ``r``."""

    shape: Shape
    coef: np.ndarray  # (L, taps) float64
    # Banded matrix for the block product, or None: (span, G) and G.
    band: np.ndarray | None
    group: int


def doubled_grid(shape: Shape) -> Shape:
    """The block grid of a sharp doubling stage (``l / m = 2 / 1`` on blocks).

    The Rust core runs such a stage as 4 phases over a doubled period
    (``plan::doubled_plan``), in blocks of ``block_periods(4, 2, taps,
    DOUBLING_MIN_FFT)`` doubled periods; following that grid (``2 *`` as
    many periods of the stage itself) keeps both bodies returning the same
    frames per call.
    """
    if (shape.l, shape.m) != (2, 1) or not shape.block:
        return shape
    return dataclasses.replace(shape, block=2 * block_periods(4, 2, shape.taps, DOUBLING_MIN_FFT))


def _band(shape: Shape, coef: np.ndarray) -> tuple[np.ndarray | None, int]:
    """Banded matrix mapping one input row to G outputs starting at k = 0 mod L."""
    lm, m, t = shape.l, shape.m, shape.taps
    group = lm * max(1, round(t / m))
    g = np.arange(group, dtype=np.int64)
    pos = g * m
    q = pos // lm
    r = pos - q * lm
    span = int(q[-1]) + t
    if span * group > _MAX_BAND:
        return None, group
    band = np.zeros((span, group))
    rows = q[:, None] + np.arange(t)[None, :]
    band[rows, g[:, None]] = coef[r]
    return band, group


class Cascade:
    """Every designed stage of one conversion; shared by the cores that use it.

    Held weakly by the cache while in use, so it is freed with its last
    user unless it is among the recently used ones kept within
    :data:`RETAIN_BYTES`.
    """

    __slots__ = ("__weakref__", "nbytes", "stages")

    def __init__(self, stages: tuple[Plan, ...]) -> None:
        self.stages = stages
        self.nbytes = sum(p.coef.nbytes + (p.band.nbytes if p.band is not None else 0) for p in stages)


#: Bytes of designs kept for conversions no resampler uses any more (the
#: most recently used first); the Rust core keeps the same budget per
#: precision. A design larger than this is freed with its last user.
RETAIN_BYTES = 16 << 20

_cache: DesignCache[tuple[int, int, str], Cascade] = DesignCache(RETAIN_BYTES)


def plan(in_rate: int, out_rate: int, quality: str) -> Cascade:
    """The designed stages of a conversion: shared while in use, then kept within RETAIN_BYTES."""
    l, m = reduced(in_rate, out_rate)  # noqa: E741
    key = (l, m, quality)

    def build() -> Cascade:
        atten = SPECS[quality][2]
        stages: list[Plan] = []
        for spec, shape in filter_stages(in_rate, out_rate, quality):
            coef = design(spec, shape, atten)
            shape = doubled_grid(shape)
            band, group = _band(shape, coef)
            stages.append(Plan(shape, coef, band, group))
        return Cascade(tuple(stages))

    return _cache.get(key, build)


def cache_stats() -> tuple[int, int]:
    """``(designs alive, bytes kept for reuse)`` in this process's numpy body."""
    return _cache.stats()


def _gather(p: Plan, hist: np.ndarray, start: int, ks: np.ndarray, out: np.ndarray) -> None:
    """Outputs ``ks`` by gathering their windows (short runs, any phase)."""
    s = p.shape
    t = s.taps
    windows = sliding_window_view(hist, t, axis=1)
    step = max(1, _BLOCK // (t * hist.shape[0]))
    for b in range(0, len(ks), step):
        k = ks[b : b + step]
        pos = k * s.m
        q = pos // s.l
        x = windows[:, q - s.behind - start]
        if s.l == 1:
            out[:, b : b + len(k)] = x @ p.coef[0]
        else:
            out[:, b : b + len(k)] = np.einsum("cnt,nt->cn", x, p.coef[pos - q * s.l])


def _banded(p: Plan, hist: np.ndarray, start: int, k0: int, rows: int, out: np.ndarray) -> None:
    """Outputs ``k0 .. k0 + rows * G`` (``k0 % L == 0``) by block products."""
    assert p.band is not None
    s = p.shape
    span, group = p.band.shape
    step_in = group * s.m // s.l
    first = k0 * s.m // s.l - s.behind - start
    per = max(1, _BLOCK // span)
    for c in range(hist.shape[0]):
        row = hist[c]
        for b in range(0, rows, per):
            n = min(per, rows - b)
            off = first + b * step_in
            view = as_strided(row[off:], shape=(n, span), strides=(step_in * 8, 8), writeable=False)
            y = np.ascontiguousarray(view) @ p.band
            out[c, b * group : (b + n) * group] = y.reshape(-1)


def emit(p: Plan, hist: np.ndarray, start: int, k0: int, n: int) -> np.ndarray:
    """Outputs ``k0 .. k0 + n`` (float64, ``(channels, n)``) from the history."""
    with np.errstate(invalid="ignore", over="ignore"):  # NaN/Inf input: documented to propagate
        return _emit(p, hist, start, k0, n)


def _emit(p: Plan, hist: np.ndarray, start: int, k0: int, n: int) -> np.ndarray:
    s = p.shape
    out = np.empty((hist.shape[0], n))
    lead = min(n, (-k0) % s.l)
    # Non-finite input: gather only, so NaN reaches exactly the outputs whose
    # `taps`-long window covers it, as in the native body (the banded
    # product's wider rows would spread it further).
    banded = p.band is not None and bool(np.isfinite(hist).all())
    rows = (n - lead) // p.group if banded else 0
    if rows > 0:
        if lead:
            _gather(p, hist, start, np.arange(k0, k0 + lead, dtype=np.int64), out[:, :lead])
        done = lead + rows * p.group
        _banded(p, hist, start, k0 + lead, rows, out[:, lead:done])
    else:
        done = 0
    if done < n:
        _gather(p, hist, start, np.arange(k0 + done, k0 + n, dtype=np.int64), out[:, done:])
    return out


class _Stage:
    """Streaming state of one stage; the same bookkeeping as Rust's ``Stage``."""

    def __init__(self, p: Plan, channels: int) -> None:
        self.plan = p
        self.channels = channels
        self.reset()

    def reset(self) -> None:
        s = self.plan.shape
        self.hist = np.zeros((self.channels, s.behind))
        self.next = 0
        self.received = 0
        self.start = -s.behind

    def output_frames(self, n: int) -> int:
        s = self.plan.shape
        a = self.received + n - s.ahead - 1
        ready = 0 if a < 0 else ((a + 1) * s.l - 1) // s.m + 1
        if s.block:
            # Whole blocks only (the origin sits on a block boundary).
            unit = s.block * s.l
            ready = ready // unit * unit
        return max(ready, self.next) - self.next

    def flush_frames(self) -> int:
        s = self.plan.shape
        return max(0, -(-self.received * s.l // s.m) - self.next)

    def push(self, x: np.ndarray) -> None:
        self.hist = np.concatenate([self.hist, x], axis=1)
        self.received += x.shape[1]

    def pad(self) -> None:
        s = self.plan.shape
        n = self.flush_frames()
        if n:
            need = max(0, (self.next + n - 1) * s.m // s.l + s.ahead + 1 - self.received)
            self.push(np.zeros((self.channels, need)))

    def emit(self, n: int) -> np.ndarray:
        s = self.plan.shape
        y = emit(self.plan, self.hist, self.start, self.next, n)
        self.next += n
        keep_from = self.next * s.m // s.l - s.behind
        drop = min(max(keep_from - self.start, 0), self.hist.shape[1])
        if drop:
            self.hist = self.hist[:, drop:]
            self.start += drop
        # Move the origin by whole periods, or whole blocks on a block grid.
        step = s.block or 1
        periods = self.next // (s.l * step) * step
        self.next -= periods * s.l
        self.received -= periods * s.m
        self.start -= periods * s.m
        return y


class ResamplerCore:
    """Streaming over validated ``(channels, n)`` float32; mirrors the Rust ``Resampler``."""

    def __init__(self, in_rate: int, out_rate: int, channels: int, quality: str) -> None:
        self._cascade = plan(in_rate, out_rate, quality)  # keeps the design alive while in use
        self._stages = [_Stage(p, channels) for p in self._cascade.stages]
        self._l, self._m = reduced(in_rate, out_rate)
        self._channels = channels
        self.reset()

    def reset(self) -> None:
        for st in self._stages:
            st.reset()
        self._received = 0
        self._emitted = 0

    def output_frames(self, n: int) -> int:
        for st in self._stages:
            n = st.output_frames(n)
        return n

    def flush_frames(self) -> int:
        return -(-self._received * self._l // self._m) - self._emitted

    def delay(self) -> int:
        covered = -(-self._emitted * self._m // self._l)
        return max(0, self._received - covered)

    def _run(self, x: np.ndarray, n_out: int, flushing: bool) -> np.ndarray:
        for st in self._stages:
            st.push(x)
            k = st.flush_frames() if flushing else st.output_frames(0)
            if flushing:
                st.pad()
            x = st.emit(k)
        # After padding the last stage may hold one frame past ceil(n L / M).
        # Beyond float32 range the result is +-inf, silently (as in the native core).
        with np.errstate(over="ignore"):
            return x[:, :n_out].astype(np.float32)

    def process(self, x: np.ndarray) -> np.ndarray:
        n_out = self.output_frames(x.shape[1])
        y = self._run(x.astype(np.float64), n_out, False)
        self._received += x.shape[1]
        self._emitted += n_out
        return y

    def flush(self) -> np.ndarray:
        n_out = self.flush_frames()
        y = np.zeros((self._channels, 0), np.float32)
        if n_out:
            y = self._run(np.zeros((self._channels, 0)), n_out, True)
        self.reset()
        return y


def resample_one_shot(x: np.ndarray, in_rate: int, out_rate: int, quality: str) -> np.ndarray:
    """One shot over validated ``(channels, frames)`` float32."""
    core = ResamplerCore(in_rate, out_rate, x.shape[0], quality)
    return np.concatenate([core.process(x), core.flush()], axis=1)


__all__ = ["RETAIN_BYTES", "Cascade", "ResamplerCore", "cache_stats", "plan", "resample_one_shot"]
