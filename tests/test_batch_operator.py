"""`remotemedia run` answers operator errors in one line with a documented exit status,
and runs valid custom manifests and awkward files (issue 11.9, 11.14, Build 4, Build 5).

Everything goes through the real command line (a subprocess).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

import remotemedia
from batch_helpers import make_collection, outputs, run_cli, speech_like
from remotemedia.batch import presets


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    # a pure-Python install adds its one documented note line before the run (tested on its own)
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("note: native core")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def small(tmp_path: Path) -> Path:
    make_collection(tmp_path / "in", n_good=2, seconds=2.0, bad=False)
    return tmp_path


def test_output_folder_naming_an_existing_file(small: Path) -> None:
    (small / "taken").write_text("mine\n")
    done = run_cli("in", "-o", "taken", "--workers", "1", cwd=small)
    assert done.returncode == 2
    assert "exists and is not a folder" in one_line(done.stderr)
    assert (small / "taken").read_text() == "mine\n"


def test_unknown_preset_lists_the_presets(small: Path) -> None:
    done = run_cli("speech16k", "in", "-o", "out", cwd=small)
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert "'speech16k' is neither a preset" in line and all(name in line for name in presets.names())
    assert not (small / "out").exists()


def test_validate_accepts_preset_names() -> None:
    for name in presets.names():
        done = subprocess.run(
            [sys.executable, "-m", "remotemedia", "validate", name], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert f"{name}: OK (preset" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "remotemedia", "validate", "speech16k"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1 and "neither a preset" in done.stderr


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_max_attempts_must_be_a_positive_whole_number(small: Path, value: str) -> None:
    done = run_cli("in", "-o", "out", "--max-attempts", value, cwd=small)
    assert done.returncode == 2
    assert "--max-attempts" in one_line(done.stderr)
    assert not (small / "out").exists()


def test_bad_runtime_variable_is_one_error_before_any_file(small: Path) -> None:
    done = run_cli("in", "-o", "out", "--workers", "2", cwd=small, env={"REMOTEMEDIA_RUNTIME": "rustt"})
    assert done.returncode == 2
    assert "REMOTEMEDIA_RUNTIME='rustt' is not one of" in one_line(done.stderr)
    assert not (small / "out").exists()  # no file was tried


def test_empty_input_set_warns_and_exits_3(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("no audio here\n")
    done = run_cli("in", "-o", "out", cwd=tmp_path)
    assert done.returncode == 3
    assert "no audio file" in one_line(done.stderr)
    assert not (tmp_path / "out").exists()


def test_unreachable_dask_scheduler_fails_fast_in_one_line(small: Path) -> None:
    pytest.importorskip("distributed")
    with socket.socket() as s:  # a loopback port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = run_cli("in", "-o", "out", "--dask", f"tcp://127.0.0.1:{port}", "--dask-timeout", "2", cwd=small)
    assert done.returncode == 2
    line = done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr
    assert "cannot reach the Dask scheduler" in line and "--dask-timeout" in line


def test_closed_stdout_and_stderr_do_not_stop_the_run(small: Path) -> None:
    """`remotemedia run ... 2>&1 | head`: the reader goes away; the run finishes, quietly."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "remotemedia", "run", "in", "-o", "out", "--workers", "1", "--progress", "lines"],
        cwd=small,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # like `head` exiting before the run has printed anything
    assert proc.wait(timeout=300) == 0
    assert len(outputs(small / "out")) == 2
    assert json.loads((small / "out" / "_remotemedia_summary.json").read_text())["ok"] == 2


def test_a_wav_cut_in_half_is_a_failure_not_a_silent_ok(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for fmt, ext in (("WAV", "wav"), ("AIFF", "aiff")):
        full = tmp_path / f"full.{ext}"
        sf.write(full, speech_like(4.0, 16000, seed=1), 16000, format=fmt)
        data = full.read_bytes()
        (tmp_path / "in" / f"half.{ext}").write_bytes(data[: len(data) // 2])
    sf.write(tmp_path / "in" / "whole.wav", speech_like(4.0, 16000, seed=2), 16000)
    done = run_cli("in", "-o", "out", "--workers", "1", cwd=tmp_path)
    assert done.returncode == 1
    failures = {
        json.loads(line)["relpath"]: json.loads(line)
        for line in (tmp_path / "out" / "_remotemedia_failures.jsonl").read_text().splitlines()
    }
    assert sorted(failures) == ["half.aiff", "half.wav"]
    assert all(f["node"] == "read" and "truncated" in f["error"] for f in failures.values())
    assert list(outputs(tmp_path / "out")) == ["whole.wav"]


# ---- 11.9: valid custom manifests ---------------------------------------------------


def custom_manifest(metrics: bool, sink: str | None) -> dict:
    manifest = presets.load("speech-16k")
    manifest["name"] = "custom"
    if not metrics:
        manifest.pop("config")
    if sink is not None:
        manifest["nodes"].append({"id": "sink", "node_type": "AudioFileSink", "params": {"path": sink}})
        manifest["connections"].append({"from": "vad", "to": "sink"})
    return manifest


def test_manifest_without_metrics_runs(small: Path) -> None:
    (small / "p.json").write_text(json.dumps(custom_manifest(metrics=False, sink=None)))
    done = run_cli("p.json", "in", "-o", "out", "--workers", "1", "--json", cwd=small)
    assert done.returncode == 0, done.stdout + done.stderr
    found = outputs(small / "out")
    assert len(found) == 2
    for audio, rate, sidecar in found.values():
        assert rate == 16000 and audio.size > 0 and sidecar["metrics"] is None and sidecar["speech_segments"]


def test_manifest_ending_in_audio_file_sink_runs_and_resumes(small: Path) -> None:
    (small / "p.json").write_text(json.dumps(custom_manifest(metrics=True, sink="sunk.wav")))
    done = run_cli("p.json", "in/set0", "-o", "out", "--workers", "1", "--json", cwd=small)
    assert done.returncode == 0, done.stdout + done.stderr
    sidecars = [json.loads(p.read_text()) for p in (small / "out").glob("*.json") if not p.name.startswith("_")]
    assert len(sidecars) == 1
    (sidecar,) = sidecars
    assert sidecar["output"]["path"] is None  # the pipeline's own sink wrote the audio
    (sunk,) = sidecar["sink_outputs"]
    assert sunk["frames"] > 0 and sunk["sample_rate"] == 16000
    audio, rate = sf.read(
        small / "out" / "sunk.wav", dtype="float32"
    )  # manifest paths are relative to the output folder
    assert rate == 16000 and audio.shape[0] == sunk["frames"]
    again = json.loads(run_cli("p.json", "in/set0", "-o", "out", "--resume", "--json", cwd=small).stdout)
    assert (again["ok"], again["skipped"]) == (0, 1)


# ---- 11.14: file names that are not UTF-8, a read-only file system -------------------


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="needs a file system that takes any bytes as a name")
def test_file_names_that_are_not_utf8(tmp_path: Path) -> None:
    folder = os.fsencode(tmp_path / "in")
    os.mkdir(folder)
    name = os.path.join(folder, b"caf\xe9-\xff.wav")
    sf.write(tmp_path / "plain.wav", speech_like(2.0, 16000, seed=4), 16000)
    os.rename(tmp_path / "plain.wav", name)
    done = run_cli("in", "-o", "out", "--workers", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    (key,) = outputs(tmp_path / "out")
    assert os.fsencode(key) == b"caf\xe9-\xff.wav"
    again = run_cli("in", "-o", "out", "--workers", "1", "--resume", "--json", cwd=tmp_path)
    assert json.loads(again.stdout)["skipped"] == 1


def _can_mount_privately() -> bool:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o ro none /tmp"], capture_output=True, check=False
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_privately(), reason="needs unshare and mount (a private read-only tmpfs)")
def test_read_only_output_folder_reports_the_write_error(small: Path) -> None:
    out_sub = small / "out" / "set0"
    out_sub.mkdir(parents=True)
    cmd = f"mount -t tmpfs -o ro none out/set0 && exec {sys.executable} -m remotemedia run in -o out --workers 1"
    done = subprocess.run(["unshare", "-rm", "sh", "-c", cmd], cwd=small, capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr
    (failure,) = [json.loads(x) for x in (small / "out" / "_remotemedia_failures.jsonl").read_text().splitlines()]
    assert failure["node"] == "write" and "Read-only file system" in failure["error"]
    assert "Traceback" not in failure["error"]  # the real error, not the cleanup's
    # a read-only output folder as a whole: one line, before any file
    (small / "ro").mkdir()
    cmd = f"mount -t tmpfs -o ro none ro && exec {sys.executable} -m remotemedia run in -o ro --workers 1"
    done = subprocess.run(["unshare", "-rm", "sh", "-c", cmd], cwd=small, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "cannot write to the output folder ro: Read-only file system" in one_line(done.stderr)


# ---- Build 5: the pure-Python notice ----------------------------------------------


@pytest.mark.skipif(
    remotemedia.get_runtime_info()["rust_available"],
    reason="needs a pure-Python install (CI's pure step runs it)",
)
def test_pure_python_notice_is_one_short_line_once_per_run(tmp_path: Path) -> None:
    make_collection(tmp_path / "in", n_good=4, seconds=1.0, bad=False)
    env = {"REMOTEMEDIA_RUNTIME": "auto"}
    done = run_cli("in", "-o", "out", "--workers", "2", "--progress", "none", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if "native core" in line]
    assert len(notes) == 1 and len(notes[0]) < 160, done.stderr
    assert "UserWarning" not in done.stderr
    quiet = run_cli("in", "-o", "out2", "--workers", "2", "-q", cwd=tmp_path, env=env)
    assert quiet.returncode == 0 and quiet.stderr == ""
    chosen = run_cli("in", "-o", "out3", "--workers", "2", cwd=tmp_path, env={"REMOTEMEDIA_RUNTIME": "python"})
    assert chosen.returncode == 0 and "native core" not in chosen.stderr
