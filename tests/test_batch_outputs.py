"""`remotemedia run` never writes over an input, and no two inputs share an output (issue 11.1, 11.2, 11.7).

Every test goes through the real command line (a subprocess).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from batch_helpers import outputs, run_cli, speech_like


def write(path: Path, seed: int, rate: int = 16000, fmt: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, speech_like(1.5, rate, seed=seed), rate, format=fmt or "WAV")


def digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def one_line_error(done: object) -> str:
    stderr = done.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr, stderr
    # a pure-Python install adds its one documented note line before the run (tested on its own)
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("note: native core")]
    assert len(lines) == 1, stderr
    return lines[0]


def test_output_folder_that_is_an_input_folder_is_refused(tmp_path: Path) -> None:
    for i in range(3):
        write(tmp_path / "rec" / f"r{i}.wav", seed=i, rate=48000)
    before = digests(tmp_path / "rec")
    done = run_cli("rec", "-o", "rec", "--workers", "1", cwd=tmp_path)
    assert done.returncode == 2
    assert "is the input folder" in one_line_error(done)
    assert digests(tmp_path / "rec") == before  # nothing written, nothing replaced
    # an output folder above an input folder, or holding an input file, is refused the same way
    done = run_cli(str(tmp_path / "rec" / "r0.wav"), "-o", "rec", "--workers", "1", cwd=tmp_path)
    assert done.returncode == 2 and "holds the input file" in one_line_error(done)
    done = run_cli("rec", "-o", ".", "--workers", "1", cwd=tmp_path)
    assert done.returncode == 2 and "contains the input folder" in one_line_error(done)
    assert digests(tmp_path / "rec") == before


def test_output_folder_inside_the_input_tree_is_never_an_input(tmp_path: Path) -> None:
    d = tmp_path / "d"
    write(d / "a.wav", seed=1, rate=48000)
    write(d / "deep" / "b.wav", seed=2, rate=48000)
    write(d / "sub" / "mine.wav", seed=3, rate=48000)  # the user's own file where outputs go
    mine = (d / "sub" / "mine.wav").read_bytes()
    first = run_cli("d", "-o", "d/sub", "--workers", "1", "--progress", "lines", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stderr.count("is never an input") == 1
    assert sorted(outputs(d / "sub")) == ["a.wav", "deep/b.wav"]  # not sub/mine.wav, not sub/sub/...
    assert (d / "sub" / "mine.wav").read_bytes() == mine
    again = run_cli("d", "-o", "d/sub", "--workers", "1", "--resume", "--json", cwd=tmp_path)
    summary = json.loads(again.stdout)
    assert (summary["files"], summary["ok"], summary["skipped"]) == (2, 0, 2)  # no out/out/out/... ever
    assert not (d / "sub" / "sub").exists()


def test_output_that_would_replace_a_users_file_in_the_input_tree_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "d"
    write(d / "a.wav", seed=1, rate=48000)
    write(d / "sub" / "a.wav", seed=2, rate=48000)  # d/a.wav's output would land here
    before = digests(d)
    done = run_cli("d", "-o", "d/sub", "--workers", "1", cwd=tmp_path)
    assert done.returncode == 2
    assert "no run wrote" in done.stderr and "Traceback" not in done.stderr
    assert digests(d) == before


def make_colliding(root: Path) -> dict[str, Path]:
    """Inputs that all map to a few output names, each with distinct audio."""
    files = {
        "a.wav": root / "in" / "a.wav",
        "a.flac": root / "in" / "a.flac",
        "x.WAV": root / "in" / "x.WAV",
        "x.wav": root / "in" / "x.wav",
        "noext.wav": root / "in" / "noext.wav",
        "two/a.wav": root / "two" / "a.wav",
    }
    for seed, (key, path) in enumerate(files.items()):
        write(path, seed=seed, fmt="FLAC" if key.endswith(".flac") else "WAV")
    noext = root / "in" / "noext"
    write(noext, seed=10)
    files["noext"] = noext
    return files


def test_colliding_inputs_are_all_kept_with_distinct_names_and_resume_settles(tmp_path: Path) -> None:
    files = make_colliding(tmp_path)
    if (tmp_path / "in" / "x.wav").samefile(tmp_path / "in" / "x.WAV"):
        pytest.skip("case-insensitive file system: x.wav and x.WAV are one file here")
    args = ["in", "two", "in/noext", "in/a.wav", "-o", "out", "--workers", "2"]  # a.wav named twice too
    done = run_cli(*args, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["files"], summary["ok"]) == (len(files), len(files))
    assert "inputs would have shared an output name" in done.stderr
    found = outputs(tmp_path / "out")
    assert len(found) == len(files)
    # each output came from a different input, and holds that input's audio
    sources = {os.path.realpath(tmp_path / sidecar["input"]["path"]) for _, _, sidecar in found.values()}
    assert sources == {os.path.realpath(p) for p in files.values()}
    assert {k.casefold() for k in found} == set(map(str.casefold, found))  # distinct, even ignoring case
    assert "a.flac.wav" in found and "noext.wav" in found and "noext.wav.wav" in found
    assert any(k.startswith("a.wav~two-") for k in found) and any(k.startswith("a.wav~in-") for k in found)
    # the names are deterministic: a second run finds every output complete
    again = json.loads(run_cli(*args, "--resume", "--json", cwd=tmp_path).stdout)
    assert (again["ok"], again["skipped"]) == (0, len(files))


def test_on_collision_error_lists_the_collisions_before_any_work(tmp_path: Path) -> None:
    make_colliding(tmp_path)
    done = run_cli("in", "two", "-o", "out", "--on-collision", "error", "--workers", "1", cwd=tmp_path)
    assert done.returncode == 2
    line = one_line_error(done)
    assert "a.wav <- " in line and "in/a.flac" in line and "two/a.wav" in line
    assert not (tmp_path / "out").exists()


def test_glob_does_not_follow_symlink_loops(tmp_path: Path) -> None:
    write(tmp_path / "in" / "one.wav", seed=1)
    write(tmp_path / "in" / "deep" / "two.wav", seed=2)
    try:
        os.symlink("..", tmp_path / "in" / "deep" / "up")
        os.symlink(tmp_path / "in", tmp_path / "in" / "again")
    except (OSError, NotImplementedError):
        pytest.skip("symbolic links are not available here")
    for spec in ("in/**/*.wav", "in"):
        done = run_cli(spec, "-o", f"out-{spec[:2]}{len(spec)}", "--workers", "1", "--json", cwd=tmp_path, timeout=120)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert (summary["files"], summary["ok"]) == (2, 2), spec


KILLED_SINK = """
import os, sys
import numpy as np
from remotemedia import Pipeline
from remotemedia.nodes import AudioFileSink

p = Pipeline("sink")
p.add_node(AudioFileSink(sys.argv[1], name="sink"))
with p.open_stream() as session:
    session.push((np.zeros(16000, np.float32), 16000))
    os._exit(9)  # killed mid-stream: the sink's temporary file stays behind
"""


def test_a_killed_sinks_temporary_is_removed_by_the_next_run(tmp_path: Path) -> None:
    write(tmp_path / "in" / "a.wav", seed=1)
    (tmp_path / "out").mkdir()
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_SINK, str(tmp_path / "out" / "kept.wav")], capture_output=True, check=False
    )
    assert killed.returncode == 9, killed.stderr
    left = [p.name for p in (tmp_path / "out").iterdir()]
    assert len(left) == 1 and left[0].startswith(".kept.wav."), left
    done = run_cli("in", "-o", "out", "--workers", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["_remotemedia_summary.json", "a.wav", "a.wav.json"]


def test_globs_match_as_glob_does_without_following_loops(tmp_path: Path) -> None:
    import glob

    from remotemedia.batch.discover import scan

    names = ["a.wav", "b.flac", "x/c.wav", "x/y/d.wav", "x/y/e1.wav", "x/y/e2.wav", "z/[f].wav", "z/.hidden.wav"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    patterns = ["*.wav", "**/*.wav", "x/**/*.wav", "x/*/*.wav", "*/y/e?.wav", "x/y/e[!1].wav", "**/[[]f].wav", "**"]
    for pattern in patterns:
        want = sorted(
            Path(p).relative_to(tmp_path).as_posix()
            for p in glob.glob(str(tmp_path / pattern), recursive=True)
            if Path(p).is_file() and Path(p).suffix in (".wav", ".flac")
        )
        got = sorted(s.path.relative_to(tmp_path).as_posix() for s in scan([str(tmp_path / pattern)]).sources)
        assert got == want, pattern
