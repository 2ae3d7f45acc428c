"""Real paths of many files in few folders, each folder resolved once (the pre-run checks).

The scan and the pre-flight compare every input and every output by its
real path; ``os.path.realpath`` walks (``lstat``) every component of every
path, about 30 us for a path five folders deep, 800 times in a run of 200
files. Resolving each folder once and only the last component per file
gives the same strings for a fraction of the time.
"""

from __future__ import annotations

import os


class RealPaths:
    """``os.path.realpath`` for many paths, each folder's real path looked up once.

    The result is ``os.path.realpath``'s: a path whose last component is
    not a symbolic link is its folder's real path (cached) joined with its
    name; a link, a path with ``.`` or ``..`` or anything ``normpath`` would
    change, and a bare name go to ``os.path.realpath`` whole. Valid while
    the folders do not change (one run's checks before any work).
    """

    def __init__(self) -> None:
        self._folders: dict[str, str] = {}

    def __call__(self, path: str | os.PathLike[str]) -> str:
        text = os.fspath(path)
        head, name = os.path.split(text)
        if not head or name in ("", ".", "..") or os.path.normpath(text) != text:
            return os.path.realpath(text)
        folder = self._folders.get(head)
        if folder is None:
            folder = self._folders[head] = os.path.realpath(head)
        joined = os.path.join(folder, name)
        if os.path.islink(joined):
            return os.path.realpath(text)
        return joined
