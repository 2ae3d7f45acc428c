"""The audio files of one input: the pipeline's output sink, and the files cut from it.

:class:`Sink` takes the pipeline's output blocks: encoded straight into the
output (``concat``), spooled raw to a temporary file beside the outputs
(``segments``, ``edges``: memory bounded by the block), or dropped
(``none``). :func:`write_outputs` then writes the files of the cut mode,
each atomically, and returns one record per file for the sidecar.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO, Any

import numpy as np

from remotemedia.batch.files import atomic_path, temp_path_for
from remotemedia.batch.streamfile import BLOCK_SECONDS, StageError

TIME_DECIMALS = 6  # segment times: microseconds


def t6(x: float) -> float:
    """A time in seconds at the one precision every output uses."""
    return round(float(x), TIME_DECIMALS)


def segment_path(output: Path, index: int, count: int) -> Path:
    """``<stem>_<index>.<ext>``, the index zero-padded to at least 4 digits."""
    width = max(4, len(str(max(count - 1, 0))))
    return output.with_name(f"{output.stem}_{index:0{width}d}{output.suffix}")


class Sink:
    """Where the pipeline's output goes: one encoded file, a raw spool, or nowhere."""

    def __init__(self, cut: str, output: Path, fmt: str, subtype: str) -> None:
        self.cut, self.output, self.fmt, self.subtype = cut, output, fmt, subtype
        self.tmp = temp_path_for(output.with_suffix(".spool") if cut != "concat" else output)
        self.fh: IO[bytes] | None = None
        self.sf: Any = None
        self.frames = 0
        self.channels = 0

    def write(self, data: np.ndarray, rate: int) -> None:
        if self.cut == "none":
            self.frames += data.shape[-1]
            return
        frames_first = np.ascontiguousarray(data.T if data.ndim == 2 else data[:, None], dtype=np.float32)
        if self.fh is None:
            self.output.parent.mkdir(parents=True, exist_ok=True)
            self.fh = open(self.tmp, "w+b")  # noqa: SIM115 (closed in close())
            self.channels = frames_first.shape[1]
            if self.cut == "concat":
                import soundfile as sf

                self.sf = sf.SoundFile(self.fh, "w", rate, self.channels, self.subtype, format=self.fmt)
        if self.sf is not None:
            self.sf.write(frames_first)
        else:
            frames_first.tofile(self.fh)
        self.frames += frames_first.shape[0]

    def close(self) -> None:
        if self.sf is not None:
            self.sf.close()
            self.sf = None
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    def discard(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


def write_outputs(
    task: Any, sink: Sink, cut: str, events: list[tuple[int, int]], rate: int, fmt: str, subtype: str
) -> list[dict[str, Any]]:
    """Encode the output files of one input; returns one record per file."""
    if cut == "none":
        return []
    if cut == "concat":
        if sink.frames:
            os.replace(sink.tmp, task.output)
        else:  # no speech: an empty, valid file
            encode(task.output, np.zeros((0, 1), np.float32), 0, 0, rate, 1, fmt, subtype)
        return [file_record(task.output, sink.frames, rate)]
    audio = spool(sink)
    pieces: list[tuple[Path, int, int]]
    if cut == "edges":
        a, b = (events[0][0], events[-1][1]) if events else (0, 0)
        pieces = [(task.output, a, b)]
    else:
        pieces = [(segment_path(task.output, i, len(events)), a, b) for i, (a, b) in enumerate(events)]
    records: list[dict[str, Any]] = []
    for path, a, b in pieces:
        encode(path, audio, a, b, rate, sink.channels or 1, fmt, subtype)
        rec = file_record(path, b - a, rate)
        rec.update(index=len(records), start_sample=a)
        records.append(rec)
    return records


def spool(sink: Sink) -> np.ndarray:
    channels = sink.channels or 1
    if sink.frames == 0:
        return np.zeros((0, channels), np.float32)
    return np.memmap(sink.tmp, dtype=np.float32, mode="r", shape=(sink.frames, channels))


def encode(path: Path, audio: np.ndarray, a: int, b: int, rate: int, channels: int, fmt: str, subtype: str) -> None:
    import soundfile as sf

    try:
        with atomic_path(path) as tmp, sf.SoundFile(tmp, "w", rate, channels, subtype, format=fmt) as f:
            step = max(1, BLOCK_SECONDS * rate)
            for i in range(a, b, step):
                f.write(np.asarray(audio[i : min(b, i + step)]))
    except Exception as exc:
        raise StageError("write", exc) from exc


def file_record(path: Path, frames: int, rate: int, size: int | None = None) -> dict[str, Any]:
    """An output's entry in the sidecar; ``size``: its size in bytes when the writer already knows it
    (it stat-ed the file when it committed it), else it is read from the file."""
    size = path.stat().st_size if size is None else size
    return {"path": str(path), "size": size, "frames": frames, "duration_s": t6(frames / rate)}
