"""run_batch from Python: any executor, retries when a worker dies, bad arguments."""

from __future__ import annotations

import concurrent.futures as cf
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from batch_helpers import make_collection, outputs
from remotemedia.batch import run_batch


class FlakyExecutor(cf.Executor):
    """A thread pool whose first attempt at every task dies like a killed worker."""

    def __init__(self) -> None:
        self.pool = cf.ThreadPoolExecutor(2)
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        key = args[0].relpath
        with self.lock:
            first = key not in self.seen
            self.seen.add(key)
        if first:
            broken: cf.Future[Any] = cf.Future()
            broken.set_exception(cf.BrokenExecutor("worker died (simulated)"))
            return broken
        return self.pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.pool.shutdown(wait=wait, cancel_futures=cancel_futures)


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("collection")
    make_collection(root, n_good=4, seconds=2.0)
    return root


@pytest.fixture(scope="module")
def reference(collection: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("reference")
    summary = run_batch([collection], "speech-16k", out, workers=1, progress="none")
    assert (summary.ok, summary.failed) == (4, 4)
    return outputs(out)


def same_outputs(out: Path, reference: dict[str, Any]) -> None:
    got = outputs(out)
    assert sorted(got) == sorted(reference)
    for key, (audio, rate, sidecar) in got.items():
        np.testing.assert_array_equal(audio, reference[key][0])
        assert rate == reference[key][1]
        assert sidecar["speech_segments"] == reference[key][2]["speech_segments"]


def test_any_executor_gives_the_same_results(collection: Path, reference: dict[str, Any], tmp_path: Path) -> None:
    with cf.ThreadPoolExecutor(3) as pool:
        summary = run_batch([collection], "speech-16k", tmp_path, executor=pool, progress="none")
    assert (summary.ok, summary.failed, summary.executor) == (4, 4, "ThreadPoolExecutor")
    same_outputs(tmp_path, reference)


def test_process_pool_gives_the_same_results(collection: Path, reference: dict[str, Any], tmp_path: Path) -> None:
    summary = run_batch([collection], "speech-16k", tmp_path, workers=2, progress="none")
    assert (summary.ok, summary.failed, summary.executor) == (4, 4, "processes x2")
    same_outputs(tmp_path, reference)


def test_a_dead_worker_is_retried(collection: Path, reference: dict[str, Any], tmp_path: Path) -> None:
    flaky = FlakyExecutor()
    try:
        summary = run_batch([collection / "set0", collection / "set1"], "speech-16k", tmp_path, executor=flaky)
    finally:
        flaky.shutdown()
    assert (summary.ok, summary.failed) == (4, 0)
    sidecars = {k: v[2] for k, v in outputs(tmp_path).items()}
    assert len(sidecars) == 4


def test_a_worker_that_always_dies_is_recorded_after_max_attempts(collection: Path, tmp_path: Path) -> None:
    class AlwaysBroken(FlakyExecutor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
            broken: cf.Future[Any] = cf.Future()
            broken.set_exception(cf.BrokenExecutor("worker died (simulated)"))
            return broken

    summary = run_batch([collection / "set0"], "speech-16k", tmp_path, executor=AlwaysBroken(), max_attempts=3)
    assert summary.ok == 0 and summary.failed == 2
    assert {(f["node"], f["attempts"], f["error_type"]) for f in summary.failures} == {("worker", 3, "BrokenExecutor")}


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"on_error": "ignore"}, ValueError, "on_error must be 'skip' or 'stop'"),
        ({"output_format": "mp4"}, ValueError, "output format 'mp4' is not one of"),
        ({"pipeline": "no-such-preset"}, FileNotFoundError, "neither a preset"),
    ],
)
def test_bad_arguments_raise_before_any_work(
    collection: Path, tmp_path: Path, kwargs: dict, exc: type, match: str
) -> None:
    args = {"pipeline": "speech-16k", **kwargs}
    with pytest.raises(exc, match=match):
        run_batch([collection], args.pop("pipeline"), tmp_path / "o", progress="none", **args)
    assert not (tmp_path / "o").exists()


def test_memory_is_bounded_by_the_block_not_the_file(tmp_path: Path) -> None:
    import tracemalloc

    import soundfile as sf

    peaks = {}
    rng = np.random.default_rng(0)
    for seconds in (30, 120):
        path = tmp_path / f"long{seconds}.wav"
        sf.write(path, (rng.standard_normal((48000 * seconds, 2)) * 3000).astype(np.int16), 48000)
        tracemalloc.start()
        try:
            summary = run_batch([path], "speech-16k", tmp_path / f"out{seconds}", workers=1, progress="none")
            peaks[seconds] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert summary.ok == 1
    # four times the audio, (nearly) the same peak: memory follows the block, not the file
    # (about 18 MB with the native kernels, 38 MB with numpy's resampler temporaries)
    assert peaks[120] < 1.3 * peaks[30], peaks


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity API on this platform")
@pytest.mark.parametrize("cores", [1, 2])
def test_default_workers_follow_the_cores_the_run_may_use(tmp_path: Path, cores: int) -> None:
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < cores:
        pytest.skip(f"needs {cores} usable cores, this machine gives {len(allowed)}")
    make_collection(tmp_path / "in", n_good=3, seconds=1.0, bad=False)
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, allowed[:cores])
    try:
        summary = run_batch([tmp_path / "in"], "speech-16k", tmp_path / "out", progress="none")
    finally:
        os.sched_setaffinity(0, before)
    assert summary.ok == 3
    assert summary.executor == ("in-process" if cores == 1 else "processes x2")
