"""Inputs listed in files: ``--from-list`` (paths) and ``--from-manifest`` (NeMo JSONL).

Relative paths in either file are taken relative to the file's folder.
Outputs mirror the listed paths below their common folder. A manifest
line with ``offset`` and/or ``duration`` processes only that span of its
``audio_filepath`` (its outputs get ``_<offset in ms>ms`` in their name,
so several spans of one recording do not collide). A line's ``text`` is
kept and written to the output manifests when one output file holds the
whole span.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SpanInput:
    """An input file (or a span of it) with its output path relative to the output folder."""

    path: Path
    relpath: str
    offset_s: float = 0.0
    duration_s: float | None = None
    text: str | None = None  # a manifest line's transcript, carried to outputs that hold the whole span


def _resolve(base: Path, text: str) -> Path:
    p = Path(os.path.expanduser(text))
    return p if p.is_absolute() else base / p


def _mirror(paths: list[Path]) -> list[str]:
    if not paths:
        return []
    parents = [str(p.resolve().parent) for p in paths]
    root = Path(os.path.commonpath(parents))
    return [p.resolve().relative_to(root).as_posix() for p in paths]


def read_list(path: str | os.PathLike[str]) -> list[SpanInput]:
    """Paths from a text file, one per line (blank lines and lines starting with # skipped).

    Raises
    ------
    FileNotFoundError
        The list file is missing.
    """
    listing = Path(path)
    base = listing.resolve().parent
    files = []
    for line in listing.read_text().splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            files.append(_resolve(base, text))
    return [SpanInput(f, rel) for f, rel in zip(files, _mirror(files), strict=True)]


def read_manifest(path: str | os.PathLike[str]) -> list[SpanInput]:
    """Inputs from a NeMo-style JSONL manifest: ``audio_filepath`` and optional ``offset``/``duration``.

    Raises
    ------
    ValueError
        A line is not a JSON object with an ``audio_filepath`` string, or
        its offset/duration is not a number >= 0.
    """
    manifest = Path(path)
    base = manifest.resolve().parent
    entries: list[tuple[Path, float, float | None, str | None]] = []
    for n, line in enumerate(manifest.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{manifest}:{n}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("audio_filepath"), str):
            raise ValueError(f"{manifest}:{n}: expected a JSON object with an 'audio_filepath' string")
        offset, duration = row.get("offset", 0.0) or 0.0, row.get("duration")
        for key, value in (("offset", offset), ("duration", duration)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise ValueError(f"{manifest}:{n}: {key} must be a number >= 0, got {value!r}")
        text = row.get("text")
        entries.append(
            (
                _resolve(base, row["audio_filepath"]),
                float(offset),
                None if duration is None else float(duration),
                text if isinstance(text, str) else None,
            )
        )
    rels = _mirror([e[0] for e in entries])
    out = []
    for (p, offset, duration, text), rel in zip(entries, rels, strict=True):
        if offset or duration is not None:
            r = Path(rel)
            rel = r.with_name(f"{r.stem}_{round(offset * 1000):09d}ms{r.suffix}").as_posix()
        out.append(SpanInput(p, rel, offset, duration, text))
    return out
