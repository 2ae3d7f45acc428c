"""One file through one pipeline: the unit of work a worker runs.

The file is streamed in blocks (see streamfile.py): memory is bounded by
the block size, whatever the file's length (a run with one worker may
hold the next two files whole while this one runs, up to batch/readahead.py's
MAX_SAMPLES each, and output blocks waiting for its writer thread, up to
batch/writebehind.py's MAX_QUEUED_BYTES).

Everything here is plain data in and out (paths, the manifest as a dict),
so a task can go to a thread, a process or a Dask worker: no native handle
ever crosses a process boundary.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remotemedia._version import __version__
from remotemedia.batch import fingerprint, worker_plan
from remotemedia.batch.files import write_json_atomic
from remotemedia.batch.settings import FORMATS
from remotemedia.batch.streamfile import StageError, stream_file

if TYPE_CHECKING:
    from remotemedia.batch.readahead import Ahead

SIDECAR_SUFFIX = ".json"


@dataclass(frozen=True)
class FileTask:
    """What a worker needs to process one file."""

    source: str
    relpath: str
    outdir: str
    manifest: dict[str, Any]
    pipeline_hash: str
    output_format: str = "wav"
    # Output path relative to outdir, with the format's extension (batch/collisions.py); empty: the default.
    output_name: str = ""
    # dataset outputs (remotemedia.dataset): options dict, and a span of the input
    dataset: dict[str, Any] | None = None
    offset_s: float = 0.0
    duration_s: float | None = None
    # threads per native chain call in the worker (core/threads.py); None: REMOTEMEDIA_THREADS or auto
    threads: int | None = None

    # cached (a file's path is asked for a dozen times per file); the frozen fields never change it
    @functools.cached_property
    def output(self) -> Path:
        if self.output_name:
            return Path(self.outdir) / self.output_name
        return Path(self.outdir) / Path(self.relpath).with_suffix("." + self.output_format)

    @functools.cached_property
    def plain(self) -> bool:
        """``remotemedia.dataset.cutter.is_plain(self)``: the run's thread asks it several times per file."""
        from remotemedia.dataset.cutter import is_plain

        return is_plain(self)

    @functools.cached_property
    def sidecar(self) -> Path:
        out = self.output
        return out.with_name(out.name + SIDECAR_SUFFIX)


@dataclass
class FileResult:
    """What happened to one file (JSON-serialisable via ``asdict``)."""

    source: str
    relpath: str
    status: str  # "ok" | "failed" | "skipped"
    output: str | None = None
    duration_s: float = 0.0
    wall_s: float = 0.0
    node: str | None = None
    error: str | None = None
    error_type: str | None = None
    attempts: int = 1
    runtime: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pipeline_hash(manifest: dict[str, Any], output_format: str) -> str:
    """Identity of the work done to a file: manifest, output format, package version."""
    from remotemedia.batch.digest import blake2b

    canonical = json.dumps({"m": manifest, "f": output_format, "v": __version__}, sort_keys=True)
    return blake2b(canonical.encode(), digest_size=16).hexdigest()


def is_complete(task: FileTask) -> bool:
    """True if a previous run finished this file with the same pipeline and input.

    The sidecar is written last, after the output; it records the pipeline
    hash, the input's fingerprint and the output's size.
    """
    try:
        record = json.loads(task.sidecar.read_text())
    except (OSError, ValueError):
        return False
    if record.get("pipeline_hash") != task.pipeline_hash:
        return False
    if not fingerprint.matches(task.source, record.get("input", {})):
        return False
    try:
        if "outputs" in record:  # dataset cuts: every file written (none for --cut none)
            return all(Path(o["path"]).stat().st_size == o["size"] for o in record["outputs"])
        if record.get("output", {}).get("path", "") is None:  # the pipeline ends in its own sink: no output of ours
            return True
        return task.output.stat().st_size == record.get("output", {}).get("size")
    except OSError:
        return False


_runtime_settled = threading.Lock()
_runtime_warned = False


def settle_runtime_warning() -> None:
    """Consume the native-core probe's long warning in this process, once.

    The run gives its own one-line note, once (``preflight.pure_python_note``);
    a worker process must not print the long warning again for each worker.
    """
    global _runtime_warned
    with _runtime_settled:
        if _runtime_warned:
            return
        _runtime_warned = True
        from remotemedia import runtime

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            with contextlib.suppress(Exception):  # a bad REMOTEMEDIA_RUNTIME is reported per file below
                runtime.is_rust_runtime_available()


def _runtime_of_this_process() -> dict[str, Any]:
    """Binding and availability of the native core here (the probe's cached answer, cheap per file)."""
    from remotemedia import runtime

    try:
        ok, module, _ = runtime.try_load_rust_runtime()
    except ValueError:  # a bad REMOTEMEDIA_RUNTIME: building the pipeline reports it as the file's failure
        return {"binding": None, "rust_available": False}
    return {"binding": getattr(module, "BINDING", None), "rust_available": ok}


def process_file(task: FileTask, ahead: Ahead | None = None) -> FileResult:
    """Decode, run the pipeline, write output then sidecar; never raises.

    Any failure comes back as a ``FileResult`` with status "failed", the
    node or stage that failed, the error and the attempts made. ``ahead``:
    the input's fingerprint and audio, already read (batch/readahead.py);
    the result is the same as reading them here. (batch/writebehind.py runs
    the same steps with the writing on a second thread.)
    """
    result = start_result(task)
    start = time.perf_counter()
    try:
        print_, plain = input_of(task, ahead)
        out, metrics = run_pipeline(task, plain)
        finish(task, result, print_, out, metrics)
    except Exception as exc:
        record_failure(result, exc)
    result.wall_s = time.perf_counter() - start
    return result


def start_result(task: FileTask) -> FileResult:
    """A file's result before any work: "failed" until :func:`finish` says otherwise."""
    settle_runtime_warning()
    result = FileResult(task.source, task.relpath, "failed")
    result.runtime = _runtime_of_this_process()
    return result


def input_of(task: FileTask, ahead: Ahead | None) -> tuple[dict[str, Any], Any]:
    """The input's fingerprint, and the function that streams it (``stream_file``, or
    ``stream_file`` over what the reader already decoded).

    Raises
    ------
    StageError
        Stage "read": the fingerprint could not be taken.
    """
    if ahead is None:
        try:
            return fingerprint.fingerprint(Path(task.source)), stream_file
        except OSError as exc:
            raise StageError("read", exc) from exc
    if ahead.print_ is None:
        raise StageError("read", ahead.print_error or OSError("no fingerprint")) from ahead.print_error
    if ahead.decoded is not None:
        return ahead.print_, functools.partial(stream_file, decoded=ahead.decoded)
    return ahead.print_, stream_file


def output_format(task: FileTask) -> tuple[str, str]:
    """libsndfile's container and subtype for ``task``'s output."""
    fmt, subtype = FORMATS[task.output_format]
    return fmt, (task.dataset or {}).get("subtype") or subtype


def run_pipeline(task: FileTask, plain: Any, record: bool = True) -> tuple[Any, dict[str, Any] | None]:
    """Stream ``task`` through the worker's pipeline (``plain``: how a plain task is streamed);
    returns what streaming produced and the pipeline's metrics (None when the manifest has them off).

    ``record=False`` (a plain task whose output is committed later, batch/writebehind.py): the
    output record is left to ``remotemedia.dataset.cutter.finish_record``.
    """
    from remotemedia.dataset.cutter import stream_task

    # root: the manifest's file paths stay inside the output folder
    pipeline = worker_plan.acquire(task.pipeline_hash, task.manifest, root=task.outdir, threads=task.threads)
    try:
        fmt, subtype = output_format(task)
        out = stream_task(task, pipeline, fmt, subtype, plain, record=record)
        return out, (pipeline.get_metrics() if pipeline.enable_metrics else None)
    finally:
        worker_plan.release(task.pipeline_hash, pipeline, root=task.outdir, threads=task.threads)


def finish(
    task: FileTask, result: FileResult, print_: dict[str, Any], out: Any, metrics: dict[str, Any] | None
) -> None:
    """Write the sidecar (last: it marks the file complete for ``--resume``); the result is then "ok"."""
    rate = out.input_info["sample_rate"]
    result.duration_s = out.input_frames / rate
    sidecar = {
        "pipeline": task.manifest.get("name"),
        "pipeline_hash": task.pipeline_hash,
        "input": {"path": str(Path(task.source)), **print_, **out.input_info, "duration_s": result.duration_s},
        "output": {
            "path": str(task.output) if out.output_size is not None else None,
            "size": out.output_size,
            "sample_rate": out.output_rate,
            "channels": out.output_channels,
            "duration_s": out.output_frames / out.output_rate if out.output_rate else 0.0,
        },
        "speech_segments": [list(seg) for seg in out.segments],
        **({"sink_outputs": out.sink_outputs} if out.sink_outputs else {}),
        # a manifest may leave metrics off (config.enable_metrics): then there are none to report
        "metrics": metrics,
        "runtime": result.runtime,
        "remotemedia": __version__,
        **getattr(out, "sidecar_extra", {}),
    }
    write_json_atomic(task.sidecar, sidecar)
    result.status, result.output = "ok", str(task.output)


def record_failure(result: FileResult, exc: Exception) -> None:
    """Fill ``result`` in for a failure: the node or stage, the error and its type.

    A ``NodeError`` names its node (and the attempts made), a ``StageError``
    its stage ("read", "write"); anything else is a bug, recorded as the
    "pipeline"'s with its traceback, and the run goes on.
    """
    from remotemedia.core.errors import NodeError

    if isinstance(exc, NodeError):
        cause = exc.__cause__ or exc
        result.node, result.attempts = exc.node_id, max(1, exc.attempts)
        result.error, result.error_type = str(exc), type(cause).__name__
    elif isinstance(exc, StageError):
        result.node, result.error, result.error_type = exc.stage, str(exc), type(exc.cause).__name__
    else:
        import traceback

        result.node, result.error_type = "pipeline", type(exc).__name__
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=5))
        result.error = f"{type(exc).__name__}: {exc}\n{trace}"
