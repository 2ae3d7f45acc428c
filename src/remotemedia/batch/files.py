"""Atomic writes, temporary-file cleanup and input fingerprints."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from remotemedia.core.tempfiles import TMP_MARK, remove_stale, temp_path_for

__all__ = [
    "TMP_MARK",
    "atomic_path",
    "fingerprint",
    "quick_fingerprint_matches",
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


def write_json_atomic(final: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``final`` atomically."""
    with atomic_path(final) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_atomic(final: Path, write: Callable[[Path], object]) -> None:
    """Let ``write`` fill a temporary path, then move it onto ``final``."""
    with atomic_path(final) as tmp:
        write(tmp)


def remove_stale_temporaries(root: Path) -> int:
    """Delete temporary files left by a killed run (or a killed AudioFileSink) below ``root``."""
    return remove_stale(root)


def fingerprint(path: Path) -> dict[str, Any]:
    """Size, modification time and a BLAKE2b digest of a file's bytes."""
    st = path.stat()
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "blake2b": digest.hexdigest()}


def quick_fingerprint_matches(path: Path, recorded: dict[str, Any]) -> bool:
    """True if size and mtime still match a recorded fingerprint (no re-read)."""
    try:
        st = path.stat()
    except OSError:
        return False
    return st.st_size == recorded.get("size") and st.st_mtime_ns == recorded.get("mtime_ns")
