"""VAD contract: settings, input rules, streaming, and identical flags in every body."""

from __future__ import annotations

import numpy as np
import pytest

import remotemedia
import vad_corpus as vc
from conftest import kernel_set
from remotemedia import kernels
from remotemedia.kernels.vad import VAD

SR = 16000


def bursts(sr: int = SR, seconds: float = 6.0, seed: int = 3, amp: float = 0.2) -> np.ndarray:
    """Noise at -46 dBFS with 1 s vowel-like bursts (peak about 3 * amp) every other second."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    x = 0.005 * rng.standard_normal(t.size)
    voiced = sum(np.sin(2 * np.pi * 140 * h * t) / h for h in range(1, 12))
    x += amp * voiced * ((t % 2.0) >= 1.0)
    return x.astype(np.float32)


def assert_finds_bursts(f: np.ndarray, frame_ms: int = 30) -> None:
    """Absolute check on flags of bursts(): the first burst is speech, and not everything is.

    (After a steady loud buzz the score lingers for most of a second, and
    a stream may flag some of its first few hundred ms of noise before it
    has seen a noise floor: the noise frames are not checked one by one.)
    """
    per_s = 1000 // frame_ms
    assert f[per_s + per_s // 10 : 2 * per_s].mean() > 0.9
    assert f.mean() < 0.95


@pytest.fixture(scope="module")
def corpus(shared_data) -> list[vc.Condition]:  # type: ignore[no-untyped-def]  # arctic reads the shared data
    vc.skip_unless_available()
    conds = vc.conditions("synth", snrs=(5,))
    return conds + vc.conditions("arctic", noises=("kitchen",), snrs=(0,))[1:]


# ---- identical flags --------------------------------------------------------


@pytest.mark.parametrize("frame_ms", [10, 30])
def test_flags_identical_across_bodies_on_corpus(native_ks, corpus, frame_ms):
    py = kernels.get("python")
    for cond in corpus:
        for agg in range(4):
            want = py.VAD(SR, frame_ms, agg).process(cond.audio)
            got = native_ks.VAD(SR, frame_ms, agg).process(cond.audio)
            assert want.size == cond.audio.size // (SR * frame_ms // 1000)
            np.testing.assert_array_equal(got, want, err_msg=f"{cond.name} agg={agg}")


@pytest.mark.parametrize("sr", [8000, 16000, 32000, 44100, 48000])
@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_flags_identical_at_every_rate_and_dtype(native_ks, corpus, sr, frame_ms):
    from scipy.signal import resample_poly

    x16 = corpus[1].audio[: SR * 20]  # white noise at 5 dB
    g = np.gcd(sr, SR)
    x = resample_poly(x16.astype(np.float64), sr // g, SR // g)
    py = kernels.get("python")
    want = py.VAD(sr, frame_ms, 2).process(x)
    assert 0.2 < want.mean() < 0.9  # the signal has both speech and noise
    for arr in (x, x.astype(np.float32), np.clip(np.rint(x * 32768), -32768, 32767).astype(np.int16)):
        np.testing.assert_array_equal(native_ks.VAD(sr, frame_ms, 2).process(arr), py.VAD(sr, frame_ms, 2).process(arr))
    np.testing.assert_array_equal(native_ks.VAD(sr, frame_ms, 2).process(x), want)


# ---- streaming ----------------------------------------------------------------


@pytest.mark.parametrize("chunks", ["frame-1", "frame", "frame+1", "random", "single-samples"])
def test_any_chunking_equals_one_shot(ks, chunks):
    x = bursts(seconds=3.0 if chunks == "single-samples" else 6.0)
    v = ks.VAD(SR, 30, 2)
    want = v.process(x)
    v = ks.VAD(SR, 30, 2)
    frame = v.frame_length
    if chunks == "random":
        cuts = np.sort(np.random.default_rng(5).integers(0, x.size, 60))
    elif chunks == "single-samples":
        cuts = np.arange(1, x.size)
    else:
        step = frame + {"frame-1": -1, "frame": 0, "frame+1": 1}[chunks]
        cuts = np.arange(step, x.size, step)
    got = np.concatenate([v.process(c) for c in np.split(x, cuts)])
    np.testing.assert_array_equal(got, want)
    assert want.sum() > 0


@pytest.mark.parametrize("layout", ["contiguous", "strided", "one-row", "bytes", "read-only", "int32", "float64"])
def test_every_input_layout_gives_the_flags_of_contiguous_int16(ks, layout):
    # Per-frame calls take the body's per-call path (on Cython a checked
    # native fast path); every layout must reach the same flags.
    x16 = np.clip(np.rint(bursts() * 32768), -32768, 32767).astype(np.int16)
    want = ks.VAD(SR, 30, 2).process(x16)
    assert 0 < want.sum() < want.size
    v = ks.VAD(SR, 30, 2)
    n = v.frame_length
    got = []
    for i in range(0, x16.size - n + 1, n):
        f = x16[i : i + n]
        if layout == "strided":
            f = np.repeat(f, 2)[::2]
        elif layout == "one-row":
            f = f.reshape(1, -1)
        elif layout == "bytes":
            f = f.tobytes()
        elif layout == "read-only":
            f = f.copy()
            f.flags.writeable = False
        elif layout == "int32":
            f = f.astype(np.int32) << 16
        elif layout == "float64":
            f = f / 32768.0
        got.append(v.process(f))
    assert all(g.dtype == np.uint8 and g.shape == (1,) for g in got)
    np.testing.assert_array_equal(np.concatenate(got), want)


def test_reset_starts_a_new_stream(ks):
    x = bursts()
    v = ks.VAD(SR, 20, 1)
    first = v.process(x)
    v.process(x[:1234])
    v.reset()
    np.testing.assert_array_equal(v.process(x), first)
    assert_finds_bursts(first, 20)  # absolute: an all-zero detector fails


def test_streams_are_independent(ks):
    x, y = bursts(seed=1), bursts(seed=2)[::-1].copy()
    a, b = ks.VAD(SR, 10, 2), ks.VAD(SR, 10, 2)
    fa, fb = [], []
    for i in range(0, x.size, 1600):
        fa.append(a.process(x[i : i + 1600]))
        fb.append(b.process(y[i : i + 1600]))
    np.testing.assert_array_equal(np.concatenate(fa), ks.VAD(SR, 10, 2).process(x))
    np.testing.assert_array_equal(np.concatenate(fb), ks.VAD(SR, 10, 2).process(y))
    assert_finds_bursts(np.concatenate(fa), 10)


def test_detects_bursts_at_every_rate_and_frame(ks):
    for sr in (8000, 16000, 32000, 44100, 48000):
        x = bursts(sr)
        for ms in (10, 20, 30):
            f = ks.VAD(sr, ms, 2).process(x)
            per_s = 1000 // ms
            assert f[3 * per_s + 3 : 4 * per_s].mean() > 0.95, (sr, ms)
            # the score lingers up to about 0.8 s after a steady loud buzz, then the hold
            assert f[int(4.9 * per_s) : 5 * per_s].sum() == 0, (sr, ms)


# ---- settings and input rules ------------------------------------------------


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((4000,), r"sample rate 4000 Hz is not supported; use an integer rate from 8000 to 192000 Hz"),
        ((16000.0,), r"sample rate 16000.0 Hz is not supported"),
        ((16000, 25), r"frame duration 25 ms is not supported; use 10, 20 or 30 ms"),
        ((16000, 30, 4), r"aggressiveness 4 is out of range; use 0, 1, 2 or 3"),
        ((16000, 30, -1), r"aggressiveness -1 is out of range"),
        ((16000, 30, True), r"aggressiveness True is out of range"),
    ],
)
def test_bad_settings_raise_value_error(ks, args, match):
    with pytest.raises(ValueError, match=match):
        ks.VAD(*args)
    with pytest.raises(ValueError, match=match):
        ks.speech_segments(np.zeros(16000, np.float32), *args)


def test_bad_input_types_and_shapes(ks):
    v = ks.VAD(SR)
    with pytest.raises(
        TypeError, match=r"VAD.process: unsupported dtype int64; expected one of int16, int32, float32, float64"
    ):
        v.process(np.zeros(480, np.int64))
    with pytest.raises(TypeError, match=r"VAD.process: expected a numpy array, got list"):
        v.process([0.0] * 480)
    with pytest.raises(ValueError, match=r"expected 1-D \(mono\) or 2-D"):
        v.process(np.zeros((1, 2, 480), np.float32))
    with pytest.raises(ValueError, match=r"looks like \(frames, channels\): pass x.T"):
        v.process(np.zeros((4800, 2), np.float32))


def test_empty_input_gives_no_flags_and_keeps_state(ks):
    x = bursts()
    v = ks.VAD(SR)
    a = v.process(x[:1000])
    out = v.process(np.zeros(0, np.float32))
    assert out.dtype == np.uint8 and out.size == 0
    b = v.process(x[1000:])
    np.testing.assert_array_equal(np.concatenate([a, b]), ks.VAD(SR).process(x))
    assert ks.speech_segments(np.zeros(0, np.float32), SR) == []


def test_exact_zeros_are_silence(ks):
    assert ks.VAD(SR).process(np.zeros(SR * 3, np.float32)).sum() == 0
    assert ks.VAD(SR).process(np.zeros(SR * 3, np.int16)).sum() == 0
    # digital silence, then speech-like bursts: still detected
    x = np.concatenate([np.zeros(SR * 2, np.float32), bursts()])
    f = ks.VAD(SR).process(x)
    assert f[: 2 * 33].sum() == 0 and f[(2 + 3) * 33 + 3 : (2 + 4) * 33].mean() > 0.95


def test_nan_counts_as_zero_and_inf_clips(ks):
    x = bursts()
    y = x.copy()
    y[5000:9000] = np.nan
    z = x.copy()
    z[5000:9000] = 0.0
    np.testing.assert_array_equal(ks.VAD(SR).process(y), ks.VAD(SR).process(z))
    assert_finds_bursts(ks.VAD(SR).process(z))
    y[5000:9000:2] = np.inf
    y[5001:9000:2] = -np.inf
    z[5000:9000:2] = 1.0
    z[5001:9000:2] = -1.0
    np.testing.assert_array_equal(ks.VAD(SR).process(y), ks.VAD(SR).process(z))


def test_dc_offset_does_not_change_flags(ks):
    x = bursts().astype(np.float64)
    f = ks.VAD(SR).process(x)
    g = ks.VAD(SR).process(x + 0.25)
    # The pre-emphasis removes a constant exactly, and the history before
    # the first sample is that sample repeated: no step anywhere.
    np.testing.assert_array_equal(g, f)
    assert_finds_bursts(f)


@pytest.mark.parametrize("aggressiveness", [0, 1, 2, 3])
def test_digital_silence_ends_the_hangover(ks, aggressiveness):
    # The first burst ends at 2.0 s, inside frame 66; frame 67 starts after it.
    x = bursts()
    noisy = ks.VAD(SR, 30, aggressiveness).process(x)
    assert noisy[66] == 1 and noisy[67] == 1  # hangover over the noise
    x[32000:48000] = 0.0
    silent = ks.VAD(SR, 30, aggressiveness).process(x)
    assert silent[66] == 1
    assert not silent[67:100].any()  # exact zeros: never speech, no hangover


def test_clipped_input_is_handled(ks):
    x = bursts() * 40.0  # far beyond full scale: hard clipping
    f = ks.VAD(SR).process(x)
    np.testing.assert_array_equal(f, ks.VAD(SR).process(np.clip(x, -1.0, 1.0)))
    assert f[3 * 33 + 3 : 4 * 33].mean() > 0.95


def test_multichannel_is_the_channel_mean(ks):
    x = bursts().astype(np.float64)
    n = np.random.default_rng(9).standard_normal(x.size) * 0.01
    stereo = np.stack([x + n, x - n])
    np.testing.assert_array_equal(ks.VAD(SR).process(stereo), ks.VAD(SR).process((x + n + (x - n)) / 2.0))
    i16 = np.clip(np.rint(stereo * 32768), -32768, 32767).astype(np.int16)
    mean = (i16[0].astype(np.float64) / 32768 + i16[1].astype(np.float64) / 32768) / 2.0
    np.testing.assert_array_equal(ks.VAD(SR).process(i16), ks.VAD(SR).process(mean))
    np.testing.assert_array_equal(ks.VAD(SR).process(i16[:1]), ks.VAD(SR).process(i16[0]))
    assert_finds_bursts(ks.VAD(SR).process(stereo))


def test_top_level_names_use_the_automatic_choice():
    assert remotemedia.VAD is VAD
    v = remotemedia.VAD(SR)
    assert v.kernel_set_name == kernels.get().name
    assert "VAD(sample_rate=16000, frame_duration_ms=30, aggressiveness=2" in repr(v)
    segs = remotemedia.speech_segments(bursts(), SR)
    assert segs == kernels.get().speech_segments(bursts(), SR) and round(segs[0][0]) == 1


def test_kernel_set_argument_selects_the_body():
    py = kernel_set("python")
    assert VAD(SR, kernel_set=py).kernel_set_name == "python"


def test_streams_in_threads_match_sequential(ks):
    from concurrent.futures import ThreadPoolExecutor

    signals = [bursts(seed=s) for s in range(4)]
    want = [ks.VAD(SR, 30, 2).process(x) for x in signals]

    def run(x: np.ndarray) -> np.ndarray:
        v = ks.VAD(SR, 30, 2)
        return np.concatenate([v.process(x[i : i + 4000]) for i in range(0, x.size, 4000)])

    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(run, signals))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
        assert_finds_bursts(w)
