"""Pipeline.stream() never hangs and never leaks, whatever a node does.

- An async node whose call raises CancelledError (not a NodeError), and a
  flush output the machinery cannot stamp (sample rate 0), reach the
  consumer as NodeErrors naming the node; before, the node task died
  silently and the consumer waited forever.
- A consumer that breaks out early leaves no sink temporary file, even
  when it never closes the generator (the event loop's shutdown cancels the
  node tasks, and each closes its own state).

The asyncio.wait_for bounds only turn a hang into a failure; no timing is asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from remotemedia import AudioBuffer, Node, NodeError, Pipeline
from remotemedia.nodes import AudioFileSink, AudioResampleNode, FormatConverterNode

HANG_GUARD_S = 60.0


def _chunks(n: int, rate: int = 48000, frames: int = 4800) -> list[tuple[np.ndarray, int]]:
    rng = np.random.default_rng(n)
    return [((0.1 * rng.standard_normal(frames)).astype(np.float32), rate) for _ in range(n)]


class CancelsItself(Node):
    """An async node whose own await is cancelled on its third chunk."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name=name)
        self.calls = 0

    async def process(self, data: Any) -> Any:
        self.calls += 1
        if self.calls == 3:
            inner = asyncio.get_running_loop().create_future()
            inner.cancel()
            await inner  # raises CancelledError inside the node
        return data


class ZeroRateFlush(Node):
    """Passes chunks on; its flush outputs a buffer claiming rate 0 (a node bug)."""

    def process_chunk(self, data: Any, state: Any, kernels: Any) -> Any:
        return AudioBuffer.from_any(data)

    def flush(self, state: Any, kernels: Any) -> Any:
        bad = AudioBuffer.__new__(AudioBuffer)
        bad.data, bad.sample_rate, bad.metadata = np.zeros(10, np.float32), 0, {}
        return bad


async def _drain(p: Pipeline, chunks: list) -> list:
    return [out async for out in p.stream(chunks)]


async def test_an_async_nodes_cancelled_error_fails_the_stream_naming_the_node() -> None:
    p = Pipeline("cancel")
    p.add_node(FormatConverterNode("f32")).add_node(CancelsItself(name="flaky"))
    with pytest.raises(NodeError) as info:
        await asyncio.wait_for(_drain(p, _chunks(6)), HANG_GUARD_S)
    msg = str(info.value)
    assert "node 'flaky' (CancelsItself) failed in process_chunk at stream chunk 2" in msg
    assert "CancelledError" in msg
    assert isinstance(info.value.__cause__, asyncio.CancelledError)
    # the pipeline streams again afterwards
    p2 = Pipeline("ok").add_node(FormatConverterNode("f32"))
    assert len(await asyncio.wait_for(_drain(p2, _chunks(2)), HANG_GUARD_S)) == 2


async def test_a_flush_output_with_rate_zero_fails_the_stream_naming_the_node(runtime_env: tuple[str, Any]) -> None:
    p = Pipeline("zero")
    p.add_node(AudioResampleNode(16000)).add_node(ZeroRateFlush(name="bad"))
    with pytest.raises(NodeError) as info:
        await asyncio.wait_for(_drain(p, _chunks(3)), HANG_GUARD_S)
    msg = str(info.value)
    assert "node 'bad' (ZeroRateFlush) failed in flush (passing its output on) at end of stream" in msg
    assert "sample rate 0" in msg and "need a rate > 0" in msg


def test_a_sync_session_names_the_node_whose_flush_output_has_rate_zero(runtime_env: tuple[str, Any]) -> None:
    p = Pipeline("zero-sync")
    p.add_node(AudioResampleNode(16000)).add_node(ZeroRateFlush(name="bad"))
    session = p.open_stream()
    for chunk in _chunks(3):
        session.push(chunk)
    with pytest.raises(NodeError) as info:
        session.flush()
    msg = str(info.value)
    assert "node 'bad' (ZeroRateFlush) failed in flush (passing its output on)" in msg
    assert "sample rate 0" in msg and "need a rate > 0" in msg
    with pytest.raises(RuntimeError, match="open a new one"):
        session.push(_chunks(1)[0])


class ZeroRateChunk(Node):
    """Outputs every chunk claiming rate 0 (a node bug)."""

    def process_chunk(self, data: Any, state: Any, kernels: Any) -> Any:
        bad = AudioBuffer.__new__(AudioBuffer)
        bad.data, bad.sample_rate, bad.metadata = AudioBuffer.from_any(data).data, 0, {}
        return bad


def test_a_sync_session_names_the_node_whose_chunk_has_rate_zero(runtime_env: tuple[str, Any]) -> None:
    p = Pipeline("zero-chunk")
    p.add_node(FormatConverterNode("f32")).add_node(ZeroRateChunk(name="bad"))
    session = p.open_stream()
    with pytest.raises(NodeError) as info:
        session.push(_chunks(1)[0])
    msg = str(info.value)
    assert "node 'bad' (ZeroRateChunk) failed in process_chunk at stream chunk 0" in msg
    assert "sample rate 0" in msg


def _two_sink_pipeline(path: Path) -> Pipeline:
    p = Pipeline("fanout")
    p.add_node(FormatConverterNode("f32", name="conv"))
    p.connect("conv", AudioFileSink(path, name="sink"))
    p.connect("conv", AudioResampleNode(16000, name="rs"))
    return p


def _leftovers(d: Path) -> list[str]:
    return sorted(f.name for f in d.iterdir())


def test_breaking_out_without_closing_leaves_no_temporary_file(tmp_path: Path, runtime_env: tuple[str, Any]) -> None:
    target = tmp_path / "out.wav"
    p = _two_sink_pipeline(target)
    seen: list[list[str]] = []

    async def consume() -> None:
        gen = p.stream(_chunks(40))
        n = 0
        async for sink, _chunk in gen:
            assert sink == "rs"
            n += 1
            if n == 3:
                break  # no aclose(); the generator is still referenced here
        seen.append(_leftovers(tmp_path))

    asyncio.run(consume())
    assert seen[0] and seen[0][0].startswith(".out.wav.")  # the sink was writing when we left
    assert _leftovers(tmp_path) == []  # nothing left once the loop has shut down


async def test_breaking_out_with_aclosing_removes_the_temporary_file_at_once(tmp_path: Path) -> None:
    p = _two_sink_pipeline(tmp_path / "out.wav")
    async with contextlib.aclosing(p.stream(_chunks(40))) as gen:
        n = 0
        async for _ in gen:
            n += 1
            if n == 3:
                break
        assert _leftovers(tmp_path) != []
    assert _leftovers(tmp_path) == []
