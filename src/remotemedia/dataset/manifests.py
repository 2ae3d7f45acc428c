"""Run-level manifests: NeMo JSONL, Hugging Face audiofolder metadata, our own JSONL.

An :class:`Utterance` is one row: an audio file (or a span of one) with
its place in the source recording. The writers take any list of them and
write atomically, so they work without the CLI:

- :func:`write_nemo_manifest`: one JSON object per line with NeMo's keys
  ``audio_filepath``, ``duration``, ``offset`` and ``text`` (the input's
  transcript from ``--from-manifest`` when the file holds the whole input
  span, i.e. ``concat``, ``edges`` or a single segment; else empty: fill
  in transcripts), plus ``source``, ``start_s``, ``end_s`` (seconds in
  the source);
- :func:`write_hf_metadata`: ``metadata.jsonl`` in the output folder with
  ``file_name`` relative to it, so ``datasets.load_dataset("audiofolder",
  data_dir=OUT)`` loads every file with these columns;
- :func:`write_jsonl_manifest`: every field of :class:`Utterance`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from remotemedia.batch.files import write_atomic

NEMO_FILE = "nemo_manifest.jsonl"
HF_FILE = "metadata.jsonl"
JSONL_FILE = "remotemedia_manifest.jsonl"
MANIFEST_FILES = {"nemo": NEMO_FILE, "hf": HF_FILE, "jsonl": JSONL_FILE}


@dataclass(frozen=True)
class Utterance:
    """One manifest row.

    Attributes
    ----------
    audio_filepath : str
        The audio to read (absolute): an output file, or the source itself
        with ``offset``/``duration`` (``--cut none``).
    duration, offset : float
        Seconds to read from ``audio_filepath`` and where to start.
    source : str
        The input recording (absolute path).
    start_s, end_s : float
        The span in the source the audio comes from.
    index : int
        Segment number within the source (0 for one file per input).
    sample_rate, channels : int
        Of ``audio_filepath`` as written (the source's for ``--cut none``).
    format, subtype, cut : str
        Container, sample encoding and cut mode.
    text : str
        Transcript, when known (see the module docstring); else "".
    """

    audio_filepath: str
    duration: float
    offset: float
    source: str
    start_s: float
    end_s: float
    index: int = 0
    sample_rate: int = 0
    channels: int = 0
    format: str = ""
    subtype: str = ""
    cut: str = ""
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _lines(rows: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _write(path: Path, text: str) -> Path:
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


def nemo_row(u: Utterance) -> dict[str, Any]:
    return {
        "audio_filepath": u.audio_filepath,
        "duration": u.duration,
        "offset": u.offset,
        "text": u.text,
        "source": u.source,
        "start_s": u.start_s,
        "end_s": u.end_s,
    }


def write_nemo_manifest(path: str | os.PathLike[str], utterances: Iterable[Utterance]) -> Path:
    """Write a NeMo manifest (JSONL) atomically."""
    return _write(Path(path), _lines(nemo_row(u) for u in utterances))


def write_hf_metadata(data_dir: str | os.PathLike[str], utterances: Iterable[Utterance]) -> Path:
    """Write ``data_dir/metadata.jsonl`` for the audiofolder loader.

    Raises
    ------
    ValueError
        A file is not inside ``data_dir`` (audiofolder reads only files below it).
    """
    root = Path(data_dir).resolve()
    rows = []
    for u in utterances:
        path = Path(u.audio_filepath).resolve()
        if not path.is_relative_to(root):
            raise ValueError(f"hf metadata: {path} is not inside {root}; audiofolder only reads files below data_dir")
        rows.append(
            {
                "file_name": path.relative_to(root).as_posix(),
                "source": u.source,
                "start_s": u.start_s,
                "end_s": u.end_s,
                "duration": u.duration,
                "index": u.index,
                "text": u.text,
            }
        )
    return _write(root / HF_FILE, _lines(rows))


def write_jsonl_manifest(path: str | os.PathLike[str], utterances: Iterable[Utterance]) -> Path:
    """Write every field of every utterance, one JSON object per line."""
    return _write(Path(path), _lines(u.to_dict() for u in utterances))


def utterances_from_sidecar(record: dict[str, Any]) -> list[Utterance]:
    """The rows of one input from its sidecar (as written by ``remotemedia run``); empty outputs give none."""
    source = str(Path(record["input"]["path"]).resolve())
    out = record.get("output", {})
    cut = record.get("cut", "concat")
    common: dict[str, Any] = {"format": out.get("format", ""), "subtype": out.get("subtype", ""), "cut": cut}
    if cut == "none":
        rate = record["input"]["sample_rate"]
        return [
            Utterance(source, round(b - a, 6), a, source, a, b, i, rate, record["input"]["channels"], **common)
            for i, (a, b) in enumerate(record.get("speech_segments", []))
        ]
    outputs = record.get("outputs") or []
    whole = cut in ("concat", "edges") or len(outputs) == 1  # the file holds all the input's speech
    common["text"] = record.get("text", "") if whole else ""
    rows = []
    for i, o in enumerate(record.get("outputs") or [{"path": out["path"], "duration_s": out["duration_s"]}]):
        if not o["duration_s"] > 0:
            continue  # no speech: an empty file, no row (a trainer cannot use it)
        start = o.get("start_s", 0.0)
        end = o.get("end_s", start + o["duration_s"])
        rows.append(
            Utterance(
                str(Path(o["path"]).resolve()),
                o["duration_s"],
                0.0,
                source,
                start,
                end,
                o.get("index", i),
                out.get("sample_rate", 0),
                out.get("channels", 0),
                **common,
            )
        )
    return rows
