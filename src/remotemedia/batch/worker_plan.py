"""A worker's pipelines: built and planned once, reused for every file.

Every file of a run goes through the same manifest, so a worker builds the
:class:`~remotemedia.Pipeline` once (manifest validation, node
construction, the plan with each node's kernel set) and keeps it for the
next file, keyed by the task's pipeline hash (manifest, output format and
package version; no JSON is serialised per file). Per file only the
metrics are zeroed (in place: the plan stays) and a stream session is
opened; the nodes park their kernel objects when a stream ends (see
:mod:`remotemedia.kernels.pool`), so a resampler is built once per input
rate and channel count, not per file. Results are bit-identical to a fresh
pipeline per file (tests/test_batch_worker_plan.py).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from remotemedia.core.pipeline import Pipeline

#: Pipelines kept per process (distinct manifests in one worker are rare).
LIMIT = 4

_lock = threading.Lock()
_pipelines: dict[str, Pipeline] = {}
_in_use: set[str] = set()


def acquire(
    pipeline_hash: str, manifest: dict[str, Any], root: str | None = None, threads: int | None = None
) -> Pipeline:
    """The worker's pipeline for this hash, metrics zeroed; build and plan it on first use.

    ``root`` confines the manifest's file paths (``Pipeline.from_manifest``);
    the batch job passes the output folder, so it is part of the key, as
    is ``threads`` (the pipeline's thread setting, see
    :mod:`remotemedia.core.threads`).

    A pipeline is handed to one file at a time: if a thread of the same
    process is already using it (a thread-pool executor), that caller gets
    a private pipeline instead. Give it back with :func:`release`.

    Raises
    ------
    ManifestError, GraphError, RuntimeUnavailableError
        The manifest cannot be built or planned here.
    """
    key = _key(pipeline_hash, root, threads)
    with _lock:
        pipeline = _pipelines.get(key)
        if pipeline is not None and key not in _in_use:
            _in_use.add(key)
            pipeline.reset_metrics()
            return pipeline
    from remotemedia.core.pipeline import Pipeline

    fresh = Pipeline.from_manifest(manifest, root=root)
    fresh.threads = threads
    fresh.plan()
    with _lock:
        if key not in _pipelines and key not in _in_use:
            while len(_pipelines) >= LIMIT:
                oldest = next((h for h in _pipelines if h not in _in_use), None)
                if oldest is None:
                    break
                del _pipelines[oldest]
            _pipelines[key] = fresh
            _in_use.add(key)
    return fresh


def release(pipeline_hash: str, pipeline: Pipeline, root: str | None = None, threads: int | None = None) -> None:
    """Hand back a pipeline from :func:`acquire` (a private one is dropped)."""
    key = _key(pipeline_hash, root, threads)
    with _lock:
        if _pipelines.get(key) is pipeline:
            _in_use.discard(key)


def _key(pipeline_hash: str, root: str | None, threads: int | None) -> str:
    key = pipeline_hash if root is None else f"{pipeline_hash}@{root}"
    return key if threads is None else f"{key}#{threads}"


def clear() -> None:
    """Forget every kept pipeline (the next file builds afresh)."""
    with _lock:
        _pipelines.clear()
        _in_use.clear()
