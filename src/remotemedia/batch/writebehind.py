"""Writing one file's output while the next file runs (one worker, in the run's own process).

At one worker the run's thread used to push a file through the pipeline
and then write it (the int16 conversion, libsndfile's encoding, the
rename, the JSON sidecar) before it started the next file. Here the output
blocks go to a writer thread instead, which writes them into the file's
temporary file while the run's thread pushes the next file through the
chain; libsndfile's writes through cffi, numpy's conversion and the
chain's calls release the GIL. With the read-ahead (batch/readahead.py) a
file is then read, run and written on three threads at once.

What the user sees is what the run in turn gives (tests/test_batch_writebehind.py):

- Outputs are written as before: into a temporary name, renamed onto the
  final name when complete, then the output record and the sidecar (last:
  it marks the file complete for ``--resume``); only the writer thread
  writes a plain file's output, one file after the other, in task order.
- Results come in task order, each file's from the writer once its output
  is committed (or has failed). A file's failure is the first one in
  stream order, as in turn: a write failure of block k comes before a node
  failure at a later block (the run's thread stops streaming a file whose
  writes failed), and a failure in the commit, the record or the sidecar
  is reported as it was.
- ``on_error="stop"``: after a failure the writer writes nothing of the
  files after it (the run's thread may have run the next file's pipeline
  already; its blocks are dropped unwritten, so no file or folder of it
  appears), and no result comes after the failure's.
- An interrupt (Ctrl-C) or an exception: a commit that has begun is
  finished (output then sidecar, each atomic); every other temporary file
  is removed; :meth:`WriteBehind.close` hands back the results of files
  finished and not yet handed out, so the summary counts every file whose
  output was committed. Nothing is left under a final name half-written.
- The summary is written by the run after :meth:`WriteBehind.drain` or
  :meth:`WriteBehind.close`, i.e. after the writer finished.

Blocks are copied when handed over (a node may reuse its output buffer for
the next block). Memory: at most :data:`MAX_QUEUED_BYTES` of blocks wait
for the writer (the run's thread waits beyond that), and at most
:data:`MAX_FILES` files are between the run's thread and their result.

Tasks that are not plain (dataset cut modes, spans, inputs PyAV decodes)
write their own outputs in turn: the writer is drained first, so outputs
still appear in task order.

Where it runs: with the read-ahead, in :func:`remotemedia.batch.runner.run_batch`'s
in-process path (one worker) when the process may use two cores or more.
Off with ``REMOTEMEDIA_WRITE_BEHIND=0``, on one core, and for one file.
"""

from __future__ import annotations

import collections
import functools
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from remotemedia.batch import job
from remotemedia.batch.job import FileResult, FileTask
from remotemedia.batch.streamfile import StageError

if TYPE_CHECKING:
    from remotemedia.batch.readahead import Ahead

#: Environment variable: "0" turns the write-behind off, "1" (the default) leaves it on.
ENV = "REMOTEMEDIA_WRITE_BEHIND"
#: Output blocks (bytes of samples) that may wait for the writer before the run's thread waits: 32 MiB
#: (17 min of 16 kHz mono float32; a block is at most 10 s of input).
MAX_QUEUED_BYTES = 32 * 1024 * 1024
#: Files handed to the writer and not finished before the run's thread waits to start another.
MAX_FILES = 2


def enabled(n_tasks: int, cores: int) -> bool:
    """True if a run of ``n_tasks`` files on ``cores`` usable cores writes behind.

    False with fewer than two files (nothing to overlap), one core, or
    ``REMOTEMEDIA_WRITE_BEHIND=0``.

    Raises
    ------
    ValueError
        ``REMOTEMEDIA_WRITE_BEHIND`` is not 0 or 1.
    """
    text = os.environ.get(ENV, "").strip()
    if text not in ("", "0", "1"):
        raise ValueError(f"{ENV}={text!r}: expected 1 (write outputs on a second thread) or 0 (off); unset it for 1")
    return text != "0" and n_tasks >= 2 and cores >= 2


class _Stopped(Exception):
    """Raised into a file's stream when the writer already failed it: the run's thread stops streaming it."""


class _File:
    """One plain file on its way: its result, and the writer thread's state for it."""

    def __init__(self, task: FileTask, result: FileResult, start: float) -> None:
        self.task, self.result, self.start = task, result, start
        self.runtime = dict(result.runtime)
        self.writer: Any = None  # the streamfile._AtomicWriter, used on the writer thread only
        self.error: Exception | None = None  # the first write failure (set by the writer thread)


class _Deferred:
    """What ``stream_file`` writes to instead of its own atomic writer (on the run's thread).

    The same interface (``write``, ``started``, ``commit``, ``discard``):
    blocks are copied and queued for the writer thread; ``commit`` only
    notes the rate (the writer commits when the file's end reaches it).
    """

    def __init__(self, behind: WriteBehind, file: _File) -> None:
        self._behind, self._file = behind, file
        self.started = False
        self.commit_rate: int | None = None

    def write(self, data: np.ndarray, rate: int) -> None:
        if self._file.error is not None:  # writing in turn would have stopped at that failure
            raise _Stopped()
        self.started = True
        block = np.array(data, copy=True)
        self._behind._put(("block", self._file, block, rate), block.nbytes)

    def commit(self, rate: int) -> int:
        if not self.started:  # nothing came out (e.g. no speech): an empty, valid file
            self.write(np.zeros(0, np.float32), rate)
        self.commit_rate = rate
        return 0  # the size: set when the writer commits

    def discard(self) -> None:
        """Nothing to do here: the writer thread commits or removes the temporary file."""


class WriteBehind:
    """A writer thread for the outputs of plain files, run in task order (see the module's text).

    ``stop``: ``on_error="stop"`` (nothing is written or reported after a
    failure). Call :meth:`process` for each task in order, then
    :meth:`drain`; always :meth:`close` (in a ``finally``).
    """

    def __init__(self, stop: bool = False) -> None:
        self._stop = stop
        self._cond = threading.Condition()
        self._items: collections.deque[tuple[Any, ...]] = collections.deque()
        self._queued = 0  # bytes of blocks in _items
        self._open = 0  # files handed to the writer and not finished
        self._done: collections.deque[FileResult] = collections.deque()
        self._closing = False
        self._abandon = False
        self.halted = False  # stop mode, after a failure
        # a daemon: were close() never reached (a second Ctrl-C inside the run's cleanup), the process
        # still exits; the writer's files are only ever renamed onto final names whole
        self._thread = threading.Thread(target=self._loop, name="remotemedia-write", daemon=True)
        self._thread.start()

    # the run's thread ------------------------------------------------------------------------

    def process(self, task: FileTask, ahead: Ahead | None = None) -> list[FileResult]:
        """Run ``task`` (its output written behind, if plain); return the results finished since the
        last call, in task order (possibly none yet)."""
        if self.halted:
            return self._take()
        if not task.plain:  # it writes its own outputs: after every earlier file's
            done = self.drain()
            if self.halted:
                return done
            result = job.process_file(task, ahead)
            if result.status == "failed" and self._stop:
                self.halted = True
            return [*done, result]
        with self._cond:
            while self._open >= MAX_FILES:
                self._wait()
            self._open += 1
        file = _File(task, job.start_result(task), time.perf_counter())
        finish: Callable[[], None] | None = None
        try:
            print_, plain = job.input_of(task, ahead)
            fmt, subtype = job.output_format(task)
            from remotemedia.batch.streamfile import _AtomicWriter

            file.writer = _AtomicWriter(task.output, fmt, subtype)
            deferred = _Deferred(self, file)
            out, metrics = job.run_pipeline(task, functools.partial(plain, writer=deferred), record=False)
        except Exception as exc:
            job.record_failure(file.result, exc)
        else:
            finish = functools.partial(_finish, file, deferred, out, print_, metrics, fmt, subtype)
        self._put(("end", file, finish), 0)
        if finish is None and self._stop:  # the runner must see this failure before the next file starts
            return self.drain()
        return self._take()

    def drain(self) -> list[FileResult]:
        """Wait until every file handed over is finished; their results, in order."""
        with self._cond:
            while self._open or self._items:
                self._wait()
        return self._take()

    def close(self) -> list[FileResult]:
        """End the writer thread: a commit under way is finished, every other temporary file removed.

        Returns the results finished and not yet handed out (after :meth:`drain`: none).
        """
        with self._cond:
            self._closing = True
            self._abandon = bool(self._items or self._open)
            self._cond.notify_all()
        self._thread.join()
        return self._take()

    def _put(self, item: tuple[Any, ...], size: int) -> None:
        with self._cond:
            while size and self._queued and self._queued + size > MAX_QUEUED_BYTES:
                self._wait()
            self._items.append(item)
            self._queued += size
            self._cond.notify_all()

    def _wait(self) -> None:
        if not self._thread.is_alive():  # never expected: the writer catches every error per item
            raise RuntimeError("the batch job's writer thread ended early")
        self._cond.wait(0.5)

    def _take(self) -> list[FileResult]:
        with self._cond:
            done = list(self._done)
            self._done.clear()
        return done

    # the writer thread -----------------------------------------------------------------------

    def _loop(self) -> None:
        current: _File | None = None  # the file whose temporary file may be open
        while True:
            with self._cond:
                while not self._items and not self._closing:
                    self._cond.wait()
                if self._abandon or not self._items:
                    self._items.clear()
                    self._queued = 0
                    break
                item = self._items.popleft()
            kind, file = item[0], item[1]
            size = item[2].nbytes if kind == "block" else 0
            current = file
            try:
                if kind == "block":
                    self._write(file, item[2], item[3])
                else:
                    self._end(file, item[2])
                    current = None
            except BaseException as exc:  # a bug here: the file fails with it, the writer goes on
                failure = exc if isinstance(exc, Exception) else RuntimeError(f"{type(exc).__name__}: {exc}")
                if kind == "block" and file.error is None:
                    file.error = failure
                    file.writer.discard()
                elif kind == "end":
                    job.record_failure(file.result, failure)
                    self._publish(file, file.result)
                    current = None
            finally:
                with self._cond:
                    self._queued -= size
                    self._cond.notify_all()
        if current is not None and current.writer is not None:
            current.writer.discard()
        self._items.clear()
        with self._cond:
            self._cond.notify_all()

    def _write(self, file: _File, block: np.ndarray, rate: int) -> None:
        if file.error is not None or self.halted:
            return
        try:
            file.writer.write(block, rate)
        except Exception as exc:  # as in turn: the file fails at this block, its temporary file goes
            file.error = exc
            file.writer.discard()

    def _end(self, file: _File, finish: Callable[[], None] | None) -> None:
        if file.writer is not None and (self.halted or file.error is not None or finish is None):
            file.writer.discard()
        if self.halted:  # stop mode, a file after the failure: nothing of it is written or reported
            with self._cond:
                self._open -= 1
                self._cond.notify_all()
            return
        result = file.result
        if file.error is not None:  # its writes failed: that came first, whatever the run's thread saw after
            result = FileResult(file.task.source, file.task.relpath, "failed", runtime=file.runtime)
            job.record_failure(result, StageError("write", file.error))
        elif finish is not None:
            try:
                finish()
            except Exception as exc:
                job.record_failure(result, exc)
            finally:
                file.writer.discard()  # after a commit there is nothing left to remove
        self._publish(file, result)

    def _publish(self, file: _File, result: FileResult) -> None:
        result.wall_s = time.perf_counter() - file.start
        with self._cond:
            self._done.append(result)
            self._open -= 1
            if result.status == "failed" and self._stop:
                self.halted = True
            self._cond.notify_all()


def _finish(
    file: _File,
    deferred: _Deferred,
    out: Any,
    print_: dict[str, Any],
    metrics: dict[str, Any] | None,
    fmt: str,
    subtype: str,
) -> None:
    """On the writer thread: commit the output, then its record and the sidecar (as ``process_file`` does)."""
    from remotemedia.dataset.cutter import finish_record

    if deferred.commit_rate is not None:
        try:
            out.output_size = file.writer.commit(deferred.commit_rate)
        except Exception as exc:
            raise StageError("write", exc) from exc
    else:  # the pipeline's own sink wrote what it writes
        out.output_size = None
    finish_record(file.task, out, fmt, subtype)
    job.finish(file.task, file.result, print_, out, metrics)


def process_in_order(
    tasks: Sequence[FileTask], ahead: int, record: Callable[[FileResult], bool], stop: bool = False
) -> None:
    """Every task in order, outputs written behind (and ``ahead`` files read ahead, batch/readahead.py);
    ``record(result)`` for each result in task order, on the calling thread; it returns False to stop.

    The writer has finished (or been stopped) when this returns or raises; on an
    interrupt the files whose outputs were committed are recorded before it propagates.
    """
    from remotemedia.batch import readahead

    behind = WriteBehind(stop)
    steps: Iterator[list[FileResult]] = (
        readahead.process_in_order(tasks, behind.process, ahead) if ahead else map(behind.process, tasks)
    )
    try:
        for done in steps:
            if not _record_all(done, record):
                return
        _record_all(behind.drain(), record)
    finally:
        try:
            close = getattr(steps, "close", None)
            if close is not None:
                close()  # the reader stops before the writer
        finally:  # even if a second interrupt lands while the reader stops
            _record_all(behind.close(), record)


def _record_all(results: list[FileResult], record: Callable[[FileResult], bool]) -> bool:
    return all(record(r) for r in results)
