"""The batch job's own worker processes: one file per worker at a time (and the next one queued).

Why not ``concurrent.futures.ProcessPoolExecutor``: when one of its workers
dies, it breaks every pending future, so a single crashing file charged an
attempt to every queued file (issue 11.4). Here each worker runs one task at
a time over its own pipe, so the pool knows exactly which file a dead worker
was running: that file is charged one attempt, the others are untouched, and
a new worker takes the dead one's place.

Workers never outlive the run (issue 11.3), whatever kills it:

- every worker holds the read end of a *lifeline* pipe whose write end only
  the main process holds; a watchdog thread in the worker waits on it and
  ends the worker the moment the main process is gone (SIGKILL included:
  the kernel closes the pipe), even in the middle of a file;
- on Linux each worker also asks for SIGKILL when its parent dies
  (``PR_SET_PDEATHSIG``), which covers start methods where the parent is
  the main process (fork);
- any start method works (fork, forkserver, spawn): a worker closes its
  own copy of the lifeline's write end first thing;
- workers ignore SIGINT: Ctrl-C reaches the whole process group, and the
  main process alone decides (it stops the workers and writes the summary).
"""

from __future__ import annotations

import collections
import contextlib
import gc
import importlib
import os
import select
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from remotemedia.batch import start_method
from remotemedia.batch.job import FileResult, FileTask, process_file


def _die_with_parent_linux() -> None:
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def _watch_lifeline(lifeline: Connection) -> None:
    """Block until the main process closes (or loses) the lifeline, then end this worker."""
    try:
        while True:
            lifeline.poll(None)
            lifeline.recv_bytes()  # the main process never writes: only EOF gets here
    except (EOFError, OSError):
        pass
    os._exit(70)


def worker_main(conn: Connection, lifeline: Connection, lifeline_w: Connection, env: dict[str, str]) -> None:
    """A worker's loop: receive a task, send its result, until told to stop or orphaned.

    ``lifeline_w`` is this process's copy of the lifeline's write end (a
    forked worker inherits it; a spawned one gets a duplicate): it is
    closed first, so that only the main process keeps the lifeline open.
    """
    with contextlib.suppress(OSError):
        lifeline_w.close()
    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGTERM"):  # a forked worker must not run the main process's handler
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent_linux()
    threading.Thread(target=_watch_lifeline, args=(lifeline,), name="remotemedia-lifeline", daemon=True).start()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        conn.send(process_file(task))


@dataclass
class _Worker:
    process: Any
    conn: Connection
    # tasks sent and not answered yet, in order: the first is the one running
    tasks: collections.deque[FileTask] = field(default_factory=collections.deque)
    # a poll object on the pipe, made once: ``conn.poll()`` builds a selector and registers the pipe per call
    _poller: Any = None

    def __post_init__(self) -> None:
        if hasattr(select, "poll"):
            with contextlib.suppress(OSError, ValueError):
                self._poller = select.poll()
                self._poller.register(self.conn.fileno(), select.POLLIN)

    def answered(self) -> bool:
        """True if something is in the pipe to read: an answer, or the end of a dead worker's pipe
        (as ``conn.poll()``; raises OSError likewise once the pipe is closed)."""
        if self._poller is None:
            return self.conn.poll()
        if self.conn.closed:
            self.conn.poll()  # raises OSError: the handle is closed
        return bool(self._poller.poll(0))


def _context() -> Any:
    """The start method for workers (fork when safe, else a fork server; batch/start_method.py).

    Workers work with any of fork, forkserver and spawn (see the module notes).
    """
    return start_method.worker_context()


class WorkerPool:
    """``workers`` processes, each running one :class:`FileTask` at a time (see :meth:`run`).

    Use :meth:`run` to process a list of tasks; :meth:`close` (or the
    context manager) ends every worker, running or not.
    """

    def __init__(self, workers: int, env: dict[str, str] | None = None, context: Any = None) -> None:
        self.size = max(1, workers)
        self.env = dict(env or {})
        self._ctx = context if context is not None else _context()
        if self._ctx.get_start_method() == "fork":
            # loaded here once, inherited by every worker (else each imports them on its first file)
            importlib.import_module("remotemedia.batch.warm")
        self._lifeline_r, self._lifeline_w = self._ctx.Pipe(duplex=False)
        self._workers: list[_Worker] = []
        self.deaths = 0

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(
            target=worker_main,
            args=(child, self._lifeline_r, self._lifeline_w, self.env),
            name="remotemedia-worker",
            daemon=True,
        )
        if self._ctx.get_start_method() == "fork":
            # the objects inherited from this process stay out of the worker's garbage collections,
            # which would otherwise write to (and so copy) every page holding one of them
            gc.freeze()
            try:
                proc.start()
            finally:
                gc.unfreeze()
        else:
            proc.start()
        child.close()
        worker = _Worker(proc, parent)
        self._workers.append(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        self._workers.remove(worker)
        with contextlib.suppress(OSError):
            worker.conn.close()
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(5)

    def run(
        self,
        tasks: list[FileTask],
        max_attempts: int,
        on_death: Callable[[FileTask, int], FileResult],
    ) -> Iterator[FileResult]:
        """Yield one result per task, in completion order.

        Each worker holds up to :attr:`DEPTH` tasks: the one it runs and
        the next, already in its pipe, so it never waits for this process
        to hand it work between two files (on a busy machine that wait is
        a scheduling delay per file). A worker runs its tasks in order and
        answers in order, so the first unanswered one is the one it is
        running.

        A worker that dies (killed, out of memory, a crash in native code)
        charges one attempt to the one task it was running; that task is
        queued again until it has had ``max_attempts``, then
        ``on_death(task, attempts)`` makes its failed result. Its queued
        task goes back to the queue uncharged. The caller may stop
        iterating at any time (then :meth:`close` ends the workers).
        """
        queue = collections.deque(tasks)
        attempts: dict[int, int] = {}
        busy: dict[Connection, _Worker] = {}
        while queue or busy:
            self._feed(queue, busy)
            sentinels = {w.process.sentinel: w for w in busy.values()}
            for ready in wait([*busy, *sentinels]):
                worker = busy.get(ready) if isinstance(ready, Connection) else sentinels.get(ready)
                if worker is None or worker.conn not in busy:
                    continue
                dead = False
                # every answer already in the pipe first: a worker may die after answering
                while worker.tasks:
                    try:
                        if not worker.answered():
                            break
                        result: FileResult = worker.conn.recv()
                    except (EOFError, OSError):
                        dead = True
                        break
                    done = worker.tasks.popleft()
                    attempts[id(done)] = attempts.get(id(done), 0) + 1
                    result.attempts = max(result.attempts, attempts.pop(id(done)))
                    yield result
                if not dead and worker.process.is_alive():
                    if not worker.tasks:
                        del busy[worker.conn]
                    continue
                # the worker died under its first task: charge it alone, requeue the others as they were
                del busy[worker.conn]
                self._retire(worker)
                self.deaths += 1
                if not worker.tasks:
                    continue
                running, waiting = worker.tasks[0], list(worker.tasks)[1:]
                worker.tasks.clear()
                queue.extendleft(reversed(waiting))
                attempts[id(running)] = attempts.get(id(running), 0) + 1
                if attempts[id(running)] < max_attempts:
                    queue.appendleft(running)
                else:
                    yield on_death(running, attempts.pop(id(running)))

    #: Tasks a worker holds at once (running + queued in its pipe).
    DEPTH = 2

    def _feed(self, queue: collections.deque[FileTask], busy: dict[Connection, _Worker]) -> None:
        """Send queued tasks to workers until each holds :attr:`DEPTH` (new workers up to the pool size)."""
        while queue:
            # an idle worker first; a second task only while the queue outlasts a round (no tail imbalance)
            worker = next((w for w in self._workers if not w.tasks), None)
            if worker is None and len(queue) > self.size:
                worker = next((w for w in self._workers if len(w.tasks) < self.DEPTH), None)
            if worker is None:
                if len(self._workers) >= self.size:
                    return
                worker = self._spawn()
            elif not worker.tasks and not worker.process.is_alive():  # died while idle: replace it, charging nobody
                self._retire(worker)
                continue
            task = queue.popleft()
            try:
                worker.conn.send(task)
            except OSError:  # it died: back to the queue uncharged; its own tasks are handled at its sentinel
                queue.appendleft(task)
                if not worker.tasks:
                    self._retire(worker)
                    continue
                return
            worker.tasks.append(task)
            busy[worker.conn] = worker

    def close(self) -> None:
        """End every worker now (running tasks are abandoned; their temporaries are removed next run)."""
        for worker in list(self._workers):
            with contextlib.suppress(OSError):
                if not worker.tasks:
                    worker.conn.send(None)
        for worker in list(self._workers):
            if worker.tasks:
                worker.process.kill()
            worker.process.join(2)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(5)
            with contextlib.suppress(OSError):
                worker.conn.close()
        self._workers.clear()
        with contextlib.suppress(OSError):
            self._lifeline_w.close()
            self._lifeline_r.close()
