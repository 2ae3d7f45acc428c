"""Graphs: DAG wiring, checks with clear errors, concurrency, fan-out/fan-in, size."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import pytest

from remotemedia import Node, Pipeline
from remotemedia.core.errors import CycleError, GraphError
from remotemedia.nodes import FormatConverterNode


class Add(Node):
    """Adds ``k`` to a number (sums the inputs of a fan-in first)."""

    def __init__(self, k: int = 1, name: str | None = None) -> None:
        super().__init__(name=name)
        self.k = k

    def process(self, data: Any) -> Any:
        if isinstance(data, dict):
            data = sum(data.values())
        return data + self.k


class Sleep(Node):
    def __init__(self, seconds: float = 0.2, name: str | None = None) -> None:
        super().__init__(name=name)
        self.seconds = seconds

    def process(self, data: Any) -> Any:
        time.sleep(self.seconds)
        return data


class AsyncSleep(Sleep):
    async def process(self, data: Any) -> Any:
        await asyncio.sleep(self.seconds)
        return data


class Record(Node):
    def __init__(self, name: str | None = None) -> None:
        super().__init__(name=name)
        self.seen: list[Any] = []

    def process(self, data: Any) -> Any:
        self.seen.append(data)
        return data


def test_add_node_chains_and_returns_the_pipeline() -> None:
    p = Pipeline()
    assert p.add_node(Add(1, name="a")) is p
    p.add_node(Add(10, name="b")).add_node(Add(100, name="c"))
    assert p.graph.edges == [("a", "b"), ("b", "c")]
    assert p.run_sync(0) == 111


def test_automatic_names_are_unique() -> None:
    p = Pipeline().add_node(Add()).add_node(Add()).add_node(Add())
    assert [n.name for n in p.nodes] == ["Add", "Add_1", "Add_2"]


def test_duplicate_explicit_id() -> None:
    p = Pipeline().add_node(Add(name="x"))
    with pytest.raises(GraphError, match=r"duplicate node id 'x': already used by 'x' \(Add\)"):
        p.add_node(Add(name="x"))


def test_unknown_id_in_connect() -> None:
    p = Pipeline().add_node(Add(name="a"))
    with pytest.raises(GraphError, match=r"connect\(\) target: unknown node id 'zz' \(known ids: a\)"):
        p.connect("a", "zz")


def test_dangling_connection() -> None:
    p = Pipeline().add_node(Add(name="a")).add_node(Add(name="b"))
    p.graph.edges.append(("b", "ghost"))
    with pytest.raises(GraphError, match=r"connection 1 \('b' -> 'ghost'\) is dangling: no node has id 'ghost'"):
        p.run_sync(0)


def test_cycle_is_reported_with_its_ids() -> None:
    p = Pipeline().add_node(Add(name="src")).add_node(Add(name="a")).add_node(Add(name="b")).add_node(Add(name="c"))
    p.connect("c", "a")
    with pytest.raises(CycleError, match="cycle: a -> b -> c -> a") as info:
        p.run_sync(0)
    assert info.value.cycle == ["a", "b", "c"]


def test_self_loop() -> None:
    p = Pipeline().add_node(Add(name="a"))
    with pytest.raises(CycleError, match="a -> a"):
        p.connect("a", "a")


def test_node_without_path_to_an_output() -> None:
    p = Pipeline().add_node(Add(name="a")).add_node(Add(name="b"))
    p.connect("a", Add(name="side"))
    p.set_outputs("b")
    with pytest.raises(GraphError, match=r"node\(s\) 'side' have no path to an output \(b\)"):
        p.run_sync(0)


def test_empty_pipeline() -> None:
    with pytest.raises(GraphError, match="the pipeline has no nodes"):
        Pipeline().run_sync(0)


def test_independent_branches_run_concurrently() -> None:
    p = Pipeline().add_node(Add(0, name="src"))
    p.connect("src", Sleep(0.3, name="left")).connect("src", Sleep(0.3, name="right"))
    t0 = time.perf_counter()
    out = p.run_sync(1)
    elapsed = time.perf_counter() - t0
    assert out == {"left": 1, "right": 1}
    assert elapsed < 0.5, f"two 0.3 s branches took {elapsed:.2f} s: they did not overlap"


def test_async_branches_run_concurrently() -> None:
    p = Pipeline()
    p.connect(AsyncSleep(0.3, name="a"), Add(0, name="join"))
    p.connect(AsyncSleep(0.3, name="b"), "join")
    t0 = time.perf_counter()
    assert p.run_sync(2) == 4
    assert time.perf_counter() - t0 < 0.5


def test_fan_out_shares_the_same_object(runtime_env: tuple[str, str | None]) -> None:
    left, right = Record(name="left"), Record(name="right")
    p = Pipeline().add_node(FormatConverterNode("f32", name="conv"))
    p.connect("conv", left).connect("conv", right)
    out = p.run_sync((np.zeros(16, np.int16), 16000))
    assert left.seen[0] is right.seen[0]
    assert out["left"] is out["right"]


def test_fan_in_gets_inputs_by_upstream_name() -> None:
    sink = Record(name="join")
    p = Pipeline().add_node(Add(0, name="src"))
    p.connect("src", Add(1, name="plus1")).connect("src", Add(2, name="plus2"))
    p.connect("plus1", sink).connect("plus2", sink)
    p.run_sync(10)
    assert sink.seen == [{"plus1": 11, "plus2": 12}]


def test_several_sinks_return_a_dict_and_data_goes_to_every_source() -> None:
    p = Pipeline().add_node(Add(1, name="a"))
    p.add_node(Add(2, name="b"))
    p.connect(Add(5, name="other_source"), Add(0, name="other_sink"))
    assert p.run_sync(1) == {"b": 4, "other_sink": 6}


def test_outputs_pick_what_run_returns() -> None:
    p = Pipeline().add_node(Add(1, name="a")).add_node(Add(2, name="b")).set_outputs("a", "b")
    assert p.run_sync(0) == {"a": 1, "b": 3}


def test_hundred_node_pipeline() -> None:
    p = Pipeline()
    for _ in range(100):
        p.add_node(Add(1))
    assert len(p) == 100
    assert p.run_sync(0) == 100


def test_hundred_node_dag_with_diamonds() -> None:
    p = Pipeline().add_node(Add(0, name="n0"))
    prev = "n0"
    for i in range(33):
        a, b, j = Add(1, name=f"a{i}"), Add(1, name=f"b{i}"), Add(0, name=f"j{i}")
        p.connect(prev, a).connect(prev, b).connect(a, j).connect(b, j)
        prev = j.name
    assert len(p) == 100
    # each diamond doubles (x + 1) + (x + 1): x -> 2x + 2
    x = 0
    for _ in range(33):
        x = 2 * x + 2
    assert p.run_sync(0) == x


def test_execution_order_respects_edges() -> None:
    p = Pipeline(enable_metrics=True)
    p.connect(Add(name="c"), Add(name="d"))
    p.connect(Add(name="a"), "c")
    p.run_sync(0)
    order = p.get_metrics()["execution_order"]
    assert order.index("a") < order.index("c") < order.index("d")


def test_async_with_initializes_and_cleans_up() -> None:
    events: list[str] = []

    class Life(Add):
        async def initialize(self) -> None:
            events.append(f"init {self.name}")

        async def cleanup(self) -> None:
            events.append(f"cleanup {self.name}")

    async def main() -> Any:
        p = Pipeline().add_node(Life(name="x")).add_node(Life(name="y"))
        async with p:
            r1 = await p.run(1)
            r2 = await p.run(2)
        return r1, r2

    assert asyncio.run(main()) == (3, 4)
    assert events == ["init x", "init y", "cleanup x", "cleanup y"]


async def test_run_sync_refuses_inside_an_event_loop() -> None:
    with pytest.raises(RuntimeError, match=r"use `await pipeline.run\(\)`"):
        Pipeline().add_node(Add()).run_sync(0)


def test_concurrent_sync_nodes_run_in_the_given_executor() -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    class Where(Node):
        def process(self, data: Any) -> Any:
            time.sleep(0.01)
            return threading.current_thread().name

    with ThreadPoolExecutor(2, thread_name_prefix="rm-test-pool") as pool:
        p = Pipeline(executor=pool).add_node(Add(0, name="src"))
        p.connect("src", Where(name="x")).connect("src", Where(name="y"))
        out = p.run_sync(0)
    assert out["x"].startswith("rm-test-pool") and out["y"].startswith("rm-test-pool")


def test_linear_pipeline_runs_inline_on_the_loop_thread() -> None:
    import threading

    class Where(Node):
        def process(self, data: Any) -> Any:
            return threading.current_thread() is threading.main_thread()

    assert Pipeline().add_node(Add(0)).add_node(Where()).run_sync(0) is True
