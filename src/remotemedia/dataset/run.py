"""The dataset side of a batch run: the pipeline, the tasks, and what is written at the end.

``run_batch(..., dataset=DatasetOptions(...))`` calls :func:`prepare` for
the manifest, :func:`tasks` for the work list and :func:`finish` once every
file is done. :func:`finish` rebuilds the manifests and label files from
the sidecars of the run's inputs, so a resumed run writes the same files as
a clean one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remotemedia.dataset.options import DatasetOptions, apply_to_manifest, check

if TYPE_CHECKING:
    from remotemedia.dataset.inputs import SpanInput
    from remotemedia.dataset.manifests import Utterance

# The input lists, labels and manifests modules are imported where they are
# used: a plain run (no --from-list, --labels or --manifest) never loads them.


def prepare(manifest: dict[str, Any], pipeline: Any, options: DatasetOptions, fmt: str) -> dict[str, Any]:
    """Check the options and return the pipeline manifest they ask for."""
    from remotemedia.batch import presets

    check(options, fmt)
    preset = isinstance(pipeline, (str, os.PathLike)) and str(pipeline) in presets.names()
    return apply_to_manifest(manifest, options, preset)


def task_options(options: DatasetOptions) -> dict[str, Any]:
    """What a worker needs (and what makes two runs' outputs differ, for --resume)."""
    return {"cut": options.cut, "subtype": options.subtype, "max_segment_s": options.max_segment_s}


def split_inputs(inputs: Iterable[Any]) -> tuple[list[Any], list[SpanInput]]:
    """(files, folders and globs for the batch job's discovery; :class:`SpanInput` items)."""
    items = list(inputs)
    module = sys.modules.get("remotemedia.dataset.inputs")
    if module is None:  # no SpanInput can exist before its module is loaded: all are files, folders, globs
        return items, []
    span = module.SpanInput
    return [i for i in items if not isinstance(i, span)], [i for i in items if isinstance(i, span)]


def tasks(
    found: list[Any], spans: list[SpanInput], manifest: dict[str, Any], outdir: Path, fmt: str, options: DatasetOptions
) -> list[Any]:
    """The batch job's tasks with the dataset options, plus one task per :class:`SpanInput`.

    The pipeline hash covers the options that change what a worker writes,
    so ``--resume`` redoes a file whose cut or encoding changed.
    """
    from remotemedia.batch.job import FileTask, pipeline_hash

    opts = task_options(options)
    if opts == task_options(DatasetOptions()):  # today's job: the same identity as run_batch without options
        digest = pipeline_hash(manifest, fmt)
    else:
        digest = pipeline_hash(manifest, f"{fmt}|{json.dumps(opts, sort_keys=True)}")
    out = [dataclasses.replace(t, pipeline_hash=digest, dataset=opts) for t in found]
    seen = {t.relpath: t.source for t in out}
    for s in spans:
        other = seen.get(s.relpath)
        if other == str(s.path):
            continue  # the same input named twice: processed once
        if other is not None:
            raise ValueError(f"inputs {other} and {s.path} would both write output {s.relpath}; process them apart")
        seen[s.relpath] = str(s.path)
        out.append(
            FileTask(
                source=str(s.path),
                relpath=s.relpath,
                outdir=str(outdir),
                manifest=manifest,
                pipeline_hash=digest,
                output_format=fmt,
                dataset=opts if s.text is None else {**opts, "text": s.text},
                offset_s=s.offset_s,
                duration_s=s.duration_s,
            )
        )
    return sorted(out, key=lambda t: t.relpath)


def finish(outdir: Path, all_tasks: list[Any], options: DatasetOptions) -> dict[str, str]:
    """Write the run's manifests and each input's label files from the sidecars; returns what was written."""
    from remotemedia.batch.job import is_complete

    rows: list[Utterance] = []
    written: dict[str, str] = {}
    if not options.manifests and not options.labels:
        return written  # nothing to write: no sidecar is read back (nor any input fingerprinted again)
    from remotemedia.dataset.labels import label_path, write_audacity_labels, write_csv_labels, write_rttm
    from remotemedia.dataset.manifests import (
        MANIFEST_FILES,
        utterances_from_sidecar,
        write_hf_metadata,
        write_jsonl_manifest,
        write_nemo_manifest,
    )

    for task in all_tasks:
        if not is_complete(task):
            continue
        record = json.loads(Path(task.sidecar).read_text())
        record["text"] = (task.dataset or {}).get("text") or ""  # this run's transcript, not a resumed one's
        rows.extend(utterances_from_sidecar(record))
        segments = [(float(a), float(b)) for a, b in record.get("speech_segments", [])]
        for kind in options.labels:
            path = label_path(task.output, kind)
            if kind == "rttm":
                write_rttm(path, segments, uri=Path(task.relpath).with_suffix("").as_posix().replace("/", "__"))
            elif kind == "audacity":
                write_audacity_labels(path, segments)
            else:
                write_csv_labels(path, segments)
    for kind in options.manifests:
        path = outdir / MANIFEST_FILES[kind]
        if kind == "hf":
            write_hf_metadata(outdir, rows)
        elif kind == "nemo":
            write_nemo_manifest(path, rows)
        else:
            write_jsonl_manifest(path, rows)
        written[kind] = str(path)
    return written
