"""Segment rules: the SegmentTracker state machine and speech_segments."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from remotemedia.kernels.vad_segments import (
    RUNS_FROM,
    SegmentEvent,
    SegmentTracker,
    pair_events,
    whole_buffer_segments,
)

SR = 16000
FRAME = 480  # 30 ms


def run(flags: str, chunk: int | None = None, total: int | None = None, **kw) -> list[tuple[int, int]]:
    """Segments in samples for a flag string like "0011100"."""
    t = SegmentTracker(SR, FRAME, **kw)
    f = [int(c) for c in flags]
    events: list[SegmentEvent] = []
    if chunk is None:
        events += t.push(f)
    else:
        for i in range(0, len(f), chunk):
            events += t.push(f[i : i + chunk])
    events += t.finish(len(f) * FRAME if total is None else total)
    return [(round(a * SR), round(b * SR)) for a, b in pair_events(events, SR)]


NONE = {"padding_ms": 0, "hangover_ms": 0, "min_speech_ms": 0, "min_silence_ms": 0, "max_segment_s": None}


def test_plain_segments_have_frame_edges():
    assert run("0011100011", **NONE) == [(2 * FRAME, 5 * FRAME), (8 * FRAME, 10 * FRAME)]


def test_padding_is_pre_roll_clamped_to_zero_and_previous_end():
    kw = {**NONE, "padding_ms": 60}
    assert run("0001100", **kw) == [(3 * FRAME - 960, 5 * FRAME)]
    assert run("1100", **kw) == [(0, 2 * FRAME)]
    kw = {**NONE, "padding_ms": 90, "hangover_ms": 60, "min_silence_ms": 30}
    assert run("110000110", **kw) == [(0, 2 * FRAME + 960), (2 * FRAME + 960, 9 * FRAME)]


def test_hangover_extends_the_end_and_is_clipped_at_the_input_end():
    kw = {**NONE, "hangover_ms": 45}
    assert run("0110000", **kw) == [(FRAME, 3 * FRAME + 720)]
    assert run("0011", **kw) == [(2 * FRAME, 4 * FRAME)]
    assert run("0011", total=4 * FRAME + 100, **kw) == [(2 * FRAME, 4 * FRAME + 100)]


def test_short_speech_is_dropped():
    kw = {**NONE, "min_speech_ms": 90, "min_silence_ms": 60}
    assert run("0110000111000", **kw) == [(7 * FRAME, 10 * FRAME)]
    # speech frames of a candidate count across short gaps
    assert run("0101010000", **kw) == [(FRAME, 6 * FRAME)]


def test_short_silence_is_bridged():
    kw = {**NONE, "min_silence_ms": 90}
    assert run("1100110001100", **kw) == [(0, 6 * FRAME), (9 * FRAME, 11 * FRAME)]


def test_long_segments_are_cut():
    kw = {**NONE, "max_segment_s": 0.1}  # 1600 samples = 3.33 frames
    assert run("111111111", **kw) == [(0, 1600), (1600, 3200), (3200, 4320)]


def test_streaming_in_any_chunks_equals_offline():
    rng = np.random.default_rng(0)
    flags = "".join("1" if v else "0" for v in (np.convolve(rng.random(3000) < 0.3, np.ones(5), "same") > 1))
    kw = {"padding_ms": 90, "hangover_ms": 120, "min_speech_ms": 60, "min_silence_ms": 210, "max_segment_s": 2.0}
    want = run(flags, **kw)
    assert len(want) > 20
    for chunk in (1, 7, 100):
        assert run(flags, chunk=chunk, **kw) == want
    # segments are ordered, not overlapping, and no longer than the limit
    for (a, b), (c, _) in itertools.pairwise(want):
        assert a < b <= c
    assert max(b - a for a, b in want) <= 2 * SR


@pytest.mark.parametrize("name", ["padding_ms", "hangover_ms", "min_speech_ms", "min_silence_ms", "max_segment_s"])
@pytest.mark.parametrize("value", [-1, float("nan"), "10"])
def test_bad_durations_raise(name, value):
    with pytest.raises(ValueError, match=rf"speech segments: {name} must be a finite number >= 0"):
        SegmentTracker(SR, FRAME, **{name: value})


def test_zero_max_segment_raises():
    with pytest.raises(ValueError, match=r"max_segment_s must be > 0 or None"):
        SegmentTracker(SR, FRAME, max_segment_s=0)


def test_speech_segments_edges_are_sample_accurate(ks):
    rng = np.random.default_rng(1)
    t = np.arange(SR * 8) / SR
    x = 0.003 * rng.standard_normal(t.size)
    on = (t >= 2.0) & (t < 3.5) | (t >= 5.0) & (t < 6.2)
    x += on * 0.3 * sum(np.sin(2 * np.pi * 150 * h * t) / h for h in range(1, 10))
    segs = ks.speech_segments(x, SR, padding_ms=0, hangover_ms=0, min_speech_ms=60, min_silence_ms=300)
    assert len(segs) == 2
    for (a, b), (ta, tb) in zip(segs, [(2.0, 3.5), (5.0, 6.2)], strict=True):
        # the detector's reaction: a noise frame just before the onset may
        # be bridged in; its score lingers after a steady buzz ends
        assert abs(a - ta) <= 0.15 and 0 <= b - tb <= 0.9
        for edge in (a * SR, b * SR):  # seconds back to samples: a whole number of frames (float-safe)
            assert abs(edge - round(edge)) < 1e-6 and round(edge) % FRAME == 0
    padded = ks.speech_segments(x, SR, padding_ms=100, hangover_ms=50, min_speech_ms=60, min_silence_ms=300)
    for (a, b), (pa, pb) in zip(segs, padded, strict=True):
        assert round((a - pa) * SR) == 1600 and round((pb - b) * SR) == 800
    cut = ks.speech_segments(x, SR, padding_ms=0, hangover_ms=0, max_segment_s=0.5)
    assert all(b - a <= 0.5 + 1e-12 for a, b in cut) and len(cut) >= 6
    stereo = np.stack([x, x]).astype(np.float32)
    assert ks.speech_segments(stereo, SR) == ks.speech_segments(x.astype(np.float32), SR)


def _state(t):
    return {k: (list(v) if isinstance(v, list) else v) for k, v in vars(t).items()}


@pytest.mark.parametrize("seed", range(12))
def test_run_wise_push_equals_frame_by_frame(seed):
    # Arrays of RUNS_FROM flags or more go run by run: same events, same state after each push.
    rng = np.random.default_rng(seed)
    n = 4000
    density = rng.uniform(0.1, 0.9)
    smooth = int(rng.integers(1, 12))
    flags = (np.convolve(rng.random(n) < density, np.ones(smooth), "same") >= smooth / 2).astype(np.uint8)
    kw = {
        "padding_ms": float(rng.choice([0, 30, 90, 400])),
        "hangover_ms": float(rng.choice([0, 60, 120, 700])),
        "min_speech_ms": float(rng.choice([0, 30, 90, 250])),
        "min_silence_ms": float(rng.choice([0, 30, 300, 900])),
        "max_segment_s": [None, 0.02, 0.1, 1.0, 3.0][seed % 5],
        "merge_up_to_s": None if seed % 3 else 2.5,
    }
    ref, fast = SegmentTracker(SR, FRAME, **kw), SegmentTracker(SR, FRAME, **kw)
    pos, runs = 0, 0
    while pos < n:
        k = int(rng.choice([1, 5, RUNS_FROM, 300, 2000]))
        chunk = flags[pos : pos + k]
        pos += k
        runs += chunk.size >= RUNS_FROM
        assert fast.push(chunk) == ref.push(chunk.tolist())
        assert _state(fast) == _state(ref)
    assert fast.finish(n * FRAME) == ref.finish(n * FRAME)
    assert runs > 0


def test_run_wise_push_takes_any_nonzero_as_speech():
    flags = np.array([0, 3, 255, 1, 0, 0, 2] * 40, np.uint8)
    a, b = SegmentTracker(SR, FRAME, **NONE), SegmentTracker(SR, FRAME, **NONE)
    assert a.push(flags) == b.push([bool(v) for v in flags.tolist()])
    assert a.push(flags.astype(bool)) == b.push([bool(v) for v in flags.tolist()])


@pytest.mark.parametrize("seed", range(40))
def test_whole_buffer_segments_equal_the_tracker(seed):
    # VADNode.annotate's array-wise grouping gives the tracker's events exactly,
    # or None (then annotate uses the tracker) for merging and cut segments.
    rng = np.random.default_rng(100 + seed)
    n = int(rng.choice([0, 1, 7, 300, 4000]))
    density = rng.uniform(0.05, 0.95)
    smooth = int(rng.integers(1, 12))
    flags = np.zeros(0, np.uint8)
    if n:
        flags = (np.convolve(rng.random(n) < density, np.ones(smooth), "same") >= smooth / 2).astype(np.uint8)
    if seed % 7 == 3:
        flags[:] = 1  # one run of speech to the end
    kw = {
        "padding_ms": float(rng.choice([0, 30, 90, 400])),
        "hangover_ms": float(rng.choice([0, 60, 120, 700])),
        "min_speech_ms": float(rng.choice([0, 30, 90, 250])),
        "min_silence_ms": float(rng.choice([0, 30, 300, 900])),
        "max_segment_s": [None, 0.5, 3.0, 30.0, 1000.0][seed % 5],
        "merge_up_to_s": 2.5 if seed % 11 == 5 else None,
    }
    total = [None, n * FRAME, n * FRAME - 100, n * FRAME // 2][seed % 4]
    if total is not None:
        total = max(total, 0)
    ref = SegmentTracker(SR, FRAME, **kw)
    events = ref.push(flags.tolist()) + ref.finish(total)
    want = [(e.sample, f.sample) for e, f in zip(events[::2], events[1::2], strict=True)]
    assert all(e.kind == "start" and f.kind == "end" for e, f in zip(events[::2], events[1::2], strict=True))
    got = whole_buffer_segments(SegmentTracker(SR, FRAME, **kw), flags, total)
    if kw["merge_up_to_s"] is not None:
        assert got is None
    elif got is None:
        # Only a segment the maximum length cuts goes back to the tracker.
        assert kw["max_segment_s"] is not None
        assert want
    else:
        assert got == want


def test_whole_buffer_segments_take_the_fast_path_for_the_defaults():
    # The defaults (30 s maximum, no merging) on speech-like flags: array-wise, same events.
    rng = np.random.default_rng(7)
    flags = np.repeat(rng.random(400) < 0.5, rng.integers(1, 60, 400)).astype(np.uint8)
    ref = SegmentTracker(SR, FRAME)
    events = ref.push(flags.tolist()) + ref.finish(flags.size * FRAME)
    want = [(e.sample, f.sample) for e, f in zip(events[::2], events[1::2], strict=True)]
    got = whole_buffer_segments(SegmentTracker(SR, FRAME), flags, flags.size * FRAME)
    assert got is not None and len(got) > 10
    assert got == want
    # A tracker that has seen flags already is not a whole buffer's.
    used = SegmentTracker(SR, FRAME)
    used.push([1, 1, 1, 1])
    assert whole_buffer_segments(used, flags, None) is None
