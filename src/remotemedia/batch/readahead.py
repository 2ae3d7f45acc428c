"""Reading the next file while this one runs (one worker, in the run's own process).

libsndfile (through soundfile's cffi calls) and the native chain both
release the GIL, so a second thread can decode file N+1 while the run's
thread pushes file N through the pipeline and writes it. On a machine with
a free core, ``--workers 1`` then takes about max(decode, the rest) per
file instead of their sum. It uses a second core for decoding: the run's
CPU time is the same, its wall time shorter.

What the reader does for a file is exactly what :func:`~remotemedia.batch.job.process_file`
would do first: take the input's fingerprint, open it (the empty and
truncated checks included) and read it in the streaming path's blocks.
Any failure is kept with that file (:class:`Ahead`) and raised when its
turn comes, at the point where it would have been raised, so results,
errors and their order are those of the sequential run
(tests/test_batch_readahead.py). The reader never writes: outputs are
written by the run's thread, or by the write-behind's thread
(batch/writebehind.py), atomically as always, so an interrupt leaves
nothing half-written.

Bounds: two files read ahead at a time (the two after the file running;
``REMOTEMEDIA_READ_AHEAD`` sets 0 to 4), so at most two decoded files wait;
a file of more than :data:`MAX_SAMPLES` samples is not read ahead (only
its fingerprint is) and streams as before, so memory stays bounded.

Where it runs: only in :func:`remotemedia.batch.runner.run_batch`'s
in-process path (one worker), where no worker is forked after it starts
(batch/start_method.py forks workers only while the process runs a single
thread); the thread ends with the run. Not in worker processes: with one
worker per core both cores are busy and there is no core to overlap onto.
Off when the process may use a single core, or with ``REMOTEMEDIA_READ_AHEAD=0``.
"""

from __future__ import annotations

import collections
import os
import threading
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from remotemedia.batch import fingerprint, worker_plan
from remotemedia.batch.decode import dtype_for, takes_int16
from remotemedia.batch.job import FileTask
from remotemedia.batch.streamfile import Decoded, decode_whole

#: Environment variable: how many files to read ahead ("0" turns the read-ahead off; default DEPTH).
ENV = "REMOTEMEDIA_READ_AHEAD"
#: Largest input (samples over all channels) read ahead whole: 8 Mi samples, 16 MiB as int16, 32 MiB as
#: float32 (87 s of 48 kHz stereo, 8.7 min of 16 kHz mono). Larger files stream block by block.
MAX_SAMPLES = 8 * 1024 * 1024
#: Files read ahead of the one running by default: two, so at most two decoded files wait (32 MiB as
#: int16, 64 MiB as float32 at most). With the write-behind (batch/writebehind.py) the reader is the
#: longest of the three threads; a second file ahead keeps it reading through a short file's turn.
DEPTH = 2
#: The most files ``REMOTEMEDIA_READ_AHEAD`` may ask for (memory: that many times MAX_SAMPLES).
MAX_DEPTH = 4

R = TypeVar("R")


@dataclass
class Ahead:
    """What the reader took of one file: its fingerprint (or the error taking it) and its audio.

    ``decoded`` is None when the file was not read (too large, not a plain
    whole-file task, or the pipeline could not be built here): the run then
    streams it itself.
    """

    print_: dict[str, Any] | None = None
    print_error: OSError | None = None
    decoded: Decoded | None = None


def depth(n_tasks: int, cores: int) -> int:
    """Files to read ahead in a run of ``n_tasks`` files on ``cores`` usable cores; 0: none.

    None with fewer than two files (nothing to overlap) or one core (no
    core to decode on); else ``REMOTEMEDIA_READ_AHEAD`` (a whole number,
    0 to :data:`MAX_DEPTH`), or :data:`DEPTH`.

    Raises
    ------
    ValueError
        ``REMOTEMEDIA_READ_AHEAD`` is not a whole number from 0 to MAX_DEPTH.
    """
    text = os.environ.get(ENV, "").strip()
    try:
        files = DEPTH if not text else int(text)
        if not 0 <= files <= MAX_DEPTH:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"{ENV}={text!r}: expected the number of files to read ahead, 0 (off) to {MAX_DEPTH}; unset it for {DEPTH}"
        ) from None
    return files if n_tasks >= 2 and cores >= 2 else 0


def read(task: FileTask, int16_ok: bool | None, stop: threading.Event) -> Ahead:
    """Fingerprint ``task``'s input and, if ``int16_ok`` is known (the pipeline's decode dtype rule),
    decode it whole. Never raises for a bad file: errors are kept in the result."""
    try:
        print_ = fingerprint.fingerprint(task.source)
    except OSError as exc:
        return Ahead(print_error=exc)
    if int16_ok is None or stop.is_set():
        return Ahead(print_)
    rule = int16_ok  # bound here: the reader gets a plain value, never the pipeline object

    def wants(subtype: str) -> str:
        return dtype_for(subtype, rule)

    return Ahead(print_, decoded=decode_whole(Path(task.source), wants, MAX_SAMPLES, stop.is_set))


class _Rules:
    """The decode dtype rule per pipeline, learnt in the run's thread (from the worker's own plan)."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str, int | None], bool | None] = {}

    def int16_ok(self, task: FileTask) -> bool | None:
        """The rule for ``task``'s pipeline; None: do not decode ahead (not a plain task, or no pipeline)."""
        if not task.plain:
            return None
        key = (task.pipeline_hash, task.outdir, task.threads)
        if key not in self._known:
            try:
                pipeline = worker_plan.acquire(
                    task.pipeline_hash, task.manifest, root=task.outdir, threads=task.threads
                )
            except Exception:  # the file's own run reports it, with its node and cause
                self._known[key] = None
            else:
                try:
                    self._known[key] = takes_int16(pipeline)
                finally:
                    worker_plan.release(task.pipeline_hash, pipeline, root=task.outdir, threads=task.threads)
        return self._known[key]


class _Slot:
    """One file's place in the reader's line: ``ready`` is held until ``value`` is set."""

    __slots__ = ("ready", "value")

    def __init__(self) -> None:
        self.ready = threading.Lock()
        self.ready.acquire()
        self.value: Ahead | None = None


class _Reader:
    """One thread that runs ``read`` for the files handed to it, in order (started at the first).

    What ``concurrent.futures.ThreadPoolExecutor(1)`` gave here, without
    importing it (it imports logging and queue: ~5 ms of a run's start). A
    ``read`` that raises (a bug: it keeps a bad file's errors) leaves None
    in its slot, and the file is read again in turn.
    """

    def __init__(self) -> None:
        self._jobs: collections.deque[tuple[_Slot, FileTask, bool | None, threading.Event]] = collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, task: FileTask, int16_ok: bool | None, stop: threading.Event) -> _Slot:
        slot = _Slot()
        with self._cond:
            self._jobs.append((slot, task, int16_ok, stop))
            self._cond.notify()
        if self._thread is None:
            # a daemon: it only reads, and close() joins it whenever the iteration ends
            self._thread = threading.Thread(target=self._loop, name="remotemedia-read", daemon=True)
            self._thread.start()
        return slot

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                slot, task, int16_ok, stop = self._jobs.popleft()
            try:
                slot.value = read(task, int16_ok, stop)
            except Exception:  # a bug in the reader: the file is read again, in turn
                slot.value = None
            finally:
                slot.ready.release()

    def close(self) -> None:
        """Drop the files not started and wait for the one being read."""
        with self._cond:
            self._closed = True
            self._jobs.clear()
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()


def process_in_order(
    tasks: Sequence[FileTask], process: Callable[[FileTask, Ahead | None], R], files: int = DEPTH
) -> Generator[R, None, None]:
    """``process(task, ahead)`` for each task in order, the next ``files`` files read ahead on a thread.

    What ``process`` returns comes in task order (a ``FileResult``; the
    write-behind's ``process`` returns the results finished so far). Closing the iterator (or an exception in
    ``process``, KeyboardInterrupt included) stops the reader and waits for
    it: no thread outlives the iteration.
    """
    stop = threading.Event()
    rules = _Rules()
    reader = _Reader()
    pending: collections.deque[_Slot] = collections.deque()
    try:
        for i, task in enumerate(tasks):
            ahead = _take(pending.popleft() if pending else None)
            for following in tasks[i + 1 + len(pending) : i + 1 + files]:
                pending.append(reader.submit(following, rules.int16_ok(following), stop))
            yield process(task, ahead)
    finally:
        stop.set()
        reader.close()


def _take(pending: _Slot | None) -> Ahead | None:
    """The reader's result for the file whose turn it is; None (read it in turn) if it failed."""
    if pending is None:
        return None
    with pending.ready:
        return pending.value
