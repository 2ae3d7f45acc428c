"""Segment length control: cuts inside the longest pause, merging neighbours, stream == offline."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from remotemedia.kernels import KernelSet
from remotemedia.kernels.vad_segments import SegmentEvent, SegmentTracker, pair_events
from remotemedia.nodes import VADNode
from remotemedia.nodes.vad import keep_segments

SR = 16000
FRAME = 480  # 30 ms
NONE = {"padding_ms": 0, "hangover_ms": 0, "min_speech_ms": 0, "min_silence_ms": 0, "max_segment_s": None}


def run(flags: str | list[int], chunk: int | None = None, **kw) -> list[tuple[int, int]]:
    """Segments in samples for flags ("0011100" or a list), fed at once or in chunks."""
    t = SegmentTracker(SR, FRAME, **kw)
    f = [int(c) for c in flags]
    events: list[SegmentEvent] = []
    step = chunk or max(1, len(f))
    for i in range(0, len(f), step):
        events += t.push(f[i : i + step])
    events += t.finish(len(f) * FRAME)
    return [(round(a * SR), round(b * SR)) for a, b in pair_events(events, SR)]


def zero_runs(flags: list[int]) -> list[tuple[int, int]]:
    """Runs of 0 flags between two 1 flags, in samples."""
    runs, i = [], 0
    while i < len(flags):
        if flags[i] == 0:
            j = i
            while j < len(flags) and flags[j] == 0:
                j += 1
            if i > 0 and j < len(flags):
                runs.append((i * FRAME, j * FRAME))
            i = j
        else:
            i += 1
    return runs


def test_an_over_long_segment_is_cut_in_its_longest_pause() -> None:
    # 0.6 s speech, 60 ms pause, 0.3 s speech, 150 ms pause, 0.6 s speech: one bridged segment of 1.77 s
    flags = "1" * 20 + "00" + "1" * 10 + "00000" + "1" * 20
    kw = {**NONE, "min_silence_ms": 300, "max_segment_s": 1.5}
    assert run(flags, **{**kw, "max_segment_s": None}) == [(0, 57 * FRAME)]
    pause = (32 * FRAME, 37 * FRAME)  # the longer pause: cut at its middle
    cut = sum(pause) // 2
    assert run(flags, **kw) == [(0, cut), (cut, 57 * FRAME)]
    # a limit that ends before the long pause: the short one it holds is taken
    short = (20 * FRAME + 22 * FRAME) // 2
    assert run(flags, **{**kw, "max_segment_s": 0.9})[0] == (0, short)


def test_without_a_pause_the_cut_is_hard_at_the_limit() -> None:
    kw = {**NONE, "max_segment_s": 0.1}  # 1600 samples = 3.33 frames
    assert run("111111111", **kw) == [(0, 1600), (1600, 3200), (3200, 4320)]


def test_equal_pauses_the_latest_wins_and_a_limit_inside_a_pause_cuts_there() -> None:
    flags = "1111" + "00" + "1111" + "00" + "1111111111"
    kw = {**NONE, "min_silence_ms": 300}
    got = run(flags, **{**kw, "max_segment_s": 0.5})  # 16.7 frames: both pauses fit
    assert got[0] == (0, 11 * FRAME)  # middle of the second pause (frames 10-12)
    # limit at 5 frames = inside the first pause [4, 6): cut at min(middle, limit)
    got = run(flags, **{**kw, "max_segment_s": 5 * FRAME / SR})
    assert got[0] == (0, 5 * FRAME)


def random_flags(seed: int, n: int = 4000) -> list[int]:
    rng = np.random.default_rng(seed)
    talk = np.convolve(rng.random(n) < 0.35, np.ones(6), "same") > 1
    return [int(v) for v in talk]


@pytest.mark.parametrize("seed", range(4))
def test_no_piece_is_longer_than_the_limit_and_cuts_are_in_pauses(seed: int) -> None:
    flags = random_flags(seed)
    kw = {"padding_ms": 60, "hangover_ms": 90, "min_speech_ms": 60, "min_silence_ms": 240, "max_segment_s": 1.2}
    limit = round(1.2 * SR)
    plain = run(flags, **{**kw, "max_segment_s": None})
    cut = run(flags, **kw)
    assert max(b - a for a, b in plain) > 3 * limit  # the test exercises long segments
    assert max(b - a for a, b in cut) <= limit
    runs = zero_runs(flags)
    hard = soft = 0
    for (a, b), (c, d) in itertools.pairwise(cut):
        assert a < b <= c < d
        if b != c:
            continue  # a real end, not a cut
        if any(p0 <= b <= p1 for p0, p1 in runs):
            soft += 1
        else:  # a hard cut: the piece had no pause at all before the limit
            hard += 1
            assert b - a == limit
            assert not any(a < p0 and p1 <= a + limit for p0, p1 in runs)
    assert soft > 5
    # the pieces cover what the uncut segments cover (less a hangover clipped at the limit)
    covered = _covered(cut)
    assert [a for a, _ in covered] == [a for a, _ in plain]
    assert all(0 <= e - b <= round(0.09 * SR) for (_, b), (_, e) in zip(covered, plain, strict=True))
    for chunk in (1, 13, 500):
        assert run(flags, chunk=chunk, **kw) == cut


def _covered(segs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in segs:
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


@pytest.mark.parametrize("max_s", [None, 5.0])
def test_merging_joins_neighbours_up_to_the_limit(max_s: float | None) -> None:
    flags = random_flags(7)
    kw = {"padding_ms": 60, "hangover_ms": 90, "min_speech_ms": 60, "min_silence_ms": 240, "max_segment_s": max_s}
    parts = run(flags, **kw)
    merged = run(flags, merge_up_to_s=3.0, **kw)
    limit = 3 * SR if max_s is None else round(min(3.0, max_s) * SR)
    assert len(merged) < 0.8 * len(parts)
    i = 0
    for a, b in merged:  # each joined segment is a run of consecutive parts, as long as fits
        j = i
        while j < len(parts) and parts[j][1] <= b:
            j += 1
        assert parts[i][0] == a and parts[j - 1][1] == b and j > i
        assert b - a <= limit or j == i + 1  # only a single part may be longer (no maximum here)
        if j < len(parts):
            assert parts[j][1] - a > limit  # the next part would not have fitted
        i = j
    assert i == len(parts)
    for chunk in (1, 29, 1000):
        assert run(flags, chunk=chunk, merge_up_to_s=3.0, **kw) == merged


def test_merge_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"merge_up_to_s must be > 0 or None"):
        SegmentTracker(SR, FRAME, merge_up_to_s=0)
    with pytest.raises(ValueError, match=r"merge_up_to_s must be a finite number >= 0"):
        SegmentTracker(SR, FRAME, merge_up_to_s=float("inf"))


def talk(seconds: float, seed: int) -> np.ndarray:
    """Harmonic bursts of 0.5-1.4 s with pauses of 0.1-0.25 s (bridged) and a few of 0.6-1.2 s."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    gate = np.zeros(n)
    pos = int(0.5 * SR)
    while pos < n:
        length = int(rng.uniform(0.5, 1.4) * SR)
        gate[pos : pos + length] = 1
        gap = rng.uniform(0.6, 1.2) if rng.random() < 0.15 else rng.uniform(0.1, 0.25)
        pos += length + int(gap * SR)
    voice = sum(np.sin(2 * np.pi * 140 * h * t) / h for h in range(1, 10))
    return (0.3 * gate * voice + 0.002 * rng.standard_normal(n)).astype(np.float32)


@pytest.mark.parametrize("settings", [{"max_segment_s": 3.0}, {"max_segment_s": 4.0, "merge_up_to_s": 3.5}])
def test_speech_segments_streaming_equals_offline_on_every_body(ks: KernelSet, settings: dict) -> None:
    x = talk(40.0, 3)
    offline = ks.speech_segments(x, SR, **settings)
    assert max(b - a for a, b in offline) <= settings["max_segment_s"] + 1e-9
    if "merge_up_to_s" not in settings:
        uncut = ks.speech_segments(x, SR, max_segment_s=None)
        assert max(b - a for a, b in uncut) > 6  # long bridged speech got cut
        flags = ks.VAD(SR, 30, 2).process(x).tolist()
        runs = zero_runs(flags)
        cut_at = [(a, b) for (a, b), (c, _) in itertools.pairwise(offline) if b == c]  # (segment start, cut)
        assert cut_at
        limit = round(settings["max_segment_s"] * SR)
        for a, c in cut_at:
            a_s, c_s = round(a * SR), round(c * SR)
            pauses = [(p0, p1) for p0, p1 in runs if a_s < p0 < a_s + limit]
            if pauses:  # cut inside a pause the detector saw before the limit
                assert any(p0 <= c_s <= p1 for p0, p1 in pauses), (a, c, pauses)
            else:  # no pause at all: a hard cut at the limit
                assert abs(c_s - (a_s + limit)) <= FRAME, (a, c)
    for mode in ("annotate", "filter"):
        node = VADNode(mode=mode, pre_roll_audio=True, **settings)
        state = node.open_state(ks)
        events, audio = [], []
        pos = 0
        for chunk in np.array_split(x, 37):
            out = node.process_chunk((chunk, SR), state, ks)
            pos += chunk.size
            for e in out.metadata["vad_events"]:
                if e.kind == "start":  # pre-roll audio: from the start (a cut too) to the end of this chunk
                    np.testing.assert_array_equal(e.audio, x[e.sample : pos])
            events += out.metadata["vad_events"]
            audio.append(out.data)
        tail = node.flush(state, ks)
        if tail is not None:
            events += tail.metadata["vad_events"]
            audio.append(tail.data)
        assert pair_events([SegmentEvent(e.kind, e.sample) for e in events], SR) == offline
        if mode == "filter":  # the streamed audio is the segments' audio, once each
            np.testing.assert_array_equal(np.concatenate(audio), keep_segments(x, SR, offline))
    whole = VADNode(mode="filter", **settings).process_with((x, SR), ks)
    assert whole.metadata["vad_segments"] == offline


@pytest.mark.parametrize(
    ("param", "value", "limit"),
    [
        ("padding_ms", 1e308, "1e+09"),
        ("hangover_ms", 2e9, "1e+09"),
        ("max_segment_s", 1e308, "1e+06"),
        ("merge_up_to_s", 1e7, "1e+06"),
    ],
)
def test_absurd_durations_are_refused_with_the_node_and_the_limit(param: str, value: float, limit: str) -> None:
    message = re.escape(f"speech segments: {param} must be at most {limit}, got")
    with pytest.raises(ValueError, match="VADNode 'v': " + message):
        VADNode(name="v", **{param: value})
    with pytest.raises(ValueError, match=message):
        SegmentTracker(SR, FRAME, **{param: value})
