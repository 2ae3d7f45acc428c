"""A ratio that changes on a running stream (issue 15, item 2), on every body.

``Resampler(..., variable=True).set_ratio(ratio, ramp_frames)`` moves the
output positions' step to the new ratio, linearly over the ramp: the
output length follows the integral of the ratio and the signal has no
discontinuity. The same on ``AudioResampleNode(variable=True)`` streams
through ``StreamSession.set_ratio``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from remotemedia import AudioBuffer, Pipeline, kernels
from remotemedia.nodes import AudioResampleNode

RATE = 48_000
CHUNK = 480
FREQ = 1_000.0
AMP = 0.5


def sine(n: int) -> np.ndarray:
    return (AMP * np.sin(2 * np.pi * FREQ * np.arange(n) / RATE)).astype(np.float32)


def drift_schedule(chunks: int) -> list[float]:
    """Ratio per chunk: steps of 100 ppm between -100 and +300 ppm (mean +125 ppm)."""
    steps = [0, 1, 2, 3, 2, 1, 0, -1]
    return [1.0 + 1e-4 * steps[(c // 25) % len(steps)] for c in range(chunks)]


def run_drift(ks: kernels.KernelSet, ramp: int, chunks: int = 400) -> tuple[np.ndarray, float, list[int]]:
    """Stream a sine while the ratio steps; returns output, ideal length, frames per call."""
    x = sine(chunks * CHUNK)
    r = ks.Resampler(RATE, RATE, quality="high", variable=True)
    parts, ideal, now = [], 0.0, 1.0
    for c, ratio in enumerate(drift_schedule(chunks)):
        if ratio != now:
            r.set_ratio(ratio, ramp_frames=ramp)
            # The ramp spans about `ramp` input frames at the mean of both ratios.
            ideal -= min(ramp, CHUNK * (chunks - c)) * (ratio - now) / 2
            now = ratio
        parts.append(r.process(x[c * CHUNK : (c + 1) * CHUNK]))
        ideal += CHUNK * ratio
    parts.append(r.flush())
    return np.concatenate(parts), ideal, [len(p) for p in parts]


@pytest.mark.parametrize("ramp", [0, 480, 4_800])
def test_drift_keeps_length_and_has_no_click(ks: kernels.KernelSet, ramp: int) -> None:
    y, ideal, _ = run_drift(ks, ramp)
    # The length follows the integral of the ratio (the nominal length is
    # 192000 frames; the schedule adds about 24).
    assert abs(len(y) - ideal) <= 1.0, (len(y), ideal)
    assert abs(len(y) - 400 * CHUNK) > 5
    # No click: no sample-to-sample step above the sine's own largest step
    # at the fastest ratio (2 A sin(pi f / (rate * ratio))), away from the
    # stream's two ends (the filter's start-up and tail).
    body = y[200:-200].astype(np.float64)
    limit = 2 * AMP * math.sin(math.pi * FREQ / (RATE * 0.9999)) * (1 + 1e-4)
    assert np.abs(np.diff(body)).max() <= limit
    # And the output stays a clean sine of the same amplitude.
    assert abs(np.abs(body).max() - AMP) < 1e-4


def test_dropping_a_sample_would_be_caught(ks: kernels.KernelSet) -> None:
    # The click criterion above can fail: a sine with one sample dropped.
    y = np.delete(sine(4_800), 2_400)
    limit = 2 * AMP * math.sin(math.pi * FREQ / (RATE * 0.9999)) * (1 + 1e-4)
    assert np.abs(np.diff(y)).max() > limit


def test_bodies_agree_under_drift(native_ks: kernels.KernelSet) -> None:
    got, _, calls = run_drift(native_ks, 480, chunks=120)
    want, _, want_calls = run_drift(kernels.get("python"), 480, chunks=120)
    assert calls == want_calls
    assert np.abs(got - want).max() <= 1e-5


def test_ramp_is_chunk_invariant(ks: kernels.KernelSet) -> None:
    # Set before any input, the same ramp gives the same output whatever the chunking.
    x = np.random.default_rng(5).uniform(-1, 1, 20_000).astype(np.float32)
    outs = []
    for sizes in ([20_000], [1, 7, 480, 3_333]):
        r = ks.Resampler(44_100, 48_000, quality="medium", variable=True)
        r.set_ratio(48_000 / 44_100 * 1.002, ramp_frames=5_000)
        parts, pos, i = [], 0, 0
        while pos < len(x):
            parts.append(r.process(x[pos : pos + sizes[i % len(sizes)]]))
            pos += sizes[i % len(sizes)]
            i += 1
        parts.append(r.flush())
        outs.append(np.concatenate(parts))
    if ks.name == "rust":
        assert np.array_equal(outs[0], outs[1])
    else:
        np.testing.assert_allclose(outs[0], outs[1], rtol=0, atol=1e-6)
    # 20000 frames: 5000-frame ramp to +0.2 %, then the new ratio.
    assert abs(len(outs[0]) - (20_000 * 48_000 / 44_100 * 1.002 - 2_500 * 0.002 * 48_000 / 44_100)) <= 2


def test_reset_returns_to_the_first_ratio(ks: kernels.KernelSet) -> None:
    x = sine(9_600)
    fresh = ks.Resampler(RATE, 32_000, variable=True)
    want = np.concatenate([fresh.process(x), fresh.flush()])
    r = ks.Resampler(RATE, 32_000, variable=True)
    r.set_ratio(2 / 3 * 1.01, 100)
    assert r.ratio == 2 / 3 * 1.01
    r.process(x)
    r.reset()
    assert r.ratio == 2 / 3
    assert np.array_equal(np.concatenate([r.process(x), r.flush()]), want)


def _message(fn) -> tuple[type, str]:  # type: ignore[no-untyped-def]
    try:
        fn()
    except (TypeError, ValueError) as exc:
        return type(exc), str(exc)
    raise AssertionError("no exception")


BAD = [
    ("fixed", lambda k: k.Resampler(48_000, 16_000).set_ratio(0.34), ValueError, "fixed ratio"),
    ("far", lambda k: k.Resampler(48_000, 48_000, variable=True).set_ratio(1.06), ValueError, "5%"),
    ("nan", lambda k: k.Resampler(48_000, 48_000, variable=True).set_ratio(float("nan")), ValueError, "ratio"),
    ("text", lambda k: k.Resampler(48_000, 48_000, variable=True).set_ratio("1"), TypeError, "number"),
    ("ramp", lambda k: k.Resampler(48_000, 48_000, variable=True).set_ratio(1.0, -1), ValueError, ">= 0"),
    ("ramp type", lambda k: k.Resampler(48_000, 48_000, variable=True).set_ratio(1.0, 2.5), TypeError, "integer"),
]


@pytest.mark.parametrize(("label", "call", "exc", "match"), BAD, ids=[b[0] for b in BAD])
def test_set_ratio_errors(ks: kernels.KernelSet, label: str, call, exc, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(exc, match=match):
        call(ks)
    assert _message(lambda: call(ks)) == _message(lambda: call(kernels.get("python")))


def test_node_stream_set_ratio(runtime_env) -> None:  # type: ignore[no-untyped-def]
    p = Pipeline("drift")
    p.add_node(AudioResampleNode(RATE, quality="high", variable=True, name="resample"))
    x = sine(48_000)
    with p.open_stream() as s:
        s.set_ratio("resample", 1.0002)  # before the first chunk: applied when it arrives
        outs = [s.push(AudioBuffer(x[i : i + CHUNK], RATE)) for i in range(0, len(x), CHUNK)]
        outs.append(s.flush())
        with pytest.raises(ValueError, match="no node named"):
            s.set_ratio("nope", 1.0)
    n = sum(o.data.shape[-1] for o in outs if o is not None)
    assert abs(n - 48_000 * 1.0002) <= 1
    fixed = Pipeline("fixed")
    fixed.add_node(AudioResampleNode(16_000, name="resample"))
    with fixed.open_stream() as s, pytest.raises(ValueError, match="variable=True"):
        s.set_ratio("resample", 0.34)
