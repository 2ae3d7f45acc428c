"""Atomic writes (batch/files.py): the folder is made only when missing, with the errors of making it first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from remotemedia.batch import files
from remotemedia.batch.streamfile import _AtomicWriter


def _old_way(path: Path, mode: str) -> Any:
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, mode)  # closed by the caller


def _error(fn: Callable[[], Any]) -> tuple[type[BaseException], str]:
    with pytest.raises(OSError) as caught:
        fn()
    return type(caught.value), str(caught.value)


@pytest.mark.parametrize("where", ["exists", "missing", "missing/deeper"])
def test_the_file_is_made_with_its_folders(tmp_path: Path, where: str) -> None:
    (tmp_path / "exists").mkdir()
    target = tmp_path / where / "a.bin"
    with files.open_in_folder(target, "w+b") as fh:
        fh.write(b"x")
    assert target.read_bytes() == b"x"


@pytest.mark.parametrize("blocker", ["parent", "grandparent"])
def test_a_file_in_the_folders_place_fails_as_making_the_folder_first_did(tmp_path: Path, blocker: str) -> None:
    old_root, new_root = tmp_path / "old", tmp_path / "new"
    for root in (old_root, new_root):
        root.mkdir()
        (root / "f").write_text("not a folder")
    rel = Path("f", "a.bin") if blocker == "parent" else Path("f", "sub", "a.bin")
    old = _error(lambda: _old_way(old_root / rel, "w+b"))
    new = _error(lambda: files.open_in_folder(new_root / rel, "w+b"))
    assert new == (old[0], old[1].replace(str(old_root), str(new_root)))


@pytest.mark.parametrize("where", ["exists", "missing", "missing/deeper"])
def test_a_new_file_is_written_with_its_folders_and_replaces_an_old_one(tmp_path: Path, where: str) -> None:
    (tmp_path / "exists").mkdir()
    target = tmp_path / where / "a.json"
    files.write_new_file(target, b"a longer old text\n")
    files.write_new_file(target, b"{}\n")
    assert target.read_bytes() == b"{}\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.json"]


@pytest.mark.parametrize("blocker", ["parent", "grandparent", "itself"])
def test_a_new_file_fails_as_opening_it_did(tmp_path: Path, blocker: str) -> None:
    """The errors of ``open_in_folder(path, "wb")`` (a file in a folder's place, a folder in the file's)."""
    old_root, new_root = tmp_path / "old", tmp_path / "new"
    rel = {"parent": Path("f", "a.json"), "grandparent": Path("f", "sub", "a.json"), "itself": Path("d")}[blocker]
    for root in (old_root, new_root):
        root.mkdir()
        (root / "f").write_text("not a folder")
        (root / "d").mkdir()
    old = _error(lambda: files.open_in_folder(old_root / rel, "wb").close())
    new = _error(lambda: files.write_new_file(new_root / rel, b"{}"))
    assert new == (old[0], old[1].replace(str(old_root), str(new_root)))


def test_json_sidecar_text_and_folders_are_those_of_atomic_path(tmp_path: Path) -> None:
    data = {"b": [1, 2.5, None], "a": {"z": "é", "y": True}}
    files.write_json_atomic(tmp_path / "new" / "deep" / "x.json", data)
    with files.atomic_path(tmp_path / "old" / "deep" / "x.json") as tmp:
        tmp.write_text(files.json_text(data))
    assert (tmp_path / "new/deep/x.json").read_bytes() == (tmp_path / "old/deep/x.json").read_bytes()
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(["new", "old", "deep", "deep", "x.json", "x.json"])


def test_a_json_failure_leaves_no_temporary_and_the_folder_made(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        files.write_json_atomic(tmp_path / "made" / "x.json", {"a": object()})
    assert (tmp_path / "made").is_dir() and list((tmp_path / "made").iterdir()) == []
    (tmp_path / "f").write_text("not a folder")
    old = _error(lambda: (tmp_path / "f" / "y.json").parent.mkdir(parents=True, exist_ok=True))
    assert _error(lambda: files.write_json_atomic(tmp_path / "f" / "y.json", {"a": 1})) == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "made"]


def test_the_output_writer_removes_its_temporary_only_while_it_exists(tmp_path: Path) -> None:
    import numpy as np

    w = _AtomicWriter(tmp_path / "o" / "a.wav", "WAV", "PCM_16")
    w.discard()  # nothing made yet: nothing to remove, no folder made
    assert not (tmp_path / "o").exists()
    w.write(np.zeros(160, np.float32), 16000)
    assert w.tmp.is_file()
    w.discard()
    assert not w.tmp.exists() and list((tmp_path / "o").iterdir()) == []
    w = _AtomicWriter(tmp_path / "o" / "a.wav", "WAV", "PCM_16")
    w.write(np.zeros(160, np.float32), 16000)
    size = w.commit(16000)
    w.tmp.write_bytes(b"a file of that name made after the commit is not the writer's")
    w.discard()
    assert w.tmp.is_file() and (tmp_path / "o" / "a.wav").stat().st_size == size
