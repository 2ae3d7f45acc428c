"""One file through one pipeline: the unit of work a worker runs.

The file is streamed in blocks (see streamfile.py): memory is bounded by
the block size, whatever the file's length.

Everything here is plain data in and out (paths, the manifest as a dict),
so a task can go to a thread, a process or a Dask worker: no native handle
ever crosses a process boundary.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from remotemedia._version import __version__
from remotemedia.batch.files import fingerprint, quick_fingerprint_matches, write_json_atomic
from remotemedia.batch.streamfile import StageError, stream_file

SIDECAR_SUFFIX = ".json"
# Output format per extension: soundfile format and default subtype. WAV and
# FLAC default to 16-bit PCM (what trainers and whisper.cpp read); the others
# stay float where the container allows it. --subtype chooses another.
FORMATS: dict[str, tuple[str, str]] = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
    "aiff": ("AIFF", "FLOAT"),
    "caf": ("CAF", "FLOAT"),
    "w64": ("W64", "FLOAT"),
}


@dataclass(frozen=True)
class FileTask:
    """What a worker needs to process one file."""

    source: str
    relpath: str
    outdir: str
    manifest: dict[str, Any]
    pipeline_hash: str
    output_format: str = "wav"
    # dataset outputs (remotemedia.dataset): options dict, and a span of the input
    dataset: dict[str, Any] | None = None
    offset_s: float = 0.0
    duration_s: float | None = None

    @property
    def output(self) -> Path:
        return Path(self.outdir) / Path(self.relpath).with_suffix("." + self.output_format)

    @property
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
    canonical = json.dumps({"m": manifest, "f": output_format, "v": __version__}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


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
    if not quick_fingerprint_matches(Path(task.source), record.get("input", {})):
        return False
    try:
        if "outputs" in record:  # dataset cuts: every file written (none for --cut none)
            return all(Path(o["path"]).stat().st_size == o["size"] for o in record["outputs"])
        return task.output.stat().st_size == record.get("output", {}).get("size")
    except OSError:
        return False


@functools.lru_cache(maxsize=8)
def _pipeline_for(manifest_json: str) -> Any:
    from remotemedia import Pipeline

    return Pipeline.from_manifest(json.loads(manifest_json))


def process_file(task: FileTask) -> FileResult:
    """Decode, run the pipeline, write output then sidecar; never raises.

    Any failure comes back as a ``FileResult`` with status "failed", the
    node or stage that failed, the error and the attempts made.
    """
    from remotemedia import get_runtime_info
    from remotemedia.core.errors import NodeError

    start = time.perf_counter()
    result = FileResult(task.source, task.relpath, "failed")
    info = get_runtime_info()
    result.runtime = {"binding": info["binding"], "rust_available": info["rust_available"]}
    try:
        source = Path(task.source)
        try:
            print_ = fingerprint(source)
        except OSError as exc:
            raise StageError("read", exc) from exc
        pipeline = _pipeline_for(json.dumps(task.manifest, sort_keys=True))
        pipeline.reset_metrics()
        fmt, subtype = FORMATS[task.output_format]
        subtype = (task.dataset or {}).get("subtype") or subtype
        from remotemedia.dataset.cutter import stream_task

        out = stream_task(task, pipeline, fmt, subtype, stream_file)
        rate = out.input_info["sample_rate"]
        result.duration_s = out.input_frames / rate
        sidecar = {
            "pipeline": task.manifest.get("name"),
            "pipeline_hash": task.pipeline_hash,
            "input": {"path": str(source), **print_, **out.input_info, "duration_s": result.duration_s},
            "output": {
                "path": str(task.output),
                "size": out.output_size,
                "sample_rate": out.output_rate,
                "channels": out.output_channels,
                "duration_s": out.output_frames / out.output_rate if out.output_rate else 0.0,
            },
            "speech_segments": [list(seg) for seg in out.segments],
            "metrics": pipeline.get_metrics(),
            "runtime": result.runtime,
            "remotemedia": __version__,
            **getattr(out, "sidecar_extra", {}),
        }
        write_json_atomic(task.sidecar, sidecar)
        result.status, result.output = "ok", str(task.output)
    except NodeError as exc:
        cause = exc.__cause__ or exc
        result.node, result.attempts = exc.node_id, max(1, exc.attempts)
        result.error, result.error_type = str(exc), type(cause).__name__
    except StageError as exc:
        result.node, result.error, result.error_type = exc.stage, str(exc), type(exc.cause).__name__
    except Exception as exc:  # anything else is a bug: record it with its traceback, keep the run going
        result.node, result.error_type = "pipeline", type(exc).__name__
        result.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
    result.wall_s = time.perf_counter() - start
    return result
