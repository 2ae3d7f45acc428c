"""Writing outputs behind (batch/writebehind.py): what the user sees is what writing in turn gives.

Every test runs under each available runtime (``runtime_env``) where a
pipeline runs. Each test checks that the writer thread did the writing, so
none of them passes without it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from batch_compare import comparable, same_outputs, tasks_for
from batch_helpers import make_collection, outputs, speech_like, temporaries
from remotemedia.batch import readahead, run_batch, runner, streamfile, writebehind
from remotemedia.batch.job import FileResult, FileTask, process_file
from remotemedia.batch.runner import BatchInterrupted
from remotemedia.stream.session import StreamSession

FAILURES = "_remotemedia_failures.jsonl"
SUMMARY = "_remotemedia_summary.json"


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Good files of every kind interleaved with bad ones, and a 12 s stereo file (two blocks in, two out)."""
    root = tmp_path / "in"
    make_collection(root, n_good=6, seconds=2.0)  # 48k stereo WAV, 44.1k FLAC, float WAV, Vorbis; bad ones
    sf.write(root / "set1" / "clip001b_long.wav", speech_like(12.0, 22050, seed=5, channels=2), 22050, subtype="PCM_16")
    sf.write(root / "set1" / "clip002b_after.wav", speech_like(3.0, 16000, seed=6), 16000, subtype="PCM_16")
    return root


@pytest.fixture
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "usable_cores", lambda: 2)
    monkeypatch.delenv(writebehind.ENV, raising=False)
    monkeypatch.delenv(readahead.ENV, raising=False)


def _writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(("remotemedia-write", "remotemedia-read"))]


def _count_writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the thread of every output block written (the real writer runs)."""
    threads: list[str] = []
    real = streamfile._AtomicWriter.write

    def counted(self: Any, data: np.ndarray, rate: int) -> None:
        threads.append(threading.current_thread().name)
        real(self, data, rate)

    monkeypatch.setattr(streamfile._AtomicWriter, "write", counted)
    return threads


def _fail_write(monkeypatch: pytest.MonkeyPatch, name: str, at: int, method: str = "write") -> list[int]:
    """Make the ``at``-th ``write`` (or ``commit``) of the output named ``name`` raise OSError (disk full)."""
    calls = [0]
    real = getattr(streamfile._AtomicWriter, method)

    def failing(self: Any, *args: Any) -> Any:
        if self.final.name == name:
            calls[0] += 1
            if calls[0] == at:
                raise OSError(28, "No space left on device")
        return real(self, *args)

    monkeypatch.setattr(streamfile._AtomicWriter, method, failing)
    return calls


def _tree(root: Path) -> list[str]:
    """Every file and folder below ``root`` but the run's own summary (it holds wall times)."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.name != SUMMARY)


def _in_order(tasks: list[FileTask], ahead: int, stop: bool = False) -> list[FileResult]:
    got: list[FileResult] = []

    def record(result: FileResult) -> bool:
        got.append(result)
        return not (stop and result.status == "failed")

    writebehind.process_in_order(tasks, ahead, record, stop)
    return got


@pytest.mark.parametrize("ahead", [0, 1, 2])
def test_results_and_outputs_are_those_of_writing_in_turn(
    runtime_env: tuple[str, str | None], ahead: int, mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_turn = [process_file(t) for t in tasks_for(mixed, tmp_path / "in_turn")]
    threads = _count_writes(monkeypatch)
    behind = _in_order(tasks_for(mixed, tmp_path / "behind"), ahead)

    assert [comparable(r) for r in behind] == [comparable(r) for r in in_turn]
    assert threads and set(threads) == {"remotemedia-write"}  # every block was written by the writer
    assert sum(r.status == "ok" for r in behind) == 8
    same_outputs(tmp_path / "behind", tmp_path / "in_turn")
    assert _tree(tmp_path / "behind") == _tree(tmp_path / "in_turn")
    assert not temporaries(tmp_path / "behind")
    assert not _writer_threads()


def _slow_after_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Recording a failed file takes 0.3 s: time for the writer to run ahead, were it allowed."""
    real_record = runner._record

    def slow_record(result: FileResult, *args: Any) -> None:
        real_record(result, *args)
        if result.status == "failed":
            time.sleep(0.3)

    monkeypatch.setattr(runner, "_record", slow_record)


@pytest.mark.parametrize(("method", "at"), [("write", 1), ("write", 2), ("commit", 1)])
def test_a_write_failure_in_the_middle_is_reported_as_in_turn(
    runtime_env: tuple[str, str | None],
    method: str,
    at: int,
    mixed: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    two_cores: None,
) -> None:
    calls = _fail_write(monkeypatch, "clip001b_long.wav", at, method)
    monkeypatch.setenv(writebehind.ENV, "0")
    off = run_batch([mixed], "speech-16k", tmp_path / "off", workers=1, progress="none")
    assert calls[0] >= at  # the failure happened
    calls[0] = 0
    monkeypatch.setenv(writebehind.ENV, "1")
    threads = _count_writes(monkeypatch)
    _slow_after_a_failure(monkeypatch)
    on = run_batch([mixed], "speech-16k", tmp_path / "on", workers=1, progress="none")

    assert "remotemedia-write" in threads
    assert (on.ok, on.failed, on.skipped, on.not_run) == (off.ok, off.failed, off.skipped, off.not_run) == (7, 5, 0, 0)
    assert on.failures == off.failures  # the same entries, in the same order
    failed = {f["relpath"]: (f["node"], f["error"]) for f in on.failures}
    assert failed["set1/clip001b_long.wav"] == ("write", "write: OSError: [Errno 28] No space left on device")
    assert (tmp_path / "on" / FAILURES).read_text() == (tmp_path / "off" / FAILURES).read_text()
    summary = json.loads((tmp_path / "on" / SUMMARY).read_text())
    assert (summary["ok"], summary["failed"], summary["failures"]) == (7, 5, off.failures)
    same_outputs(tmp_path / "on", tmp_path / "off")  # the files after the failure are written as in turn
    assert _tree(tmp_path / "on") == _tree(tmp_path / "off")
    assert not temporaries(tmp_path / "on")
    assert not _writer_threads()


def test_a_write_failure_comes_before_a_later_node_failure_of_the_same_file(
    runtime_env: tuple[str, str | None], mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the long file's first block fails to write; had it been written, its second push would fail in a node
    calls = _fail_write(monkeypatch, "clip001b_long.wav", 1)
    real_push = StreamSession.push
    pushes = [0]

    def push(self: StreamSession, chunk: Any) -> Any:
        data = chunk[0] if isinstance(chunk, tuple) else chunk.data
        if data.shape[-1] == 2 * 22050:  # the long file's second (2 s) block
            pushes[0] += 1
            raise streamfile.StageError("read", ValueError("a body that fails after the write failure"))
        return real_push(self, chunk)

    monkeypatch.setattr(StreamSession, "push", push)
    in_turn = [process_file(t) for t in tasks_for(mixed, tmp_path / "in_turn")]
    assert pushes[0] == 0  # in turn the write failure stopped the file first
    calls[0] = 0
    behind = _in_order(tasks_for(mixed, tmp_path / "behind"), 1)
    assert [comparable(r) for r in behind] == [comparable(r) for r in in_turn]
    long = next(r for r in behind if r.relpath == "set1/clip001b_long.wav")
    assert (long.node, long.error_type) == ("write", "OSError")
    same_outputs(tmp_path / "behind", tmp_path / "in_turn")


def test_a_sidecar_failure_is_reported_as_in_turn(
    runtime_env: tuple[str, str | None], mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from remotemedia.batch import job

    real = job.write_json_atomic

    def failing(final: Path, data: Any) -> None:
        if final.name == "clip002b_after.wav.json":
            raise PermissionError(13, "Permission denied")
        real(final, data)

    monkeypatch.setattr(job, "write_json_atomic", failing)
    in_turn = [process_file(t) for t in tasks_for(mixed, tmp_path / "in_turn")]
    threads = _count_writes(monkeypatch)
    behind = _in_order(tasks_for(mixed, tmp_path / "behind"), 1)
    assert "remotemedia-write" in threads

    def first_line(r: FileResult) -> tuple[Any, ...]:  # the traceback's frames differ: the writer's thread
        return (*comparable(r)[:3], (r.error or "").splitlines()[:1], r.error_type, r.duration_s)

    assert [first_line(r) for r in behind] == [first_line(r) for r in in_turn]
    after = next(r for r in behind if r.relpath == "set1/clip002b_after.wav")
    assert (after.node, after.error_type) == ("pipeline", "PermissionError")
    same_outputs(tmp_path / "behind", tmp_path / "in_turn")


@pytest.mark.parametrize("where", ["write", "read"])
def test_on_error_stop_writes_nothing_after_the_failure(
    runtime_env: tuple[str, str | None],
    where: str,
    mixed: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    two_cores: None,
) -> None:
    (mixed / "broken").rename(mixed / "zz_broken")  # the bad files last: the first failure is ours
    calls = [0]
    if where == "write":
        calls = _fail_write(monkeypatch, "clip001b_long.wav", 2)
    else:
        real_push = StreamSession.push

        def push(self: StreamSession, chunk: Any) -> Any:
            data = chunk[0] if isinstance(chunk, tuple) else chunk.data
            if data.shape[-1] == 2 * 22050:
                raise streamfile.StageError("read", ValueError("a corrupt body"))
            return real_push(self, chunk)

        monkeypatch.setattr(StreamSession, "push", push)
    monkeypatch.setenv(writebehind.ENV, "0")
    off = run_batch([mixed], "speech-16k", tmp_path / "off", workers=1, progress="none", on_error="stop")
    calls[0] = 0
    monkeypatch.setenv(writebehind.ENV, "1")
    threads = _count_writes(monkeypatch)
    _slow_after_a_failure(monkeypatch)
    on = run_batch([mixed], "speech-16k", tmp_path / "on", workers=1, progress="none", on_error="stop")

    assert "remotemedia-write" in threads
    assert (on.ok, on.failed, on.not_run) == (off.ok, off.failed, off.not_run)
    assert on.failed == 1 and on.not_run > 0
    assert on.failures == off.failures
    assert on.failures[0]["relpath"] == "set1/clip001b_long.wav"
    # no output, temporary or folder of a file after the failure, though the next one may have run already
    assert _tree(tmp_path / "on") == _tree(tmp_path / "off")
    same_outputs(tmp_path / "on", tmp_path / "off")
    assert not _writer_threads()


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.mark.parametrize("at", [3, 6, 9])
def test_an_interrupt_leaves_no_partial_output_and_counts_every_committed_file(
    runtime_env: tuple[str, str | None],
    at: int,
    mixed: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    two_cores: None,
) -> None:
    reference = tmp_path / "reference"
    run_batch([mixed], "speech-16k", reference, workers=1, progress="none")
    inputs_before = _tree_digest(mixed)
    threads = _count_writes(monkeypatch)
    real_push = StreamSession.push
    pushes = [0]

    def interrupted(self: StreamSession, chunk: Any) -> Any:
        pushes[0] += 1
        if pushes[0] == at:  # Ctrl-C on the run's thread while the writer writes the file before
            raise KeyboardInterrupt
        return real_push(self, chunk)

    monkeypatch.setattr(StreamSession, "push", interrupted)
    out = tmp_path / "out"
    with pytest.raises(BatchInterrupted) as caught:
        run_batch([mixed], "speech-16k", out, workers=1, progress="none")
    summary = caught.value.summary
    assert "remotemedia-write" in threads
    assert summary.interrupted and 0 < summary.ok + summary.failed < summary.files and summary.not_run > 0
    assert not temporaries(out)
    done = outputs(out)
    assert len(done) == summary.ok  # every output present is complete, with its sidecar, and counted
    for key in done:
        assert (out / key).read_bytes() == (reference / key).read_bytes()
    saved = json.loads((out / SUMMARY).read_text())
    assert (saved["ok"], saved["failed"], saved["not_run"], saved["interrupted"]) == (
        summary.ok,
        summary.failed,
        summary.not_run,
        True,
    )
    assert _tree_digest(mixed) == inputs_before
    assert not _writer_threads()


def test_the_summary_is_written_after_every_write(
    runtime_env: tuple[str, str | None], mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, two_cores: None
) -> None:
    seen: list[tuple[list[str], int]] = []
    real = runner.write_json_atomic

    def summary_written(final: Path, data: Any) -> None:
        if final.name == SUMMARY:
            seen.append(([t.name for t in _writer_threads()], len(outputs(final.parent))))
        real(final, data)

    monkeypatch.setattr(runner, "write_json_atomic", summary_written)
    threads = _count_writes(monkeypatch)
    summary = run_batch([mixed], "speech-16k", tmp_path / "out", workers=1, progress="none")
    assert "remotemedia-write" in threads
    assert seen == [([], summary.ok)] and summary.ok == 8


def test_resume_skips_what_was_written_behind(
    runtime_env: tuple[str, str | None], mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, two_cores: None
) -> None:
    threads = _count_writes(monkeypatch)
    first = run_batch([mixed], "speech-16k", tmp_path / "out", workers=1, progress="none")
    assert "remotemedia-write" in threads
    again = run_batch([mixed], "speech-16k", tmp_path / "out", workers=1, progress="none", resume=True)
    assert (again.skipped, again.ok, again.failed) == (first.ok, 0, first.failed)


def test_bounded_queue_and_a_node_that_reuses_its_output_buffer(
    runtime_env: tuple[str, str | None], mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_turn = [process_file(t) for t in tasks_for(mixed, tmp_path / "in_turn")]
    monkeypatch.setattr(writebehind, "MAX_QUEUED_BYTES", 1)  # the run's thread waits at every block
    monkeypatch.setattr(writebehind, "MAX_FILES", 1)
    real_take = streamfile.OutputTally.take

    def scribbling(self: Any, out: Any) -> None:  # the block is overwritten once handed over, as a reused buffer
        real_take(self, out)
        out.data[...] = 0.5

    monkeypatch.setattr(streamfile.OutputTally, "take", scribbling)
    threads = _count_writes(monkeypatch)
    behind = _in_order(tasks_for(mixed, tmp_path / "behind"), 1)
    assert "remotemedia-write" in threads
    assert [comparable(r) for r in behind] == [comparable(r) for r in in_turn]
    same_outputs(tmp_path / "behind", tmp_path / "in_turn")


@pytest.mark.parametrize(
    ("tasks", "cores", "env", "expected"),
    [(2, 2, None, True), (2, 2, "1", True), (1, 2, None, False), (5, 1, None, False), (5, 2, "0", False)],
)
def test_when_the_run_writes_behind(
    tasks: int, cores: int, env: str | None, expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env is None:
        monkeypatch.delenv(writebehind.ENV, raising=False)
    else:
        monkeypatch.setenv(writebehind.ENV, env)
    assert writebehind.enabled(tasks, cores) is expected


@pytest.mark.parametrize("bad", ["2", "yes", "-1"])
def test_a_bad_write_behind_setting_is_refused_before_any_work(
    bad: str, mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(writebehind.ENV, bad)
    with pytest.raises(ValueError, match=r"REMOTEMEDIA_WRITE_BEHIND=.*0 \(off\)"):
        run_batch([mixed], "speech-16k", tmp_path / "out", workers=1, progress="none")
    assert not (tmp_path / "out").exists()
