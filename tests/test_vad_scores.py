"""VAD scores, thresholds, presets, frame lengths, input forms and rates (every body)."""

from __future__ import annotations

import numpy as np
import pytest

from remotemedia import kernels
from remotemedia.kernels import _vad_spec

SR = 16000


def syllables(sr: int = SR, seconds: float = 8.0, seed: int = 3, noise: float = 0.003) -> np.ndarray:
    """White noise with 1 s bursts of a voiced, syllable-modulated sound every other second."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    x = noise * rng.standard_normal(t.size)
    env = 0.6 - 0.4 * np.cos(2 * np.pi * 4 * t)
    voiced = sum(np.sin(2 * np.pi * 140 * h * t) / h for h in range(1, 12))
    return (x + 0.15 * env * voiced * ((t % 2.0) >= 1.0)).astype(np.float32)


def test_scores_are_probabilities_one_per_flag(ks):
    x = syllables()
    v = ks.VAD(SR, 30)
    flags, scores = v.process_scores(x)
    assert scores.dtype == np.float32 and scores.shape == flags.shape == (x.size // 480,)
    assert scores.min() >= 0.0 and scores.max() <= 1.0
    per_s = 1000 // 30
    assert scores[3 * per_s + 3 : 4 * per_s].mean() > 0.9  # inside a burst
    assert scores[int(0.3 * per_s) : per_s].mean() < 0.1  # noise before any speech
    assert scores[int(6.8 * per_s) : 7 * per_s].mean() < 0.3  # noise 0.8 s after a loud burst
    np.testing.assert_array_equal(ks.VAD(SR, 30).scores(x), scores)


@pytest.mark.parametrize("sr", [8000, 16000, 44100, 48000])
@pytest.mark.parametrize("frame_ms", [10, 30])
def test_rust_and_numpy_scores_are_identical(native_ks, sr, frame_ms):
    x = syllables(sr, seconds=5.0)
    x = x + 0.02 * np.random.default_rng(1).standard_normal(x.size).astype(np.float32)
    py = kernels.get("python")
    f_py, s_py = py.VAD(sr, frame_ms).process_scores(x)
    f_rs, s_rs = native_ks.VAD(sr, frame_ms).process_scores(x)
    np.testing.assert_array_equal(s_rs, s_py)
    np.testing.assert_array_equal(f_rs, f_py)
    assert 0.2 < f_py.mean() < 0.8


def test_threshold_semantics(ks):
    """With release = threshold and no hold, a frame is speech iff its score >= threshold."""
    x = syllables() + 0.01 * np.random.default_rng(2).standard_normal(8 * SR).astype(np.float32)
    scores = ks.VAD(SR, 20).scores(x)
    for thr in (0.0, 0.25, 0.5, 0.9, 1.0):
        flags = ks.VAD(SR, 20, threshold=thr, release=thr, hold_ms=0).process(x)
        np.testing.assert_array_equal(flags, (scores >= thr).astype(np.uint8), err_msg=str(thr))
    assert ks.VAD(SR, 20, threshold=0.0, release=0.0).process(x).all()


def test_release_and_hold_extend_speech(ks):
    x = syllables()
    base = ks.VAD(SR, 30, threshold=0.8, release=0.8, hold_ms=0).process(x)
    low_release = ks.VAD(SR, 30, threshold=0.8, release=0.2, hold_ms=0).process(x)
    held = ks.VAD(SR, 30, threshold=0.8, release=0.8, hold_ms=300).process(x)
    assert (low_release >= base).all() and (held >= base).all()
    # each run of speech in `held` lasts 10 frames (300 ms) past its run in `base`
    ends_base = np.flatnonzero(np.diff(base.astype(int)) == -1)
    ends_held = np.flatnonzero(np.diff(held.astype(int)) == -1)
    assert ends_base.size and list(ends_held) == [e + 10 for e in ends_base]


def test_release_defaults_like_neg_threshold_and_bad_values_raise(ks):
    v = ks.VAD(SR, threshold=0.6)
    assert v.release == pytest.approx(0.45) and v.hold_ms == _vad_spec.PRESETS[2][2]
    t, r, h = _vad_spec.PRESETS[3]
    w = ks.VAD(SR, 30, 3)
    assert (w.threshold, w.release, w.hold_ms) == (t, r, h)
    for kwargs, match in (
        ({"threshold": 1.5}, r"threshold 1.5 is out of range; use a probability from 0 to 1"),
        ({"threshold": 0.5, "release": 0.7}, r"release 0.7 is above threshold 0.5"),
        ({"hold_ms": -5}, r"hold_ms -5 is out of range"),
        ({"engine": "webrtc"}, r"engine 'webrtc' is unknown"),
    ):
        with pytest.raises(ValueError, match=match):
            ks.VAD(SR, **kwargs)


def test_presets_are_monotone(ks):
    x = np.concatenate([syllables(seed=s) for s in range(3)])
    x = x + 0.03 * np.random.default_rng(4).standard_normal(x.size).astype(np.float32)
    for ms in (10, 30):
        flags = [ks.VAD(SR, ms, a).process(x) for a in range(4)]
        for a in range(3):
            assert (flags[a + 1] <= flags[a]).all(), (ms, a)
        assert flags[0].sum() > flags[3].sum() > 0


def test_10ms_frames_at_aggressiveness_0_rarely_flag_silence(ks):
    """py-webrtcvad's check: the silences of clean synthetic speech are not speech (<= 5 % of their frames)."""
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    import vad_corpus as vc

    clean = vc.speech_track(5)
    lab = vc.frame_labels(clean, SR, 10)
    f = ks.VAD(SR, 10, 0).process(clean.astype(np.float32))[: lab.size]
    assert f[lab == 0].mean() <= 0.05, f[lab == 0].mean()
    assert f[lab == 1].mean() > 0.9


def test_frame_lengths_behave_alike(ks):
    """A 20 or 30 ms frame's score is the mean of its 10 ms blocks' scores (integer units, floored)."""
    x = syllables(seconds=4.0) + 0.02 * np.random.default_rng(5).standard_normal(4 * SR).astype(np.float32)
    s10 = np.rint(ks.VAD(SR, 10).scores(x).astype(np.float64) * _vad_spec.SCORE_ONE).astype(np.int64)
    for ms in (20, 30):
        k = ms // 10
        s = np.rint(ks.VAD(SR, ms).scores(x).astype(np.float64) * _vad_spec.SCORE_ONE).astype(np.int64)
        want = s10[: s.size * k].reshape(-1, k).sum(axis=1) // k
        np.testing.assert_array_equal(s, want)
        f = ks.VAD(SR, ms).process(x)
        f10 = ks.VAD(SR, 10).process(x)[: f.size * k].reshape(-1, k).max(axis=1)
        assert np.mean(f == f10) > 0.9


def test_bytes_and_int32_input(ks):
    x = syllables()
    i16 = np.clip(np.rint(x * 32768), -32768, 32767).astype(np.int16)
    want = ks.VAD(SR).process(i16)
    assert want.sum() > 0
    np.testing.assert_array_equal(ks.VAD(SR).process(i16.tobytes()), want)
    np.testing.assert_array_equal(ks.VAD(SR).process(bytearray(i16.tobytes())), want)
    np.testing.assert_array_equal(ks.VAD(SR).process(i16.astype(np.int32) << 16), want)
    # int32 is quantised like convert(x, "i16"): divided by 2**16, rounded half to even
    np.testing.assert_array_equal(ks.VAD(SR).process((i16.astype(np.int32) << 16) + 32767), want)
    v = ks.VAD(SR)
    chunks = [i16[i : i + 333].tobytes() for i in range(0, i16.size, 333)]
    np.testing.assert_array_equal(np.concatenate([v.process(c) for c in chunks]), want)
    with pytest.raises(ValueError, match=r"raw PCM bytes must be int16 \(an even number of bytes\), got 3 bytes"):
        ks.VAD(SR).process(b"\x00\x01\x02")


@pytest.mark.parametrize("sr", [11025, 22050, 24000, 96000])
def test_other_rates_are_resampled_to_16k(ks, sr):
    x = syllables(sr, seconds=6.0)
    v = ks.VAD(sr, 30)
    assert v.analysis_rate == 16000 and v.frame_length == 480
    f = v.process(x)
    assert f.size == pytest.approx(x.size * 16000 / sr / 480, abs=2)
    ref = ks.VAD(16000, 30).process(syllables(16000, seconds=6.0))
    m = min(f.size, ref.size)
    assert np.mean(f[:m] == ref[:m]) > 0.9
    segs = ks.speech_segments(x, sr, min_silence_ms=100)
    assert [round(s) for s, _ in segs] == [1, 3, 5]


def test_rates_outside_the_range_raise(ks):
    for sr in (4000, 200000, 16000.0):
        with pytest.raises(ValueError, match=r"use an integer rate from 8000 to 192000 Hz"):
            ks.VAD(sr)
