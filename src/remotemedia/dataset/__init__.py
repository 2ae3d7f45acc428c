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

from typing import TYPE_CHECKING

from remotemedia._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "DatasetOptions": ".options",
        "SpanInput": ".inputs",
        "Utterance": ".manifests",
        "read_list": ".inputs",
        "read_manifest": ".inputs",
        "utterances_from_sidecar": ".manifests",
        "write_audacity_labels": ".labels",
        "write_csv_labels": ".labels",
        "write_hf_metadata": ".manifests",
        "write_jsonl_manifest": ".manifests",
        "write_nemo_manifest": ".manifests",
        "write_rttm": ".labels",
    },
)
