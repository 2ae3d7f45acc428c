"""Running a pipeline over a collection of files, on any executor.

The scheduler receives an executor rather than owning one: in-process,
a process pool (the default for several workers), any
``concurrent.futures.Executor``, or Dask's (``Client.get_executor``).
Tasks carry paths and the manifest only.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from remotemedia.batch import presets
from remotemedia.batch.discover import discover
from remotemedia.batch.files import remove_stale_temporaries, write_json_atomic
from remotemedia.batch.job import FORMATS, FileResult, FileTask, is_complete, pipeline_hash, process_file
from remotemedia.batch.progress import Progress

if TYPE_CHECKING:
    from remotemedia.dataset.options import DatasetOptions

SUMMARY_FILE = "_remotemedia_summary.json"
FAILURES_FILE = "_remotemedia_failures.jsonl"
ON_ERROR = ("skip", "stop")


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


class _OwnPool:
    """A process pool that is rebuilt when a worker dies (BrokenProcessPool)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool = self._new()

    def _new(self) -> cf.ProcessPoolExecutor:
        # Workers never inherit this process's threads or native state:
        # forkserver where there is one (its server imports the heavy modules
        # once, so each worker starts in milliseconds), spawn elsewhere.
        ctx: Any
        if "forkserver" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["numpy", "soundfile", "remotemedia.batch.job", "remotemedia.nodes"])
        else:
            ctx = multiprocessing.get_context("spawn")
        return cf.ProcessPoolExecutor(self.workers, mp_context=ctx)

    def submit(self, task: FileTask) -> cf.Future[FileResult]:
        try:
            return self.pool.submit(process_file, task)
        except cf.process.BrokenProcessPool:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._new()
            return self.pool.submit(process_file, task)

    def shutdown(self, cancel: bool = False) -> None:
        self.pool.shutdown(wait=True, cancel_futures=cancel)


def _tasks(
    inputs: Iterable[str | os.PathLike[str]], manifest: dict[str, Any], outdir: Path, fmt: str
) -> list[FileTask]:
    digest = pipeline_hash(manifest, fmt)
    return [
        FileTask(str(s.path), s.relpath.as_posix(), str(outdir), manifest, digest, fmt) for s in discover(list(inputs))
    ]


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
    dataset: DatasetOptions | None = None,
) -> BatchSummary:
    """Run a pipeline over files; every file ends ok, failed (recorded) or skipped.

    Parameters
    ----------
    inputs
        Files, directories (searched recursively for audio extensions) and globs.
    pipeline
        A preset name (see ``presets.names()``), a manifest path, or a manifest dict.
    outdir
        Output folder; the tree below it mirrors the inputs.
    output_format
        Output container by extension: one of ``FORMATS`` (wav and flac: 16-bit PCM).
    resume
        Skip files whose output is complete for the same pipeline and input.
    on_error
        "skip" records a failed file and goes on; "stop" stops at the first.
    workers
        Processes when no executor is given (default: CPU count; 1 runs in
        this process).
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
        Attempts per file when a worker dies under it (kill, OOM).

    Raises
    ------
    FileNotFoundError, ValueError
        Bad inputs, pipeline or options (before any file is processed).
    """
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be 'skip' or 'stop', got {on_error!r}")
    fmt = output_format.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"output format {output_format!r} is not one of {', '.join(FORMATS)}")
    manifest = pipeline if isinstance(pipeline, dict) else presets.load(pipeline)
    if dataset is not None:  # dataset outputs (remotemedia.dataset): pipeline options, input spans
        from remotemedia.dataset import run as dataset_run

        manifest = dataset_run.prepare(manifest, pipeline, dataset, fmt)
        inputs, spans = dataset_run.split_inputs(inputs)
    _check_manifest(manifest)
    out = Path(outdir)
    tasks = _tasks(inputs, manifest, out, fmt)
    if dataset is not None:
        tasks = dataset_run.tasks(tasks, spans, manifest, out, fmt, dataset)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)

    from remotemedia import get_runtime_info

    summary = BatchSummary(str(manifest.get("name", pipeline)), str(out), files=len(tasks))
    summary.runtime = {k: get_runtime_info()[k] for k in ("binding", "rust_available", "version")}
    todo = []
    for task in tasks:
        if resume and is_complete(task):
            summary.skipped += 1
        else:
            todo.append(task)

    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    start = time.perf_counter()
    bar = Progress(len(tasks), progress, progress_stream)
    for _ in range(summary.skipped):
        bar.done += 1
    failures_path = out / FAILURES_FILE
    with open(failures_path, "w") as failures:
        try:
            if executor is not None:
                summary.executor = type(executor).__name__
                _run_on(executor, None, todo, summary, bar, failures, on_error, max_attempts)
            elif n_workers <= 1 or len(todo) <= 1:
                summary.executor = "in-process"
                _run_inline(todo, summary, bar, failures, on_error)
            else:
                summary.executor = f"processes x{n_workers}"
                pool = _OwnPool(min(n_workers, len(todo)))
                try:
                    _run_on(None, pool, todo, summary, bar, failures, on_error, max_attempts)
                finally:
                    pool.shutdown(cancel=True)
        finally:
            bar.close()
    summary.wall_s = time.perf_counter() - start
    summary.not_run = summary.files - summary.ok - summary.failed - summary.skipped
    if not summary.failed:
        failures_path.unlink()
    if dataset is not None:
        summary.written = dataset_run.finish(out, tasks, dataset)
    write_json_atomic(out / SUMMARY_FILE, summary.to_dict())
    return summary


def _check_manifest(manifest: dict[str, Any]) -> None:
    from remotemedia import Pipeline

    Pipeline.from_manifest(manifest)  # validates schema, node types and graph up front


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
    for task in todo:
        result = process_file(task)
        _record(result, summary, bar, failures)
        if result.status == "failed" and on_error == "stop":
            return


def _run_on(
    executor: cf.Executor | None,
    pool: _OwnPool | None,
    todo: list[FileTask],
    summary: BatchSummary,
    bar: Progress,
    failures: IO[str],
    on_error: str,
    max_attempts: int,
) -> None:
    def submit(task: FileTask) -> cf.Future[FileResult]:
        if pool is not None:
            return pool.submit(task)
        assert executor is not None
        return executor.submit(process_file, task)

    attempts = {task.relpath: 1 for task in todo}
    pending = {submit(task): task for task in todo}
    while pending:
        done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
        for future in done:
            task = pending.pop(future)
            try:
                result = future.result()
            except Exception as exc:  # the worker died or the executor failed: not the file's fault
                if attempts[task.relpath] < max_attempts:
                    attempts[task.relpath] += 1
                    pending[submit(task)] = task
                    continue
                result = FileResult(task.source, task.relpath, "failed", node="worker", attempts=attempts[task.relpath])
                result.error, result.error_type = f"{type(exc).__name__}: {exc}", type(exc).__name__
            else:
                result.attempts = max(result.attempts, attempts[task.relpath])
            _record(result, summary, bar, failures)
            if result.status == "failed" and on_error == "stop":
                for other in pending:
                    other.cancel()
                return
