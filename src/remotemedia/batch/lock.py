"""One run per output folder: an exclusive lock file held for the whole run.

Two runs writing one folder would delete each other's temporaries and race
on the summary and failures files. The lock is an OS lock (``fcntl.flock``
on POSIX, ``msvcrt.locking`` on Windows) on ``<outdir>/_remotemedia.lock``:
the kernel drops it when the holder dies, however it dies, so a killed run
never blocks the next one. The file records who holds it, for the message.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

LOCK_FILE = "_remotemedia.lock"


class OutputLockedError(RuntimeError):
    """Another run holds the output folder."""


class OutputNotWritableError(OSError):
    """The output folder cannot be created or written (read-only, no permission)."""


def _open_lock_file(outdir: Path, path: Path) -> IO[str]:
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        return open(path, "a+", encoding="utf-8")
    except OSError as exc:
        raise OutputNotWritableError(
            f"cannot write to the output folder {outdir}: {exc.strerror or exc}; choose another -o"
        ) from exc


def _try_lock(fh: IO[str]) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text())
        return (
            f"pid {info['pid']} on {info['host']}, started {info['started']}: {info['command']}"
            if isinstance(info, dict)
            else "unknown"
        )
    except (OSError, ValueError, KeyError):
        return "another process"


def _host() -> str:
    """This machine's name (``os.uname`` where it exists: no ``socket`` import at start-up)."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


@contextlib.contextmanager
def output_lock(outdir: Path, command: str | None = None) -> Iterator[Path]:
    """Hold the output folder's lock for the duration of the block.

    Raises
    ------
    OutputLockedError
        Another run holds it; the message names that run.
    """
    path = outdir / LOCK_FILE
    while True:
        fh = _open_lock_file(outdir, path)
        if not _try_lock(fh):
            fh.close()
            raise OutputLockedError(
                f"the output folder {outdir} is in use by another run ({_holder(path)}); "
                "wait for it to finish or choose another -o"
            )
        # The file may have been removed (and recreated) by the previous holder between
        # our open and our lock: then we hold a lock on a name nobody else sees. Retry.
        try:
            same = os.path.samestat(os.fstat(fh.fileno()), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        fh.close()
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": _host(),
                    "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "command": command or " ".join(sys.argv),
                }
            )
        )
        fh.flush()
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        fh.close()
