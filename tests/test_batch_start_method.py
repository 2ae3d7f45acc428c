"""Workers are forked from the run only while it runs a single thread."""

from __future__ import annotations

import subprocess
import sys

import pytest

CODE = """
import threading
from remotemedia.batch.start_method import worker_context
print(worker_context().get_start_method())
stop = threading.Event()
t = threading.Thread(target=stop.wait)
t.start()
print(worker_context().get_start_method())
stop.set()
t.join()
print(worker_context().get_start_method())
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the fork rule is Linux-only (other systems never fork)"
)
def test_fork_while_single_threaded_else_fork_server() -> None:
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["fork", "forkserver", "fork"]
