"""Channels on threads in native chains, and the thread setting.

A native chain runs the per-channel stages of a big block (32768 frames
or more, two or more channels) one channel per thread. Whatever the
setting (``Pipeline(threads=...)``, ``REMOTEMEDIA_THREADS``, the default)
the results must be the node-by-node path's bits, for whole buffers and
for streams cut at random; on the numpy body the setting is accepted and
changes nothing. Every test runs on every body (``runtime_env``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from remotemedia import AudioBuffer, Node, Pipeline, kernels
from remotemedia.batch import runner
from remotemedia.core.chains import layout_of
from remotemedia.core.threads import ENV, resolve_threads
from remotemedia.nodes import AudioResampleNode, DownmixNode, FormatConverterNode, VADNode
from remotemedia.stream import collect
from test_chain import assert_same, by_nodes, by_nodes_stream, speechy

#: Frames from which the native chain starts threads (PARALLEL_MIN in rust/.../chain/mod.rs).
BIG = 32768

# Chains whose per-channel prefix runs on threads (no downmix before the
# resampler), every stage mode, and one that downmixes first (no threads).
CONFIGS: dict[str, tuple[Callable[[], list[Node]], Callable[[], tuple[np.ndarray, int]]]] = {
    "f32-high-vad": (
        lambda: [FormatConverterNode("f32"), AudioResampleNode(16000), VADNode()],
        lambda: (speechy(2.0, 48000, seed=11), 48000),
    ),
    "int16-medium-to-i16-vad-filter-3ch": (
        lambda: [AudioResampleNode(16000, "medium"), FormatConverterNode("i16"), VADNode(20, 3, mode="filter")],
        lambda: (speechy(1.6, 44100, channels=3, seed=12), 44100),
    ),
    "very-high-up-to-i32": (
        lambda: [FormatConverterNode("f32"), AudioResampleNode(32000, "very_high"), FormatConverterNode("i32")],
        lambda: (speechy(1.0, 48000, seed=13), 48000),
    ),
    "low-8k-vad-10ms": (
        lambda: [FormatConverterNode("f32"), AudioResampleNode(8000, "low"), VADNode(10, 0)],
        lambda: (speechy(1.5, 48000, seed=14), 48000),
    ),
    "two-resamplers-vad": (
        lambda: [AudioResampleNode(32000, "high"), AudioResampleNode(16000, "medium"), VADNode(30, 1)],
        lambda: ((speechy(1.5, 48000, seed=15) / 32768.0).astype(np.float32), 48000),
    ),
    "downmix-first": (
        lambda: [FormatConverterNode("f32"), DownmixNode(), AudioResampleNode(16000), VADNode()],
        lambda: (speechy(1.5, 48000, seed=16), 48000),
    ),
}


def pipeline_of(nodes: list[Node], threads: int | None) -> Pipeline:
    p = Pipeline("threaded", enable_metrics=True, threads=threads)
    for n in nodes:
        p.add_node(n)
    return p


def mixed_chunks(x: np.ndarray, rate: int, seed: int, big_first: bool) -> list[tuple[np.ndarray, int]]:
    """Big blocks (over the threads' threshold) and small ones (real-time frames), shuffled."""
    rng = np.random.default_rng(seed)
    out, pos, n, i = [], 0, x.shape[-1], 0
    while pos < n:
        big = big_first if i == 0 else rng.random() < 0.4
        k = int(rng.integers(BIG, 2 * BIG)) if big else int(rng.integers(1, 5000))
        k = min(k, n - pos)
        out.append((np.ascontiguousarray(x[..., pos : pos + k]), rate))
        pos += k
        i += 1
    return out


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize("threads", [1, 2, 4, None])
def test_whole_buffer_gives_the_node_by_node_bits_for_every_thread_setting(
    runtime_env: tuple[str, Any], config: str, threads: int | None
) -> None:
    make, data = CONFIGS[config]
    nodes = make()
    x = data()
    assert x[0].shape[-1] >= BIG
    p = pipeline_of(nodes, threads)
    (cp,) = p.plan().chains.values()
    assert cp.threads == (threads or 0)
    want = by_nodes(nodes, x, kernels.get())
    assert_same(p.run_sync(x), want)
    assert_same(p.run_sync(x), want)  # the chain (and its lanes) reused
    m = p.get_metrics()["nodes"]
    assert [m[n.name]["runtime"] for n in nodes] == [runtime_env[0]] * len(nodes)
    assert all(m[n.name]["calls"] == 2 for n in nodes)


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize(("threads", "seed", "big_first"), [(2, 0, True), (2, 1, False), (3, 2, True), (None, 3, True)])
def test_stream_gives_the_node_by_node_bits_for_random_big_and_small_blocks(
    runtime_env: tuple[str, Any], config: str, threads: int | None, seed: int, big_first: bool
) -> None:
    make, data = CONFIGS[config]
    nodes = make()
    x, rate = data()
    chunks = mixed_chunks(x, rate, seed, big_first)
    p = pipeline_of(nodes, threads)
    with p.open_stream() as s:
        outs = [s.push(c) for c in chunks]
        outs.append(s.flush())
    got = collect([o for o in outs if o is not None])
    want = by_nodes_stream(nodes, chunks, kernels.get())
    assert got is not None and want is not None
    assert_same(got, want)
    with p.open_stream() as s:  # the chain again (reset by the flush): a new stream starts afresh
        outs = [s.push(c) for c in chunks[:3]]
        outs.append(s.flush())
    got = collect([o for o in outs if o is not None])
    want = by_nodes_stream(nodes, chunks[:3], kernels.get())
    assert got is not None and want is not None
    assert_same(got, want)


def test_native_panic_in_a_channel_thread_reruns_the_chain_in_python(
    runtime_env: tuple[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    if runtime_env[0] != "rust":
        pytest.skip("native-core behaviour (a Rust panic in a chain's worker thread)")
    make, data = CONFIGS["f32-high-vad"]
    nodes = make()
    x = data()
    p = pipeline_of(nodes, 2)
    (cp,) = p.plan().chains.values()
    chain = cp.chain_for(layout_of(AudioBuffer(*x)))
    assert chain is not None
    chain.debug_fail(1)  # the resampler, whose lanes the channel threads share
    cp.release(chain)
    with caplog.at_level(logging.WARNING, logger="remotemedia.pipeline"):
        got = p.run_sync(x)
    warnings = [r.message for r in caplog.records if "failed internally" in r.message]
    assert len(warnings) == 1 and "Rust panic" in warnings[0] and "deliberate panic in chain stage 1" in warnings[0]
    python = by_nodes(nodes, x, kernels.get("python"))
    np.testing.assert_allclose(got.data, python.data, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(got.metadata["vad_flags"], python.metadata["vad_flags"])
    assert_same(p.run_sync(x), by_nodes(nodes, x, kernels.get()))  # native again, exact


def test_environment_variable_sets_the_threads_when_the_pipeline_does_not(
    runtime_env: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    make, data = CONFIGS["f32-high-vad"]
    x = data()
    want = by_nodes(make(), x, kernels.get())
    for value, expect in (("1", 1), ("3", 3), ("auto", 0), ("", 0)):
        monkeypatch.setenv(ENV, value)
        p = pipeline_of(make(), None)
        (cp,) = p.plan().chains.values()
        assert cp.threads == expect
        assert_same(p.run_sync(x), want)
    monkeypatch.setenv(ENV, "3")
    p = pipeline_of(make(), 2)  # the pipeline's own setting wins
    (cp,) = p.plan().chains.values()
    assert cp.threads == 2
    p.threads = 1  # re-planned with the new setting
    (cp,) = p.plan().chains.values()
    assert cp.threads == 1


@pytest.mark.parametrize("bad", ["0", "-2", "two", "1.5"])
def test_bad_environment_value_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv(ENV, bad)
    with pytest.raises(ValueError, match=rf"{ENV}={bad!r}: expected a positive integer .* or 'auto'"):
        resolve_threads(None)
    p = Pipeline("bad-env").add_node(FormatConverterNode("f32"))
    with pytest.raises(ValueError, match=ENV):
        p.run_sync((np.zeros(10, np.int16), 16000))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_pipeline_setting_is_a_clear_error(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"Pipeline 'p': threads must be a positive integer or None"):
        Pipeline("p", threads=bad)
    p = Pipeline("p")
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        p.threads = bad


def test_batch_workers_share_the_cores_and_use_one_thread_each_when_workers_fill_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr(runner, "usable_cores", lambda: 4)
    assert [runner.worker_threads(w) for w in (1, 2, 3, 4, 8)] == [4, 2, 1, 1, 1]
    monkeypatch.setattr(runner, "usable_cores", lambda: 2)
    assert [runner.worker_threads(w) for w in (1, 2, 5)] == [2, 1, 1]
    monkeypatch.setenv(ENV, "3")  # the variable decides (each worker's pipeline reads it)
    assert runner.worker_threads(2) is None
