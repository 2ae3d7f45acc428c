"""The command line ends without the interpreter's teardown, and loses nothing (remotemedia/_quick_exit.py).

Each case runs a fresh interpreter through ``remotemedia.cli.entry`` (what
the ``remotemedia`` script and ``python -m remotemedia`` run) and checks
what a normal exit would have given: the status, every line printed
(also through a pipe, where stdout is block-buffered), the ``atexit``
handlers, and a non-daemon thread's work (the exit then waits for it, as
a normal exit does). A batch run over every available runtime checks its
outputs and summary are complete when the process is gone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from batch_helpers import speech_like
from conftest import AVAILABLE


def _entry(tmp_path: Path, prelude: str, *argv: str, runtime: str | None = None) -> subprocess.CompletedProcess[str]:
    """``prelude`` then ``entry()`` with ``argv`` in a fresh interpreter, stdout and stderr piped."""
    argv_line = f"sys.argv = ['remotemedia', *{list(argv)!r}]"
    code = f"import sys\n{prelude}\n{argv_line}\nfrom remotemedia.cli import entry\nentry()\n"
    env = dict(os.environ)
    if runtime is not None:
        env["REMOTEMEDIA_RUNTIME"] = runtime
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, check=False
    )


def test_piped_output_and_status_arrive_whole(tmp_path: Path) -> None:
    done = _entry(tmp_path, "", "info", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["version"]  # the whole JSON document, flushed before the end


def test_a_failing_command_keeps_its_status_and_message(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    done = _entry(tmp_path, "", "run", "empty", "-o", "out", "-q")
    assert done.returncode == 3  # nothing to do
    assert "no audio file" in done.stderr.lower() or done.stderr.strip()


def test_atexit_handlers_still_run(tmp_path: Path) -> None:
    prelude = "import atexit\natexit.register(lambda: print('handler ran', flush=False))"
    done = _entry(tmp_path, prelude, "info")
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("handler ran")


def test_a_running_non_daemon_thread_is_waited_for(tmp_path: Path) -> None:
    # A normal exit waits for it; so must this one (it falls back to sys.exit).
    prelude = (
        "import threading, time, pathlib\n"
        "def late():\n"
        "    time.sleep(0.5)\n"
        "    pathlib.Path('late.txt').write_text('written')\n"
        "threading.Thread(target=late).start()"
    )
    done = _entry(tmp_path, prelude, "info")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "late.txt").read_text() == "written"


@pytest.mark.parametrize("runtime", AVAILABLE)
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_batch_run_is_complete_when_the_process_is_gone(tmp_path: Path, runtime: str, workers: str) -> None:
    for i in range(4):
        sf.write(tmp_path / f"in{i}.wav", speech_like(3.0, 16000, seed=i), 16000, subtype="PCM_16")
    done = _entry(tmp_path, "", "run", ".", "-o", "out", "--workers", workers, "-q", runtime=runtime)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "out" / "_remotemedia_summary.json").read_text())
    assert summary["ok"] == 4
    for i in range(4):
        side = json.loads((tmp_path / "out" / f"in{i}.wav.json").read_text())
        out = tmp_path / "out" / f"in{i}.wav"
        assert out.stat().st_size == side["output"]["size"]
        assert sf.info(str(out)).frames > 0
