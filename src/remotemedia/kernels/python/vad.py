"""numpy body of the voice activity detector.

The algorithm and its constants are described in remotemedia.kernels.vad
and kernels._vad_spec. Arithmetic is arranged so that this body and the
Rust body compute the same bits:

- samples are quantised to int16 with the rules of ``convert``;
- decimation, pre-emphasis and the autocorrelation run on integer values
  held in float64, every partial sum below 2**53, so any summation order
  (numpy's pairwise sums included) is exact;
- the rest is per-frame float64 arithmetic in a fixed order, using only
  +, -, *, / and comparisons; the logarithm is a polynomial evaluated the
  same way in both bodies.
"""

from __future__ import annotations

import numpy as np

from remotemedia.kernels import _vad_spec as spec
from remotemedia.kernels.python.convert import convert_flat

_INV = (1.0 / 3.0, 1.0 / 5.0, 1.0 / 7.0, 1.0 / 9.0, 1.0 / 11.0)


def ln_approx(x: np.ndarray) -> np.ndarray:
    """Natural log of positive normal floats, |error| < 1e-7, fixed operation order."""
    m, e = np.frexp(x)  # x = m * 2**e, m in [0.5, 1): exact
    low = m < spec.SQRT_HALF
    m = np.where(low, m * 2.0, m)
    e = np.where(low, e - 1, e).astype(np.float64)
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    p = _INV[4]
    p = p * s2 + _INV[3]
    p = p * s2 + _INV[2]
    p = p * s2 + _INV[1]
    p = p * s2 + _INV[0]
    p = p * s2 + 1.0
    return e * spec.LN2 + (s + s) * p


class VadStream:
    """Streaming detector state; see remotemedia.kernels.vad.VAD for the contract."""

    def __init__(self, sample_rate: int, frame_ms: int, aggressiveness: int) -> None:
        self.d = spec.DECIMATION[sample_rate]
        self.frame = sample_rate * frame_ms // 1000  # input samples per frame
        self.n = self.frame // self.d  # analysis samples per frame
        self.taps = np.array([min(k + 1, 2 * self.d - 1 - k) for k in range(2 * self.d - 1)], np.int64)
        self.weights = np.array(spec.band_weights(sample_rate // self.d), np.float64)  # (K, L+1)
        self.k = self.weights.shape[0]
        self.band_weight = spec.BAND_WEIGHT[aggressiveness][: self.k]
        self.wsum = 0.0
        for w in self.band_weight:
            self.wsum = self.wsum + w
        self.low_threshold = spec.LOW_BAND_THRESHOLD[aggressiveness]
        a = spec.per_frame(spec.SMOOTH_10MS, frame_ms)
        self.a = a
        self.b = 1.0 - a
        self.c = spec.per_frame(spec.NOISE_10MS, frame_ms)
        self.c2 = spec.per_frame(spec.SNOISE_10MS, frame_ms)
        self.sub_len = spec.SUBWINDOW_MS // frame_ms
        self.threshold = spec.THRESHOLD[aggressiveness]
        self.hang_frames = spec.HANGOVER_MS[aggressiveness] // frame_ms
        self.hang_short = spec.HANGOVER_SHORT_MS[aggressiveness] // frame_ms
        self.hang_clear = spec.HANGOVER_CLEAR_MS[aggressiveness] // frame_ms
        self.long_run = -(-spec.LONG_RUN_MS // frame_ms)
        self.floor = float(self.n * self.d**4)
        self.reset()

    def reset(self) -> None:
        """Forget all state: the next sample starts a new stream."""
        self.pending = np.zeros(0, np.int64)  # quantised samples not yet in a frame
        self.qhist = np.zeros(2 * self.d - 2, np.int64)  # last input samples (decimator)
        self.zhist = np.zeros(spec.LAGS, np.float64)  # last pre-emphasised samples
        self.yprev = 0  # last decimated sample (pre-emphasis)
        self.primed = False  # history seeded from the first sample
        self.started = False
        self.smooth = np.zeros(self.k)
        self.cur_min = np.zeros(self.k)
        self.ring = np.zeros((spec.SUBWINDOWS, self.k))
        self.sub_count = 0
        self.ring_pos = 0
        self.hang = 0
        self.run = 0
        self.peak = 0.0
        self.noise_avg = np.zeros(self.k)
        self.s_noise = 0.0

    def features(self, q: np.ndarray) -> np.ndarray:
        """Band energies (frames, K) of whole frames of quantised samples."""
        nf = q.size // self.frame
        d = self.d
        full = np.concatenate([self.qhist, q])
        self.qhist = full[full.size - (2 * d - 2) :] if d > 1 else self.qhist
        # y[j] = sum_k taps[k] * q[j*d + d-1 - k] (causal, ends at the last sample of its block)
        y = np.convolve(full, self.taps, mode="valid")[d - 1 :: d] if d > 1 else full
        y = np.concatenate([[self.yprev], y])
        self.yprev = int(y[-1])
        z = np.diff(y).astype(np.float64)
        zz = np.concatenate([self.zhist, z])
        self.zhist = zz[zz.size - spec.LAGS :]
        L = spec.LAGS
        r = np.empty((nf, L + 1))
        for lag in range(L + 1):
            r[:, lag] = (zz[L:] * zz[L - lag : zz.size - lag]).reshape(nf, self.n).sum(axis=1)
        w = self.weights
        e = r[:, 0:1] * w[:, 0]
        for lag in range(1, L + 1):
            e = e + r[:, lag : lag + 1] * w[:, lag]
        return e

    def decide(self, e: np.ndarray) -> int:
        """Run the per-frame decision on one frame's band energies."""
        silent = bool(np.all(e <= self.floor))  # digital silence: never speech
        e = np.maximum(e, 0.0) + self.floor
        if not self.started:
            self.started = True
            self.smooth = e.copy()
            self.cur_min = e.copy()
            self.ring[:] = e
            self.noise_avg = e.copy()
        else:
            self.smooth = self.a * self.smooth + self.b * e
            self.cur_min = np.minimum(self.cur_min, self.smooth)
        self.sub_count += 1
        floor_min = self.cur_min
        for u in range(spec.SUBWINDOWS):
            floor_min = np.minimum(floor_min, self.ring[u])
        if self.sub_count == self.sub_len:
            self.ring[self.ring_pos] = self.cur_min
            self.ring_pos = (self.ring_pos + 1) % spec.SUBWINDOWS
            self.cur_min = self.smooth.copy()
            self.sub_count = 0
        noise = np.maximum(floor_min * spec.FLOOR_BIAS, self.noise_avg)
        g = e / noise
        g1 = np.maximum(g, 1.0)
        llr = g1 - 1.0 - ln_approx(g1)
        s = 0.0
        for v, w in zip(llr, self.band_weight, strict=True):
            s = s + float(v) * w
        s = s / self.wsum
        fluct = spec.KAPPA * self.s_noise
        if silent:
            self.hang = 0
        elif s > self.threshold + fluct or float(llr[0]) > self.low_threshold + fluct:
            if self.run == 0 or s > self.peak:
                self.peak = s
            self.run += 1
            if self.run < self.long_run:
                self.hang = self.hang_short
            elif self.peak >= spec.CLEAR_PEAK:
                self.hang = self.hang_clear
            else:
                self.hang = self.hang_frames
            return 1
        self.run = 0
        self.s_noise = self.c2 * self.s_noise + (1.0 - self.c2) * s
        if self.hang > 0:
            self.hang -= 1
            return 1
        self.noise_avg = self.c * self.noise_avg + (1.0 - self.c) * e
        return 0

    def process(self, x: np.ndarray) -> np.ndarray:
        """Flags (uint8) for every frame completed by mono samples ``x``."""
        q = convert_flat(x, "i16").astype(np.int64) if x.dtype != np.int16 else x.astype(np.int64)
        if not self.primed and q.size:
            # The stream's history is its first sample repeated: a DC offset
            # is then invisible from the very first frame.
            self.qhist[:] = q[0]
            self.yprev = int(q[0]) * self.d * self.d
            self.primed = True
        q = np.concatenate([self.pending, q])
        nf = q.size // self.frame
        out = np.zeros(nf, np.uint8)
        if nf == 0:
            self.pending = q
            return out
        used = nf * self.frame
        self.pending = q[used:]
        e = self.features(q[:used])
        for i in range(nf):
            out[i] = self.decide(e[i])
        return out
