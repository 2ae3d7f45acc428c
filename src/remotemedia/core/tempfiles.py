"""Temporary files beside their target: one naming for every writer in the package.

Writers that must never leave a partial file (AudioFileSink, the batch
job's outputs and sidecars) write to a temporary file in the target's
folder and rename it over the target when complete (an atomic replace on
one file system). They all name it ``.<target name>.<12 hex>.rmtmp<suffix>``
(hidden, the target's extension kept so tools still know the format), so
one cleanup, :func:`remove_stale`, finds what any killed writer left.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

TMP_MARK = ".rmtmp"


def temp_path_for(final: Path) -> Path:
    """A unique temporary name in ``final``'s folder (so the rename is atomic)."""
    return final.with_name(f".{final.name}.{os.urandom(6).hex()}{TMP_MARK}{final.suffix}")


def is_temporary(path: Path) -> bool:
    """True for a name made by :func:`temp_path_for`."""
    return path.name.startswith(".") and TMP_MARK in path.name


def remove_stale(root: Path) -> int:
    """Delete temporary files left below ``root`` by killed writers; returns the count.

    Only for a folder no other writer is using (the batch job holds its
    output folder's lock while it calls this).
    """
    count = 0
    if root.is_dir():
        for path in root.rglob(f"*{TMP_MARK}*"):
            if is_temporary(path) and path.is_file():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    count += 1
    return count
