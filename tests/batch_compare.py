"""Comparing a batch job's threaded paths (read-ahead, write-behind) with processing in turn:
the same tasks, the same results and the same bytes on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from batch_helpers import outputs
from remotemedia.batch import presets
from remotemedia.batch.job import FileResult, FileTask, pipeline_hash


def tasks_for(root: Path, outdir: Path) -> list[FileTask]:
    """A ``speech-16k`` task for every audio file below ``root``, writing below ``outdir``, in path order."""
    manifest = presets.load("speech-16k")
    digest = pipeline_hash(manifest, "wav")
    files = sorted(p for p in root.rglob("*") if p.suffix in (".wav", ".flac", ".ogg"))
    return [FileTask(str(p), p.relative_to(root).as_posix(), str(outdir), manifest, digest) for p in files]


def comparable(result: FileResult) -> tuple[Any, ...]:
    """What must agree between two runs of one file (wall time differs; the error text is the same)."""
    return (result.relpath, result.status, result.node, result.error, result.error_type, result.duration_s)


def _sidecar_text(sidecar: dict[str, Any], outdir: Path) -> str:
    # the per-node metrics are timings, different in any two runs; the output folder is named as such
    return json.dumps({k: v for k, v in sidecar.items() if k != "metrics"}, sort_keys=True).replace(str(outdir), "OUT")


def same_outputs(a: Path, b: Path) -> None:
    """The outputs below ``a`` and ``b``: the same files, byte for byte, and the same sidecars."""
    got, want = outputs(a), outputs(b)
    assert sorted(got) == sorted(want) and got
    for key, (_, rate, sidecar) in got.items():
        assert (a / key).read_bytes() == (b / key).read_bytes(), key
        assert rate == want[key][1]
        assert _sidecar_text(sidecar, a) == _sidecar_text(want[key][2], b), key
