"""Retries, transient vs permanent errors, circuit breaker, error context."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from remotemedia import CircuitBreakerConfig, Node, NodeError, Pipeline, RetryPolicy, TransientError
from remotemedia.core.errors import CircuitOpenError, NodeCircuitOpenError, NodeValueError
from remotemedia.core.retry import CircuitBreaker

FAST = RetryPolicy(max_retries=3, initial_delay_ms=1, multiplier=2)


class Flaky(Node):
    """Fails ``failures`` times with ``exc`` then returns its input."""

    def __init__(self, failures: int = 0, exc: type[Exception] = TransientError, name: str | None = None) -> None:
        super().__init__(name=name)
        self.failures = failures
        self.exc = exc
        self.calls = 0

    def process(self, data: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.exc(f"failure {self.calls}")
        return data


def test_default_policy_is_three_retries_after_100_200_400_ms() -> None:
    policy = RetryPolicy()
    assert policy.max_retries == 3
    assert [policy.delay_s(i) for i in (1, 2, 3)] == [0.1, 0.2, 0.4]
    assert Pipeline().retry == policy


def test_transient_errors_are_retried_until_success() -> None:
    node = Flaky(2)
    p = Pipeline(retry=FAST, enable_metrics=True).add_node(node)
    assert p.run_sync("x") == "x"
    assert node.calls == 3
    stats = p.get_metrics()["nodes"]["Flaky"]
    assert (stats["retries"], stats["errors"], stats["calls"]) == (2, 2, 1)


def test_retries_wait_with_exponential_backoff() -> None:
    node = Flaky(3)
    p = Pipeline(retry=RetryPolicy(initial_delay_ms=20, multiplier=2)).add_node(node)
    t0 = time.perf_counter()
    p.run_sync(1)
    assert time.perf_counter() - t0 >= 0.02 + 0.04 + 0.08


def test_retries_are_exhausted_then_the_error_names_everything() -> None:
    node = Flaky(10, name="flaky")
    p = Pipeline("ingest", retry=FAST).add_node(node)
    with pytest.raises(NodeError) as info:
        p.run_sync(1)
    err = info.value
    assert (err.pipeline, err.node_id, err.node_type, err.operation, err.attempts) == (
        "ingest",
        "flaky",
        "Flaky",
        "process",
        4,
    )
    assert isinstance(err.__cause__, TransientError) and str(err.__cause__) == "failure 4"
    assert str(err) == (
        "pipeline 'ingest': node 'flaky' (Flaky) failed in process after 4 attempts: TransientError: failure 4"
    )
    assert node.calls == 4


@pytest.mark.parametrize("exc", [ValueError, TypeError, RuntimeError, KeyError])
def test_permanent_errors_are_never_retried(exc: type[Exception]) -> None:
    node = Flaky(1, exc)
    with pytest.raises(NodeError, match="after 1 attempt: ") as info:
        Pipeline(retry=FAST).add_node(node).run_sync(1)
    assert node.calls == 1
    assert type(info.value.__cause__) is exc
    if exc in (ValueError, TypeError):
        assert isinstance(info.value, exc), "input errors keep their builtin type through the pipeline"


def test_node_policy_overrides_the_pipeline_policy() -> None:
    strict = Flaky(1)
    strict.retry = RetryPolicy(max_retries=0)
    with pytest.raises(NodeError, match="after 1 attempt"):
        Pipeline(retry=FAST).add_node(strict).run_sync(1)


def test_retry_policy_validation() -> None:
    with pytest.raises(ValueError, match="max_retries must be an integer >= 0, got -1"):
        RetryPolicy(max_retries=-1)


def test_circuit_opens_after_five_consecutive_failures_and_fails_fast() -> None:
    node = Flaky(100, RuntimeError, name="bad")
    p = Pipeline("svc", circuit_breaker=CircuitBreakerConfig(reset_timeout_s=60)).add_node(node)
    for _ in range(5):
        with pytest.raises(NodeError) as info:
            p.run_sync(1)
        assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(NodeCircuitOpenError, match="circuit open after 5 consecutive failures") as info:
        p.run_sync(1)
    assert isinstance(info.value, CircuitOpenError)
    assert info.value.node_id == "bad"
    assert node.calls == 5, "an open circuit must not call the node"


def test_circuit_half_opens_after_the_cool_down() -> None:
    node = Flaky(5, RuntimeError)
    p = Pipeline(circuit_breaker=CircuitBreakerConfig(failure_threshold=5, reset_timeout_s=0.05)).add_node(node)
    for _ in range(5):
        with pytest.raises(NodeError):
            p.run_sync(1)
    with pytest.raises(NodeCircuitOpenError):
        p.run_sync(1)
    time.sleep(0.06)
    assert p.run_sync(7) == 7  # the trial call succeeds and closes the circuit
    assert p._breakers["Flaky"].state == "closed"


def test_failed_trial_reopens() -> None:
    now = [0.0]
    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=2, reset_timeout_s=10), clock=lambda: now[0])
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure(RuntimeError())
    assert breaker.state == "open"
    now[0] = 10.0
    breaker.before_call()
    assert breaker.state == "half_open"
    breaker.record_failure(RuntimeError())
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError):
        breaker.before_call()


def test_breaker_counts_calls_not_retry_attempts() -> None:
    node = Flaky(100)
    p = Pipeline(retry=RetryPolicy(max_retries=6, initial_delay_ms=0.1)).add_node(node)
    with pytest.raises(NodeError, match="after 7 attempts"):
        p.run_sync(1)  # 7 failed attempts are one failed call: retries are not cut short
    for _ in range(4):
        with pytest.raises(NodeError):
            p.run_sync(1)
    assert node.calls == 35
    with pytest.raises(NodeCircuitOpenError, match=r"after 0 attempts \(not called\)") as info:
        p.run_sync(1)
    assert info.value.attempts == 0
    assert node.calls == 35


def test_input_errors_do_not_open_the_breaker() -> None:
    node = Flaky(100, ValueError)
    p = Pipeline().add_node(node)
    for _ in range(7):
        with pytest.raises(NodeValueError):
            p.run_sync(1)
    assert node.calls == 7


def test_success_resets_the_failure_count() -> None:
    node = Flaky(4, RuntimeError)
    p = Pipeline().add_node(node)
    for _ in range(4):
        with pytest.raises(NodeError):
            p.run_sync(1)
    assert p.run_sync(2) == 2
    assert p._breakers["Flaky"].failures == 0


def test_initialize_errors_name_the_operation() -> None:
    class Broken(Node):
        async def initialize(self) -> None:
            raise OSError("device busy")

        def process(self, data: Any) -> Any:
            return data

    with pytest.raises(NodeError, match=r"node 'Broken' \(Broken\) failed in initialize after 1 attempt") as info:
        Pipeline("dev").add_node(Broken()).run_sync(1)
    assert info.value.operation == "initialize"
    assert isinstance(info.value.__cause__, OSError)


def test_failing_branch_cancels_its_sibling() -> None:
    class Slow(Node):
        async def process(self, data: Any) -> Any:
            await asyncio.sleep(5)
            return data

    p = Pipeline().add_node(Flaky(0, name="src"))
    p.connect("src", Flaky(1, RuntimeError, name="boom")).connect("src", Slow(name="slow"))
    t0 = time.perf_counter()
    with pytest.raises(NodeError, match="'boom'"):
        p.run_sync(1)
    assert time.perf_counter() - t0 < 1
