"""push() of a one-chain session: the binding's short path against the general path.

A session whose pipeline is one native chain ending in an annotating VAD
(no metrics) pushes through the Cython binding's ``ChainPush`` once the
first chunk compiled the chain (``_chain_pusher`` in remotemedia/stream/session.py). Every
test runs on every body (``runtime_env``): on cython the short path runs,
on ctypes and numpy the general path, and all must give what the general
path (``StreamSession.push`` called on the class) and the node-by-node
path give, bit for bit, with the same metadata keys in the same order.
"""

from __future__ import annotations

import gc
import itertools
import weakref
from typing import Any

import numpy as np
import pytest

from remotemedia import AudioBuffer, NodeError, Pipeline, kernels
from remotemedia.core.errors import NodeValueError
from remotemedia.errors import NativeKernelError
from remotemedia.nodes import AudioResampleNode, DownmixNode, FormatConverterNode, VADNode
from remotemedia.stream import collect
from remotemedia.stream.session import StreamSession
from test_chain import by_nodes_stream, speechy


def nodes_of(**vad: Any) -> list[Any]:
    return [FormatConverterNode("f32"), DownmixNode(), AudioResampleNode(16000), VADNode(**vad)]


def pipeline_of(nodes: list[Any]) -> Pipeline:
    p = Pipeline("fast", enable_metrics=False)  # metrics off: the session is one untimed chain stage
    for n in nodes:
        p.add_node(n)
    return p


def chunks_of(x: np.ndarray, rate: int, seed: int) -> list[Any]:
    """AudioBuffers of 1 sample to 0.3 s, some with metadata, some views (non-contiguous), some tuples."""
    rng = np.random.default_rng(seed)
    out: list[Any] = []
    pos = 0
    while pos < x.shape[-1]:
        k = min(x.shape[-1] - pos, int(np.exp(rng.uniform(0, np.log(0.3 * rate)))))
        piece = x[..., pos : pos + k]
        kind = rng.integers(6)
        if kind == 0:
            out.append((np.ascontiguousarray(piece), rate))
        elif kind == 1:
            out.append(AudioBuffer(piece, rate))  # a view of a 2-D array: rows not contiguous
        elif kind == 2:
            out.append(AudioBuffer(np.ascontiguousarray(piece), rate, {"take": len(out), "start_sample": -1}))
        else:
            out.append(AudioBuffer(np.ascontiguousarray(piece), rate))
        pos += k
    return out


def expect_short_path(runtime_env: tuple[str, Any], s: StreamSession) -> None:
    """The short path is armed exactly on the cython binding (after the first chunk)."""
    armed = s._pusher is not None and s._pusher.armed
    assert armed == (runtime_env[1] == "cython")


def assert_outputs_equal(got: list[Any], want: list[Any]) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        if b is None:
            assert a is None
            continue
        assert type(a) is AudioBuffer and a.sample_rate == b.sample_rate
        assert a.data.dtype == b.data.dtype and a.data.shape == b.data.shape
        np.testing.assert_array_equal(a.data, b.data)
        assert list(a.metadata) == list(b.metadata)  # the same keys, in the same order
        for key, value in b.metadata.items():
            if isinstance(value, np.ndarray):
                assert a.metadata[key].dtype == value.dtype
                np.testing.assert_array_equal(a.metadata[key], value)
            else:
                assert a.metadata[key] == value, key
        got_events, want_events = a.metadata.get("vad_events", []), b.metadata.get("vad_events", [])
        assert [(type(e), vars(e)) for e in got_events] == [(type(e), vars(e)) for e in want_events]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_short_path_equals_the_general_path_and_node_by_node(runtime_env: tuple[str, Any], seed: int) -> None:
    x = speechy(3.0, 48000, seed=seed)
    chunks = chunks_of(x, 48000, seed)
    p = pipeline_of(nodes_of())
    with p.open_stream() as fast, p.open_stream() as general:
        got, want = [], []
        for c in chunks:
            got.append(fast.push(c))
            want.append(StreamSession.push(general, c))
            if seed == 0:  # the position read between pushes (the short path counts in C until asked)
                assert fast.position == general.position
        expect_short_path(runtime_env, fast)
        assert fast.position == general.position
        assert fast.position.chunks == len(chunks) and fast.position.samples == x.shape[-1]
        got.append(fast.flush())
        want.append(general.flush())
    assert_outputs_equal(got, want)
    done = [o for o in got if o is not None]
    starts = np.cumsum([0] + [o.frames for o in done])
    assert [o.metadata["start_sample"] for o in done] == starts[:-1].tolist()
    joined = collect(done)
    ref = by_nodes_stream(nodes_of(), chunks, kernels.get())
    assert joined is not None and ref is not None
    np.testing.assert_array_equal(joined.data, ref.data)
    np.testing.assert_array_equal(joined.metadata["vad_flags"], ref.metadata["vad_flags"])
    assert joined.metadata["vad_events"] == ref.metadata["vad_events"]
    assert joined.metadata["vad_segments"] == ref.metadata["vad_segments"]
    assert len(joined.metadata["vad_events"]) >= 2  # speech starts and ends inside the stream


def test_every_kind_of_chunk_gives_what_the_general_path_gives(runtime_env: tuple[str, Any]) -> None:
    # Tuples and buffers the short path takes, and the ones it hands to the general path
    # (numpy or float rates, lists, byte-swapped or non-contiguous arrays, bad shapes and rates).
    x = speechy(0.1, 48000)
    frame = np.ascontiguousarray(x[:, 960:1920])
    kinds: list[Any] = [
        (frame, 48000),
        (frame, np.int64(48000)),
        (frame, 48000.0),
        [frame, 48000],
        (frame.astype(">i2"), 48000),
        (x[:, 960:1920], 48000),
        AudioBuffer(frame, 48000, {"k": 1}),
        (np.ascontiguousarray(frame.T), 48000),
        (frame, True),
        (frame, 44100),
        (frame[:1], 48000),
        (frame,),
        frame,
    ]
    p = pipeline_of(nodes_of())
    for chunk in kinds:
        results = []
        for push in (lambda s, c: s.push(c), StreamSession.push):
            with p.open_stream() as s:
                push(s, AudioBuffer(np.ascontiguousarray(x[:, :960]), 48000))
                try:
                    results.append((push(s, chunk), s.position))
                except Exception as exc:  # the same error either way
                    results.append((type(exc), str(exc)))
        (a, pos_a), (b, pos_b) = results
        if isinstance(a, type):
            assert (a, pos_a) == (b, pos_b), chunk
        else:
            assert_outputs_equal([a], [b])
            assert pos_a == pos_b


def test_short_path_outputs_are_new_arrays_and_dicts(runtime_env: tuple[str, Any]) -> None:
    x = speechy(0.5, 48000)
    p = pipeline_of(nodes_of())
    frames = [AudioBuffer(np.ascontiguousarray(x[:, i : i + 960]), 48000) for i in range(0, x.shape[1], 960)]
    with p.open_stream() as s:
        outs = [s.push(f) for f in frames]
        expect_short_path(runtime_env, s)
    outs = [o for o in outs if o is not None]
    assert len({id(o.data) for o in outs}) == len(outs)
    assert len({id(o.metadata) for o in outs}) == len(outs)
    assert len({id(o.metadata["vad_events"]) for o in outs}) == len(outs)
    assert all(not np.shares_memory(a.data, b.data) for a, b in itertools.pairwise(outs))
    assert all(f.metadata == {} for f in frames)  # the input buffers are left alone


def test_mono_input_and_a_vad_only_chain(runtime_env: tuple[str, Any]) -> None:
    # A 1-D stream, and a chain whose stages leave the audio as it is (the output is the input).
    x = speechy(1.5, 16000, channels=1, seed=4).astype(np.float32) / 32768
    for make in (lambda: nodes_of(), lambda: [FormatConverterNode("f32"), VADNode(20, 3)]):
        p = pipeline_of(make())
        chunks = [AudioBuffer(x[i : i + 321], 16000) for i in range(0, x.size, 321)]
        with p.open_stream() as fast, p.open_stream() as general:
            got = [fast.push(c) for c in chunks]
            want = [StreamSession.push(general, c) for c in chunks]
            expect_short_path(runtime_env, fast)
            got.append(fast.flush())
            want.append(general.flush())
        assert_outputs_equal(got, want)


def test_format_change_through_the_short_path_is_the_general_paths_error(runtime_env: tuple[str, Any]) -> None:
    x = speechy(0.2, 48000)
    p = pipeline_of(nodes_of())
    changes = [
        (AudioBuffer(np.ascontiguousarray(x[0]), 48000), r"node 'AudioResampleNode'.*2 ch at 48000 Hz to 1 ch"),
        (AudioBuffer(np.ascontiguousarray(x), 44100), r"node 'AudioResampleNode'.*to 2 ch at 44100 Hz"),
        (AudioBuffer(x.astype(np.float32) / 32768, 48000), r"node 'FormatConverterNode'.*\(float32, 2-D\)"),
    ]
    for bad, message in changes:
        with p.open_stream() as s:
            s.push(AudioBuffer(np.ascontiguousarray(x[:, :960]), 48000))
            expect_short_path(runtime_env, s)
            with pytest.raises(NodeValueError, match=message) as err:
                s.push(bad)
            assert "stream chunk 1" in str(err.value)
            with pytest.raises(RuntimeError, match="is closed"):  # a failure closes the session
                s.push(AudioBuffer(np.ascontiguousarray(x[:, :960]), 48000))
            assert s._pusher is None or not s._pusher.armed


def test_ended_sessions_refuse_pushes_on_every_path(runtime_env: tuple[str, Any]) -> None:
    x = speechy(0.2, 48000)
    frame = AudioBuffer(np.ascontiguousarray(x[:, :960]), 48000)
    p = pipeline_of(nodes_of())
    s = p.open_stream()
    push = s.push  # bound before anything: a callback would keep this
    push(frame)
    expect_short_path(runtime_env, s)
    assert s.flush() is not None
    for call in (push, s.push, lambda c: StreamSession.push(s, c)):
        with pytest.raises(RuntimeError, match="is flushed"):
            call(frame)
    s = p.open_stream()
    push = s.push
    push(frame)
    s.close()
    with pytest.raises(RuntimeError, match="is closed"):
        push(frame)


def test_a_bound_push_keeps_its_session_and_a_dropped_one_is_closed(runtime_env: tuple[str, Any]) -> None:
    x = speechy(0.2, 48000)
    frame = AudioBuffer(np.ascontiguousarray(x[:, :960]), 48000)
    p = pipeline_of(nodes_of())
    s = p.open_stream()
    push = s.push
    push(frame)
    alive = weakref.ref(s)
    subs = s._stages[0].subs  # the nodes' bound states
    del s  # push holds the session, as a bound method does: the stream goes on
    assert push(frame) is not None
    del push
    gc.collect()  # nothing holds the session any more: it is collected and closed
    assert alive() is None
    assert all(sub.closed for sub in subs)


def test_native_failure_through_the_short_path_fails_and_closes_the_session(runtime_env: tuple[str, Any]) -> None:
    if runtime_env[0] != "rust":
        pytest.skip("native-core behaviour (the debug panic hook)")
    x = speechy(0.2, 48000)
    p = pipeline_of(nodes_of())
    with p.open_stream() as s:
        s.push(AudioBuffer(np.ascontiguousarray(x[:, :960]), 48000))
        expect_short_path(runtime_env, s)
        s._stages[0]._chain.debug_fail(2)  # a real Rust panic in the resampler stage
        with pytest.raises(NodeError, match=r"node 'FormatConverterNode'.*stream chunk 1") as err:
            s.push(AudioBuffer(np.ascontiguousarray(x[:, 960:1920]), 48000))
        assert isinstance(err.value.__cause__, NativeKernelError)
        assert s.position.chunks == 1  # the failed chunk is not counted
        with pytest.raises(RuntimeError, match="is closed"):
            s.push(AudioBuffer(np.ascontiguousarray(x[:, 1920:2880]), 48000))
    with p.open_stream() as s:  # the pipeline is fine
        assert s.push(AudioBuffer(np.ascontiguousarray(x), 48000)) is not None


def test_sessions_that_are_not_one_tracking_chain_keep_the_general_path(runtime_env: tuple[str, Any]) -> None:
    x = speechy(0.3, 48000)
    frame = AudioBuffer(np.ascontiguousarray(x[:, :960]), 48000)
    timed = Pipeline("timed", enable_metrics=True)  # metrics on: the chain records stage times, no short path
    for n in nodes_of():
        timed.add_node(n)
    filtering = pipeline_of(nodes_of(mode="filter"))  # the VAD keeps audio: the node tracks the segments
    for p in (timed, filtering):
        with p.open_stream() as s:
            s.push(frame)
            assert s._pusher is None or not s._pusher.armed
            assert s.push(frame) is not None or p is filtering
