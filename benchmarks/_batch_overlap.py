"""A model of the one-worker read-ahead (batch/readahead.py) on two free cores.

Run:  python benchmarks/_batch_overlap.py [--files 200] [--repeat 3]

Runs ``run_batch`` over benchmarks/batch.py's collection at one worker,
records each file's thread CPU time on the run's thread and on the reader,
then schedules those times on two free cores, one and two files ahead,
against reading in turn. It is a model, not a wall-time measurement: the
GIL hand-overs between the threads are not in it, and a busy machine
inflates all the times alike. It says what a free second core gives.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch import make_collection

from remotemedia.batch import readahead, runner


def per_file_cpu(indir: Path, outdir: Path) -> tuple[list[float], list[float]]:
    """Thread CPU seconds per file, in task order: (the run's thread, the reader)."""
    on_run: list[tuple[str, float]] = []
    on_reader: dict[str, float] = {}
    process, read = runner.process_file, readahead.read

    def timed_process(task: Any, ahead: Any = None) -> Any:
        start = time.thread_time()
        result = process(task, ahead)
        on_run.append((task.relpath, time.thread_time() - start))
        return result

    def timed_read(task: Any, *args: Any) -> Any:
        start = time.thread_time()
        got = read(task, *args)
        on_reader[task.relpath] = time.thread_time() - start
        return got

    runner.process_file, readahead.read = timed_process, timed_read
    try:
        runner.run_batch([indir], "speech-16k", outdir, workers=1, progress="none")
    finally:
        runner.process_file, readahead.read = process, read
    return [t for _, t in on_run], [on_reader.get(name, 0.0) for name, _ in on_run]


def schedule(run: list[float], reader: list[float], ahead: int) -> float:
    """Seconds until the last file is done: the reader reads file k once file k - ahead is taken."""
    taken: list[float] = []
    run_done = reader_free = 0.0
    for k, (busy, reading) in enumerate(zip(run, reader, strict=True)):
        ready = 0.0
        if k:  # file 0 is read by the run's thread itself (in its own time)
            start = max(reader_free, taken[k - ahead] if k >= ahead else 0.0)
            ready = reader_free = start + reading
        taken.append(max(run_done, ready))
        run_done = taken[-1] + busy
    return run_done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_collection(root / "in", args.files)
        print("run's thread, reader, and the per-file loop on two free cores (s)")
        for r in range(args.repeat):
            run, reader = per_file_cpu(root / "in", root / f"out{r}")
            print(
                f"run {r + 1}: run's thread {sum(run):.3f}, reader {sum(reader):.3f}; loop one ahead "
                f"{schedule(run, reader, 1):.3f}, two ahead {schedule(run, reader, 2):.3f}, "
                f"in turn {sum(run) + sum(reader):.3f}"
            )


if __name__ == "__main__":
    main()
