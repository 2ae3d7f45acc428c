"""Stateful kernel objects used from two threads: an error, never corrupted state.

One object (Resampler, VAD) serves one call at a time on every body; a call
made while another thread is inside raises ConcurrentUseError (the public
classes) or, on a raw binding handle, ValueError "used from two threads at
once" (the native core's own check). The worker thread's results must equal
a single-threaded run: the refused calls change nothing.

Each test runs a long call in one thread while another keeps calling into
the same object until the long call returns, and repeats until a refusal
has been seen (bounded): with the GIL released by the kernels the overlap
comes within a few tries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from remotemedia import runtime
from remotemedia._bindings.abi import QUALITY_CODES
from remotemedia.errors import ConcurrentUseError

ATTEMPTS = 200
# Seconds of audio in the long call: long enough (tens of ms) that the poking
# thread gets scheduled during it even on a heavily loaded machine.
NATIVE_S = {"resample": 40.0, "vad": 120.0}
PYTHON_S = {"resample": 4.0, "vad": 6.0}


def _seconds(ks: Any, kernel: str) -> float:
    return (PYTHON_S if ks.name == "python" else NATIVE_S)[kernel]


def _signal(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 0.7 * t)) + 0.05 * rng.standard_normal(t.size)
    return x.astype(np.float32)


class _LongCallRefused(Exception):
    """The poking thread got in first and the long call was the one refused (also correct)."""


def _overlap(long_call: Callable[[], Any], poke: Callable[[], Any], refused: type[BaseException]) -> tuple[Any, list]:
    """Run ``long_call`` in a thread while this thread calls ``poke`` until it returns.

    Returns the long call's result and what each poke gave (a value or the
    refusal). When the long call itself is refused (a poke was inside at
    that instant), raises _LongCallRefused: the attempt is repeated.
    """
    result: dict[str, Any] = {}
    started = threading.Event()

    def worker() -> None:
        started.set()
        try:
            result["value"] = long_call()
        except BaseException as exc:  # reported to the main thread below
            result["error"] = exc

    t = threading.Thread(target=worker)
    t.start()
    started.wait()
    seen: list[Any] = []
    while t.is_alive():
        try:
            seen.append(poke())
        except refused as exc:
            seen.append(exc)
    t.join()
    if "error" in result:
        if isinstance(result["error"], refused) and "two threads at once" in str(result["error"]):
            raise _LongCallRefused from result["error"]
        raise result["error"]
    return result["value"], seen


def _until_refused(run_once: Callable[[], list]) -> list:
    for _ in range(ATTEMPTS):
        try:
            seen = run_once()
        except _LongCallRefused:
            continue
        refusals = [s for s in seen if isinstance(s, BaseException)]
        if refusals:
            return refusals
    pytest.fail(f"no call was refused in {ATTEMPTS} overlapping runs: concurrent use is not detected")


def test_resampler_delay_during_process_is_refused_and_results_are_intact(ks):
    x = _signal(_seconds(ks, "resample"), 48000)
    ref = ks.Resampler(48000, 16000, 1, "high")
    expected = ref.process(x)
    delay_after = ref.delay

    def run_once() -> list:
        r = ks.Resampler(48000, 16000, 1, "high")
        out, seen = _overlap(lambda: r.process(x), lambda: r.delay, ConcurrentUseError)
        np.testing.assert_array_equal(out, expected)
        assert r.delay == delay_after
        for s in seen:
            assert isinstance(s, ConcurrentUseError) or s in (0, delay_after), s
        return seen

    refusals = _until_refused(run_once)
    assert "Resampler.delay: used from two threads at once" in str(refusals[0])
    assert isinstance(refusals[0], RuntimeError)


def test_vad_process_from_two_threads_is_refused_and_flags_are_intact(ks):
    x = _signal(_seconds(ks, "vad"), 16000, seed=1)
    small = x[:160].copy()
    expected = ks.VAD(16000, 10, 2).process(x)

    def run_once() -> list:
        v = ks.VAD(16000, 10, 2)
        flags, seen = _overlap(lambda: v.process(x), lambda: v.process(small), ConcurrentUseError)
        accepted = [s for s in seen if not isinstance(s, BaseException)]
        if not accepted:
            np.testing.assert_array_equal(flags, expected)  # the refused calls changed nothing
        return seen

    refusals = _until_refused(run_once)
    assert "VAD.process: used from two threads at once" in str(refusals[0])


def test_vad_reset_during_process_is_refused(ks):
    x = _signal(_seconds(ks, "vad"), 16000, seed=2)
    expected = ks.VAD(16000, 30, 3).process(x)

    def run_once() -> list:
        v = ks.VAD(16000, 30, 3)
        flags, seen = _overlap(lambda: v.process(x), v.reset, ConcurrentUseError)
        if all(isinstance(s, BaseException) for s in seen):
            np.testing.assert_array_equal(flags, expected)
        return seen

    refusals = _until_refused(run_once)
    assert "VAD.reset" in str(refusals[0])


def _binding(ks: Any) -> Any:
    module, reason = runtime.load_binding(ks.binding)
    assert module is not None, reason
    return module


def test_native_resampler_handle_refuses_a_second_thread(native_ks):
    """The core's own busy flag: the raw binding handle, no Python guard in between."""
    b = _binding(native_ks)
    x = _signal(NATIVE_S["resample"], 48000).reshape(1, -1)
    ref = b.Resampler(48000, 16000, 1, QUALITY_CODES["high"])
    expected = np.empty((1, ref.output_frames(x.shape[1])), np.float32)
    n_expected = ref.process(x, expected)
    delay_after = ref.delay()

    def run_once() -> list:
        h = b.Resampler(48000, 16000, 1, QUALITY_CODES["high"])
        out = np.full((1, h.output_frames(x.shape[1])), np.nan, np.float32)
        n, seen = _overlap(lambda: h.process(x, out), h.delay, ValueError)
        assert n == n_expected  # the count written, not a delay read by the other thread
        np.testing.assert_array_equal(out, expected)
        for s in seen:
            assert isinstance(s, ValueError) or s in (0, delay_after), s
        return seen

    refusals = _until_refused(run_once)
    assert "resampler used from two threads at once" in str(refusals[0])


def test_native_vad_handle_refuses_a_second_thread(native_ks):
    b = _binding(native_ks)
    x = _signal(NATIVE_S["vad"], 16000, seed=3)
    ref = b.Vad(16000, 10, 2)
    expected = np.empty(x.size // ref.frame_length, np.uint8)
    k_expected = ref.process(x, expected)

    def run_once() -> list:
        h = b.Vad(16000, 10, 2)
        out = np.full(x.size // h.frame_length, 7, np.uint8)
        k, seen = _overlap(lambda: h.process(x, out), lambda: h.buffered, ValueError)
        assert k == k_expected
        np.testing.assert_array_equal(out, expected)
        return seen

    refusals = _until_refused(run_once)
    assert "VAD used from two threads at once" in str(refusals[0])


def test_separate_objects_run_in_parallel_without_refusals(ks):
    """The rule is per object: two threads with their own objects never collide."""
    x = _signal(2.0, 48000, seed=4)
    expected = ks.Resampler(48000, 16000, 1, "medium").process(x)
    outs: list[np.ndarray] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            r = ks.Resampler(48000, 16000, 1, "medium")
            outs.append(r.process(x))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for o in outs:
        np.testing.assert_array_equal(o, expected)
