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


def test_bench_times_every_available_body() -> None:
    done = run_cli("bench", "--seconds", "1", "--repeat", "1", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    expected = {ks.binding or "numpy" for ks in remotemedia.kernels.available()}
    for task in ("convert i16->f32 (stereo 48k)", "resample 48k->16k high (mono)", "VAD 30 ms frames (16k)"):
        assert expected <= {r["body"] for r in rows if r["task"] == task}
    assert {r["task"] for r in rows} >= {"speech-16k pipeline"}
    assert all(r["seconds"] > 0 and r["x_real_time"] > 0 for r in rows)
    text = run_cli("bench", "--seconds", "1", "--repeat", "1")
    assert text.returncode == 0 and "vs numpy" in text.stdout


def test_a_closed_pipe_ends_the_output_quietly() -> None:
    """`remotemedia info | head -1`: no traceback when the reader has gone away."""
    for args in (["info"], ["info", "--json"], ["validate", "speech-16k"]):
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader is gone before anything is printed: every write fails
        try:
            done = subprocess.run(
                [sys.executable, "-m", "remotemedia", *args],
                stdout=write_end,
                stderr=subprocess.PIPE,
                text=True,
                check=False,
                timeout=120,
            )
        finally:
            os.close(write_end)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
