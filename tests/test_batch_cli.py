"""`remotemedia run`, through the real command line, on generated collections."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from batch_helpers import make_collection, outputs, run_cli, temporaries


def test_default_run_processes_the_embedded_sample(tmp_path: Path) -> None:
    done = run_cli(cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "embedded sample" in done.stdout and "ok 1, failed 0" in done.stdout
    assert "s of speech at 16000 Hz in" in done.stdout
    found = outputs(tmp_path / "remotemedia-out")
    assert list(found) == ["sample.wav"]
    audio, rate, sidecar = found["sample.wav"]
    assert rate == 16000 and audio.ndim == 1
    assert sidecar["input"]["sample_rate"] == 22050 and sidecar["input"]["duration_s"] > 15
    segments = sidecar["speech_segments"]
    assert 3 <= len(segments) <= 12, segments
    speech_s = sum(e - s for s, e in segments)
    assert abs(audio.size / 16000 - speech_s) < 0.05  # silence trimmed: the output is the segments
    assert speech_s < 0.9 * sidecar["input"]["duration_s"]
    summary = json.loads((tmp_path / "remotemedia-out" / "_remotemedia_summary.json").read_text())
    assert summary["ok"] == 1 and summary["failed"] == 0 and summary["runtime"]["version"]


def test_bad_files_are_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    good = make_collection(tmp_path / "in")
    done = run_cli("speech-16k", "in", "-o", "out", "--workers", "2", cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # something failed
    out = tmp_path / "out"
    found = outputs(out)
    assert sorted(found) == sorted(str(Path(g).with_suffix(".wav")) for g in good)
    for audio, rate, sidecar in found.values():
        assert rate == 16000 and audio.ndim == 1 and audio.dtype == np.float32
        vad = sidecar["metrics"]["nodes"]["vad"]
        assert sidecar["speech_segments"] and vad["calls"] >= 1 and vad["runtime"] in ("rust", "python")
    failures = [json.loads(line) for line in (out / "_remotemedia_failures.jsonl").read_text().splitlines()]
    assert sorted(f["relpath"] for f in failures) == [
        "broken/corrupt.flac",
        "broken/empty.wav",
        "broken/notes.ogg",
        "broken/truncated.wav",
    ]
    for f in failures:
        assert f["node"] == "read" and f["error"] and f["attempts"] == 1
    assert "empty (0 bytes)" in next(f["error"] for f in failures if f["relpath"] == "broken/empty.wav")
    summary = json.loads((out / "_remotemedia_summary.json").read_text())
    assert (summary["ok"], summary["failed"], summary["skipped"]) == (len(good), 4, 0)
    assert not temporaries(out)


def test_on_error_stop_stops_at_the_first_failure(tmp_path: Path) -> None:
    make_collection(tmp_path / "in", n_good=2)  # "broken/..." sorts first
    done = run_cli("in", "-o", "out", "--workers", "1", "--on-error", "stop", cwd=tmp_path)
    assert done.returncode == 1
    summary = json.loads((tmp_path / "out" / "_remotemedia_summary.json").read_text())
    assert (summary["failed"], summary["ok"], summary["not_run"]) == (1, 0, summary["files"] - 1)
    assert summary["files"] == 6


def test_unsupported_rate_is_a_recorded_failure(tmp_path: Path) -> None:
    import soundfile as sf

    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "low.wav", np.zeros(800, np.float32), 800)  # below the 1 kHz minimum
    done = run_cli("in", "-o", "out", "--workers", "1", cwd=tmp_path)
    assert done.returncode == 1
    (failure,) = [json.loads(x) for x in (tmp_path / "out" / "_remotemedia_failures.jsonl").read_text().splitlines()]
    assert failure["node"] == "resample" and "800" in failure["error"]


def test_resume_skips_complete_outputs_and_redoes_changed_ones(tmp_path: Path) -> None:
    good = make_collection(tmp_path / "in", bad=False)
    assert run_cli("in", "-o", "out", "--workers", "1", cwd=tmp_path).returncode == 0
    first = {k: v[0] for k, v in outputs(tmp_path / "out").items()}
    again = run_cli("in", "-o", "out", "--resume", "--workers", "1", "--json", cwd=tmp_path)
    summary = json.loads(again.stdout)
    assert (summary["ok"], summary["skipped"]) == (0, len(good))
    # a changed input is redone
    changed = tmp_path / "in" / good[1]
    os.utime(changed, ns=(time.time_ns(), time.time_ns()))
    summary = json.loads(run_cli("in", "-o", "out", "--resume", "--workers", "1", "--json", cwd=tmp_path).stdout)
    assert (summary["ok"], summary["skipped"]) == (1, len(good) - 1)
    # a changed pipeline redoes everything
    manifest = json.loads(json.dumps(__import__("remotemedia.batch.presets", fromlist=["load"]).load("speech-16k")))
    manifest["nodes"][3]["params"]["aggressiveness"] = 3
    (tmp_path / "p.json").write_text(json.dumps(manifest))
    summary = json.loads(
        run_cli("p.json", "in", "-o", "out", "--resume", "--workers", "1", "--json", cwd=tmp_path).stdout
    )
    assert (summary["ok"], summary["skipped"]) == (len(good), 0)
    # a truncated output (a partial write from some other tool) is redone
    victim = tmp_path / "out" / Path(good[0]).with_suffix(".wav")
    victim.write_bytes(victim.read_bytes()[:100])
    summary = json.loads(
        run_cli("p.json", "in", "-o", "out", "--resume", "--workers", "1", "--json", cwd=tmp_path).stdout
    )
    assert (summary["ok"], summary["skipped"]) == (1, len(good) - 1)
    assert set(first) == set(outputs(tmp_path / "out"))


def test_kill_9_then_resume_completes_everything_once(tmp_path: Path) -> None:
    good = make_collection(tmp_path / "in", n_good=40, seconds=15.0, bad=False)  # a kill lands mid-run
    reference = tmp_path / "ref"
    assert run_cli("in", "-o", str(reference), "--workers", "2", cwd=tmp_path).returncode == 0
    expected = outputs(reference)

    proc = subprocess.Popen(
        [sys.executable, "-m", "remotemedia", "run", "in", "-o", "out", "--workers", "2", "--progress", "lines"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # kill as soon as a few files are done: mid-run, workers busy
        if line.startswith("[ 3/"):
            break
    else:
        raise AssertionError("the run ended before 3 files were done")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()
    partial = outputs(tmp_path / "out")
    assert 3 <= len(partial) < len(good)

    done = run_cli("in", "-o", "out", "--resume", "--workers", "2", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["skipped"] >= 3 and summary["ok"] + summary["skipped"] == len(good)
    final = outputs(tmp_path / "out")
    assert sorted(final) == sorted(expected)
    for key, (audio, _, sidecar) in final.items():
        np.testing.assert_array_equal(audio, expected[key][0])
        assert sidecar["speech_segments"] == expected[key][2]["speech_segments"]
    assert not temporaries(tmp_path / "out")
    allowed = {*final, *(f"{k}.json" for k in final), "_remotemedia_summary.json"}
    present = {p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert present == allowed  # nothing duplicated, nothing stray


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run_cli("missing-dir", cwd=tmp_path).returncode == 2
    done = run_cli("nope.json", "x", cwd=tmp_path)
    assert done.returncode == 2 and "nope.json" in done.stderr
    assert run_cli("--workers", "0", cwd=tmp_path).returncode == 2


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("REMOTEMEDIA_THREADS", "-2"),
        ("REMOTEMEDIA_READ_AHEAD", "yes"),
        ("REMOTEMEDIA_WRITE_BEHIND", "2"),
        ("REMOTEMEDIA_NATIVE_FLAC", "yes"),
    ],
)
def test_a_bad_setting_refuses_the_run_before_any_work(tmp_path: Path, env: str, value: str) -> None:
    make_collection(tmp_path / "in", n_good=1, bad=False)
    done = run_cli("in", "-o", "out", "--workers", "1", cwd=tmp_path, env={env: value})
    assert done.returncode == 2, done.stderr
    assert f"{env}={value!r}" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fmt", ["flac", "ogg"])
def test_output_format_option(tmp_path: Path, fmt: str) -> None:
    make_collection(tmp_path / "in", n_good=1, bad=False)
    done = run_cli("in", "-o", "out", "--format", fmt, "--workers", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (key,) = outputs(tmp_path / "out")
    assert key.endswith("." + fmt)
