"""Tests that need the shared recordings skip with a reason without them, and fail under
REMOTEMEDIA_REQUIRE_SHARED=1 (what .ci/run sets): the ``shared_data`` fixture in conftest.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_probe(shared: Path, require: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, REMOTEMEDIA_SHARED_DIR=str(shared), REMOTEMEDIA_REQUIRE_SHARED=require)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(HERE / "shared_data_probe.py")],
        cwd=HERE.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_missing_shared_recordings_skip_with_a_reason(tmp_path: Path) -> None:
    done = run_probe(tmp_path, "")
    assert done.returncode == 0, done.stdout
    assert "1 skipped" in done.stdout and "the shared recordings are not in" in done.stdout


def test_required_shared_recordings_fail_when_missing(tmp_path: Path) -> None:
    done = run_probe(tmp_path, "1")
    assert done.returncode == 1, done.stdout
    assert "REMOTEMEDIA_REQUIRE_SHARED is set" in done.stdout and "1 error" in done.stdout


def test_present_shared_recordings_are_used(shared_data: Path) -> None:
    done = run_probe(shared_data.parent, "1")
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout
