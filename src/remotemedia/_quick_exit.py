"""Ending the command-line process without the interpreter's teardown.

When a command has finished, its outputs are closed and renamed, its
summary written and its worker processes reaped. What the interpreter then
does on a normal exit (a full garbage collection and the teardown of every
module: numpy, soundfile, the pipeline machinery) frees memory the
operating system takes back anyway, and costs 20-40 ms on the machines the
batch benchmark runs on (``benchmarks/NOTES.md``), a few percent of a
200-file run. The command line therefore ends with :func:`end`:

- the ``atexit`` handlers run, as on a normal exit (logging's flush,
  multiprocessing's reaping of children, those of user code);
- stdout and stderr are flushed;
- the process ends with the command's status.

It falls back to a normal ``sys.exit`` while a non-daemon thread is still
running (a normal exit waits for it) or where ``atexit`` cannot be run by
hand (an interpreter without ``atexit._run_exitfuncs``). Only the command
line uses it: ``remotemedia.cli.main`` returns the status to a caller as
before. The one behaviour given up: an object still referenced at exit
is not finalised, so a file object a custom node left open and unflushed
(relying on the interpreter to close it) loses its buffer; close files.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import NoReturn


def end(status: int) -> NoReturn:
    """End the process with ``status`` after the ``atexit`` handlers and a flush of stdout/stderr."""
    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    if run_exitfuncs is None or _threads_still_running():
        sys.exit(status)
    run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or broken stream: nothing more can be said on it
            if stream is not None:
                stream.flush()
    os._exit(status)


def _threads_still_running() -> bool:
    main = threading.main_thread()
    return any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate())
