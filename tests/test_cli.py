"""The command line: `remotemedia info` and `python -m remotemedia info`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

import remotemedia


def run_cli(*args: str, entry: str = "module") -> subprocess.CompletedProcess[str]:
    if entry == "module":
        cmd = [sys.executable, "-m", "remotemedia", *args]
    else:
        script = shutil.which("remotemedia", path=os.path.dirname(sys.executable))
        assert script, "the remotemedia console script is not installed next to this interpreter"
        cmd = [script, *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("entry", ["module", "script"])
def test_info_json_matches_the_api(entry: str) -> None:
    done = run_cli("info", "--json", entry=entry)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    expected = remotemedia.get_runtime_info()
    for key in ("version", "rust_available", "binding", "reason", "native_version", "abi_version", "forced", "numpy"):
        assert info[key] == expected[key], key


def test_info_text_names_binding_and_versions() -> None:
    done = run_cli("info")
    assert done.returncode == 0, done.stderr
    expected = remotemedia.get_runtime_info()
    lines = dict(line.split(None, 1) if " " in line else (line, "") for line in done.stdout.splitlines())
    assert lines["remotemedia"].strip() == remotemedia.__version__
    assert lines["binding"].strip() == (expected["binding"] or "none (pure Python)")
    assert lines["numpy"].strip() == expected["numpy"]
    if expected["binding"] is None:
        assert expected["reason"] in done.stdout


def test_no_command_prints_help_and_fails() -> None:
    done = run_cli()
    assert done.returncode == 2
    assert "info" in done.stdout
