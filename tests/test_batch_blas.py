"""`remotemedia run` runs numpy with one BLAS thread unless the user set the thread variables (batch/blas.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import AVAILABLE
from remotemedia.batch import blas

_PROBE = (
    "import json, os, sys, threading\n"
    "from remotemedia.cli import main\n"
    "status = main(sys.argv[1:])\n"
    "tasks = len(os.listdir('/proc/self/task')) if os.path.isdir('/proc/self/task') else None\n"
    "env = {k: os.environ.get(k) for k in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS')}\n"
    "print(json.dumps([status, env, tasks, threading.active_count()]))\n"
)


def _run(tmp_path: Path, runtime: str, **extra: str) -> tuple[int, dict[str, str | None], int | None, int]:
    """A two-file `remotemedia run` at one worker in a fresh interpreter; its status, the three variables
    afterwards, the process's threads (None without /proc) and Python's."""
    t = np.arange(16000) / 16000
    for name in ("a.wav", "b.wav"):
        sf.write(tmp_path / name, (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 16000)
    env = {k: v for k, v in os.environ.items() if k not in blas.VARIABLES}
    env.update(REMOTEMEDIA_RUNTIME=runtime, **extra)
    argv = ["run", ".", "-o", "out", "--workers", "1", "-q"]
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, cwd=tmp_path, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    status, variables, tasks, python_threads = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(p.name for p in (tmp_path / "out").glob("*.wav")) == ["a.wav", "b.wav"]
    return status, variables, tasks, python_threads


@pytest.mark.parametrize("runtime", AVAILABLE)
def test_a_run_sets_one_blas_thread_and_starts_no_pool(tmp_path: Path, runtime: str) -> None:
    status, variables, tasks, python_threads = _run(tmp_path, runtime)
    assert status == 0
    assert variables == {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if tasks is not None:  # Linux: no thread beyond Python's (OpenBLAS would start one per further core)
        assert tasks == python_threads == 1


@pytest.mark.parametrize("runtime", AVAILABLE)
def test_a_run_keeps_the_thread_counts_the_user_set(tmp_path: Path, runtime: str) -> None:
    status, variables, _, _ = _run(tmp_path, runtime, OPENBLAS_NUM_THREADS="2", MKL_NUM_THREADS="")
    assert status == 0
    assert variables == {"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": ""}


def test_nothing_is_set_once_numpy_is_loaded() -> None:
    env: dict[str, str] = {}
    assert "numpy" in sys.modules  # this test process imported it
    assert blas.one_blas_thread(env) == []
    assert env == {}


def test_the_unset_variables_are_set_before_numpy_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "numpy")  # as in a fresh `remotemedia run`, before the run imports it
    env = {"OMP_NUM_THREADS": "4"}
    assert blas.one_blas_thread(env) == ["OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"]
    assert env == {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "1"}
