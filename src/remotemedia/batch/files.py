"""Atomic writes and temporary-file cleanup (input fingerprints: fingerprint.py)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from remotemedia.core.tempfiles import TMP_MARK, remove_stale, temp_path_for

__all__ = [
    "TMP_MARK",
    "atomic_path",
    "remove_stale_temporaries",
    "temp_path_for",
    "write_atomic",
    "write_json_atomic",
]


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
    finally:
        # after a failure the real error is on its way out: a cleanup error (a read-only
        # file system) must not replace it; a temporary left behind is removed next run
        with contextlib.suppress(OSError):
            tmp.unlink()


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
    """Write ``data`` as JSON to ``final`` atomically (see :func:`json_text`)."""
    with atomic_path(final) as tmp:
        tmp.write_text(json_text(data))


def write_atomic(final: Path, write: Callable[[Path], object]) -> None:
    """Let ``write`` fill a temporary path, then move it onto ``final``."""
    with atomic_path(final) as tmp:
        write(tmp)


def remove_stale_temporaries(root: Path) -> int:
    """Delete temporary files left by a killed run (or a killed AudioFileSink) below ``root``."""
    return remove_stale(root)
