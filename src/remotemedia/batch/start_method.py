"""How worker processes start: forked from the run when that is safe, else from a fork server.

Forking the run's own process is the cheapest start (the worker inherits
every module and the loaded native core, nothing is imported again), and
it is safe while the process runs a single thread: no lock can be held by
a thread that does not exist in the child. Measured on ``speech-16k`` over
100 files with 2 workers, a fork server (a fresh interpreter importing
numpy, soundfile and the pipeline stack, then forking the workers) cost
about 0.5 s of CPU more than forking the run, about a third of the whole
run's CPU time.

When the process already runs other threads (a progress bar's monitor, a
pool being replaced, an embedding application), workers come from a fork
server instead, which preloads ``batch/warm.py``; where there is no fork
(Windows, macOS defaults aside) they are spawned.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
from typing import Any

#: What a fork server imports before forking workers.
PRELOAD = ["numpy", "soundfile", "remotemedia.batch.warm"]


def worker_context() -> Any:
    """The multiprocessing context to start workers with, now (see the module doc)."""
    methods = multiprocessing.get_all_start_methods()
    if sys.platform.startswith("linux") and "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")
