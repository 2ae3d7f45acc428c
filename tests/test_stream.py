"""Pipeline.stream() and open_stream(): chunk invariance, flush, errors, cancellation, queues.

Every end-to-end test runs on each available runtime (``runtime_env``:
python, cython, ctypes), through convert -> resample -> VAD on real speech
(the package's sample recording, 22.05 kHz, made stereo int16).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from remotemedia import AudioBuffer, Node, NodeError, Pipeline
from remotemedia.core.errors import NodeValueError
from remotemedia.nodes import AudioResampleNode, FormatConverterNode, VADNode
from remotemedia.stream import collect


def speech(seconds: float = 6.0) -> tuple[np.ndarray, int]:
    """Stereo int16 speech (the package's sample recording; right channel at half level)."""
    with resources.as_file(resources.files("remotemedia") / "data" / "sample.ogg") as path:
        x, rate = sf.read(path, dtype="float32", frames=int(seconds * 22050))
    return (np.stack([x, 0.5 * x]) * 32767).astype(np.int16), rate


def speech_pipeline(mode: str = "annotate", **vad: Any) -> Pipeline:
    p = Pipeline("speech", enable_metrics=True)
    p.add_node(FormatConverterNode("f32", name="convert"))
    p.add_node(AudioResampleNode(16000, name="resample"))
    return p.add_node(VADNode(mode=mode, name="vad", **vad))


def random_chunks(x: np.ndarray, rate: int, seed: int) -> list[tuple[np.ndarray, int]]:
    """Chunks of 1 sample to 1 s (log-uniform lengths, so both ends occur)."""
    rng = np.random.default_rng(seed)
    cuts, pos, n = [], 0, x.shape[-1]
    while pos < n:
        pos += int(np.exp(rng.uniform(0, np.log(rate))))
        cuts.append(min(pos, n))
    return [(x[..., a:b], rate) for a, b in zip([0, *cuts[:-1]], cuts, strict=True)]


async def consume(gen: AsyncIterator[Any]) -> list[Any]:
    return [out async for out in gen]


def assert_same_audio(got: AudioBuffer, want: AudioBuffer, native: bool) -> None:
    assert got.sample_rate == want.sample_rate and got.data.shape == want.data.shape
    if native:
        np.testing.assert_array_equal(got.data, want.data)  # bitwise
    else:
        np.testing.assert_allclose(got.data, want.data, atol=1e-5, rtol=0)


# chunk invariance --------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
async def test_stream_equals_run_for_random_chunkings(runtime_env: tuple[str, Any], seed: int) -> None:
    x, rate = speech()
    p = speech_pipeline()
    whole = await p.run((x, rate))
    assert whole.metadata["vad_segments"], "the test signal must contain speech"
    outs = await consume(p.stream(random_chunks(x, rate, seed)))
    got = collect(outs)
    assert_same_audio(got, whole, runtime_env[0] == "rust")
    np.testing.assert_array_equal(got.metadata["vad_flags"], whole.metadata["vad_flags"])
    assert got.metadata["vad_segments"] == whole.metadata["vad_segments"]
    assert p.get_metrics()["nodes"]["resample"]["runtime"] == runtime_env[0]


@pytest.mark.parametrize("metrics", [False, True])
def test_session_equals_run_for_random_chunkings(runtime_env: tuple[str, Any], metrics: bool) -> None:
    x, rate = speech(4.0)
    p = speech_pipeline()
    if not metrics:  # the linear fast path (no timing)
        p = Pipeline("plain")
        for node in speech_pipeline().nodes:
            p.add_node(node)
    whole = p.run_sync((x, rate))
    with p.open_stream() as s:
        outs = [s.push(c) for c in random_chunks(x, rate, 7)]
        outs.append(s.flush())
    got = collect(outs)
    assert_same_audio(got, whole, runtime_env[0] == "rust")
    assert got.metadata["vad_segments"] == whole.metadata["vad_segments"]
    if metrics:
        pushes = len(outs) - 1
        assert p.get_metrics()["nodes"]["vad"]["calls"] == 1 + pushes + 1  # run(), every push, the flushed tail


def test_session_runs_in_a_callback_thread_without_an_event_loop() -> None:
    x, rate = speech(1.0)
    p = speech_pipeline()
    whole = p.run_sync((x, rate))
    frames = [(x[:, i : i + 441], rate) for i in range(0, x.shape[1], 441)]  # 20 ms frames
    outs: list[Any] = []
    s = p.open_stream()

    def callback_loop() -> None:  # what an audio driver's thread would do
        with pytest.raises(RuntimeError, match="no running event loop"):
            asyncio.get_running_loop()
        outs.extend(s.push(f) for f in frames)
        outs.append(s.flush())

    t = threading.Thread(target=callback_loop)
    t.start()
    t.join()
    assert collect(outs).frames == whole.frames


@pytest.mark.parametrize(
    "rules",
    [{}, {"max_segment_s": 0.7, "min_silence_ms": 100.0, "padding_ms": 250.0, "hangover_ms": 20.0}],
    ids=["defaults", "short-segments"],
)
def test_vad_filter_stream_equals_run(runtime_env: tuple[str, Any], rules: dict[str, float]) -> None:
    x, rate = speech()
    p = speech_pipeline(mode="filter", **rules)
    whole = p.run_sync((x, rate))
    with p.open_stream() as s:
        outs = [s.push(c) for c in random_chunks(x, rate, 3)]
        outs.append(s.flush())
    got = collect(outs)
    assert 0 < got.frames < 16000 * 6
    assert_same_audio(got, whole, runtime_env[0] == "rust")
    # the source spans say where each piece came from, in the VAD's input timeline
    spans = got.metadata["vad_source_spans"]
    assert sum(n for _, n in spans) == got.frames
    assert got.metadata["vad_segments"] == whole.metadata["vad_segments"]
    if rules:
        assert len(whole.metadata["vad_segments"]) > 6  # the cut at max_segment_s happened
    segs = [(round(a * 16000), round(b * 16000)) for a, b in whole.metadata["vad_segments"]]
    merged: list[list[int]] = []
    for a, n in spans:
        if merged and merged[-1][1] == a:
            merged[-1][1] = a + n
        else:
            merged.append([a, a + n])
    joined: list[list[int]] = []
    for a, b in segs:  # segments cut at max_segment_s touch: join them like the spans
        if joined and joined[-1][1] == a:
            joined[-1][1] = b
        else:
            joined.append([a, b])
    assert merged == joined


def test_timestamps_follow_each_output_timeline() -> None:
    x, rate = speech(2.0)
    p = speech_pipeline(mode="filter")
    with p.open_stream() as s:
        outs = [o for o in (s.push(c) for c in random_chunks(x, rate, 5)) if o is not None]
    expect = 0
    for o in outs:
        assert o.metadata["start_sample"] == expect
        assert o.metadata["start_s"] == expect / 16000
        expect += o.frames


def test_speech_events_are_sample_accurate_with_pre_roll_audio() -> None:
    x, rate = speech()
    p = Pipeline("ev").add_node(AudioResampleNode(16000)).add_node(VADNode(pre_roll_audio=True, padding_ms=100))
    mono16 = p.run_sync((x[0], rate))
    events, received = [], 0
    with p.open_stream() as s:
        for chunk in random_chunks(x[0], rate, 11):
            out = s.push(chunk)
            received += out.frames
            events += [(ev, received) for ev in out.metadata["vad_events"]]
        tail = s.flush()
    events += [(ev, received) for ev in (tail.metadata["vad_events"] if tail is not None else [])]
    starts = [(ev, upto) for ev, upto in events if ev.kind == "start"]
    ends = [ev for ev, _ in events if ev.kind == "end"]
    pairs = [(ev.time_s, end.time_s) for (ev, _), end in zip(starts, ends, strict=True)]
    assert pairs == mono16.metadata["vad_segments"]
    for ev, upto in starts:  # the pre-roll audio is the input from the start to the deciding chunk's end
        assert ev.sample == round(ev.time_s * 16000)
        np.testing.assert_array_equal(ev.audio, mono16.data[ev.sample : upto])


# flush and empty streams ------------------------------------------------------


def test_flush_releases_the_resampler_tail_then_closes() -> None:
    x, rate = speech(1.0)
    p = speech_pipeline()
    whole = p.run_sync((x, rate))
    s = p.open_stream()
    pushed = collect([s.push((x, rate))])
    assert pushed.frames < whole.frames  # the filter's look-ahead is still pending
    tail = s.flush()
    assert pushed.frames + tail.frames == whole.frames
    assert tail.metadata["start_sample"] == pushed.frames
    with pytest.raises(RuntimeError, match="is flushed"):
        s.push((x, rate))


async def test_empty_streams_give_nothing(runtime_env: tuple[str, Any]) -> None:
    p = speech_pipeline()
    assert await consume(p.stream([])) == []
    with p.open_stream() as s:
        assert s.flush() is None
    # zero-length chunks are fine too
    empty = np.zeros((2, 0), np.int16)
    outs = await consume(p.stream([(empty, 22050)] * 3))
    assert all(o.frames == 0 for o in outs)


# mid-stream changes and failures ---------------------------------------------


def test_sample_rate_change_mid_stream_is_a_clear_error() -> None:
    x, rate = speech(0.5)
    p = speech_pipeline()
    with p.open_stream() as s:
        s.push((x, rate))
        with pytest.raises(NodeValueError, match=r"node 'resample'.*stream chunk 1 \(input sample 11025, 0\.500 s\)"):
            s.push((x, 44100))
    with p.open_stream() as s:  # a new stream starts clean
        s.push((x, 44100))


async def test_channel_change_mid_stream_is_a_clear_error() -> None:
    x, rate = speech(0.5)
    p = speech_pipeline()
    with pytest.raises(NodeValueError, match=r"2 ch at 22050 Hz to 1 ch at 22050 Hz mid-stream"):
        await consume(p.stream([(x, rate), (x[0], rate)]))


class FailAt(Node):
    """Passes audio through; raises at the n-th chunk while ``armed``."""

    def __init__(self, at: int = 2, name: str | None = None, runtime_hint: str = "auto", retry: Any = None) -> None:
        super().__init__(name=name, runtime_hint=runtime_hint, retry=retry)
        self.at = at
        self.armed = True

    def open_state(self, kernels: Any) -> dict[str, int]:
        return {"n": 0}

    def process_chunk(self, data: Any, state: dict[str, int], kernels: Any) -> Any:
        state["n"] += 1
        if self.armed and state["n"] == self.at + 1:
            raise RuntimeError("sensor unplugged")
        return data

    def process(self, data: Any) -> Any:
        return data


async def test_node_failure_names_node_and_position_and_pipeline_is_reusable(runtime_env: tuple[str, Any]) -> None:
    x, rate = speech(1.0)
    p = speech_pipeline()
    p.connect("vad", FailAt(at=2, name="flaky"))
    chunks = [(c, rate) for c in np.array_split(x, 4, axis=1)]
    with pytest.raises(NodeError, match=r"node 'flaky' \(FailAt\) failed in process_chunk at stream chunk 2 "
                       r"\(input sample 11026, 0\.500 s\).*RuntimeError: sensor unplugged") as info:  # fmt: skip
        await consume(p.stream(chunks))
    assert isinstance(info.value.__cause__, RuntimeError)
    assert asyncio.all_tasks() == {asyncio.current_task()}  # the failed stream stopped all its tasks
    assert info.value.stream_position.startswith("stream chunk 2")
    p["flaky"].armed = False
    again = collect(await consume(p.stream(chunks)))
    whole = await p.run((x, rate))
    assert again.frames == whole.frames
    with p.open_stream() as s:
        p["flaky"].armed = True
        s.push(chunks[0])
        s.push(chunks[1])
        with pytest.raises(NodeError, match="stream chunk 2"):
            s.push(chunks[2])
        with pytest.raises(RuntimeError, match="is closed"):
            s.push(chunks[3])


# cancellation -----------------------------------------------------------------


async def test_consumer_stopping_early_leaves_no_task_or_thread(runtime_env: tuple[str, Any]) -> None:
    x, rate = speech(3.0)
    p = speech_pipeline()
    threads = set(threading.enumerate())
    me = asyncio.current_task()

    def endless() -> Iterator[tuple[np.ndarray, int]]:
        while True:
            yield x[:, :2205], rate

    async with contextlib.aclosing(p.stream(endless(), queue_size=2)) as gen:
        n = 0
        async for _ in gen:
            n += 1
            if n == 5:
                break
    assert asyncio.all_tasks() == {me}
    # plain `break` without aclosing: the loop's async-generator finalizer cleans up
    async for _ in p.stream(endless()):
        break
    for _ in range(100):  # the finalizer runs aclose() as a task: give it a few loop iterations
        if asyncio.all_tasks() == {me}:
            break
        await asyncio.sleep(0)
    assert asyncio.all_tasks() == {me}
    assert set(threading.enumerate()) == threads


# queues -------------------------------------------------------------------------


async def test_block_policy_loses_nothing_and_bounds_queues() -> None:
    x, rate = speech(2.0)
    p = speech_pipeline()
    chunks = [(c, rate) for c in np.array_split(x, 40, axis=1)]
    outs = []
    async for out in p.stream(chunks, queue_size=3):
        outs.append(out)
        await asyncio.sleep(0.001)  # a slow consumer
    assert collect(outs).frames == (await p.run((x, rate))).frames
    for name in ("convert", "resample", "vad"):
        st = p.get_metrics()["nodes"][name]["stream"]
        assert st["dropped"] == 0 and 1 <= st["max_queue_depth"] <= 3
        assert st["lag_max_us"] >= st["lag_mean_us"] > 0


async def test_drop_oldest_policy_drops_and_counts() -> None:
    x, rate = speech(2.0)
    p = speech_pipeline()
    chunks = [(c, rate) for c in np.array_split(x, 100, axis=1)]
    n = 0
    async for _ in p.stream(chunks, queue_size=2, overflow="drop_oldest"):
        n += 1
        await asyncio.sleep(0.002)
    dropped = sum(v["stream"]["dropped"] for v in p.get_metrics()["nodes"].values())
    assert dropped > 0
    assert n < 101 and n + dropped >= 100  # every chunk was either output or counted as dropped


async def test_input_iterable_errors_reach_the_consumer_unchanged() -> None:
    x, rate = speech(0.2)

    def broken() -> Iterator[tuple[np.ndarray, int]]:
        yield x, rate
        raise OSError("microphone gone")

    p = speech_pipeline()
    with pytest.raises(OSError, match="microphone gone"):
        await consume(p.stream(broken()))
    assert collect(await consume(p.stream([(x, rate)]))).frames == (await p.run((x, rate))).frames


async def test_stream_argument_errors() -> None:
    x, rate = speech(0.1)
    p = speech_pipeline()
    with pytest.raises(TypeError, match="iterable of chunks, got one tuple"):
        await consume(p.stream((x, rate)))
    with pytest.raises(TypeError, match="needs chunks"):
        await consume(p.stream())
    with pytest.raises(ValueError, match="overflow must be 'block' or 'drop_oldest'"):
        await consume(p.stream([], overflow="newest"))


# graphs and input kinds -------------------------------------------------------


async def test_async_iterable_and_async_node() -> None:
    class Gain(Node):
        async def process(self, data: Any) -> AudioBuffer:
            await asyncio.sleep(0)
            buf = AudioBuffer.from_any(data)
            return buf.replace(data=buf.data * 2)

    async def chunks() -> AsyncIterator[AudioBuffer]:
        for i in range(3):
            yield AudioBuffer(np.full(4, i, np.float32), 8000)

    p = Pipeline("a").add_node(Gain())
    outs = await consume(p.stream(chunks()))
    np.testing.assert_array_equal(collect(outs).data, np.repeat([0, 2, 4], 4))
    with pytest.raises(TypeError, match="is async: a synchronous stream cannot await it"):
        p.open_stream()


class Join(Node):
    """Fan-in: passes the 16 kHz branch on, notes the 8 kHz branch's frames."""

    def process(self, data: dict[str, AudioBuffer]) -> AudioBuffer:
        a, b = data.get("r16"), data.get("r8")
        out = a if a is not None else AudioBuffer(np.zeros((2, 0), np.float32), 16000)
        return out.replace(r8_frames=b.frames if b is not None else 0)


async def test_fan_out_and_fan_in_stream_like_run(runtime_env: tuple[str, Any]) -> None:
    x, rate = speech(1.0)
    p = Pipeline("dag")
    conv = FormatConverterNode("f32", name="conv")
    p.connect(conv, AudioResampleNode(16000, name="r16"))
    p.connect(conv, AudioResampleNode(8000, name="r8"))
    whole = await p.run((x, rate))
    outs = await consume(p.stream(random_chunks(x, rate, 2)))
    by_sink: dict[str, list[AudioBuffer]] = {"r16": [], "r8": []}
    for sink, chunk in outs:
        by_sink[sink].append(chunk)
    for sink in ("r16", "r8"):
        assert_same_audio(collect(by_sink[sink]), whole[sink], runtime_env[0] == "rust")

    p.connect("r16", Join(name="join"))
    p.connect("r8", "join")
    joined = await consume(p.stream(random_chunks(x, rate, 4)))  # lock-step: one item per upstream per step
    assert_same_audio(collect(joined), whole["r16"], runtime_env[0] == "rust")
    assert sum(o.metadata["r8_frames"] for o in joined) == whole["r8"].frames
    with p.open_stream() as s:  # in a session, each flush output reaches the fan-in node on its own
        pushed = [s.push(c) for c in random_chunks(x, rate, 4)]
        tail = s.flush()
    assert_same_audio(collect([*pushed, tail]), whole["r16"], runtime_env[0] == "rust")


def test_close_state_failures_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    class LeakyClose(Node):
        def process(self, data: Any) -> Any:
            return AudioBuffer.from_any(data)

        def close_state(self, state: Any, kernels: Any) -> None:
            raise OSError("device busy")

    p = Pipeline("close").add_node(LeakyClose(name="leaky"))
    with p.open_stream() as s:
        out = s.push((np.ones(3, np.float32), 8000))
        assert s.flush() is None
    assert out.frames == 3
    assert "node 'leaky' (LeakyClose): close_state failed: OSError: device busy" in caplog.text
