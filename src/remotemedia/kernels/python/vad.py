"""numpy body of the voice activity detector.

The algorithm and its constants are described in docs/vad.md,
remotemedia.kernels._vad_spec and remotemedia.kernels._vad_model.
Arithmetic is arranged so that this body and the Rust body compute the
same bits:

- samples are quantised to int16 with the rules of ``convert``;
- decimation, pre-emphasis and the autocorrelation run on integer values
  held in float64, every partial sum below 2**53, so any summation order
  (numpy's pairwise sums included) is exact;
- band energies are float64 sums in a fixed order; their logarithm is a
  polynomial evaluated the same way in both bodies, floored to an integer;
- everything after that (noise tracking, the MLP, the decision) is integer
  arithmetic.
"""

from __future__ import annotations

import math

import numpy as np

from remotemedia.kernels import _vad_model
from remotemedia.kernels import _vad_spec as spec
from remotemedia.kernels.python.convert import convert_flat

_INV = (1.0 / 3.0, 1.0 / 5.0, 1.0 / 7.0, 1.0 / 9.0, 1.0 / 11.0)
_NB = len(spec.BANDS_HZ)
_HIST = max(spec.CONTEXT)


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


def quantised_log(e: np.ndarray, floor: float, qfloor: int) -> np.ndarray:
    """Band log energies in 1/LOG_SCALE nepers above the digital floor (int64, >= 0)."""
    lg = ln_approx(np.maximum(e, 0.0) + floor) * float(spec.LOG_SCALE)
    return np.floor(lg).astype(np.int64) - qfloor


class Tracker:
    """Per-band noise floor (minimum statistics) and the per-block features."""

    def __init__(self) -> None:
        self.started = False
        self.sm = [0] * _NB
        self.cur_min = [0] * _NB
        self.ring = [[0] * _NB for _ in range(spec.SUBWINDOWS)]
        self.sub_count = 0
        self.ring_pos = 0
        self.ra = [0] * _NB
        self.quiet_run = 0
        self.age = 0

    def run(self, q: np.ndarray) -> np.ndarray:
        """Features (blocks, BLOCK_FEATURES + 8) of quantised log energies ``q`` (blocks, 8)."""
        out = np.empty((q.shape[0], spec.BLOCK_FEATURES + _NB), np.int64)
        fix, sh, ssh, fsh = spec.FIX, spec.SMOOTH_SHIFT, spec.SLOW_SHIFT, spec.SLOW_FALL_SHIFT
        drop, quiet = spec.SMOOTH_DROP << fix, spec.QUIET_SNR
        for t, row in enumerate(q.tolist()):
            if not self.started:
                self.started = True
                self.sm = [v << fix for v in row]
                self.cur_min = list(self.sm)
                self.ring = [list(self.sm) for _ in range(spec.SUBWINDOWS)]
            else:
                self.sm = [s + ((max(v << fix, s - drop) - s) >> sh) for s, v in zip(self.sm, row, strict=True)]
                if self.age < spec.SETTLE_BLOCKS:  # the floor follows the smoothed energy until it has settled
                    self.age += 1
                    self.cur_min = list(self.sm)
                    self.ring = [list(self.sm) for _ in range(spec.SUBWINDOWS)]
                else:
                    self.cur_min = [min(a, b) for a, b in zip(self.cur_min, self.sm, strict=True)]
            floor = list(self.cur_min)
            for ring in self.ring:
                floor = [min(a, b) for a, b in zip(floor, ring, strict=True)]
            self.sub_count += 1
            if self.sub_count == spec.SUB_BLOCKS:
                self.ring[self.ring_pos] = self.cur_min
                self.ring_pos = (self.ring_pos + 1) % spec.SUBWINDOWS
                self.cur_min = list(self.sm)
                self.sub_count = 0
            r = [min(max(v - (f >> fix), spec.R_MIN), spec.R_MAX) for v, f in zip(row, floor, strict=True)]
            # every band at its floor for QUIET_BLOCKS blocks in a row: a sound
            # has stopped (not a pause inside speech), the slow average forgets it fast
            self.quiet_run = min(self.quiet_run + 1, spec.QUIET_BLOCKS) if max(r) < quiet else 0
            dsh = fsh if self.quiet_run >= spec.QUIET_BLOCKS else ssh
            self.ra = [
                a + (((v << fix) - a) >> (ssh if v << fix >= a else dsh)) for a, v in zip(self.ra, r, strict=True)
            ]
            total = 0
            for v in row:
                total += v
            level = total >> 3
            out[t, :_NB] = r
            out[t, _NB : 2 * _NB] = [v - level for v in row]
            out[t, 2 * _NB] = level
            out[t, spec.BLOCK_FEATURES :] = [a >> fix for a in self.ra]
        return out


def model_inputs(feats: np.ndarray, hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MLP input rows for every block of ``feats``; ``hist``: the last blocks' features before them.

    Returns the rows and the new history.
    """
    nf = spec.BLOCK_FEATURES
    allf = np.concatenate([hist, feats[:, :nf]])
    n = feats.shape[0]
    cols = [allf[_HIST - d : _HIST - d + n] for d in spec.CONTEXT]
    cols.append(feats[:, nf:])
    return np.concatenate(cols, axis=1), allf[allf.shape[0] - _HIST :]


def threshold_units(value: float) -> int:
    """The smallest integer score S with S / SCORE_ONE >= value."""
    return math.ceil(value * spec.SCORE_ONE)


class Decision:
    """Per-frame decision: threshold, release threshold and hangover (every engine, every body).

    A frame starts speech when its score >= ``threshold`` (score units),
    speech goes on while the score >= ``release``, then the flag is held
    for ``hangover_ms`` (whole frames). A frame of digital silence ends
    speech at once.
    """

    def __init__(self, frame_ms: int, threshold: int, release: int, hangover_ms: int) -> None:
        self.frame_ms = frame_ms
        self.set(threshold, release, hangover_ms)
        self.reset()

    def set(self, threshold: int, release: int, hangover_ms: int) -> None:
        """Change the rule from the next frame on."""
        self.threshold = threshold
        self.release = release
        self.hang_frames = hangover_ms // self.frame_ms

    def reset(self) -> None:
        """Start a new stream."""
        self.active = False
        self.hang = 0

    def decide(self, score: int, sound: bool) -> int:
        """The flag of one frame of score ``score``; ``sound``: not digital silence."""
        if not sound:
            self.active = False
            self.hang = 0
            return 0
        if score >= self.threshold or (self.active and score >= self.release):
            self.active = True
            self.hang = self.hang_frames
            return 1
        if self.active and self.hang > 0:
            self.hang -= 1
            return 1
        self.active = False
        return 0


class VadStream:
    """Streaming detector state; see remotemedia.kernels.vad.VAD for the contract.

    ``threshold`` and ``release`` are in score units (0 .. SCORE_ONE),
    ``hangover_ms`` in ms; see :func:`threshold_units`.
    """

    def __init__(self, sample_rate: int, frame_ms: int, threshold: int, release: int, hangover_ms: int) -> None:
        self.d = spec.DECIMATION[sample_rate]
        self.block = sample_rate * spec.BLOCK_MS // 1000  # input samples per block
        self.per_frame = frame_ms // spec.BLOCK_MS  # blocks per frame
        self.frame = self.block * self.per_frame  # input samples per frame
        self.n = self.block // self.d  # analysis samples per block
        self.taps = np.array([min(k + 1, 2 * self.d - 1 - k) for k in range(2 * self.d - 1)], np.int64)
        self.weights = np.array(spec.band_weights(sample_rate // self.d), np.float64)  # (K, L+1)
        self.k = self.weights.shape[0]
        self.floor = float(self.n * self.d**4)
        self.qfloor = math.floor(float(ln_approx(np.array([self.floor]))[0]) * float(spec.LOG_SCALE))
        self.model: _vad_model.Model | None = None  # loaded on the first block
        self.decision = Decision(frame_ms, threshold, release, hangover_ms)
        self.reset()

    def reset(self) -> None:
        """Forget all state: the next sample starts a new stream."""
        self.pending = np.zeros(0, np.int64)  # quantised samples not yet in a block
        self.qhist = np.zeros(2 * self.d - 2, np.int64)  # last input samples (decimator)
        self.zhist = np.zeros(spec.LAGS, np.float64)  # last pre-emphasised samples
        self.yprev = 0  # last decimated sample (pre-emphasis)
        self.primed = False  # history seeded from the first sample
        self.tracker = Tracker()
        self.fhist = np.zeros((_HIST, spec.BLOCK_FEATURES), np.int64)
        self.acc = 0  # block scores of the frame being filled
        self.acc_blocks = 0
        self.acc_sound = False  # a block of the frame is not digital silence
        self.decision.reset()

    def features(self, q: np.ndarray) -> np.ndarray:
        """Band energies (blocks, K) of whole blocks of quantised samples."""
        nb = q.size // self.block
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
        r = np.empty((nb, L + 1))
        for lag in range(L + 1):
            r[:, lag] = (zz[L:] * zz[L - lag : zz.size - lag]).reshape(nb, self.n).sum(axis=1)
        w = self.weights
        e = r[:, 0:1] * w[:, 0]
        for lag in range(1, L + 1):
            e = e + r[:, lag : lag + 1] * w[:, lag]
        return e

    def block_inputs(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """MLP input rows (int64) and digital-silence marks of whole blocks of quantised samples."""
        e = self.features(q)
        silent = np.all(e <= self.floor, axis=1)
        if self.k < _NB:  # 44.1 kHz: the top band lies above the analysis Nyquist; repeat the one below
            e = np.concatenate([e, np.repeat(e[:, -1:], _NB - self.k, axis=1)], axis=1)
        ql = quantised_log(e, self.floor, self.qfloor)
        feats = self.tracker.run(ql)
        rows, self.fhist = model_inputs(feats, self.fhist)
        return rows, silent

    def block_scores(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores (int64) and digital-silence marks of whole blocks of quantised samples."""
        rows, silent = self.block_inputs(q)
        if self.model is None:
            self.model = _vad_model.load()
        s = _vad_model.forward(self.model, rows)
        s[silent] = 0
        return s, silent

    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flags (uint8) and scores (float32) of every frame completed by mono samples ``x``."""
        q = convert_flat(x, "i16").astype(np.int64) if x.dtype != np.int16 else x.astype(np.int64)
        if not self.primed and q.size:
            # The stream's history is its first sample repeated: a DC offset
            # is then invisible from the very first block.
            self.qhist[:] = q[0]
            self.yprev = int(q[0]) * self.d * self.d
            self.primed = True
        q = np.concatenate([self.pending, q])
        nb = q.size // self.block
        used = nb * self.block
        self.pending = q[used:]
        if nb == 0:
            return np.zeros(0, np.uint8), np.zeros(0, np.float32)
        bs, silent = self.block_scores(q[:used])
        flags: list[int] = []
        scores: list[int] = []
        for s, sil in zip(bs.tolist(), silent.tolist(), strict=True):
            self.acc += s
            self.acc_blocks += 1
            self.acc_sound = self.acc_sound or not sil
            if self.acc_blocks < self.per_frame:
                continue
            score = self.acc // self.per_frame
            flags.append(self.decision.decide(score, self.acc_sound))
            scores.append(score)
            self.acc = 0
            self.acc_blocks = 0
            self.acc_sound = False
        return np.array(flags, np.uint8), np.array(scores, np.float32) * np.float32(1.0 / spec.SCORE_ONE)

    def set_decision(self, threshold: int, release: int, hangover_ms: int) -> None:
        """Change the decision rule from the next frame on (see :class:`Decision`)."""
        self.decision.set(threshold, release, hangover_ms)

    def process(self, x: np.ndarray) -> np.ndarray:
        """Flags (uint8) for every frame completed by mono samples ``x``."""
        return self.run(x)[0]

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Scores (float32 in [0, 1]) for every frame completed by ``x`` (flags are decided too)."""
        return self.run(x)[1]
