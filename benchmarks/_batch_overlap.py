"""A model of the one-worker read-ahead and write-behind (batch/readahead.py, batch/writebehind.py)
on two free cores.

Run:  python benchmarks/_batch_overlap.py [--files 200] [--repeat 3]

Runs ``run_batch`` over benchmarks/batch.py's collection at one worker,
records each file's thread CPU time on the run's thread, on the reader and
on the writer, then schedules those times on two free cores (three threads
share two cores evenly when all three have work), against reading and
writing in turn. It is a model, not a wall-time measurement: the GIL
hand-overs between the threads are not in it, a file's writing is taken to
start when its run ends (in the job it starts with its first block), and a
busy machine inflates all the times alike. It says what a free second core
gives.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch import make_collection

from remotemedia.batch import readahead, runner, writebehind

CORES = 2


def per_file_cpu(indir: Path, outdir: Path) -> tuple[list[float], list[float], list[float]]:
    """Thread CPU seconds per file, in task order: (the run's thread, the reader, the writer)."""
    on_run: dict[str, float] = defaultdict(float)
    on_reader: dict[str, float] = {}
    on_writer: dict[str, float] = defaultdict(float)
    order: list[str] = []
    process, read = writebehind.WriteBehind.process, readahead.read
    write, end = writebehind.WriteBehind._write, writebehind.WriteBehind._end

    def timed_process(self: Any, task: Any, ahead: Any = None) -> Any:
        start = time.thread_time()
        try:
            return process(self, task, ahead)
        finally:
            order.append(task.relpath)
            on_run[task.relpath] += time.thread_time() - start

    def timed_read(task: Any, *args: Any) -> Any:
        start = time.thread_time()
        got = read(task, *args)
        on_reader[task.relpath] = time.thread_time() - start
        return got

    def timed(fn: Any) -> Any:
        def wrapper(self: Any, file: Any, *args: Any) -> Any:
            start = time.thread_time()
            try:
                return fn(self, file, *args)
            finally:
                on_writer[file.task.relpath] += time.thread_time() - start

        return wrapper

    writebehind.WriteBehind.process = timed_process  # type: ignore[method-assign]
    writebehind.WriteBehind._write, writebehind.WriteBehind._end = timed(write), timed(end)  # type: ignore[method-assign]
    readahead.read = timed_read
    try:
        runner.run_batch([indir], "speech-16k", outdir, workers=1, progress="none")
    finally:
        writebehind.WriteBehind.process = process  # type: ignore[method-assign]
        writebehind.WriteBehind._write, writebehind.WriteBehind._end = write, end  # type: ignore[method-assign]
        readahead.read = read
    return [on_run[n] for n in order], [on_reader.get(n, 0.0) for n in order], [on_writer[n] for n in order]


def schedule(run: list[float], reader: list[float], writer: list[float], ahead: int, behind: bool) -> float:
    """Seconds until the last file is written, the three threads sharing CORES cores.

    The reader reads file k (k >= 1) once file k - ahead was taken by the run's thread (with
    ahead 0 the run's thread reads it itself); without ``behind`` the run's thread writes each
    file itself; with it, the writer writes file k after the run's thread ran it and after
    file k - 1's writing, and the run's thread starts file k once file k - MAX_FILES is written.
    """
    n = len(run)
    if not behind:
        run = [r + w for r, w in zip(run, writer, strict=True)]
        writer = [0.0] * n
    if not ahead:
        run = [r + (reader[k] if k else 0.0) for k, r in enumerate(run)]
        reader = [0.0] * n
    left = {"read": list(reader), "run": list(run), "write": list(writer)}
    done: dict[str, list[float | None]] = {k: [None] * n for k in left}
    taken: list[float | None] = [None] * n
    nxt = {"read": 1 if ahead else n, "run": 0, "write": 0}
    if not ahead:
        done["read"] = [0.0] * n
    now = 0.0
    while nxt["write"] < n:
        ready = []
        k = nxt["run"]
        if k < n:
            read_ok = k == 0 or done["read"][k] is not None
            room = not behind or k < writebehind.MAX_FILES or done["write"][k - writebehind.MAX_FILES] is not None
            if read_ok and room:
                ready.append("run")
                if taken[k] is None:
                    taken[k] = now
        k = nxt["read"]
        if k < n and (k < ahead or taken[k - ahead] is not None):
            ready.append("read")
        k = nxt["write"]
        if k < n and done["run"][k] is not None:
            ready.append("write")
        rate = min(1.0, CORES / len(ready))
        step = min(left[t][nxt[t]] for t in ready) / rate
        now += step
        for t in ready:
            k = nxt[t]
            left[t][k] -= step * rate
            if left[t][k] <= 1e-12:
                done[t][k] = now
                nxt[t] += 1
    return now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.pop(writebehind.ENV, None)
    runner.usable_cores = lambda: CORES  # the model is of two cores, whatever this process may use
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_collection(root / "in", args.files)
        print("per-file CPU on each thread, and the per-file loop on two free cores (s)")
        for r in range(args.repeat):
            run, reader, writer = per_file_cpu(root / "in", root / f"out{r}")
            loops = {
                "in turn": schedule(run, reader, writer, 0, False),
                "1 ahead": schedule(run, reader, writer, 1, False),
                "2 ahead": schedule(run, reader, writer, 2, False),
                "1 ahead + behind": schedule(run, reader, writer, 1, True),
                "2 ahead + behind": schedule(run, reader, writer, 2, True),
            }
            print(
                f"run {r + 1}: run's thread {sum(run):.3f}, reader {sum(reader):.3f}, writer {sum(writer):.3f}; "
                + ", ".join(f"{k} {v:.3f}" for k, v in loops.items())
            )


if __name__ == "__main__":
    main()
