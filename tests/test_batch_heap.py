"""`remotemedia run` keeps freed memory for the next file (glibc's thresholds, batch/heap.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from conftest import AVAILABLE
from remotemedia.batch import heap

_PROBE = (
    "import json, sys\n"
    "from remotemedia.batch import heap\n"
    "calls = []\n"
    "real = heap.keep_freed_memory\n"
    "def spy():\n"
    "    calls.append(real())\n"
    "    return calls[-1]\n"
    "heap.keep_freed_memory = spy\n"
    "from remotemedia.cli import main\n"
    "status = main(sys.argv[1:])\n"
    "print(json.dumps([status, calls]))\n"
)


def _run(tmp_path: Path, runtime: str, **extra: str) -> tuple[int, list[bool]]:
    """A two-file `remotemedia run` in a fresh interpreter: its status and what keep_freed_memory returned."""
    t = np.arange(16000) / 16000
    for name in ("a.wav", "b.wav"):
        sf.write(tmp_path / name, (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 16000)
    env = {k: v for k, v in os.environ.items() if k not in heap.USER_SETTINGS and k != "GLIBC_TUNABLES"}
    env.update(REMOTEMEDIA_RUNTIME=runtime, **extra)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "run", ".", "-o", "out", "--workers", "1", "-q"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").glob("*.wav")) == ["a.wav", "b.wav"]
    status, calls = json.loads(done.stdout.strip().splitlines()[-1])
    return status, calls


@pytest.mark.parametrize("runtime", AVAILABLE)
def test_a_run_sets_the_thresholds_on_glibc(tmp_path: Path, runtime: str) -> None:
    status, calls = _run(tmp_path, runtime)
    assert status == 0
    assert calls == [heap.glibc()]


@pytest.mark.parametrize("runtime", AVAILABLE)
@pytest.mark.parametrize(
    "setting", [("MALLOC_TRIM_THRESHOLD_", "1048576"), ("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0")]
)
def test_a_run_leaves_the_users_malloc_settings(tmp_path: Path, runtime: str, setting: tuple[str, str]) -> None:
    status, calls = _run(tmp_path, runtime, **dict([setting]))
    assert status == 0
    assert calls == [False]


class _FakeLibc:
    """A libc whose ``mallopt`` (a function object, as ctypes gives) records its calls."""

    def __init__(self, answer: int = 1) -> None:
        self.calls: list[tuple[int, int]] = []
        self.answer = answer

        def mallopt(param: int, value: int) -> int:
            self.calls.append((param, value))
            return self.answer

        self.mallopt = mallopt


@pytest.fixture
def fake_libc(monkeypatch: pytest.MonkeyPatch) -> _FakeLibc:
    import ctypes

    libc = _FakeLibc()

    def cdll(name: Any) -> _FakeLibc:
        assert name is None  # the process's own libc
        return libc

    monkeypatch.setattr(ctypes, "CDLL", cdll)
    monkeypatch.setattr(heap, "glibc", lambda: True)
    for name in (*heap.USER_SETTINGS, "GLIBC_TUNABLES"):
        monkeypatch.delenv(name, raising=False)
    return libc


def test_both_thresholds_are_set_mmap_first(fake_libc: _FakeLibc) -> None:
    assert heap.keep_freed_memory() is True
    assert fake_libc.calls == [(heap.M_MMAP_THRESHOLD, 32 << 20), (heap.M_TRIM_THRESHOLD, 256 << 20)]


def test_a_refused_mmap_threshold_sets_nothing_more(fake_libc: _FakeLibc) -> None:
    fake_libc.answer = 0
    assert heap.keep_freed_memory() is False
    assert fake_libc.calls == [(heap.M_MMAP_THRESHOLD, 32 << 20)]


def test_nothing_off_glibc_or_when_the_user_tuned_malloc(fake_libc: _FakeLibc, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert heap.keep_freed_memory() is False
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_")
    monkeypatch.setattr(heap, "glibc", lambda: False)
    assert heap.keep_freed_memory() is False
    assert fake_libc.calls == []


def test_glibc_is_recognised_here() -> None:
    expected = sys.platform.startswith("linux") and (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    assert heap.glibc() is expected
