"""Metrics: fields, counts, runtimes, memory, JSON export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from remotemedia import Node, Pipeline
from remotemedia.nodes import FormatConverterNode

NODE_FIELDS = {
    "node_type",
    "runtime",
    "binding",
    "calls",
    "total_us",
    "mean_us",
    "min_us",
    "max_us",
    "errors",
    "retries",
    "fallbacks",
    "peak_memory_bytes",
}


class Alloc(Node):
    """Allocates ``nbytes`` bytes (a numpy array) and returns its input."""

    def __init__(self, nbytes: int = 0, name: str | None = None) -> None:
        super().__init__(name=name)
        self.nbytes = nbytes

    def process(self, data: Any) -> Any:
        buf = np.ones(self.nbytes, np.uint8)
        assert buf.sum() == self.nbytes
        return data


def _pipeline(**kw: Any) -> Pipeline:
    return (
        Pipeline("m", enable_metrics=True, **kw)
        .add_node(FormatConverterNode("f32", name="to_f32"))
        .add_node(FormatConverterNode("i16", name="to_i16"))
        .add_node(FormatConverterNode("f32", name="back"))
    )


def test_fields_counts_and_order(runtime_env: tuple[str, str | None]) -> None:
    p = _pipeline()
    x = (np.zeros((2, 4800), np.int16), 48000)
    for _ in range(3):
        p.run_sync(x)
    m = p.get_metrics()
    assert json.loads(json.dumps(m)) == m
    assert m["pipeline"] == "m" and m["runs"] == 3
    assert m["execution_order"] == ["to_f32", "to_i16", "back"]
    assert set(m["nodes"]) == {"to_f32", "to_i16", "back"}
    node_sum = 0.0
    for stats in m["nodes"].values():
        assert set(stats) == NODE_FIELDS
        assert stats["node_type"] == "FormatConverterNode"
        assert (stats["runtime"], stats["binding"]) == runtime_env
        assert stats["calls"] == 3 and stats["errors"] == 0 and stats["retries"] == 0
        assert 0 < stats["min_us"] <= stats["mean_us"] <= stats["max_us"]
        assert stats["mean_us"] == pytest.approx(stats["total_us"] / 3)
        assert stats["peak_memory_bytes"] is None
        node_sum += stats["total_us"]
    assert m["total_us"] >= node_sum


def test_metrics_off_by_default() -> None:
    p = Pipeline().add_node(FormatConverterNode())
    with pytest.raises(RuntimeError, match="created without enable_metrics=True"):
        p.get_metrics()


def test_peak_memory_with_tracemalloc() -> None:
    p = (
        Pipeline(enable_metrics=True, track_memory=True)
        .add_node(Alloc(0, name="small"))
        .add_node(Alloc(4_000_000, name="big"))
    )
    p.run_sync(1)
    nodes = p.get_metrics()["nodes"]
    assert p.get_metrics()["memory_tracking"] == "tracemalloc"
    assert nodes["big"]["peak_memory_bytes"] >= 4_000_000
    assert nodes["small"]["peak_memory_bytes"] < 100_000


def test_json_export(tmp_path: Path, runtime_env: tuple[str, str | None]) -> None:
    p = _pipeline()
    p.run_sync((np.zeros(480, np.int16), 48000))
    path = tmp_path / "metrics.json"
    text = p.export_metrics(path)
    assert json.loads(path.read_text()) == json.loads(text) == p.get_metrics()


def test_custom_nodes_report_python() -> None:
    p = Pipeline(enable_metrics=True).add_node(Alloc(1, name="a"))
    p.run_sync(0)
    assert (p.get_metrics()["nodes"]["a"]["runtime"], p.get_metrics()["nodes"]["a"]["binding"]) == ("python", None)
