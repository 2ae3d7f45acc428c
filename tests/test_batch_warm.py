"""What workers are forked with (batch/warm.py): the numpy kernel bodies only where they may be used."""

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
from remotemedia.batch import warm

_PROBE = (
    "import json, sys\n"
    "from remotemedia import runtime\n"
    "if sys.argv[1] == 'chosen':\n"
    "    runtime.get_rust_runtime()  # as the run does before it forks (preflight.check_runtime)\n"
    "import remotemedia.batch.warm as warm\n"
    "print(json.dumps([runtime.chosen_native(), [m for m in warm.PYTHON_KERNEL_MODULES if m in sys.modules]]))\n"
)


def _warmed(runtime: str, chosen: bool) -> tuple[bool | None, list[str]]:
    env = dict(os.environ, REMOTEMEDIA_RUNTIME=runtime)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "chosen" if chosen else "fresh"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    native, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    return native, loaded


@pytest.mark.parametrize("runtime", AVAILABLE)
def test_a_run_on_the_native_core_forks_without_the_numpy_bodies(runtime: str) -> None:
    native, loaded = _warmed(runtime, chosen=True)
    assert native is (runtime != "python")
    assert loaded == ([] if native else list(warm.PYTHON_KERNEL_MODULES))


@pytest.mark.parametrize("runtime", AVAILABLE)
def test_a_fork_server_loads_every_body(runtime: str) -> None:
    """Nothing is chosen in a fork server (it serves runs of any setting): every body is loaded."""
    native, loaded = _warmed(runtime, chosen=False)
    assert native is None
    assert loaded == list(warm.PYTHON_KERNEL_MODULES)


@pytest.mark.parametrize("runtime", AVAILABLE)
def test_two_forked_workers_give_the_files_of_one(tmp_path: Path, runtime: str) -> None:
    t = np.arange(24000) / 16000
    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):
        sf.write(src / f"a{i}.wav", (0.3 * np.sin(2 * np.pi * (150 + 40 * i) * t)).astype(np.float32), 16000)
    outs = {}
    for workers in ("1", "2"):
        env = dict(os.environ, REMOTEMEDIA_RUNTIME=runtime)
        out = tmp_path / f"out{workers}"
        done = subprocess.run(
            [sys.executable, "-m", "remotemedia", "run", str(src), "-o", str(out), "-q", "--workers", workers],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        outs[workers] = {p.name: p.read_bytes() for p in sorted(out.glob("*.wav"))}
    assert len(outs["2"]) == 4 and outs["2"] == outs["1"]
