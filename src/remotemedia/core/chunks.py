"""Joining a stream's output chunks: :func:`collect` and :func:`join_outputs`.

Used by the stream runners and by nodes that read a whole file in blocks
(``AudioFileSource.process``); it lives in ``core`` so nodes need not
import the streaming package above them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from remotemedia.core.audio import AudioBuffer


def join_outputs(chunks: list[Any]) -> Any:
    """One sink's outputs as one result: :func:`collect` for audio, else the last output (None if none)."""
    if not chunks:
        return None
    if all(isinstance(c, AudioBuffer) for c in chunks):
        return collect(chunks)
    return chunks[-1]


def collect(chunks: list[Any]) -> AudioBuffer | None:
    """Join a stream's output chunks into one AudioBuffer (None if there are none).

    Samples are concatenated; ``vad_flags``, ``vad_events`` and
    ``vad_source_spans`` are concatenated; when there are VAD events,
    ``vad_segments`` holds the ``(start_s, end_s)`` pairs they make (what a
    whole-buffer run reports). Other metadata comes from the first chunk.

    Raises
    ------
    ValueError
        The chunks disagree on sample rate or channel layout.
    """
    bufs = [c for c in chunks if c is not None]
    if not bufs:
        return None
    first = bufs[0]
    for b in bufs:
        if not isinstance(b, AudioBuffer):
            raise TypeError(f"collect(): expected AudioBuffer chunks, got {type(b).__name__}")
        if b.sample_rate != first.sample_rate or b.data.shape[:-1] != first.data.shape[:-1]:
            raise ValueError(
                f"collect(): chunks differ in rate or layout ({first.sample_rate} Hz {first.data.shape[:-1]} "
                f"vs {b.sample_rate} Hz {b.data.shape[:-1]}); collect each part separately"
            )
    data = first.data if len(bufs) == 1 else np.concatenate([b.data for b in bufs], axis=-1)
    meta = dict(first.metadata)
    if any("vad_flags" in b.metadata for b in bufs):
        meta["vad_flags"] = np.concatenate([b.metadata.get("vad_flags", np.zeros(0, np.uint8)) for b in bufs])
    for key in ("vad_events", "vad_source_spans"):
        if any(key in b.metadata for b in bufs):
            meta[key] = [x for b in bufs for x in b.metadata.get(key, ())]
    if "vad_events" in meta:
        segs: list[tuple[float, float]] = []
        start = None
        for ev in meta["vad_events"]:
            if ev.kind == "start":
                start = ev.time_s
            elif start is not None:
                segs.append((start, ev.time_s))
                start = None
        meta["vad_segments"] = segs
    out = AudioBuffer.__new__(AudioBuffer)
    out.data, out.sample_rate, out.metadata = data, first.sample_rate, meta
    return out
