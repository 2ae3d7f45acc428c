"""One file through a pipeline in blocks: memory bounded by the block, not the file.

The input is decoded block by block (libsndfile), pushed through a
synchronous stream session (the same results as a whole-buffer run: the
kernels are chunk-invariant), and the output is encoded block by block into
a temporary file that is renamed onto the output when complete.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from remotemedia.batch.decode import first_node_wants, planar_blocks
from remotemedia.batch.files import temp_path_for

BLOCK_SECONDS = 10


class StageError(Exception):
    """A failure outside the pipeline's nodes (reading, writing), with its stage name."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"{stage}: {type(cause).__name__}: {cause}")
        self.stage = stage
        self.cause = cause


@dataclass
class Streamed:
    """What streaming one file produced."""

    input_info: dict[str, Any]
    input_frames: int = 0
    output_rate: int = 0
    output_channels: int = 0
    output_frames: int = 0
    output_size: int = 0
    segments: list[tuple[float, float]] = field(default_factory=list)


class _AtomicWriter:
    """Encodes blocks into a temporary file; ``commit`` renames it onto the target.

    libsndfile gets a Python file object (its virtual I/O), so closing does
    not fsync: a kill leaves at worst a temporary file, removed by the next
    run, never a partial output.
    """

    def __init__(self, final: Path, fmt: str, subtype: str) -> None:
        self.final, self.fmt, self.subtype = final, fmt, subtype
        self.tmp = temp_path_for(final)
        self._fh: IO[bytes] | None = None
        self._sf: Any = None

    def write(self, data: np.ndarray, rate: int) -> None:
        import soundfile as sf

        frames_first = data.T if data.ndim == 2 else data
        if self._sf is None:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.tmp, "w+b")  # noqa: SIM115 (closed in close())
            channels = 1 if data.ndim == 1 else data.shape[0]
            self._sf = sf.SoundFile(self._fh, "w", rate, channels, self.subtype, format=self.fmt)
        if frames_first.shape[0]:
            self._sf.write(frames_first)

    def commit(self, rate: int) -> int:
        if self._sf is None:  # nothing came out (e.g. no speech): an empty, valid file
            self.write(np.zeros(0, np.float32), rate)
        self.close()
        os.replace(self.tmp, self.final)
        return self.final.stat().st_size

    def close(self) -> None:
        if self._sf is not None:
            self._sf.close()
            self._sf = None
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def discard(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


def _blocks(f: Any, size: int, dtype: str) -> Iterator[np.ndarray]:
    blocks = planar_blocks(f, size, dtype)
    while True:
        try:
            block = next(blocks)
        except StopIteration:
            return
        except Exception as exc:  # a truncated or corrupt body shows up here, mid-file
            raise StageError("read", exc) from exc
        yield block


def stream_file(source: Path, output: Path, fmt: str, subtype: str, pipeline: Any) -> Streamed:
    """Stream ``source`` through ``pipeline`` into ``output`` (atomically).

    Raises
    ------
    StageError
        Reading or writing failed (stage "read" or "write").
    NodeError
        A node failed; names the node and the stream position.
    """
    import soundfile as sf

    try:
        if source.stat().st_size == 0:
            raise ValueError("the file is empty (0 bytes)")
        f = sf.SoundFile(str(source))
    except Exception as exc:  # libsndfile raises LibsndfileError, RuntimeError, TypeError...
        raise StageError("read", exc) from exc
    writer = _AtomicWriter(output, fmt, subtype)
    result = Streamed({"format": f.format, "subtype": f.subtype, "channels": f.channels, "sample_rate": f.samplerate})
    rate = f.samplerate
    start: float | None = None

    def take(out: Any) -> None:
        nonlocal start
        if out is None:
            return
        result.output_rate = out.sample_rate
        result.output_channels = 1 if out.data.ndim == 1 else out.data.shape[0]
        result.output_frames += out.data.shape[-1]
        try:
            writer.write(out.data, out.sample_rate)
        except Exception as exc:
            raise StageError("write", exc) from exc
        for ev in out.metadata.get("vad_events", ()):
            if ev.kind == "start":
                start = ev.time_s
            elif start is not None:
                result.segments.append((start, ev.time_s))
                start = None

    try:
        with f, pipeline.open_stream() as session:
            for block in _blocks(f, max(1, BLOCK_SECONDS * rate), first_node_wants(pipeline, f.subtype)):
                result.input_frames += block.shape[-1]
                take(session.push((block, rate)))
            if result.input_frames == 0:
                raise StageError("read", ValueError("the file holds no audio frames"))
            take(session.flush())
        try:
            result.output_size = writer.commit(result.output_rate or rate)
        except Exception as exc:
            raise StageError("write", exc) from exc
    finally:
        writer.discard()
    return result
