"""Atomic writes and temporary-file cleanup (input fingerprints: fingerprint.py)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from remotemedia.core.tempfiles import TMP_MARK, remove_stale, temp_path_for

__all__ = [
    "TMP_MARK",
    "atomic_path",
    "open_in_folder",
    "remove_stale_temporaries",
    "temp_path_for",
    "write_atomic",
    "write_json_atomic",
    "write_new_file",
]


def open_in_folder(path: Path, mode: str) -> IO[Any]:
    """``open(path, mode)``, making ``path``'s folder (and its parents) first if it is missing.

    The same as ``path.parent.mkdir(parents=True, exist_ok=True)`` then
    ``open``, and the same errors, without the ``mkdir`` and its ``stat``
    calls when the folder exists (every file after a folder's first: two
    system calls and a caught exception each, for an output and its sidecar).
    """
    try:
        return open(path, mode)  # the caller closes it
    except (FileNotFoundError, NotADirectoryError):
        path.parent.mkdir(parents=True, exist_ok=True)  # raises what it raised when it came first
        return open(path, mode)


#: ``open(path, "w")``'s flags (a new file, or an old one emptied), close-on-exec as Python opens files.
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def write_new_file(path: Path, data: bytes) -> None:
    """``data`` into ``path`` (made or emptied), making ``path``'s folder first if it is missing.

    What ``open_in_folder(path, "wb")`` then ``write`` and ``close`` do, the
    same errors, without Python's file objects around the descriptor (and
    their ``fstat`` and ``isatty`` calls): a sidecar is one small write.
    """
    try:
        fd = os.open(path, _NEW_FILE, 0o666)
    except (FileNotFoundError, NotADirectoryError):
        path.parent.mkdir(parents=True, exist_ok=True)  # raises what it raised when it came first
        fd = os.open(path, _NEW_FILE, 0o666)
    try:
        view = memoryview(data)
        while view:  # a regular file takes it in one write; a short one goes on where it stopped
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path; on success rename it onto ``final``.

    On error the temporary file is removed and ``final`` is untouched: a
    reader sees the old complete file or the new complete file, never part,
    whenever the process is killed. There is no fsync (it cost a fifth of
    the batch job's time): after a power loss an output may be short, and
    ``--resume`` redoes it because its size no longer matches the sidecar.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        # after a failure the real error is on its way out: a cleanup error (a read-only
        # file system) must not replace it; a temporary left behind is removed next run
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


# ``json.dumps(..., sort_keys=True)`` builds a new encoder per call; one kept encoder gives the same text
_SORTED = json.JSONEncoder(sort_keys=True)


def json_text(data: Any) -> str:
    """``data`` as JSON text, keys sorted, one top-level entry per line.

    Each entry is encoded by the C encoder (``json.dumps`` without
    ``indent``); full indentation would fall back to the pure-Python encoder,
    which cost about a millisecond per sidecar (a tenth of a short file's
    processing). The result is the same JSON value.
    """
    if not isinstance(data, dict) or not data:
        return _SORTED.encode(data) + "\n"
    rows = [f"  {json.dumps(key)}: {_SORTED.encode(data[key])}" for key in sorted(data)]
    return "{\n" + ",\n".join(rows) + "\n}\n"


def write_json_atomic(final: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``final`` atomically (see :func:`json_text` and :func:`atomic_path`).

    What ``atomic_path`` does, with the folder made only when it is missing
    (:func:`open_in_folder`): a sidecar goes beside its output, already there.
    """
    tmp = temp_path_for(final)
    try:
        try:
            text = json_text(data)
        except BaseException:
            final.parent.mkdir(parents=True, exist_ok=True)  # as ever: the folder first, whatever fails next
            raise
        # as text mode writes it: JSON text is ASCII, and line ends are the platform's
        write_new_file(tmp, (text if os.linesep == "\n" else text.replace("\n", os.linesep)).encode("ascii"))
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):  # see atomic_path
            tmp.unlink()
        raise


def write_atomic(final: Path, write: Callable[[Path], object]) -> None:
    """Let ``write`` fill a temporary path, then move it onto ``final``."""
    with atomic_path(final) as tmp:
        write(tmp)


def remove_stale_temporaries(root: Path) -> int:
    """Delete temporary files left by a killed run (or a killed AudioFileSink) below ``root``."""
    return remove_stale(root)
