"""The progress bar starts nothing beside the run: no thread (workers are then forked from the run, not
from a fork server) and no process (tqdm's multiprocessing lock would start a resource tracker)."""

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

_PROBE = """
import io, json, sys, threading
import multiprocessing.forkserver as fs
from remotemedia.batch import run_batch
from remotemedia.batch.progress import Progress
from remotemedia.batch.start_method import worker_context


class Terminal(io.StringIO):
    def isatty(self):
        return True


stream = Terminal()
bar = Progress(3, "auto", stream)
seen = [bar.mode, threading.active_count(), worker_context().get_start_method()]
bar.close()
screen = Terminal()
summary = run_batch([sys.argv[1]], "speech-16k", sys.argv[2], workers=2, progress="auto", progress_stream=screen)
seen += [summary.ok, fs._forkserver._forkserver_pid is None, "multiprocessing.synchronize" in sys.modules]
seen.append("4/4" in screen.getvalue())
print(json.dumps(seen))
"""


@pytest.mark.parametrize("runtime", AVAILABLE)
def test_a_bar_on_a_terminal_leaves_the_run_single_threaded(tmp_path: Path, runtime: str) -> None:
    src = tmp_path / "in"
    src.mkdir()
    t = np.arange(16000) / 16000
    for i in range(4):
        sf.write(src / f"a{i}.wav", (0.3 * np.sin(2 * np.pi * (150 + 30 * i) * t)).astype(np.float32), 16000)
    env = dict(os.environ, REMOTEMEDIA_RUNTIME=runtime)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(src), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    mode, threads, method, ok, no_fork_server, mp_lock, drawn = json.loads(done.stdout.strip().splitlines()[-1])
    assert (mode, threads, ok, no_fork_server, mp_lock, drawn) == ("bar", 1, 4, True, False, True)
    if sys.platform.startswith("linux"):
        assert method == "fork"
