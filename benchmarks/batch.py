"""The batch job: remotemedia run (1 and 2 workers, Dask local) vs a hand-written script.

Run:  python benchmarks/batch.py [--files 200] [--repeat 3] [--quick] [--no-dask] [--split]

Generates a collection of mixed lengths (1 to 20 s), rates (8 to 48 kHz),
channel counts and containers (WAV and FLAC, 16-bit) in a temporary
folder, then times, in one run:
- `remotemedia run speech-16k` with --workers 1, --workers 2 and --dask local;
- the same work written by hand with soundfile + numpy + soxr + webrtcvad
  (decode to float32, average the channels of stereo files, resample to
  16 kHz with soxr "HQ", webrtcvad mode 2 on 30 ms frames, keep speech with
  200 ms of padding, write a float32 wav + JSON), run sequentially and on
  a 2-process pool.

``--split`` prints, instead, where each side spends its CPU time (1
worker, per stage: decode, pipeline or resample / VAD, write, ...;
benchmarks/_batch_split.py).

Every configuration runs ``--repeat`` times, interleaved (round r runs all
of them, in a rotated order, so drift on a shared machine hits all alike);
the table shows medians, and the ratios are computed within each round and
their median shown. Each run is a fresh interpreter and its wall time
includes start-up (what a user waits for). "cpu s" is the user + system
time of the run's processes (workers included), the steadier figure on a
busy machine. Bytecode is written to a cache in the temporary folder, as
an installed package has it (PYTHONDONTWRITEBYTECODE is dropped for the
runs), and one untimed warm-up run of each command comes first.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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


def _no_mark(stage: str) -> None:
    pass


def handwritten_one(args: tuple[str, str], mark: Callable[[str], None] = _no_mark) -> float:
    """What a data team writes by hand for one file; returns its duration.

    ``mark(stage)`` is called as each stage ends (``--split`` times them).
    """
    import soxr
    import webrtcvad

    src, outdir = args
    audio, rate = sf.read(src, dtype="float32")
    mark("decode")
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    mark("downmix")
    x16 = soxr.resample(mono, rate, 16000, "HQ").astype(np.float32)
    mark("resample")
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
    mark("vad")
    out = Path(outdir) / (Path(src).stem + ".wav")
    sf.write(out, speech, 16000, subtype="PCM_16")
    out.with_suffix(".json").write_text(json.dumps({"segments": [(a / 16000, b / 16000) for a, b in segments]}))
    mark("write")
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


def child_env(cache: Path) -> dict[str, str]:
    """The runs' environment: bytecode cached (as an installed package has it)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def become_subreaper() -> None:
    """Adopt orphaned descendants (Linux), so that their CPU time is counted.

    A process pool's workers can outlive their parent's exit by a moment
    (a forkserver's children, say); adopted, they are waited for here and
    their CPU time lands in RUSAGE_CHILDREN.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def reap_all() -> None:
    """Wait for every adopted descendant that is still running."""
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``cmd``; return (wall s, cpu s of it and all its descendants)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - start
    reap_all()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])} failed: {done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def handwritten_cmd(indir: Path, outdir: Path, workers: int) -> list[str]:
    """The hand-written script in its own interpreter, like the CLI runs."""
    return [sys.executable, __file__, "--handwritten", str(indir), str(outdir), str(workers)]


def cli_cmd(indir: Path, outdir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "remotemedia", "run", "speech-16k", str(indir), "-o", str(outdir), "-q", *extra]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (medians shown)")
    parser.add_argument("--quick", action="store_true", help="40 files, 1 round")
    parser.add_argument("--no-dask", action="store_true", help="leave out the Dask LocalCluster run")
    parser.add_argument("--split", action="store_true", help="CPU time per stage of both sides (1 worker) instead")
    parser.add_argument("--handwritten", nargs=3, metavar=("IN", "OUT", "WORKERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.handwritten:
        handwritten_main(args.handwritten[0], args.handwritten[1], int(args.handwritten[2]))
        return
    n, repeat = (40, 1) if args.quick else (args.files, args.repeat)
    become_subreaper()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        audio_s = make_collection(root / "in", n)
        env = child_env(root / "pycache")
        if args.split:
            split(root, n, repeat, env)
            return
        print(f"{n} files, {audio_s / 60:.1f} min of audio (1-20 s each, 8-48 kHz, mono and stereo, wav and flac)")
        configs: list[tuple[str, Callable[[Path], list[str]]]] = [
            ("remotemedia run, 1 worker", lambda o: cli_cmd(root / "in", o, "--workers", "1")),
            ("remotemedia run, 2 workers", lambda o: cli_cmd(root / "in", o, "--workers", "2")),
            ("hand-written soundfile+soxr+webrtcvad, 1", lambda o: handwritten_cmd(root / "in", o, 1)),
            ("hand-written soundfile+soxr+webrtcvad, 2", lambda o: handwritten_cmd(root / "in", o, 2)),
        ]
        if not args.no_dask:
            configs.append(
                (
                    "remotemedia run, --dask local (2)",
                    lambda o: cli_cmd(root / "in", o, "--dask", "local", "--workers", "2"),
                )
            )
        for i, (_, make) in enumerate(configs):  # warm-up: bytecode, page cache
            timed(make(root / f"warm{i}"), env)
        walls: dict[str, list[float]] = {label: [] for label, _ in configs}
        cpus: dict[str, list[float]] = {label: [] for label, _ in configs}
        for r in range(repeat):
            order = configs[r % len(configs) :] + configs[: r % len(configs)]
            for label, make in order:
                out = root / f"out-{r}-{configs.index((label, make))}"
                wall, cpu = timed(make(out), env)
                walls[label].append(wall)
                cpus[label].append(cpu)
        rows = []
        for label, _ in configs:
            wall, cpu = statistics.median(walls[label]), statistics.median(cpus[label])
            rows.append([label, f"{wall:.2f}", f"{n / wall:.1f}", f"{audio_s / wall:.0f}", f"{cpu:.2f}"])
        print(f"\nmedians of {repeat} interleaved round(s)\n")
        print(table(["run", "wall s", "files/s", "audio h per h", "cpu s"], rows))
        print("\nremotemedia run files/s over the hand-written script's, per round (then the median):")
        for workers in (1, 2):
            ours = walls[configs[workers - 1][0]]
            hand = walls[configs[workers + 1][0]]
            ratios = [h / o for h, o in zip(hand, ours, strict=True)]
            cpu_ratios = [
                h / o for h, o in zip(cpus[configs[workers + 1][0]], cpus[configs[workers - 1][0]], strict=True)
            ]
            print(
                f"  {workers} worker(s): wall {', '.join(f'{x:.2f}' for x in ratios)}"
                f" -> median {statistics.median(ratios):.2f}x; cpu {statistics.median(cpu_ratios):.2f}x"
            )


def split(root: Path, n: int, repeat: int, env: dict[str, str]) -> None:
    """Print the median CPU seconds per stage of both sides (benchmarks/_batch_split.py), 1 worker."""
    script = str(Path(__file__).resolve().parent / "_batch_split.py")
    runs: dict[str, list[dict[str, float]]] = {"ours": [], "hand": []}
    for r in range(repeat + 1):  # the first round warms the bytecode cache and is not counted
        for side in ("ours", "hand") if r % 2 else ("hand", "ours"):
            out = root / f"split-{side}-{r}"
            done = subprocess.run(
                [sys.executable, script, side, str(root / "in"), str(out)],
                capture_output=True,
                text=True,
                check=False,
                env=env,
            )
            if done.returncode != 0:
                raise SystemExit(f"{side} failed: {done.stderr[-2000:]}")
            if r:
                runs[side].append(json.loads(done.stdout))
    print(f"{n} files; CPU seconds per stage (thread time), medians of {repeat} run(s) per side, 1 worker\n")
    for side, label in (("ours", "remotemedia run"), ("hand", "hand-written soundfile+soxr+webrtcvad")):
        stages = list(runs[side][0])
        med = {k: statistics.median(run[k] for run in runs[side]) for k in stages}
        threads = {k: med.pop(k) for k in stages if k.startswith("thread: ")}
        rows = [[k, f"{v:.3f}", f"{1000 * v / n:.2f}"] for k, v in sorted(med.items(), key=lambda kv: -kv[1])]
        rows.append(["total", f"{sum(med.values()):.3f}", f"{1000 * sum(med.values()) / n:.2f}"])
        rows += [[k, f"{v:.3f}", f"{1000 * v / n:.2f}"] for k, v in threads.items()]
        print(f"{label}\n")
        print(table(["stage", "cpu s", "ms per file"], rows))
        print()


if __name__ == "__main__":
    main()
