"""The batch job's processes: killing the run ends its workers; a worker's death costs
only its own file; Ctrl-C and SIGTERM end in a summary; one run per output folder
(issue 11.3, 11.4, 11.8 and Build 4). Through the real command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from batch_helpers import alive, descendants, make_collection, open_inputs, outputs, run_cli, temporaries

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists() or sys.platform != "linux",
    reason="finds the worker processes through Linux /proc",
)

# Enough work that a run is still mid-way when a test acts on it, even on a loaded machine.
N_FILES = 80  # enough work that a test stops the run mid-way before it ends, on a fast machine too


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("slow")
    make_collection(root / "in", n_good=N_FILES, seconds=20.0, bad=False)
    return root


_started: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _close_pipes():
    """Close the pipes of every run started by a test (and end it if a test failed mid-way)."""
    yield
    while _started:
        proc = _started.pop()
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=60)


def start(cwd: Path, *args: str, new_session: bool = False) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "remotemedia", "run", "in", *args, "--progress", "lines"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,
    )
    _started.append(proc)
    return proc


def wait_for_progress(proc: subprocess.Popen[str], done: int) -> list[str]:
    """Read stderr until ``done`` files are finished: the run is mid-way, workers busy."""
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.lstrip("[ ").startswith(f"{done}/"):
            return seen
    raise AssertionError(f"the run ended before {done} files were done: {''.join(seen)}")


def read_to_eof(proc: subprocess.Popen[str], limit: float = 60) -> str:
    """The rest of stderr; fails if someone (an orphaned worker) still holds it open after ``limit``."""
    chunks: list[str] = []
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: chunks.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(limit)
    assert not reader.is_alive(), "stderr never reached EOF: a process of the killed run still holds it"
    return "".join(chunks)


def assert_all_gone(pids: list[int], limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    assert not [p for p in pids if alive(p)], "workers outlived the run"


def fresh(collection: Path, tmp_path: Path) -> Path:
    (tmp_path / "in").symlink_to(collection / "in", target_is_directory=True)
    return tmp_path


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killing_the_main_process_ends_every_worker(collection: Path, tmp_path: Path, sig: int) -> None:
    cwd = fresh(collection, tmp_path)
    proc = start(cwd, "-o", "out", "--workers", "2")
    wait_for_progress(proc, 1)
    os.kill(proc.pid, signal.SIGSTOP)  # hold it mid-run (it cannot finish before the kill)
    family = descendants(proc.pid)
    assert family, "no worker processes found"
    os.kill(proc.pid, sig)  # the main process only, as a supervisor would
    os.kill(proc.pid, signal.SIGCONT)
    rest = read_to_eof(proc)
    code = proc.wait(30)
    assert_all_gone(family)
    partial = len(outputs(cwd / "out"))
    assert partial < N_FILES  # it was killed mid-run
    if sig == signal.SIGTERM:
        assert code == 143 and "Traceback" not in rest
        assert "--resume" in rest
        summary = json.loads((cwd / "out" / "_remotemedia_summary.json").read_text())
        assert summary["interrupted"] and summary["ok"] + summary["not_run"] == N_FILES
    # the next run takes the folder (the lock died with the run) and finishes the rest
    done = run_cli("in", "-o", "out", "--resume", "--workers", "2", "--json", cwd=cwd)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["skipped"] >= partial and summary["ok"] + summary["skipped"] == N_FILES
    assert len(outputs(cwd / "out")) == N_FILES and not temporaries(cwd / "out")


def test_ctrl_c_prints_a_summary_and_the_resume_command(collection: Path, tmp_path: Path) -> None:
    cwd = fresh(collection, tmp_path)
    proc = start(cwd, "-o", "out", "--workers", "2", new_session=True)
    wait_for_progress(proc, 1)
    os.killpg(proc.pid, signal.SIGSTOP)  # hold the whole run mid-way (workers too: none can finish the rest)
    family = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    os.killpg(proc.pid, signal.SIGCONT)
    rest = read_to_eof(proc)
    assert proc.stdout is not None
    out = proc.stdout.read()
    assert proc.wait(30) == 130
    assert_all_gone(family)
    assert "Traceback" not in rest and "KeyboardInterrupt" not in rest
    assert "interrupted:" in rest and "remotemedia run in -o out --workers 2 --progress lines --resume" in rest
    assert "ok " in out and "not run" in out  # the summary of what finished
    assert not (cwd / "out" / "_remotemedia_failures.jsonl").exists()  # no empty failures file


def test_a_worker_death_costs_only_the_file_it_was_running(collection: Path, tmp_path: Path) -> None:
    cwd = fresh(collection, tmp_path)
    proc = start(cwd, "-o", "out", "--workers", "2", "--max-attempts", "1")
    wait_for_progress(proc, 1)
    victim: tuple[int, Path] | None = None
    deadline = time.monotonic() + 60
    while victim is None and time.monotonic() < deadline:
        for pid in descendants(proc.pid):
            if not open_inputs(pid, collection / "in"):
                continue
            os.kill(pid, signal.SIGSTOP)  # frozen: what it holds open now is what it is running
            held = open_inputs(pid, collection / "in")
            if held:
                victim = (pid, held[0])
                os.kill(pid, signal.SIGKILL)
                break
            os.kill(pid, signal.SIGCONT)
    assert victim is not None, "no worker was seen with an input open"
    _stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1, stderr
    failures = [json.loads(x) for x in (cwd / "out" / "_remotemedia_failures.jsonl").read_text().splitlines()]
    # only the file that was being processed failed (max-attempts 1); every other file is done
    assert len(failures) == 1, failures
    assert failures[0]["node"] == "worker" and failures[0]["error_type"] == "WorkerDied"
    assert (collection / "in" / failures[0]["relpath"]).resolve() == victim[1].resolve()
    assert len(outputs(cwd / "out")) == N_FILES - 1


def test_a_second_run_on_the_same_output_folder_is_refused(collection: Path, tmp_path: Path) -> None:
    cwd = fresh(collection, tmp_path)
    first = start(cwd, "-o", "out", "--workers", "1")
    wait_for_progress(first, 1)
    os.kill(first.pid, signal.SIGSTOP)  # hold it mid-run while the second run tries
    try:
        second = run_cli("in", "-o", "out", "--workers", "1", cwd=cwd)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert second.returncode == 4
    lines = [x for x in second.stderr.strip().splitlines() if not x.startswith("note: native core")]  # pure install
    assert len(lines) == 1 and "in use by another run" in lines[0] and f"pid {first.pid}" in lines[0]
    _stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr  # the first run was not disturbed (temporaries, summary)
    assert len(outputs(cwd / "out")) == N_FILES and not temporaries(cwd / "out")
    assert not (cwd / "out" / "_remotemedia.lock").exists()


POOL_SCRIPT = """
import multiprocessing, sys
from remotemedia.batch import workers
from remotemedia.batch.runner import run_batch

if __name__ == "__main__":
    method = sys.argv[1]
    workers._context = lambda: multiprocessing.get_context(method)  # this start method, whatever the default
    run_batch(["in"], "speech-16k", "out", workers=2, progress="lines")
"""


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_workers_end_with_the_run_under_every_start_method(collection: Path, tmp_path: Path, method: str) -> None:
    import multiprocessing

    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    cwd = fresh(collection, tmp_path)
    (cwd / "pool.py").write_text(POOL_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, "pool.py", method], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _started.append(proc)
    wait_for_progress(proc, 1)
    os.kill(proc.pid, signal.SIGSTOP)
    family = descendants(proc.pid)
    assert family
    os.kill(proc.pid, signal.SIGKILL)
    os.kill(proc.pid, signal.SIGCONT)
    read_to_eof(proc)
    proc.wait(30)
    assert_all_gone(family)
    assert len(outputs(cwd / "out")) < N_FILES
