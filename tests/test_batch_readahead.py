"""Reading the next file ahead (batch/readahead.py): the same results as reading in turn.

Every test runs under each available runtime (``runtime_env``). The reader
is counted in each test, so none of them passes without it having read.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from batch_compare import comparable, same_outputs, tasks_for
from batch_helpers import make_collection, outputs, speech_like, temporaries
from remotemedia.batch import readahead, run_batch, runner, streamfile, writebehind
from remotemedia.batch.job import FileTask, process_file
from remotemedia.batch.runner import BatchInterrupted


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every file the reader reads ahead (the real reader runs)."""
    seen: list[str] = []
    real = readahead.read

    def counted(task: FileTask, *args: Any) -> readahead.Ahead:
        seen.append(task.relpath)
        return real(task, *args)

    monkeypatch.setattr(readahead, "read", counted)
    return seen


def _mid_body_error_flac(path: Path) -> None:
    """A 25 s FLAC whose second 10 s block cannot be decoded (libFLAC loses sync)."""
    x = (speech_like(25.0, 16000, seed=9)[:, 0] * 32767).astype(np.int16)
    sf.write(path, x, 16000)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 20000] = np.random.default_rng(3).integers(0, 256, 20000, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Good files of every kind interleaved with bad ones (empty, truncated, corrupt, not audio, a
    body that fails after its first block)."""
    root = tmp_path / "in"
    make_collection(root, n_good=6, seconds=2.0)  # 48k stereo WAV, 44.1k FLAC, float WAV, Vorbis; bad ones
    _mid_body_error_flac(root / "set0" / "clip000b_midbody.flac")
    sf.write(root / "set1" / "clip001b_long.wav", speech_like(12.0, 22050, seed=5, channels=2), 22050, subtype="PCM_16")
    return root


@pytest.mark.parametrize("files", [1, 2])
def test_results_and_errors_are_those_of_reading_in_turn(
    runtime_env: tuple[str, str | None], files: int, mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_turn_dir, ahead_dir = tmp_path / "in_turn", tmp_path / "ahead"
    in_turn = [process_file(t) for t in tasks_for(mixed, in_turn_dir)]
    seen = _count_reads(monkeypatch)
    ahead = list(readahead.process_in_order(tasks_for(mixed, ahead_dir), process_file, files))

    assert [comparable(r) for r in ahead] == [comparable(r) for r in in_turn]
    assert len(seen) == len(in_turn) - 1  # every file but the first was read ahead
    failed = {r.relpath: (r.node, r.error_type) for r in ahead if r.status == "failed"}
    # each bad file keeps its own stage and cause; the files after it finish
    assert failed["set0/clip000b_midbody.flac"] == ("read", "LibsndfileError")
    assert failed["broken/empty.wav"] == ("read", "ValueError")
    assert {"broken/corrupt.flac", "broken/truncated.wav", "broken/notes.ogg"} <= set(failed)
    assert sum(r.status == "ok" for r in ahead) == 7
    same_outputs(ahead_dir, in_turn_dir)
    assert not [t for t in threading.enumerate() if t.name.startswith("remotemedia-read")]


def test_a_file_that_vanishes_after_the_scan_fails_alone(
    runtime_env: tuple[str, str | None], mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = tasks_for(mixed, tmp_path / "out")
    gone = next(i for i, t in enumerate(tasks) if t.relpath.startswith("set1/"))
    Path(tasks[gone].source).unlink()
    seen = _count_reads(monkeypatch)
    results = list(readahead.process_in_order(tasks, process_file))
    assert tasks[gone].relpath in seen
    assert (results[gone].status, results[gone].node, results[gone].error_type) == (
        "failed",
        "read",
        "FileNotFoundError",
    )
    assert results[gone + 1].status == "ok"
    assert [r.relpath for r in results] == [t.relpath for t in tasks]


def test_files_over_the_limit_stream_as_before(
    runtime_env: tuple[str, str | None], mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_turn = [process_file(t) for t in tasks_for(mixed, tmp_path / "in_turn")]
    monkeypatch.setattr(readahead, "MAX_SAMPLES", 100_000)  # the 12 s and 25 s files, and stereo 48k, stream
    decoded: list[bool] = []
    real = streamfile.decode_whole

    def spy(*args: Any) -> Any:
        got = real(*args)
        decoded.append(got is not None)
        return got

    monkeypatch.setattr(readahead, "decode_whole", spy)
    ahead = list(readahead.process_in_order(tasks_for(mixed, tmp_path / "ahead"), process_file))
    assert True in decoded and False in decoded
    assert [comparable(r) for r in ahead] == [comparable(r) for r in in_turn]
    same_outputs(tmp_path / "ahead", tmp_path / "in_turn")


def test_a_reader_that_raises_leaves_the_file_to_be_read_in_turn(
    runtime_env: tuple[str, str | None], mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in the reader (``read`` keeps a bad file's errors, it never raises for one) costs only speed."""
    in_turn_dir, ahead_dir = tmp_path / "in_turn", tmp_path / "ahead"
    in_turn = [process_file(t) for t in tasks_for(mixed, in_turn_dir)]
    real, raised = readahead.read, []

    def every_other_raises(task: FileTask, *args: Any) -> readahead.Ahead:
        if len(raised) % 2 == 0:
            raised.append(task.relpath)
            raise RuntimeError("a bug in the reader")
        raised.append("")
        return real(task, *args)

    monkeypatch.setattr(readahead, "read", every_other_raises)
    ahead = list(readahead.process_in_order(tasks_for(mixed, ahead_dir), process_file, 2))
    assert [comparable(r) for r in ahead] == [comparable(r) for r in in_turn]
    assert len(raised) == len(in_turn) - 1 and sum(1 for r in raised if r) == len(in_turn) // 2
    same_outputs(ahead_dir, in_turn_dir)
    assert not [t for t in threading.enumerate() if t.name.startswith("remotemedia-read")]


def test_run_batch_reads_ahead_at_one_worker_with_thesame_outputs(
    runtime_env: tuple[str, str | None], mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "usable_cores", lambda: 2)
    monkeypatch.setenv(readahead.ENV, "0")
    off = run_batch([mixed], "speech-16k", tmp_path / "off", workers=1, progress="none")
    monkeypatch.delenv(readahead.ENV)
    seen = _count_reads(monkeypatch)
    on = run_batch([mixed], "speech-16k", tmp_path / "on", workers=1, progress="none")
    assert len(seen) == on.files - 1
    assert (on.ok, on.failed) == (off.ok, off.failed) == (7, 5)
    assert on.failures == off.failures  # the same entries, in the same order
    failures = "_remotemedia_failures.jsonl"
    assert (tmp_path / "on" / failures).read_text() == (tmp_path / "off" / failures).read_text()
    same_outputs(tmp_path / "on", tmp_path / "off")


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def test_an_interrupt_mid_file_leaves_no_partial_output_and_no_reader(
    runtime_env: tuple[str, str | None], mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = tmp_path / "reference"
    run_batch([mixed], "speech-16k", reference, workers=1, progress="none")
    inputs_before = _tree_digest(mixed)
    monkeypatch.setattr(runner, "usable_cores", lambda: 2)
    monkeypatch.setenv(writebehind.ENV, "0")  # the write on the run's thread (tests/test_batch_writebehind.py: on)
    seen = _count_reads(monkeypatch)
    writes = [0]
    real_write = streamfile._AtomicWriter.write

    def interrupted_write(self: Any, data: np.ndarray, rate: int) -> None:
        writes[0] += 1
        if writes[0] == 4:  # Ctrl-C while a file is being written, the next one already read ahead
            real_write(self, data, rate)
            raise KeyboardInterrupt
        real_write(self, data, rate)

    monkeypatch.setattr(streamfile._AtomicWriter, "write", interrupted_write)
    out = tmp_path / "out"
    with pytest.raises(BatchInterrupted) as caught:
        run_batch([mixed], "speech-16k", out, workers=1, progress="none")
    summary = caught.value.summary
    assert summary.interrupted and 0 < summary.ok < 7 and summary.not_run > 0
    # every file up to the interrupted one was read ahead (but file 0, read in turn); the next may have been
    assert len(seen) >= summary.ok + summary.failed
    assert not temporaries(out)
    done = outputs(out)
    assert len(done) == summary.ok  # every output present is complete, with its sidecar
    for key in done:
        assert (out / key).read_bytes() == (reference / key).read_bytes()
    assert _tree_digest(mixed) == inputs_before
    assert not [t for t in threading.enumerate() if t.name.startswith("remotemedia-read")]


@pytest.mark.parametrize(
    ("tasks", "cores", "env", "expected"),
    [
        (2, 2, None, readahead.DEPTH),
        (2, 2, "1", 1),
        (2, 2, "2", 2),
        (1, 2, None, 0),  # nothing to overlap
        (5, 1, "2", 0),  # no second core to decode on
        (5, 2, "0", 0),
    ],
)
def test_how_many_files_the_run_reads_ahead(
    tasks: int, cores: int, env: str | None, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env is None:
        monkeypatch.delenv(readahead.ENV, raising=False)
    else:
        monkeypatch.setenv(readahead.ENV, env)
    assert readahead.depth(tasks, cores) == expected


@pytest.mark.parametrize("bad", ["-1", "99", "yes"])
def test_a_bad_read_ahead_setting_is_refused_before_any_work(
    bad: str, mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(readahead.ENV, bad)
    with pytest.raises(ValueError, match=r"REMOTEMEDIA_READ_AHEAD=.*number of files to read ahead"):
        run_batch([mixed], "speech-16k", tmp_path / "out", workers=1, progress="none")
    assert not (tmp_path / "out").exists()


def test_on_error_stop_stops_at_the_same_file_and_ends_the_reader(
    runtime_env: tuple[str, str | None], mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sf.write(mixed / "a_first.wav", speech_like(1.0, 16000, seed=1), 16000, subtype="PCM_16")  # before broken/
    monkeypatch.setattr(runner, "usable_cores", lambda: 2)
    monkeypatch.setenv(readahead.ENV, "0")
    off = run_batch([mixed], "speech-16k", tmp_path / "off", workers=1, progress="none", on_error="stop")
    monkeypatch.delenv(readahead.ENV)
    seen = _count_reads(monkeypatch)
    on = run_batch([mixed], "speech-16k", tmp_path / "on", workers=1, progress="none", on_error="stop")
    assert "broken/corrupt.flac" in seen  # the failing file (the second) was read ahead
    assert (on.ok, on.failed, on.not_run) == (off.ok, off.failed, off.not_run)
    assert on.failed == 1 and on.not_run > 0
    assert on.failures == off.failures
    assert not [t for t in threading.enumerate() if t.name.startswith("remotemedia-read")]
