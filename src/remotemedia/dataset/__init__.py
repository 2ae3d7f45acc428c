"""Dataset outputs of the batch job: segments, manifests, labels, encodings.

Usable without the CLI: :func:`write_nemo_manifest`,
:func:`write_hf_metadata`, :func:`write_jsonl_manifest` (rows are
:class:`Utterance`), :func:`write_rttm`, :func:`write_audacity_labels`,
:func:`write_csv_labels` (segments are ``(start_s, end_s)`` pairs), and
:class:`DatasetOptions` for ``remotemedia.batch.run_batch(...,
dataset=...)``. ``remotemedia run --cut ... --manifest ... --labels ...``
is the command line.

The names are imported on first use: ``remotemedia run`` builds its
parser from :mod:`remotemedia.dataset.options` without the writers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from remotemedia.dataset.inputs import SpanInput, read_list, read_manifest
    from remotemedia.dataset.labels import write_audacity_labels, write_csv_labels, write_rttm
    from remotemedia.dataset.manifests import (
        Utterance,
        utterances_from_sidecar,
        write_hf_metadata,
        write_jsonl_manifest,
        write_nemo_manifest,
    )
    from remotemedia.dataset.options import DatasetOptions

# Public name -> the submodule that defines it.
_HOME = {
    "DatasetOptions": "options",
    "SpanInput": "inputs",
    "Utterance": "manifests",
    "read_list": "inputs",
    "read_manifest": "inputs",
    "utterances_from_sidecar": "manifests",
    "write_audacity_labels": "labels",
    "write_csv_labels": "labels",
    "write_hf_metadata": "manifests",
    "write_jsonl_manifest": "manifests",
    "write_nemo_manifest": "manifests",
    "write_rttm": "labels",
}

__all__ = [
    "DatasetOptions",
    "SpanInput",
    "Utterance",
    "read_list",
    "read_manifest",
    "utterances_from_sidecar",
    "write_audacity_labels",
    "write_csv_labels",
    "write_hf_metadata",
    "write_jsonl_manifest",
    "write_nemo_manifest",
    "write_rttm",
]


def __getattr__(name: str) -> Any:
    """Import a public name on first access and keep it."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'remotemedia.dataset' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"remotemedia.dataset.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
