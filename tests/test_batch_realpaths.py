"""RealPaths (batch/realpaths.py) gives os.path.realpath's answer for every kind of path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from remotemedia.batch.realpaths import RealPaths


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Folders, files, a linked folder, a linked file, a dangling link and a link loop; cwd inside."""
    real = tmp_path / "real" / "sub"
    real.mkdir(parents=True)
    for name in ("a.wav", "b.flac"):
        (real / name).write_bytes(b"x")
    (tmp_path / "linked").symlink_to(tmp_path / "real")
    (real / "alias.wav").symlink_to(real / "a.wav")
    (real / "up.wav").symlink_to(Path("..") / "sub" / "b.flac")
    (real / "dangling.wav").symlink_to(real / "missing.wav")
    (real / "loop1").symlink_to(real / "loop2")
    (real / "loop2").symlink_to(real / "loop1")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_path_resolves_as_os_path_realpath(tree: Path) -> None:
    names = ["a.wav", "b.flac", "alias.wav", "up.wav", "dangling.wav", "missing.wav", "loop1", ".", "..", ""]
    folders = [
        str(tree / "real" / "sub"),
        str(tree / "linked" / "sub"),
        "real/sub",
        "linked/sub",
        "linked/sub/../sub",
        "./linked/sub",
        str(tree / "nowhere"),
        "nowhere/deeper",
        "real/sub/loop1",
        str(tree / "linked" / "sub" / "loop2"),
        "real/sub/dangling.wav",
        "linked/sub/alias.wav",
    ]
    paths = [os.path.join(f, n) for f in folders for n in names] + ["a.wav", "linked", "/", str(tree)]
    realpath = RealPaths()
    for _ in range(2):  # the second time from the cache
        for p in paths:
            assert realpath(p) == os.path.realpath(p), p
            assert realpath(Path(p)) == os.path.realpath(Path(p)), p
