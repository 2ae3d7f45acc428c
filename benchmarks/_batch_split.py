"""Where each side of benchmarks/batch.py spends its CPU time (its ``--split`` table).

Run by batch.py as ``python _batch_split.py ours|hand IN OUT``; prints JSON
of CPU seconds per stage for one in-process, one-worker run over IN.
Thread CPU time (``time.thread_time``) is used: on a busy machine it counts
this process's work, not the time it waits for a core.

- ``hand``: the hand-written script's own stages (decode, downmix,
  resample, vad, write: see ``handwritten_one``), and its imports.
- ``ours``: ``run_batch`` with the stages of ``process_file`` wrapped:
  fingerprint, decode (the block reader), pipeline (the stream session's
  push and flush: every node), write (the audio output), sidecar; "per-file
  other" is the rest of ``process_file`` (opening the input, the session,
  the pipeline's reuse, the cutter's record), "run other" the rest of
  ``run_batch`` (scan, plan, lock, summary). The pipeline is split in two:
  "pipeline: native chain" is the time inside the compiled chain's
  ``process`` and ``flush`` calls (the kernels: convert, downmix, resample,
  VAD), "pipeline: Python" the rest of push and flush (the session, the VAD
  node's segments and output, metrics).
"""

from __future__ import annotations

import json
import sys
import threading
import time

_START = time.process_time()
_LOCK = threading.Lock()

if sys.argv[1:2] == ["ours"]:  # what `remotemedia run` does before its imports (batch/command.py)
    from remotemedia.batch.blas import one_blas_thread
    from remotemedia.batch.heap import keep_freed_memory

    one_blas_thread()
    keep_freed_memory()

from collections import Counter  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


def _add(totals: Counter[str], stage: str, seconds: float) -> None:
    """Count ``seconds`` of thread time to ``stage``, and to the reader's or the writer's share when on
    the read-ahead or the write-behind thread."""
    with _LOCK:
        totals[stage] += seconds
        name = threading.current_thread().name
        if name.startswith("remotemedia-write"):
            totals[f"writer: {stage}"] += seconds
        elif threading.current_thread() is not threading.main_thread():
            totals[f"reader: {stage}"] += seconds


def _timed(totals: Counter[str], stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            _add(totals, stage, time.thread_time() - start)

    return wrapper


def _timed_blocks(totals: Counter[str], fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
        blocks = fn(*args, **kwargs)
        while True:
            start = time.thread_time()
            try:
                block = next(blocks)
            except StopIteration:
                _add(totals, "decode", time.thread_time() - start)
                return
            _add(totals, "decode", time.thread_time() - start)
            yield block

    return wrapper


class _TimedChain:
    """A compiled chain whose ``process`` and ``flush`` calls add their thread time to ``totals``."""

    def __init__(self, chain: Any, totals: Counter[str]) -> None:
        self._chain = chain
        self._totals = totals

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chain, name)

    def process(self, x: Any) -> Any:
        start = time.thread_time()
        try:
            return self._chain.process(x)
        finally:
            self._totals["chain"] += time.thread_time() - start

    def flush(self) -> Any:
        start = time.thread_time()
        try:
            return self._chain.flush()
        finally:
            self._totals["chain"] += time.thread_time() - start


def _timed_chains(totals: Counter[str], chain_for: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(self: Any, layout: Any) -> Any:
        chain = chain_for(self, layout)  # an idle chain comes back already wrapped
        if chain is None or isinstance(chain, _TimedChain):
            return chain
        return _TimedChain(chain, totals)

    return wrapper


def _timed_thread(totals: Counter[str], stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """A thread's body whose whole thread time goes to ``stage`` (not a stage of the total)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            with _LOCK:
                totals[stage] += time.thread_time()

    return wrapper


def ours(indir: str, outdir: str) -> dict[str, float]:
    import remotemedia.batch.warm  # noqa: F401 (what a worker imports for its first file, timed here)
    from remotemedia.batch import job, readahead, runner, streamfile, writebehind
    from remotemedia.core import chains
    from remotemedia.stream import session

    totals: Counter[str] = Counter()
    totals["imports"] = time.process_time() - _START
    job.fingerprint.fingerprint = _timed(totals, "fingerprint", job.fingerprint.fingerprint)
    job.write_json_atomic = _timed(totals, "sidecar", job.write_json_atomic)
    streamfile.planar_blocks = _timed_blocks(totals, streamfile.planar_blocks)
    for name in ("push", "flush"):
        setattr(session.StreamSession, name, _timed(totals, "pipeline", getattr(session.StreamSession, name)))
    for name in ("write", "commit"):
        setattr(streamfile._AtomicWriter, name, _timed(totals, "write", getattr(streamfile._AtomicWriter, name)))
    chains.ChainPlan.chain_for = _timed_chains(totals, chains.ChainPlan.chain_for)
    runner.process_file = _timed(totals, "per file", runner.process_file)
    readahead.read = _timed(totals, "read ahead", readahead.read)
    writebehind.WriteBehind._loop = _timed_thread(totals, "write behind", writebehind.WriteBehind._loop)
    writebehind.WriteBehind.process = _timed(totals, "per file", writebehind.WriteBehind.process)
    start = time.process_time()
    summary = runner.run_batch([indir], "speech-16k", outdir, workers=1, progress="none")
    whole = time.process_time() - start  # every thread of the process
    if summary.ok != summary.files:
        raise SystemExit(f"{summary.failed} files failed")
    per_file = totals.pop("per file")
    reader = totals.pop("read ahead", 0.0)
    writer = totals.pop("write behind", 0.0)
    totals.pop("reader: read ahead", None)
    totals.pop("writer: per file", None)
    chain = totals.pop("chain")
    in_reader = sum(v for k, v in totals.items() if k.startswith("reader: "))
    in_writer = sum(v for k, v in totals.items() if k.startswith("writer: "))
    staged = sum(v for k, v in totals.items() if k != "imports" and not k.startswith(("reader: ", "writer: ")))
    totals["pipeline: native chain"] = chain
    totals["pipeline: Python"] = totals.pop("pipeline") - chain
    totals["per-file other"] = per_file - (staged - in_reader - in_writer)  # the run's thread only
    totals["read-ahead other (open, checks)"] = reader - in_reader
    if writer:
        totals["write-behind other (queue, record)"] = writer - in_writer
    totals["run other"] = whole - per_file - reader - writer
    shares = {k: v for k, v in totals.items() if k.startswith(("reader: ", "writer: "))}
    for k in shares:
        del totals[k]
    out = dict(totals)
    # not stages (split() leaves them out of the total): CPU time of each thread of the run
    out["thread: read-ahead"] = reader
    out["thread: write-behind"] = writer
    out["thread: run (per file)"] = per_file
    return out


def hand(indir: str, outdir: str) -> dict[str, float]:
    import numpy  # noqa: F401 (what the script imports, timed here)
    import soundfile  # noqa: F401
    import soxr  # noqa: F401
    import webrtcvad  # noqa: F401

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from batch import handwritten_one

    totals: Counter[str] = Counter()
    totals["imports"] = time.process_time() - _START
    last = [time.thread_time()]

    def mark(stage: str) -> None:
        now = time.thread_time()
        totals[stage] += now - last[0]
        last[0] = now

    Path(outdir).mkdir(parents=True, exist_ok=True)
    for src in sorted(p for p in Path(indir).rglob("*") if p.is_file()):
        last[0] = time.thread_time()
        handwritten_one((str(src), outdir), mark)
    return dict(totals)


if __name__ == "__main__":
    side, indir, outdir = sys.argv[1:4]
    print(json.dumps(ours(indir, outdir) if side == "ours" else hand(indir, outdir)))
