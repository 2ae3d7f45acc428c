"""Every script in examples/ runs unchanged under every available runtime."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import AVAILABLE

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


def run(script: str, runtime: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "REMOTEMEDIA_RUNTIME": runtime, "PYTHONWARNINGS": "error", **env}
    return subprocess.run(
        [sys.executable, script], cwd=EXAMPLES, env=full_env, capture_output=True, text=True, timeout=120
    )


# The topics docs/pipelines.md promises a runnable script for.
DOCUMENTED = {
    "automatic_selection.py",
    "forced_python.py",
    "require_rust.py",
    "debug_switch.py",
    "dag.py",
    "manifest_roundtrip.py",
    "retries_and_metrics.py",
    "realtime_frames.py",
    "stream_file.py",
    "drift_correction.py",
}


def test_every_documented_topic_has_a_script_that_says_what_it_shows() -> None:
    assert set(SCRIPTS) >= DOCUMENTED, sorted(DOCUMENTED - set(SCRIPTS))
    for script in SCRIPTS:
        doc = ast.get_docstring(ast.parse((EXAMPLES / script).read_text()))
        assert doc and len(doc.split()) >= 5, f"{script} has no docstring saying what it shows"


@pytest.mark.parametrize("runtime", AVAILABLE)
@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs(script: str, runtime: str) -> None:
    result = run(script, runtime)
    if script == "require_rust.py" and runtime == "python":
        assert result.returncode == 1, result.stdout + result.stderr
        assert "requires the native core (runtime_hint='rust')" in result.stderr
        assert "Traceback" not in result.stderr
        return
    assert result.returncode == 0, f"{script} under {runtime}:\n{result.stdout}\n{result.stderr}"
    assert result.stdout.strip(), f"{script} under {runtime} printed nothing to show its result"


@pytest.mark.parametrize("runtime", AVAILABLE)
def test_debug_switch_forces_python(runtime: str) -> None:
    result = run("debug_switch.py", runtime, DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert "resampler ran on python" in result.stdout
