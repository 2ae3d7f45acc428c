"""Building audio collections and running the CLI for the batch tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

SPEECH_RATE = 16000


def speech_like(seconds: float, rate: int, seed: int, channels: int = 1) -> np.ndarray:
    """Bursts of a harmonic, amplitude-modulated tone with silent gaps, (frames, channels) float32."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    f0 = 120 + 40 * rng.random()
    voice = sum(np.sin(2 * np.pi * f0 * k * t + rng.random() * 6) / k for k in range(1, 12))
    syllables = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)
    gate = np.zeros(n)
    pos = int(0.4 * rate)
    while pos < n:
        length = int(rng.uniform(0.5, 1.5) * rate)
        gate[pos : pos + length] = 1
        pos += length + int(rng.uniform(0.4, 1.0) * rate)
    x = 0.3 * voice * syllables * gate / 3 + 0.001 * rng.standard_normal(n)
    return np.repeat(x[:, None], channels, axis=1).astype(np.float32)


def make_collection(root: Path, n_good: int = 4, seconds: float = 3.0, bad: bool = True) -> list[str]:
    """Good files of mixed rates, channels and formats (in sub-folders), plus bad ones.

    Returns the relative paths of the good files.
    """
    specs = [
        (48000, 2, "wav", "PCM_16"),
        (44100, 1, "flac", "PCM_16"),
        (16000, 1, "wav", "FLOAT"),
        (8000, 1, "ogg", "VORBIS"),
    ]
    good = []
    for i in range(n_good):
        rate, ch, ext, subtype = specs[i % len(specs)]
        rel = Path(f"set{i % 2}") / f"clip{i:03d}.{ext}"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / rel, speech_like(seconds, rate, seed=i, channels=ch), rate, subtype=subtype)
        good.append(rel.as_posix())
    if bad:
        (root / "broken").mkdir(exist_ok=True)
        data = (root / good[0]).read_bytes()
        (root / "broken" / "truncated.wav").write_bytes(data[:30])
        (root / "broken" / "corrupt.flac").write_bytes(b"fLaC" + os.urandom(2000))
        (root / "broken" / "empty.wav").write_bytes(b"")
        (root / "broken" / "notes.ogg").write_text("this is a text file, not audio\n")
        (root / "readme.txt").write_text("not picked up: not an audio extension\n")
    return good


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "remotemedia", "run", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )


def outputs(outdir: Path) -> dict[str, tuple[np.ndarray, int, dict]]:
    """Every output under ``outdir``: relative path -> (audio, rate, sidecar)."""
    found = {}
    for sidecar in sorted(outdir.rglob("*.json")):
        if sidecar.name.startswith("_remotemedia") or ".rmtmp" in sidecar.name:
            continue  # the run's own files; a temporary a killed run left mid-write is no output
        audio_path = sidecar.with_name(sidecar.name[: -len(".json")])
        with open(audio_path, "rb") as fh:  # a file object: any file name, UTF-8 or not
            audio, rate = sf.read(fh, dtype="float32")
        found[audio_path.relative_to(outdir).as_posix()] = (audio, rate, json.loads(sidecar.read_text()))
    return found


def temporaries(outdir: Path) -> list[Path]:
    return [p for p in outdir.rglob("*") if ".rmtmp" in p.name]


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (Linux /proc), children first."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(0), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def open_inputs(pid: int, root: Path) -> list[Path]:
    """Files below ``root`` that process ``pid`` holds open (Linux /proc)."""
    held = []
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return []
    for fd in fds:
        try:
            target = Path(os.readlink(fd))
        except OSError:
            continue
        if target.is_relative_to(root):
            held.append(target)
    return held
