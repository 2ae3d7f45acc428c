"""The batch job: remotemedia run (1 and 2 workers, Dask local) vs a hand-written script.

Run:  python benchmarks/batch.py [--files 200] [--quick]

Generates a collection of mixed lengths (1 to 20 s), rates (8 to 48 kHz)
and channel counts in a temporary folder, then times, in one run:
- `remotemedia run speech-16k` with --workers 1, --workers 2 and --dask local;
- the same work written by hand with soundfile + soxr + webrtcvad (decode,
  downmix, resample to 16 kHz, VAD, keep speech, write wav + JSON), run
  sequentially and on 2 processes.
Reports files per second and hours of audio per hour (wall clock).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import table

RATES = [8000, 16000, 22050, 44100, 48000]


def make_collection(root: Path, n: int) -> float:
    rng = np.random.default_rng(1)
    total = 0.0
    for i in range(n):
        rate = RATES[i % len(RATES)]
        seconds = float(rng.uniform(1, 20))
        channels = 2 if i % 3 == 0 else 1
        t = np.arange(int(seconds * rate)) / rate
        f0 = rng.uniform(100, 220)
        voice = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 10))
        gate = (np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * t + rng.uniform(0, 6)) > 0.2).astype(float)
        x = 0.2 * voice * gate * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)) + 0.003 * rng.standard_normal(t.size)
        sub = root / f"part{i % 4}"
        sub.mkdir(parents=True, exist_ok=True)
        data = np.repeat(x[:, None], channels, axis=1) if channels == 2 else x
        sf.write(sub / f"rec{i:04d}.{'flac' if i % 2 else 'wav'}", data.astype(np.float32), rate, subtype="PCM_16")
        total += seconds
    return total


def handwritten_one(args: tuple[str, str]) -> float:
    """What a data team writes by hand for one file; returns its duration."""
    import soxr
    import webrtcvad

    src, outdir = args
    audio, rate = sf.read(src, dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    x16 = soxr.resample(mono, rate, 16000, "HQ").astype(np.float32)
    pcm = (np.clip(x16, -1, 1) * 32767).astype(np.int16)
    vad = webrtcvad.Vad(2)
    n = 480
    flags = [vad.is_speech(pcm[i : i + n].tobytes(), 16000) for i in range(0, pcm.size - n + 1, n)]
    segments, start = [], None
    for i, f in enumerate([*flags, False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            segments.append((max(0, start * n - 3200), min(pcm.size, i * n + 3200)))
            start = None
    speech = np.concatenate([x16[a:b] for a, b in segments]) if segments else x16[:0]
    out = Path(outdir) / (Path(src).stem + ".wav")
    sf.write(out, speech, 16000, subtype="PCM_16")
    out.with_suffix(".json").write_text(json.dumps({"segments": [(a / 16000, b / 16000) for a, b in segments]}))
    return len(mono) / rate


def handwritten_main(indir: str, outdir: str, workers: int) -> None:
    """The hand-written script's main: every file below ``indir``, sequential or on a pool."""
    Path(outdir).mkdir(parents=True, exist_ok=True)
    jobs = [(str(f), outdir) for f in sorted(Path(indir).rglob("*")) if f.is_file()]
    if workers == 1:
        for job in jobs:
            handwritten_one(job)
    else:
        with cf.ProcessPoolExecutor(workers) as pool:
            list(pool.map(handwritten_one, jobs, chunksize=4))


def time_handwritten(indir: Path, outdir: Path, workers: int) -> float:
    """Run the hand-written script in its own interpreter, like the CLI runs."""
    start = time.perf_counter()
    cmd = [sys.executable, __file__, "--handwritten", str(indir), str(outdir), str(workers)]
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


def time_cli(indir: Path, outdir: Path, *extra: str) -> float:
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "remotemedia", "run", "speech-16k", str(indir), "-o", str(outdir), "-q", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"remotemedia run failed: {done.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="40 files")
    parser.add_argument("--handwritten", nargs=3, metavar=("IN", "OUT", "WORKERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.handwritten:
        handwritten_main(args.handwritten[0], args.handwritten[1], int(args.handwritten[2]))
        return
    n = 40 if args.quick else args.files
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        audio_s = make_collection(root / "in", n)
        print(f"{n} files, {audio_s / 60:.1f} min of audio (1-20 s each, 8-48 kHz, mono and stereo)\n")
        runs = [
            ("remotemedia run, 1 worker", lambda: time_cli(root / "in", root / "o1", "--workers", "1")),
            ("remotemedia run, 2 workers", lambda: time_cli(root / "in", root / "o2", "--workers", "2")),
            (
                "remotemedia run, --dask local (2)",
                lambda: time_cli(root / "in", root / "o3", "--dask", "local", "--workers", "2"),
            ),
            ("hand-written soundfile+soxr+webrtcvad, 1", lambda: time_handwritten(root / "in", root / "h1", 1)),
            ("hand-written soundfile+soxr+webrtcvad, 2", lambda: time_handwritten(root / "in", root / "h2", 2)),
        ]
        rows, base = [], None
        for label, fn in runs:
            wall = fn()
            base = base or wall
            rows.append([label, f"{wall:.2f}", f"{n / wall:.1f}", f"{audio_s / wall:.0f}", f"{base / wall:.2f}"])
        print(table(["run", "wall s", "files/s", "audio h per h", "speed vs first"], rows))
        print("\n(each run is a fresh interpreter; wall time includes start-up: what a user waits for)")


if __name__ == "__main__":
    main()
