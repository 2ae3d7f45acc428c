"""Speech label files for one input, in source time: RTTM, Audacity, CSV.

Each writer takes ``segments`` as ``(start_s, end_s)`` pairs and writes
the file atomically. Times are written with microsecond precision.

- RTTM (NIST; read by pyannote, NeMo, dscore): one ``SPEAKER`` line per
  segment: ``SPEAKER <uri> 1 <onset> <duration> <NA> <NA> <label> <NA> <NA>``.
- Audacity label track: ``start<TAB>end<TAB>label`` per line (File >
  Import > Labels).
- CSV: a header ``start_s,end_s,duration_s,label`` and one row per segment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from remotemedia.batch.files import write_atomic

Segments = Sequence[tuple[float, float]]
LABEL_SUFFIXES = {"rttm": ".rttm", "audacity": ".audacity.txt", "csv": ".segments.csv"}


def _t(x: float) -> str:
    return f"{x:.6f}"


def rttm_text(segments: Segments, uri: str, label: str = "speech") -> str:
    """RTTM lines (``uri`` and ``label`` must not hold whitespace; it is replaced by ``_``)."""
    uri = re.sub(r"\s+", "_", uri) or "recording"
    label = re.sub(r"\s+", "_", label) or "speech"
    return "".join(f"SPEAKER {uri} 1 {_t(a)} {_t(b - a)} <NA> <NA> {label} <NA> <NA>\n" for a, b in segments)


def audacity_text(segments: Segments, label: str = "speech") -> str:
    """An Audacity label track (tab-separated start, end, label)."""
    return "".join(f"{_t(a)}\t{_t(b)}\t{label}\n" for a, b in segments)


def csv_text(segments: Segments, label: str = "speech") -> str:
    """CSV with a header row."""
    return "start_s,end_s,duration_s,label\n" + "".join(f"{_t(a)},{_t(b)},{_t(b - a)},{label}\n" for a, b in segments)


def _write(path: str | os.PathLike[str], text: str) -> Path:
    final = Path(path)
    write_atomic(final, lambda tmp: tmp.write_text(text))
    return final


def write_rttm(path: str | os.PathLike[str], segments: Segments, uri: str | None = None, label: str = "speech") -> Path:
    """Write an RTTM file; ``uri`` defaults to the file's stem."""
    return _write(path, rttm_text(segments, uri if uri is not None else Path(path).name.split(".")[0], label))


def write_audacity_labels(path: str | os.PathLike[str], segments: Segments, label: str = "speech") -> Path:
    """Write an Audacity label track."""
    return _write(path, audacity_text(segments, label))


def write_csv_labels(path: str | os.PathLike[str], segments: Segments, label: str = "speech") -> Path:
    """Write segments as CSV."""
    return _write(path, csv_text(segments, label))


def label_path(output: Path, kind: str) -> Path:
    """Where an input's label file of ``kind`` goes: next to its output, ``<stem><suffix>``."""
    return output.with_name(output.stem + LABEL_SUFFIXES[kind])
