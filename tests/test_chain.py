"""Native chains: the planner, run(), streams and sessions against the node-by-node path.

Every test runs on every body (``runtime_env`` forces REMOTEMEDIA_RUNTIME
to python, cython and ctypes in turn; ``ks`` for the kernel-level ones).
The reference is the node-by-node path called by hand (``process_with`` /
``process_chunk`` on each node with the same kernel set): a chain must
give the same bits on every body, since it runs the same kernels.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from remotemedia import AudioBuffer, Node, NodeError, Pipeline, kernels
from remotemedia.core.chains import layout_of
from remotemedia.core.errors import NodeValueError
from remotemedia.errors import NativeKernelError
from remotemedia.kernels import KernelSet
from remotemedia.kernels.chain import ConvertStage, DownmixStage, Layout, ResampleStage, VadStage
from remotemedia.nodes import AudioResampleNode, DownmixNode, FormatConverterNode, VADNode
from remotemedia.stream import collect


def speechy(seconds: float, rate: int, channels: int = 2, seed: int = 0) -> np.ndarray:
    """int16 harmonic bursts with pauses and a little noise (speech-like for the VAD)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(120 + 20 * np.sin(2 * np.pi * 0.7 * t)) / rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 10))
    env = np.sqrt(np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None)) * ((t % 1.6) > 0.5)
    x = (0.3 * tone * env + 0.004 * rng.standard_normal(t.size)) * 32767
    rows = [x * (1 - 0.2 * c) for c in range(channels)]
    return np.stack(rows).astype(np.int16) if channels > 1 else rows[0].astype(np.int16)


# Node lists covering every stage and mode; each with its input.
CONFIGS: dict[str, tuple[Callable[[], list[Node]], Callable[[], tuple[np.ndarray, int]]]] = {
    "convert-downmix-resample-vad": (
        lambda: [FormatConverterNode("f32"), DownmixNode(), AudioResampleNode(16000), VADNode()],
        lambda: (speechy(2.0, 48000), 48000),
    ),
    "stereo-resample-vad-filter": (
        lambda: [FormatConverterNode("f32"), AudioResampleNode(16000, "medium"), VADNode(20, 3, mode="filter")],
        lambda: (speechy(2.0, 22050, seed=1), 22050),
    ),
    "int-downmix-then-convert-low-10ms": (
        lambda: [
            FormatConverterNode("i16"),
            DownmixNode(),
            FormatConverterNode("f32"),
            AudioResampleNode(8000, "low"),
            VADNode(10, 1),
        ],
        lambda: (speechy(1.5, 44100, channels=3, seed=2), 44100),
    ),
    "i32-very-high-upsample": (
        lambda: [FormatConverterNode("i32"), AudioResampleNode(32000, "very_high"), VADNode(30, 0, mode="filter")],
        lambda: ((speechy(1.2, 16000, channels=1, seed=3).astype(np.float64) / 40000), 16000),
    ),
    "no-op-stages-vad-only-work": (
        lambda: [FormatConverterNode("f32"), DownmixNode(), AudioResampleNode(16000), VADNode(30, 2)],
        lambda: (speechy(1.5, 16000, channels=1, seed=4).astype(np.float32) / 32768, 16000),
    ),
    "convert-to-i16-only": (
        lambda: [FormatConverterNode("i16"), DownmixNode()],
        lambda: ((speechy(0.5, 16000, seed=5) / 30000.0).astype(np.float32), 16000),
    ),
}


def by_nodes(nodes: list[Node], data: Any, ks: KernelSet) -> Any:
    """The node-by-node path of a whole buffer."""
    out = data
    for n in nodes:
        out = n.process_with(out, ks) if n.uses_kernels else n.process(out)
    return out


def by_nodes_stream(nodes: list[Node], chunks: list[Any], ks: KernelSet) -> AudioBuffer | None:
    """The node-by-node path of a stream (states, flush in order), joined."""
    sets = [ks if n.uses_kernels else None for n in nodes]
    states = [n.open_state(s) for n, s in zip(nodes, sets, strict=True)]

    def through(x: Any, start: int) -> Any:
        for n, st, s in zip(nodes[start:], states[start:], sets[start:], strict=True):
            x = n.process_chunk(x, st, s)
            if x is None:
                return None
        return x

    outs = [through(c, 0) for c in chunks]
    for i, (n, st, s) in enumerate(zip(nodes, states, sets, strict=True)):
        tail = n.flush(st, s)
        if tail is not None:
            outs.append(through(tail, i + 1))
    return collect([o for o in outs if o is not None])


def random_chunks(x: np.ndarray, rate: int, seed: int) -> list[tuple[np.ndarray, int]]:
    """Chunks of 1 sample to 0.5 s (log-uniform), some of them views of the input."""
    rng = np.random.default_rng(seed)
    out, pos, n = [], 0, x.shape[-1]
    while pos < n:
        k = min(n - pos, int(np.exp(rng.uniform(0, np.log(rate / 2)))))
        piece = x[..., pos : pos + k]
        out.append((piece if rng.random() < 0.5 else np.ascontiguousarray(piece), rate))
        pos += k
    return out


def pipeline_of(nodes: list[Node], metrics: bool = True) -> Pipeline:
    p = Pipeline("chained", enable_metrics=metrics)
    for n in nodes:
        p.add_node(n)
    return p


def assert_same(got: AudioBuffer, want: AudioBuffer) -> None:
    assert got.sample_rate == want.sample_rate
    assert got.data.dtype == want.data.dtype and got.data.shape == want.data.shape
    np.testing.assert_array_equal(got.data, want.data)  # bitwise, on every body
    for key in ("vad_flags", "vad_segments", "vad_events", "vad_source_spans"):
        if key in want.metadata:
            got_v, want_v = got.metadata[key], want.metadata[key]
            if isinstance(want_v, np.ndarray):
                np.testing.assert_array_equal(got_v, want_v)
            else:
                assert got_v == want_v, key


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_run_equals_node_by_node(runtime_env: tuple[str, Any], config: str) -> None:
    make, data = CONFIGS[config]
    nodes = make()
    p = pipeline_of(nodes)
    plan = p.plan()
    assert [cp.names for cp in plan.chains.values()] == [tuple(n.name for n in nodes)]
    x = data()
    got = p.run_sync(x)
    want = by_nodes(nodes, x, kernels.get())
    assert_same(got, want)
    if "vad_flags" in want.metadata:
        assert want.metadata["vad_flags"].size > 0
    m = p.get_metrics()["nodes"]
    assert [m[n.name]["runtime"] for n in nodes] == [runtime_env[0]] * len(nodes)
    assert [m[n.name]["binding"] for n in nodes] == [runtime_env[1]] * len(nodes)
    again = p.run_sync(x)  # the compiled chain is reused, reset between runs
    assert_same(again, want)
    assert all(m["calls"] == 2 for m in p.get_metrics()["nodes"].values())


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize(("seed", "metrics"), [(0, True), (1, True), (2, False)])
def test_session_equals_node_by_node_for_random_chunkings(
    runtime_env: tuple[str, Any], config: str, seed: int, metrics: bool
) -> None:
    make, data = CONFIGS[config]
    nodes = make()
    x, rate = data()
    chunks = random_chunks(x, rate, seed)
    p = pipeline_of(nodes, metrics)  # without metrics a one-chain session takes push()'s short path
    with p.open_stream() as s:
        outs = [s.push(c) for c in chunks]
        assert s.position.chunks == len(chunks) and s.position.samples == x.shape[-1]
        outs.append(s.flush())
    done = [o for o in outs if o is not None]
    starts = np.cumsum([0] + [o.frames for o in done])
    assert [o.metadata["start_sample"] for o in done] == starts[:-1].tolist()  # stamps: the output timeline
    assert [o.metadata["start_s"] for o in done] == [n / o.sample_rate for n, o in zip(starts, done, strict=False)]
    got = collect(done)
    want = by_nodes_stream(nodes, chunks, kernels.get())
    assert got is not None and want is not None
    assert_same(got, want)
    if "vad_segments" in want.metadata:  # the stream's segments are the whole run's
        assert got.metadata["vad_segments"] == p.run_sync((x, rate)).metadata["vad_segments"]


async def test_async_stream_equals_node_by_node(runtime_env: tuple[str, Any]) -> None:
    make, data = CONFIGS["convert-downmix-resample-vad"]
    nodes = make()
    x, rate = data()
    chunks = random_chunks(x, rate, 7)
    p = pipeline_of(nodes)
    got = collect([o async for o in p.stream(chunks)])
    assert got is not None
    assert_same(got, by_nodes_stream(nodes, chunks, kernels.get()))
    m = p.get_metrics()["nodes"]
    assert all(m[n.name]["calls"] == len(chunks) + 1 for n in nodes)  # each chunk, and the flush
    assert all("stream" in m[n.name] for n in nodes)


def test_concurrent_runs_of_one_pipeline_each_get_their_own_chain(runtime_env: tuple[str, Any]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    make, _ = CONFIGS["convert-downmix-resample-vad"]
    nodes = make()
    p = pipeline_of(nodes, metrics=False)
    inputs = [(speechy(1.0, 48000, seed=s), 48000) for s in range(6)]
    want = [by_nodes(nodes, x, kernels.get()) for x in inputs]
    with ThreadPoolExecutor(3) as pool:
        got = list(pool.map(lambda x: p.run_sync(x), inputs * 2))
    for g, w in zip(got, want * 2, strict=True):
        assert_same(g, w)


class Gain(Node):
    """A user node without a native body."""

    def __init__(self, factor: float = 0.5, name: str | None = None, runtime_hint: str = "auto", retry: Any = None):
        super().__init__(name=name, runtime_hint=runtime_hint, retry=retry)
        self.factor = factor

    def process(self, data: Any) -> AudioBuffer:
        buf = AudioBuffer.from_any(data)
        return buf.replace(data=(buf.data * np.float32(self.factor)).astype(np.float32))


def test_node_without_native_body_splits_the_chain(runtime_env: tuple[str, Any]) -> None:
    nodes = [FormatConverterNode("f32"), DownmixNode(), Gain(0.5), AudioResampleNode(16000), VADNode()]
    p = pipeline_of(nodes)
    chains = {cp.names for cp in p.plan().chains.values()}
    assert chains == {("FormatConverterNode", "DownmixNode"), ("AudioResampleNode", "VADNode")}
    x = (speechy(1.5, 48000), 48000)
    want = by_nodes(nodes, x, kernels.get())
    assert_same(p.run_sync(x), want)
    chunks = random_chunks(*x, seed=3)
    with p.open_stream() as s:
        outs = [s.push(c) for c in chunks] + [s.flush()]
    assert_same(collect([o for o in outs if o is not None]), by_nodes_stream(nodes, chunks, kernels.get()))
    m = p.get_metrics()
    assert m["execution_order"] == [n.name for n in nodes]
    runtimes = {name: (v["runtime"], v["binding"]) for name, v in m["nodes"].items()}
    native = (runtime_env[0], runtime_env[1])
    assert runtimes == {
        "FormatConverterNode": native,
        "DownmixNode": native,
        "Gain": ("python", None),
        "AudioResampleNode": native,
        "VADNode": native,
    }


def test_dag_runs_one_chain_per_linear_run(runtime_env: tuple[str, Any]) -> None:
    p = Pipeline("dag", enable_metrics=True)
    conv = FormatConverterNode("f32", name="conv")
    mix = DownmixNode(name="mix")
    p.connect(conv, mix)
    p.connect(mix, AudioResampleNode(16000, name="r16"))
    p.connect("r16", VADNode(name="vad"))
    p.connect(mix, AudioResampleNode(8000, name="r8"))
    chains = sorted(cp.names for cp in p.plan().chains.values())
    assert chains == [("conv", "mix"), ("r16", "vad"), ("r8",)]
    x = (speechy(1.0, 48000), 48000)
    got = p.run_sync(x)
    ks = kernels.get()
    mono = by_nodes([p["conv"], p["mix"]], x, ks)
    assert_same(got["vad"], by_nodes([p["r16"], p["vad"]], mono, ks))
    assert_same(got["r8"], by_nodes([p["r8"]], mono, ks))
    assert set(p.get_metrics()["nodes"]) == {"conv", "mix", "r16", "vad", "r8"}


def test_input_the_chain_cannot_take_runs_node_by_node_with_the_nodes_errors(runtime_env: tuple[str, Any]) -> None:
    p = pipeline_of([FormatConverterNode("f32", name="conv"), VADNode(name="vad")])
    x = speechy(0.5, 7000)  # the VAD does not take 7000 Hz (below 8 kHz)
    with pytest.raises(NodeValueError, match=r"node 'vad' \(VADNode\).*sample rate 7000 Hz is not supported"):
        p.run_sync((x, 7000))
    with p.open_stream() as s, pytest.raises(NodeValueError, match=r"node 'vad' \(VADNode\).*7000"):
        s.push((x, 7000))
    with pytest.raises(TypeError, match="bare array carries no sample rate"):
        p.run_sync(x)


def test_format_change_mid_stream_names_the_node_that_keeps_state(runtime_env: tuple[str, Any]) -> None:
    p = pipeline_of([FormatConverterNode("f32", name="conv"), AudioResampleNode(16000, name="rs"), VADNode()])
    x = speechy(0.3, 48000)
    with p.open_stream() as s:
        s.push((x, 48000))
        with pytest.raises(NodeValueError, match=r"node 'rs'.*2 ch at 48000 Hz to 1 ch at 48000 Hz mid-stream"):
            s.push((x[0], 48000))


def _native_only(runtime_env: tuple[str, Any]) -> None:
    if runtime_env[0] != "rust":
        pytest.skip("native-core behaviour (debug panic hook, output buffers written by the core)")


@pytest.mark.parametrize(
    ("config", "stage"),
    [
        ("convert-downmix-resample-vad", 2),  # one thread
        ("stereo-resample-vad-filter", 1),  # a whole stereo buffer: one channel per thread
    ],
)
def test_native_failure_inside_a_chain_reruns_its_nodes_in_python(
    runtime_env: tuple[str, Any], caplog: pytest.LogCaptureFixture, config: str, stage: int
) -> None:
    _native_only(runtime_env)
    make, data = CONFIGS[config]
    nodes = make()
    p = pipeline_of(nodes)
    x = data()
    (cp,) = p.plan().chains.values()
    chain = cp.chain_for(layout_of(AudioBuffer(*x)))
    assert chain is not None
    chain.debug_fail(stage)  # a real Rust panic inside the resampler stage, caught at the ABI
    cp.release(chain)  # the next run takes it
    with caplog.at_level(logging.WARNING, logger="remotemedia.pipeline"):
        got = p.run_sync(x)
    warnings = [r for r in caplog.records if "failed internally" in r.message]
    assert len(warnings) == 1 and "Rust panic" in warnings[0].message
    assert "chain stage" in warnings[0].message and "re-running these nodes in Python" in warnings[0].message
    assert " -> ".join(repr(n.name) for n in nodes) in warnings[0].message
    python = by_nodes(nodes, x, kernels.get("python"))
    np.testing.assert_allclose(got.data, python.data, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(got.metadata["vad_flags"], python.metadata["vad_flags"])
    m = p.get_metrics()["nodes"]
    assert all(m[n.name]["runtime"] == "python" and m[n.name]["fallbacks"] == 1 for n in nodes)
    # The chain was reset: the next run is native again, and exact.
    assert_same(p.run_sync(x), by_nodes(nodes, x, kernels.get()))
    m = p.get_metrics()["nodes"]
    assert all(m[n.name]["runtime"] == "rust" for n in nodes)


@pytest.mark.parametrize("metrics", [True, False])
def test_native_failure_inside_a_chain_fails_the_stream(runtime_env: tuple[str, Any], metrics: bool) -> None:
    _native_only(runtime_env)
    make, data = CONFIGS["convert-downmix-resample-vad"]
    p = pipeline_of(make(), metrics)
    x, rate = data()
    with p.open_stream() as s:
        s.push((x[:, :960].copy(), rate))
        stage = s._stages[0]
        stage._chain.debug_fail(0)
        with pytest.raises(NodeError, match=r"node 'FormatConverterNode'.*stream chunk 1") as err:
            s.push((x[:, 960:1920].copy(), rate))
        with pytest.raises(RuntimeError, match="is closed"):
            s.push((x[:, 1920:2880].copy(), rate))
    assert isinstance(err.value.__cause__, NativeKernelError)
    with p.open_stream() as s:  # the pipeline is fine
        assert s.push((x, rate)) is not None


def test_session_output_is_the_chains_array_without_a_copy(runtime_env: tuple[str, Any]) -> None:
    _native_only(runtime_env)  # the native core writes into the array it hands out
    nodes = [FormatConverterNode("f32"), DownmixNode(), AudioResampleNode(16000)]
    p = pipeline_of(nodes, metrics=False)
    frame = speechy(0.02, 48000)
    with p.open_stream() as s:
        outs = [s.push((frame, 48000)) for _ in range(20)]
    assert all(o.data.base is None and o.data.flags.owndata for o in outs)  # fresh arrays, no views of a copy


# kernel level -----------------------------------------------------------------


@pytest.mark.parametrize(
    "stages",
    [
        (ConvertStage("f32"), DownmixStage(), ResampleStage(16000), VadStage(30, 2)),
        (ConvertStage("f32"), ResampleStage(16000, "low")),
        (DownmixStage(), VadStage(20, 1)),
    ],
)
def test_chain_chunks_plus_flush_equal_run(ks: KernelSet, stages: tuple[Any, ...]) -> None:
    x = speechy(1.0, 48000)
    layout = Layout(x.dtype, 2, 48000, 2)
    chain = ks.Chain(stages, layout)
    y, flags = chain.run(x)
    ys, fs = [], []
    for a in range(0, x.shape[1], 777):
        yy, ff = chain.process(np.ascontiguousarray(x[:, a : a + 777]))
        ys.append(yy)
        fs.append(ff)
    yy, ff = chain.flush()
    ys.append(yy)
    fs.append(ff)
    np.testing.assert_array_equal(np.concatenate(fs), flags)
    if y is None:  # no stage changes the audio
        assert all(v is None for v in ys)
    elif ks.name == "rust":
        np.testing.assert_array_equal(np.concatenate(ys, axis=-1), y)
    else:
        np.testing.assert_allclose(np.concatenate(ys, axis=-1), y, atol=1e-5, rtol=0)
    times = chain.stage_times()
    assert len(times) == len(stages) and sum(times) > 0
    assert chain.stage_times() == [0] * len(stages)


# Segment settings for the chain's tracker: the VADNode defaults, cuts at a
# short maximum, merging, and both.
SEGMENT_SETTINGS: list[dict[str, Any]] = [
    {},
    {"min_speech_ms": 30.0, "min_silence_ms": 60.0, "padding_ms": 0.0, "hangover_ms": 200.0, "max_segment_s": 0.4},
    {"max_segment_s": None, "merge_up_to_s": 1.5},
    {"max_segment_s": 0.7, "merge_up_to_s": 1.0, "min_silence_ms": 90.0, "padding_ms": 100.0},
]


def gated_speech(seconds: float, seed: int) -> np.ndarray:
    """``speechy`` switched on (50-800 ms) and off (100-900 ms) at random: irregular segments and pauses."""
    rng = np.random.default_rng(seed)
    x = speechy(seconds, 48000, seed=seed)
    pos, on = 0, bool(seed % 2)
    while pos < x.shape[1]:
        k = int((rng.uniform(0.05, 0.8) if on else rng.uniform(0.1, 0.9)) * 48000)
        if not on:
            x[:, pos : pos + k] //= 1000
        pos, on = pos + k, not on
    return x


def _pairs(events: list[Any]) -> list[tuple[int, int]]:
    return [(1 if e.kind == "start" else 0, e.sample) for e in events]


@pytest.mark.parametrize("settings", range(len(SEGMENT_SETTINGS)))
@pytest.mark.parametrize("seed", [0, 1])
def test_chain_segment_events_equal_the_tracker_on_its_flags(ks: KernelSet, settings: int, seed: int) -> None:
    from remotemedia.kernels.vad_segments import SegmentTracker

    x = gated_speech(6.0, seed)
    stages = (ConvertStage("f32"), DownmixStage(), ResampleStage(16000), VadStage(30, 2))
    chain = ks.Chain(stages, Layout(x.dtype, 2, 48000, 2))
    ref = SegmentTracker(16000, 480, **SEGMENT_SETTINGS[settings])
    chain.set_segments(ref.params())
    rng = np.random.default_rng(seed)
    for stream in range(2):  # flush ends a stream; the next one starts from sample 0 again
        got: list[tuple[int, int]] = []
        received, pos = 0, 0
        while pos < x.shape[1]:
            k = int(np.exp(rng.uniform(0, np.log(24000))))
            y, flags, events = chain.process_events(np.ascontiguousarray(x[:, pos : pos + k]))
            pos += k
            received += y.shape[-1]
            # Each event comes with the block whose flags decided it.
            assert list(events) == _pairs(ref.push(flags)), (stream, pos)
            got += events
        y, flags = chain.flush()
        received += y.shape[-1]
        end = chain.events()
        assert list(end) == _pairs(ref.push(flags) + ref.finish(received))
        got += end
        kinds = [kind for kind, _ in got]
        assert kinds.count(1) == kinds.count(0) >= 3  # real segments, each closed
        if settings in (1, 3):  # cut at the maximum: an end and a start at one sample
            assert any(a == (0, b[1]) and b[0] == 1 for a, b in itertools.pairwise(got))
        ref.reset()
    whole, _ = chain.run(x)  # a whole buffer is not a stream: no events
    assert whole is not None and chain.events() == ()


@pytest.mark.parametrize("settings", [1, 2, 3])
def test_session_events_with_cuts_and_merging_equal_node_by_node(runtime_env: tuple[str, Any], settings: int) -> None:
    # The chain tracks an annotating VAD's segments itself: the same events as the node's own tracker.
    make = lambda: [  # noqa: E731
        FormatConverterNode("f32"),
        DownmixNode(),
        AudioResampleNode(16000),
        VADNode(**SEGMENT_SETTINGS[settings]),
    ]
    x = gated_speech(6.0, settings)
    chunks = random_chunks(x, 48000, settings)
    for metrics in (False, True):
        p = pipeline_of(make(), metrics)
        with p.open_stream() as s:
            outs = [s.push(c) for c in chunks]
            outs.append(s.flush())
        got = collect([o for o in outs if o is not None])
        want = by_nodes_stream(make(), chunks, kernels.get())
        assert got is not None and want is not None
        assert_same(got, want)
        events = got.metadata["vad_events"]
        assert len(events) >= 4 and {e.kind for e in events} == {"start", "end"}
        assert got.metadata["vad_segments"] == p.run_sync((x, 48000)).metadata["vad_segments"]


def test_chain_without_timing_gives_the_same_results_and_no_times(ks: KernelSet) -> None:
    x = speechy(1.0, 48000)
    stages = (ConvertStage("f32"), DownmixStage(), ResampleStage(16000), VadStage(30, 2))
    timed, untimed = ks.Chain(stages, Layout(x.dtype, 2, 48000, 2)), ks.Chain(stages, Layout(x.dtype, 2, 48000, 2))
    untimed.set_timing(False)
    for a in range(0, x.shape[1], 960):
        chunk = np.ascontiguousarray(x[:, a : a + 960])
        (y1, f1), (y2, f2) = timed.process(chunk), untimed.process(chunk)
        np.testing.assert_array_equal(y1, y2)
        np.testing.assert_array_equal(f1, f2)
    assert sum(timed.stage_times()) > 0
    if ks.name == "rust":  # the numpy stages are always timed
        assert untimed.stage_times() == [0] * len(stages)
    untimed.set_timing(True)
    untimed.process(np.ascontiguousarray(x[:, :960]))
    assert sum(untimed.stage_times()) > 0


def test_speech_events_of_a_tracking_chain_are_ordinary_frozen_events() -> None:
    import dataclasses

    from remotemedia.nodes.vad_stream import SpeechEvent, _speech_event

    e, want = _speech_event("start", 480, 0.03), SpeechEvent("start", 480, 0.03)
    assert e == want and hash(e) == hash(want) and repr(e) == repr(want) and e.audio is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.sample = 1  # type: ignore[misc]


def test_chain_segment_settings_are_checked(ks: KernelSet) -> None:
    from remotemedia.kernels.vad_segments import SegmentTracker

    vad = ks.Chain((VadStage(30, 2),), Layout(np.dtype(np.float32), 1, 16000, 1))
    with pytest.raises(ValueError, match="frames of 320 samples"):
        vad.set_segments(SegmentTracker(16000, 320).params())
    plain = ks.Chain((ConvertStage("f32"),), Layout(np.dtype(np.int16), 1, 16000, 1))
    with pytest.raises(ValueError, match="ends in a VAD stage"):
        plain.set_segments(SegmentTracker(16000, 480).params())


def test_chain_refuses_input_it_cannot_take(ks: KernelSet) -> None:
    with pytest.raises(ValueError, match="VAD stage must end the chain"):
        ks.Chain((VadStage(), DownmixStage()), Layout(np.dtype(np.float32), 1, 16000, 1))
    with pytest.raises(ValueError, match="VAD analyses 12345 Hz through a resampler"):
        ks.Chain((VadStage(),), Layout(np.dtype(np.float32), 1, 12345, 1))
    with pytest.raises(TypeError, match="VAD does not take int32"):
        ks.Chain((VadStage(),), Layout(np.dtype(np.int32), 1, 16000, 1))


def test_native_runs_and_streams_do_not_load_the_numpy_bodies(runtime_env: tuple[str, Any]) -> None:
    # The numpy kernel set serves only a re-run after a native failure: loaded then, not before.
    _native_only(runtime_env)
    code = (
        "import json, sys\nimport numpy as np\nfrom remotemedia import Pipeline\n"
        "from remotemedia.nodes import AudioResampleNode, DownmixNode, FormatConverterNode, VADNode\n"
        "x = (np.zeros((2, 48000), np.int16), 48000)\n"
        "p = Pipeline('a').add_node(FormatConverterNode('f32')).add_node(AudioResampleNode(16000))\n"
        "out = p.add_node(VADNode()).run_sync(x)\n"
        "q = Pipeline('b').add_node(FormatConverterNode('f32')).add_node(DownmixNode())\n"
        "q.add_node(AudioResampleNode(16000)).add_node(VADNode())\n"
        "with q.open_stream() as s:\n    s.push(x)\n    s.flush()\n"
        "assert out.metadata['vad_flags'].size == 33\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('remotemedia.kernels.python.')"
        " and m != 'remotemedia.kernels.python.resample_design' or m == 'remotemedia.kernels._vad_model')))\n"
    )
    env = {**os.environ, "REMOTEMEDIA_RUNTIME": runtime_env[1]}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
