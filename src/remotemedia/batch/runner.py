"""Running a pipeline over a collection of files, on any executor.

The scheduler receives an executor rather than owning one: in-process,
a process pool (the default for several workers), any
``concurrent.futures.Executor``, or Dask's (``Client.get_executor``).
Tasks carry paths and the manifest only.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from remotemedia.batch import nativeflac, preflight, presets, readahead
from remotemedia.batch.collisions import ON_COLLISION, Planned, plan_outputs
from remotemedia.batch.discover import scan
from remotemedia.batch.files import remove_stale_temporaries, write_json_atomic
from remotemedia.batch.job import (
    FileResult,
    FileTask,
    is_complete,
    pipeline_hash,
    process_file,
    settle_runtime_warning,
)
from remotemedia.batch.lock import output_lock
from remotemedia.batch.progress import Progress
from remotemedia.batch.settings import FAILURES_FILE, FORMATS, ON_ERROR, SUMMARY_FILE, usable_cores
from remotemedia.core.threads import env_threads_set, resolve_threads

if TYPE_CHECKING:
    import concurrent.futures as cf

    from remotemedia.batch.workers import WorkerPool
    from remotemedia.dataset.options import DatasetOptions


@dataclass
class BatchSummary:
    """Outcome of a batch run (also saved as JSON in the output folder)."""

    pipeline: str
    outdir: str
    files: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    not_run: int = 0
    interrupted: bool = False
    audio_s: float = 0.0
    wall_s: float = 0.0
    executor: str = ""
    runtime: dict[str, Any] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    written: dict[str, str] = field(default_factory=dict)  # dataset manifests: kind -> path

    @property
    def audio_hours(self) -> float:
        return self.audio_s / 3600

    @property
    def speed(self) -> float:
        """Audio seconds processed per wall-clock second."""
        return self.audio_s / self.wall_s if self.wall_s else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            audio_hours=self.audio_hours,
            audio_s_per_s=self.speed,
            files_per_s=self.ok / self.wall_s if self.wall_s else 0.0,
        )
        return data

    def describe(self) -> str:
        lines = [
            f"pipeline {self.pipeline}: {self.files} files -> {self.outdir}",
            f"  ok {self.ok}, failed {self.failed}, skipped {self.skipped} (already complete)"
            + (f", not run {self.not_run} (stopped)" if self.not_run else ""),
            f"  audio {self.audio_s:.1f} s ({self.audio_hours:.3f} h) in {self.wall_s:.2f} s wall: "
            f"{self.speed:.1f}x real time, {self.ok / self.wall_s if self.wall_s else 0:.2f} files/s",
            f"  executor {self.executor}; native core: {self.runtime.get('binding') or 'none (pure Python)'}",
        ]
        if self.failed:
            lines.append(f"  failures: {Path(self.outdir) / FAILURES_FILE}")
            for f in self.failures[:10]:
                lines.append(f"    {f['relpath']}: [{f['node']}] {(f['error'] or '').splitlines()[0]}")
        return "\n".join(lines)


def _tasks(planned: list[Planned], manifest: dict[str, Any], outdir: Path, fmt: str) -> list[FileTask]:
    digest = pipeline_hash(manifest, fmt)
    return [
        FileTask(str(p.source.path), p.source.relpath.as_posix(), str(outdir), manifest, digest, fmt, p.output)
        for p in planned
    ]


class BatchInterrupted(KeyboardInterrupt):
    """The run was interrupted (Ctrl-C, SIGTERM); ``summary`` has what finished."""

    def __init__(self, summary: BatchSummary) -> None:
        super().__init__("interrupted")
        self.summary = summary


def run_batch(
    inputs: Iterable[str | os.PathLike[str]],
    pipeline: str | Path | dict[str, Any] = "speech-16k",
    outdir: str | os.PathLike[str] = "remotemedia-out",
    *,
    output_format: str = "wav",
    resume: bool = False,
    on_error: str = "skip",
    workers: int | None = None,
    executor: cf.Executor | None = None,
    max_attempts: int = 3,
    progress: str = "auto",
    progress_stream: IO[str] | None = None,
    on_collision: str = "keep",
    notify: Callable[[str], None] | None = None,
    dataset: DatasetOptions | None = None,
) -> BatchSummary:
    """Run a pipeline over files; every file ends ok, failed (recorded) or skipped.

    Parameters
    ----------
    inputs
        Files, directories (searched recursively for audio extensions) and globs.
        Anything inside ``outdir`` is never an input.
    pipeline
        A preset name (see ``presets.names()``), a manifest path, or a manifest dict.
    outdir
        Output folder; the tree below it mirrors the inputs. One run at a
        time per folder (a lock file, ``_remotemedia.lock``, while it runs).
    output_format
        Output container by extension: one of ``FORMATS`` (wav and flac: 16-bit PCM).
    resume
        Skip files whose output is complete for the same pipeline and input.
    on_error
        "skip" records a failed file and goes on; "stop" stops at the first.
    workers
        Processes when no executor is given (default: the cores this process may use; 1 runs in
        this process, where with a second usable core the next two files are read on one thread
        and the previous file's output written on another: ``REMOTEMEDIA_READ_AHEAD``,
        ``REMOTEMEDIA_WRITE_BEHIND``, batch/readahead.py and batch/writebehind.py).
    executor
        Any ``concurrent.futures.Executor`` (e.g. Dask's
        ``Client.get_executor(pure=False)``); tasks carry only paths and the
        manifest.
    dataset
        Dataset outputs (cut mode, subtype, rate, channels, VAD settings,
        segment lengths, manifests, labels): see
        :class:`remotemedia.dataset.DatasetOptions`. ``inputs`` may then
        also hold :class:`remotemedia.dataset.SpanInput` items.
    max_attempts
        Attempts per file when a worker dies under it (kill, OOM); at least 1.
    on_collision
        "keep" (default): inputs that would share an output name each keep
        their extension (or folder) in the name (batch/collisions.py);
        "error": raise before any work.
    notify
        Receives one-line notes before the work starts (output folder left
        out of the inputs, renamed outputs, pure Python). Default: printed
        to the progress stream unless ``progress="none"``.

    Raises
    ------
    FileNotFoundError, ValueError
        Bad inputs, pipeline or options (before any file is processed);
        among them ``OutputInsideInputsError``, ``OutputCollisionError``
        (batch/preflight.py), and a bad ``REMOTEMEDIA_READ_AHEAD``,
        ``REMOTEMEDIA_WRITE_BEHIND`` or ``REMOTEMEDIA_NATIVE_FLAC``.
    OutputLockedError
        Another run is using ``outdir``.
    BatchInterrupted
        Ctrl-C or SIGTERM: the summary (written too) has what finished.
    """
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be 'skip' or 'stop', got {on_error!r}")
    if on_collision not in ON_COLLISION:
        raise ValueError(f"on_collision must be one of {', '.join(ON_COLLISION)}, got {on_collision!r}")
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    fmt = output_format.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"output format {output_format!r} is not one of {', '.join(FORMATS)}")
    preflight.check_runtime()
    readahead.depth(0, 0)  # a bad REMOTEMEDIA_READ_AHEAD is refused here, before any work
    from remotemedia.batch import writebehind

    writebehind.enabled(0, 0)  # and a bad REMOTEMEDIA_WRITE_BEHIND
    nativeflac.enabled()  # and a bad REMOTEMEDIA_NATIVE_FLAC
    resolve_threads(None)  # and a bad REMOTEMEDIA_THREADS (every file would fail alike)
    manifest = pipeline if isinstance(pipeline, dict) else presets.load(pipeline)
    spans: list[Any] = []
    if dataset is not None:  # dataset outputs (remotemedia.dataset): pipeline options, input spans
        from remotemedia.dataset import run as dataset_run

        manifest = dataset_run.prepare(manifest, pipeline, dataset, fmt)
        inputs, spans = dataset_run.split_inputs(inputs)
    out = Path(outdir)
    _check_manifest(manifest, out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"the output folder {out} exists and is not a folder; choose another -o")
    found = scan(list(inputs), outdir=out)
    planned = plan_outputs(found.sources, fmt, on_collision)
    tasks = _tasks(planned, manifest, out, fmt)
    if dataset is not None:
        tasks = dataset_run.tasks(tasks, spans, manifest, out, fmt, dataset)
    preflight.refuse_overwriting_inputs(tasks, found)
    if notify is None:
        stream = progress_stream if progress_stream is not None else sys.stderr
        notify = (lambda line: None) if progress == "none" else (lambda line: _print_safely(line, stream))
    for line in preflight.notes(found, planned, out):
        notify(line)
    settle_runtime_warning()  # the note above is the one notice; never the long warning per worker

    summary = BatchSummary(str(manifest.get("name", pipeline)), str(out), files=len(tasks))
    if not tasks:
        return summary
    with output_lock(out):
        remove_stale_temporaries(out)
        _execute(
            tasks, summary, out, resume, on_error, workers, executor, max_attempts, progress, progress_stream, dataset
        )
    return summary


def worker_threads(n_workers: int) -> int | None:
    """Threads per native chain call in each of ``n_workers`` workers: the usable
    cores shared out, at least 1 (so 1 when workers >= cores: the job already runs one
    worker process per core). None when ``REMOTEMEDIA_THREADS`` is set: it decides."""
    if env_threads_set():
        return None
    return max(1, usable_cores() // max(1, n_workers))


def _print_safely(line: str, stream: IO[str]) -> None:
    """Print a note; a closed stream (``2>&1 | head``) never stops the run."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=stream, flush=True)


def _execute(
    tasks: list[FileTask],
    summary: BatchSummary,
    out: Path,
    resume: bool,
    on_error: str,
    workers: int | None,
    executor: cf.Executor | None,
    max_attempts: int,
    progress: str,
    progress_stream: IO[str] | None,
    dataset: DatasetOptions | None,
) -> None:
    from remotemedia.runtime import runtime_brief

    summary.runtime = runtime_brief()
    todo = []
    for task in tasks:
        if resume and is_complete(task):
            summary.skipped += 1
        else:
            todo.append(task)

    n_workers = workers if workers is not None else usable_cores()
    threads = worker_threads(n_workers)
    if threads is not None:
        todo = [replace(t, threads=threads) for t in todo]
    start = time.perf_counter()
    bar = Progress(len(tasks), progress, progress_stream)
    for _ in range(summary.skipped):
        bar.done += 1
    failures_path = out / FAILURES_FILE
    interrupted = False
    with open(failures_path, "w", encoding="utf-8", errors="backslashreplace") as failures:
        try:
            if executor is not None:
                summary.executor = type(executor).__name__
                _run_on(executor, todo, summary, bar, failures, on_error, max_attempts)
            elif n_workers <= 1 or len(todo) <= 1:
                summary.executor = "in-process"
                _run_inline(todo, summary, bar, failures, on_error)
            else:
                summary.executor = f"processes x{n_workers}"
                from remotemedia.batch.workers import WorkerPool  # here: multiprocessing only when it is used

                with WorkerPool(min(n_workers, len(todo))) as pool:
                    _run_pool(pool, todo, summary, bar, failures, on_error, max_attempts)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            bar.close()
    summary.wall_s = time.perf_counter() - start
    summary.not_run = summary.files - summary.ok - summary.failed - summary.skipped
    summary.interrupted = interrupted
    if not summary.failed:
        failures_path.unlink()
    if dataset is not None:
        from remotemedia.dataset import run as dataset_run

        summary.written = dataset_run.finish(out, tasks, dataset)
    write_json_atomic(out / SUMMARY_FILE, summary.to_dict())
    if interrupted:
        raise BatchInterrupted(summary)


def _check_manifest(manifest: dict[str, Any], out: Path) -> None:
    from remotemedia.core.pipeline import Pipeline

    # validates schema, node types and graph up front; file paths in the
    # manifest must stay inside the output folder (as the workers build it)
    Pipeline.from_manifest(manifest, root=out)


def _record(result: FileResult, summary: BatchSummary, bar: Progress, failures: IO[str]) -> None:
    if result.status == "ok":
        summary.ok += 1
        summary.audio_s += result.duration_s
    else:
        summary.failed += 1
        entry = {
            k: v
            for k, v in result.to_dict().items()
            if k in ("source", "relpath", "node", "error", "error_type", "attempts")
        }
        summary.failures.append(entry)
        failures.write(json.dumps(entry) + "\n")
        failures.flush()
    bar.update(result)


def _run_inline(todo: list[FileTask], summary: BatchSummary, bar: Progress, failures: IO[str], on_error: str) -> None:
    from remotemedia.batch import writebehind

    ahead = readahead.depth(len(todo), usable_cores())
    if writebehind.enabled(len(todo), usable_cores()):  # outputs written on a thread (batch/writebehind.py)

        def record(result: FileResult) -> bool:
            _record(result, summary, bar, failures)
            return not (result.status == "failed" and on_error == "stop")

        writebehind.process_in_order(todo, ahead, record, stop=on_error == "stop")
    elif ahead:  # the next file decoded on a second core (batch/readahead.py)
        with contextlib.closing(readahead.process_in_order(todo, process_file, ahead)) as results:
            _record_in_order(results, summary, bar, failures, on_error)
    else:
        _record_in_order(map(process_file, todo), summary, bar, failures, on_error)


def _record_in_order(
    results: Iterable[FileResult], summary: BatchSummary, bar: Progress, failures: IO[str], on_error: str
) -> None:
    for result in results:
        _record(result, summary, bar, failures)
        if result.status == "failed" and on_error == "stop":
            return


def _run_on(
    executor: cf.Executor,
    todo: list[FileTask],
    summary: BatchSummary,
    bar: Progress,
    failures: IO[str],
    on_error: str,
    max_attempts: int,
) -> None:
    import concurrent.futures as cf  # here: a plain run never loads it (nor logging)

    def submit(task: FileTask) -> cf.Future[FileResult]:
        try:
            return executor.submit(process_file, task)
        except Exception as exc:  # a broken or shut-down executor: this attempt fails like a dead worker
            failed: cf.Future[FileResult] = cf.Future()
            failed.set_exception(exc)
            return failed

    attempts = {id(task): 1 for task in todo}
    pending = {submit(task): task for task in todo}
    try:
        _collect(pending, submit, attempts, summary, bar, failures, on_error, max_attempts)
    except KeyboardInterrupt:
        for future in pending:
            future.cancel()
        raise


def _collect(
    pending: dict[cf.Future[FileResult], FileTask],
    submit: Callable[[FileTask], cf.Future[FileResult]],
    attempts: dict[int, int],
    summary: BatchSummary,
    bar: Progress,
    failures: IO[str],
    on_error: str,
    max_attempts: int,
) -> None:
    import concurrent.futures as cf

    while pending:
        done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
        for future in done:
            task = pending.pop(future)
            try:
                result = future.result()
            except Exception as exc:  # the worker died or the executor failed: not the file's fault
                if attempts[id(task)] < max_attempts:
                    attempts[id(task)] += 1
                    pending[submit(task)] = task
                    continue
                result = FileResult(task.source, task.relpath, "failed", node="worker", attempts=attempts[id(task)])
                result.error, result.error_type = f"{type(exc).__name__}: {exc}", type(exc).__name__
            else:
                result.attempts = max(result.attempts, attempts[id(task)])
            _record(result, summary, bar, failures)
            if result.status == "failed" and on_error == "stop":
                for other in pending:
                    other.cancel()
                return


def _worker_death(task: FileTask, attempts: int) -> FileResult:
    result = FileResult(task.source, task.relpath, "failed", node="worker", attempts=attempts)
    result.error = f"the worker process died while processing this file ({attempts} attempts)"
    result.error_type = "WorkerDied"
    return result


def _run_pool(
    pool: WorkerPool,
    todo: list[FileTask],
    summary: BatchSummary,
    bar: Progress,
    failures: IO[str],
    on_error: str,
    max_attempts: int,
) -> None:
    _record_in_order(pool.run(todo, max_attempts, _worker_death), summary, bar, failures, on_error)
