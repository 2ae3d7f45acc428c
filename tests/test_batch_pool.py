"""The worker pool's bookkeeping with a queued task per worker: a worker's death charges
only the task it was running; the task queued behind it goes back uncharged; every task
gets exactly one result (batch/workers.py)."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from remotemedia.batch import workers
from remotemedia.batch.job import FileResult, FileTask

pytestmark = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(),
    reason="the fake per-file work reaches the workers through fork",
)


def _fake_process_file(task: FileTask) -> FileResult:
    """Dies (like a kill or a native crash) on a task named "die"; otherwise reports which process ran it."""
    if Path(task.source).stem.startswith("die"):
        os._exit(9)
    result = FileResult(task.source, task.relpath, "ok")
    result.runtime = {"pid": os.getpid()}
    return result


def _death(task: FileTask, attempts: int) -> FileResult:
    return FileResult(task.source, task.relpath, "failed", node="worker", attempts=attempts)


def _tasks(names: list[str]) -> list[FileTask]:
    return [FileTask(f"/nowhere/{n}.wav", f"{n}.wav", "/nowhere-out", {}, "h") for n in names]


def _run(monkeypatch: pytest.MonkeyPatch, names: list[str], size: int, max_attempts: int) -> list[FileResult]:
    monkeypatch.setattr(workers, "process_file", _fake_process_file)
    with workers.WorkerPool(size, context=multiprocessing.get_context("fork")) as pool:
        results = list(pool.run(_tasks(names), max_attempts, _death))
        assert pool.deaths == sum(r.status == "failed" for r in results) * max_attempts
    return results


@pytest.mark.parametrize("size", [1, 2, 3])
def test_every_task_gets_one_result(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    names = [f"f{i}" for i in range(23)]
    results = _run(monkeypatch, names, size, 1)
    assert sorted(r.relpath for r in results) == sorted(f"{n}.wav" for n in names)
    assert all(r.status == "ok" and r.attempts == 1 for r in results)
    assert len({r.runtime["pid"] for r in results}) == size  # every worker took work


@pytest.mark.parametrize("max_attempts", [1, 3])
@pytest.mark.parametrize("size", [1, 2])
def test_a_death_charges_only_the_running_task(monkeypatch: pytest.MonkeyPatch, size: int, max_attempts: int) -> None:
    # "die" sits among many tasks, so the dying worker holds a queued task behind it
    names = [f"f{i}" for i in range(6)] + ["die"] + [f"g{i}" for i in range(6)]
    results = _run(monkeypatch, names, size, max_attempts)
    by_name = {r.relpath: r for r in results}
    assert len(results) == len(names) == len(by_name)
    assert by_name["die.wav"].status == "failed" and by_name["die.wav"].attempts == max_attempts
    others = [r for r in results if r.relpath != "die.wav"]
    assert all(r.status == "ok" and r.attempts == 1 for r in others), others


def _report_frozen(task: FileTask) -> FileResult:
    """Reports how many objects this worker's garbage collector leaves alone (gc.freeze)."""
    import gc

    result = FileResult(task.source, task.relpath, "ok")
    result.runtime = {"frozen": gc.get_freeze_count()}
    return result


def test_forked_workers_leave_the_inherited_objects_out_of_their_collections(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    monkeypatch.setattr(workers, "process_file", _report_frozen)
    assert gc.get_freeze_count() == 0
    with workers.WorkerPool(2, context=multiprocessing.get_context("fork")) as pool:
        results = list(pool.run(_tasks(["a", "b", "c"]), 1, _death))
    # the worker's collections skip what it inherited (no copy-on-write of those pages) ...
    assert all(r.runtime["frozen"] > 1000 for r in results), [r.runtime for r in results]
    # ... and this process collects as before
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("poller", [True, False], ids=["poll-object", "conn.poll"])
def test_what_is_in_a_workers_pipe_is_seen_as_conn_poll_sees_it(poller: bool) -> None:
    """``_Worker.answered``: nothing, an answer, a dead worker's closed end, a closed pipe (OSError)."""
    ours, theirs = multiprocessing.Pipe(duplex=True)
    worker = workers._Worker(process=None, conn=ours)
    if not poller:
        worker._poller = None
    assert worker.answered() is False is ours.poll()
    theirs.send("answer")
    assert worker.answered() is True is ours.poll()
    assert ours.recv() == "answer"
    assert worker.answered() is False
    theirs.close()  # the worker died: the end of its pipe is there to read
    assert worker.answered() is True is ours.poll()
    with pytest.raises(EOFError):
        ours.recv()
    ours.close()
    with pytest.raises(OSError):
        worker.answered()
