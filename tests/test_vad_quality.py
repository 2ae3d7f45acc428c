"""VAD quality on the labelled corpus (tests/vad_corpus.py), against webrtcvad live.

Per condition (speech source / noise / SNR), the frame F1 (30 ms frames)
of our best aggressiveness must

- reach the floor stated in FLOORS (about 0.01 below what it measured
  when the floors were set), and
- be strictly above webrtcvad's best mode, measured here on the same
  signals (package webrtcvad-wheels). When the floors were set, ours was
  ahead by 0.004 to 0.25 in every condition.

The default aggressiveness (2) must reach 0.93 on white and pink noise at
5 dB SNR, synthetic and real speech.

Flags are identical in every body (tests/test_vad.py), so the automatic
kernel set stands for all of them. The real recordings come from
../shared/data/real-speech (see vad_corpus.shared_data_dir); where it is
missing these tests skip (the ``shared_data`` fixture in conftest.py), and
.ci/run makes that a failure (REMOTEMEDIA_REQUIRE_SHARED=1).
"""

from __future__ import annotations

import numpy as np
import pytest

import vad_corpus as vc
from remotemedia import kernels

FLOORS = {
    "synth/clean": 0.97,
    "synth/white/20dB": 0.96,
    "synth/white/10dB": 0.95,
    "synth/white/5dB": 0.94,
    "synth/white/0dB": 0.95,
    "synth/pink/20dB": 0.97,
    "synth/pink/10dB": 0.95,
    "synth/pink/5dB": 0.94,
    "synth/pink/0dB": 0.95,
    "synth/babble/20dB": 0.95,
    "synth/babble/10dB": 0.88,
    "synth/babble/5dB": 0.72,
    "synth/babble/0dB": 0.71,
    "synth/kitchen/20dB": 0.94,
    "synth/kitchen/10dB": 0.90,
    "synth/kitchen/5dB": 0.90,
    "synth/kitchen/0dB": 0.86,
    "arctic/clean": 0.98,
    "arctic/white/20dB": 0.95,
    "arctic/white/10dB": 0.95,
    "arctic/white/5dB": 0.95,
    "arctic/white/0dB": 0.92,
    "arctic/pink/20dB": 0.95,
    "arctic/pink/10dB": 0.95,
    "arctic/pink/5dB": 0.95,
    "arctic/pink/0dB": 0.91,
    "arctic/babble/20dB": 0.93,
    "arctic/babble/10dB": 0.84,
    "arctic/babble/5dB": 0.82,
    "arctic/babble/0dB": 0.77,
    "arctic/kitchen/20dB": 0.92,
    "arctic/kitchen/10dB": 0.91,
    "arctic/kitchen/5dB": 0.88,
    "arctic/kitchen/0dB": 0.83,
}


@pytest.fixture(scope="module")
def scores(shared_data) -> dict[str, tuple[list[float], list[float]]]:  # real speech and noise from shared
    ks = kernels.get()
    out = {}
    for cond in vc.conditions("synth") + vc.conditions("arctic"):
        lab = cond.labels(30)
        ours = [vc.f1_score(ks.VAD(vc.SR, 30, a).process(cond.audio), lab)[2] for a in range(4)]
        web = [vc.f1_score(vc.webrtc_flags(cond.audio, m), lab)[2] for m in range(4)]
        out[cond.name] = (ours, web)
    return out


def test_corpus_has_every_condition(scores):
    assert set(scores) == set(FLOORS)
    lab = vc.conditions("synth", noises=(), snrs=())[0].labels(30)
    assert 0.4 < lab.mean() < 0.7  # speech and silence both well represented


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_f1_floor_and_webrtcvad(scores, name):
    ours, web = scores[name]
    best, web_best = max(ours), max(web)
    assert best >= FLOORS[name], f"{name}: F1 {best:.3f} below floor {FLOORS[name]} (per mode {np.round(ours, 3)})"
    assert best > web_best, f"{name}: F1 {best:.3f} <= webrtcvad {web_best:.3f} (modes {np.round(web, 3)})"


@pytest.mark.parametrize("name", ["synth/white/5dB", "synth/pink/5dB", "arctic/white/5dB", "arctic/pink/5dB"])
def test_target_in_stationary_noise_at_5db(scores, name):
    assert max(scores[name][0]) >= 0.93
    default = scores[name][0][2]
    assert default >= 0.93, f"{name}: default aggressiveness F1 {default:.3f} below 0.93"


def test_real_data_missing_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("REMOTEMEDIA_SHARED_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"real speech and noise recordings not found in .*real-speech"):
        vc.shared_data_dir()
