"""The VAD's noise floor and slow SNR average (numpy Tracker, fed log band energies directly).

The Rust body computes the same features: every score and flag is
compared between the bodies in tests/test_vad.py and test_vad_scores.py.
"""

from __future__ import annotations

import numpy as np

from remotemedia.kernels import _vad_spec as spec
from remotemedia.kernels.python.vad import Tracker

NB = len(spec.BANDS_HZ)
SNR = slice(0, NB)  # per-band SNR of the block
SLOW = slice(spec.BLOCK_FEATURES, spec.BLOCK_FEATURES + NB)  # slow SNR average


def noise(blocks: int, seed: int = 0, level: int = 120) -> np.ndarray:
    """Log band energies of a steady noise: ``level`` +- a few units per block and band."""
    return level + np.random.default_rng(seed).integers(-3, 4, size=(blocks, NB))


def test_one_low_first_block_does_not_become_the_floor() -> None:
    q = noise(300)
    q[0] = 100  # a first block far below the noise (1.25 nepers)
    r = Tracker().run(q)[:, SNR]
    # the floor settles on the noise, not on that block, long before the 2 s look-back passes it
    assert r[20:].mean() < 8, r[20:].mean(axis=0)
    assert np.abs(r[20:].mean() - Tracker().run(noise(300))[20:, SNR].mean()) < 2


def test_a_collapsed_block_does_not_drag_the_floor_down() -> None:
    q = noise(400)
    ref = Tracker().run(q)[:, SNR]
    q[100, NB - 1] = 0  # one block's estimate of the top band at the digital floor (next to a loud tone)
    r = Tracker().run(q)[:, SNR]
    # without the SMOOTH_DROP limit the band's floor sat 30 units (a quarter
    # of the drop) low for the next 2 s; with it, at most SMOOTH_DROP / 4
    lift = r[110:300, NB - 1].mean() - ref[110:300, NB - 1].mean()
    assert 0 <= lift <= spec.SMOOTH_DROP / 4 < 30, lift


def test_the_slow_average_forgets_a_stopped_sound_but_not_a_short_pause() -> None:
    sound = noise(60, seed=1, level=320)  # 200 units (12.5 nepers) above the noise in every band
    stopped = np.concatenate([noise(300), sound, noise(100, seed=2)])
    ra = Tracker().run(stopped)[:, SLOW]
    peak = ra[359].astype(float)
    assert (peak > 150).all()
    # 200 ms after the sound stops: the plain 1/16 average would still hold 27 % of its peak
    assert (ra[379] < 0.1 * peak).all(), ra[379] / peak
    gap = spec.QUIET_BLOCKS - 1
    paused = np.concatenate([noise(300), sound, noise(gap, seed=2), sound])
    ra2 = Tracker().run(paused)[:, SLOW]
    # a shorter pause inside the sound (every band at its floor) keeps most of the memory
    assert (ra2[359 + gap] > 0.6 * peak).all(), ra2[359 + gap] / peak
