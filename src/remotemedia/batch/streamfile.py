"""One file through a pipeline in blocks: memory bounded by the block, not the file.

The input is decoded block by block (libsndfile), pushed through a
synchronous stream session (the same results as a whole-buffer run: the
kernels are chunk-invariant), and the output is encoded block by block into
a temporary file that is renamed onto the output when complete.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from remotemedia.batch import pcm16, wav16
from remotemedia.batch.decode import first_node_wants, planar_blocks
from remotemedia.batch.files import open_in_folder, temp_path_for

BLOCK_SECONDS = 10


class StageError(Exception):
    """A failure outside the pipeline's nodes (reading, writing), with its stage name."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"{stage}: {type(cause).__name__}: {cause}")
        self.stage = stage
        self.cause = cause


class OutputTally:
    """Takes the audio a file's session hands out: counts it into ``result``
    (its ``output_rate``, ``output_channels``, ``output_frames``), passes it
    to ``write`` (a failure there is the "write" stage's) and pairs the
    VAD's start/end events into ``segments`` (seconds from the input's
    start). Shared by the batch job and the dataset cutter."""

    def __init__(
        self, result: Any, write: Callable[[Any, int], Any], segments: list[tuple[float, float]] | None = None
    ) -> None:
        self._result = result
        self._write = write
        self.segments: list[tuple[float, float]] = [] if segments is None else segments
        self._start: float | None = None

    def take(self, out: Any) -> None:
        r = self._result
        r.output_rate = out.sample_rate
        r.output_channels = 1 if out.data.ndim == 1 else out.data.shape[0]
        r.output_frames += out.data.shape[-1]
        try:
            self._write(out.data, out.sample_rate)
        except Exception as exc:
            raise StageError("write", exc) from exc
        for ev in out.metadata.get("vad_events", ()):
            if ev.kind == "start":
                self._start = ev.time_s
            elif self._start is not None:
                self.segments.append((self._start, ev.time_s))
                self._start = None


@dataclass
class Streamed:
    """What streaming one file produced."""

    input_info: dict[str, Any]
    input_frames: int = 0
    output_rate: int = 0
    output_channels: int = 0
    output_frames: int = 0
    # None when the pipeline wrote no audio of its own for us (it ends in a sink node such as AudioFileSink)
    output_size: int | None = 0
    segments: list[tuple[float, float]] = field(default_factory=list)
    # what sink nodes returned (e.g. AudioFileSink's summary), JSON-ready
    sink_outputs: list[Any] = field(default_factory=list)


class _AtomicWriter:
    """Encodes blocks into a temporary file; ``commit`` renames it onto the target.

    libsndfile writes through a Python file object (its virtual I/O), so
    closing does not fsync: a kill leaves at worst a temporary file,
    removed by the next run, never a partial output. Blocks of the default
    output (16-bit PCM WAV) are converted to int16 by numpy first
    (batch/pcm16.py: the same bytes, without libsndfile's per-sample loop)
    and written by batch/wav16.py (the same bytes, without soundfile's
    virtual I/O calling back into Python).
    """

    def __init__(self, final: Path, fmt: str, subtype: str) -> None:
        self.final, self.fmt, self.subtype = final, fmt, subtype
        self.tmp = temp_path_for(final)
        self._fh: IO[bytes] | None = None
        self._sf: Any = None  # a soundfile.SoundFile once the first block arrives
        self._to_int16 = pcm16.handles(fmt, subtype)
        self._made = False  # the temporary file exists (made, not yet renamed onto the target)

    def write(self, data: np.ndarray, rate: int) -> None:
        if self._sf is None:
            self._fh = open_in_folder(self.tmp, "w+b")
            self._made = True
            channels = 1 if data.ndim == 1 else data.shape[0]
            if self._to_int16:  # 16-bit PCM WAV: written here, libsndfile's bytes (batch/wav16.py)
                self._sf = wav16.open_pcm16(self._fh, rate, channels)
            if self._sf is None:
                import soundfile as sf

                self._sf = sf.SoundFile(self._fh, "w", rate, channels, self.subtype, format=self.fmt)
        if data.shape[-1]:
            self._sf.write(pcm16.to_pcm16(data) if self._to_int16 else data.T if data.ndim == 2 else data)

    @property
    def started(self) -> bool:
        """True once a block was written."""
        return self._sf is not None

    def commit(self, rate: int) -> int:
        if self._sf is None:  # nothing came out (e.g. no speech): an empty, valid file
            self.write(np.zeros(0, np.float32), rate)
        self.close()
        os.replace(self.tmp, self.final)
        self._made = False
        return self.final.stat().st_size

    def close(self) -> None:
        if self._sf is not None:
            self._sf.close()
            self._sf = None
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def discard(self) -> None:
        """Close and remove the temporary file; never raises.

        It runs while another error is on its way out (a failed write, a
        read-only file system): a second error here would hide the first,
        and a temporary left behind is removed by the next run anyway.
        """
        with contextlib.suppress(Exception):
            self.close()
        self._sf = self._fh = None
        if self._made:  # else there is nothing to remove: never made, or renamed onto the target
            with contextlib.suppress(OSError):
                self.tmp.unlink()
                self._made = False


def check_not_truncated(path: Path) -> None:
    """Refuse a RIFF/WAVE or AIFF file shorter than its header says (a copy cut short).

    libsndfile quietly reads what is there, so a WAV cut in half would
    otherwise come out "ok" with half the audio.

    Raises
    ------
    ValueError
        The container's size field promises more bytes than the file has.
    """
    import struct

    with open(path, "rb") as fh:
        head = fh.read(12)
    if len(head) < 12:
        return
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        declared = struct.unpack("<I", head[4:8])[0] + 8
    elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        declared = struct.unpack(">I", head[4:8])[0] + 8
    else:
        return
    if declared in (8, 0xFFFFFFFF + 8):  # 0 / -1: a writer that never filled in the size (streaming)
        return
    actual = path.stat().st_size
    if actual < declared:
        raise ValueError(
            f"the file is truncated: its header declares {declared} bytes, the file has {actual} "
            f"({100 * actual / declared:.0f}%); was the copy cut short?"
        )


def _native_path(path: Path) -> str | bytes:
    """The path as libsndfile can open it: bytes when the name is not valid UTF-8 (POSIX)."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return text


def _jsonable(value: Any) -> Any:
    """A sink's result as JSON-ready data (paths and other objects as text)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


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


def open_input(source: Path) -> Any:
    """``source`` opened for reading (a ``soundfile.SoundFile``), after the empty and truncated checks.

    Raises
    ------
    StageError
        Stage "read": the file is empty, truncated, or libsndfile cannot open it.
    """
    import soundfile as sf

    try:
        if source.stat().st_size == 0:
            raise ValueError("the file is empty (0 bytes)")
        check_not_truncated(source)
        return sf.SoundFile(_native_path(source))
    except Exception as exc:  # libsndfile raises LibsndfileError, RuntimeError, TypeError...
        raise StageError("read", exc) from exc


def _input_info(f: Any) -> dict[str, Any]:
    return {"format": f.format, "subtype": f.subtype, "channels": f.channels, "sample_rate": f.samplerate}


@dataclass
class Decoded:
    """A whole input read before its turn (batch/readahead.py): what :func:`stream_file` would read.

    ``blocks`` are the blocks the streaming path reads, in order (same size,
    same dtype). ``error`` is where reading stopped: at opening (``info`` is
    None) or in the body after ``blocks`` (a corrupt or truncated file);
    :func:`stream_file` raises it at the same point as when it streams.
    """

    info: dict[str, Any] | None = None
    blocks: list[np.ndarray] = field(default_factory=list)
    error: StageError | None = None

    def replay(self) -> Iterator[np.ndarray]:
        """The blocks, each dropped once handed out, then the read error if there was one."""
        while self.blocks:
            yield self.blocks.pop(0)
        if self.error is not None:
            raise self.error


def decode_whole(
    source: Path, dtype_for: Callable[[str], str], max_samples: int, stop: Callable[[], bool] = lambda: False
) -> Decoded | None:
    """Read all of ``source`` in the streaming path's blocks, or None if it holds more than
    ``max_samples`` samples (all channels) or ``stop()`` turns true between two blocks.

    Never raises a read error: it is kept in the result (see :class:`Decoded`).
    """
    try:
        f = open_input(source)
    except StageError as exc:
        return Decoded(error=exc)
    with f:
        if f.frames * f.channels > max_samples:
            return None
        decoded = Decoded(_input_info(f))
        try:
            for block in _blocks(f, max(1, BLOCK_SECONDS * f.samplerate), dtype_for(f.subtype)):
                if stop():
                    return None
                decoded.blocks.append(block)
        except StageError as exc:
            decoded.error = exc
    return decoded


def stream_file(
    source: Path,
    output: Path,
    fmt: str,
    subtype: str,
    pipeline: Any,
    decoded: Decoded | None = None,
    writer: Any = None,
) -> Streamed:
    """Stream ``source`` through ``pipeline`` into ``output`` (atomically).

    ``decoded``: the input already read (batch/readahead.py); the result is
    the same as streaming it from the file. ``writer``: what takes the
    output blocks instead of an atomic writer of its own (the write-behind's,
    batch/writebehind.py: it writes and commits them on its thread, later;
    ``output_size`` is then filled in when it commits).

    Raises
    ------
    StageError
        Reading or writing failed (stage "read" or "write").
    NodeError
        A node failed; names the node and the stream position.
    """
    if decoded is None:
        f = open_input(source)
        info = _input_info(f)
        blocks = _blocks(f, max(1, BLOCK_SECONDS * f.samplerate), first_node_wants(pipeline, f.subtype))
        reading: Any = f
    elif decoded.info is None:
        assert decoded.error is not None
        raise decoded.error
    else:
        info, blocks, reading = decoded.info, decoded.replay(), contextlib.nullcontext()
    if writer is None:
        writer = _AtomicWriter(output, fmt, subtype)
    result = Streamed(info)
    rate = info["sample_rate"]
    tally = OutputTally(result, writer.write, result.segments)

    def take(out: Any) -> None:
        if out is None:
            return
        if not (hasattr(out, "data") and hasattr(out, "sample_rate")):  # a sink node's result, not audio
            result.sink_outputs.append(_jsonable(out))
            return
        tally.take(out)

    try:
        with reading, pipeline.open_stream() as session:
            for block in blocks:
                result.input_frames += block.shape[-1]
                take(session.push((block, rate)))
            if result.input_frames == 0:
                raise StageError("read", ValueError("the file holds no audio frames"))
            take(session.flush())
        if result.sink_outputs and not writer.started:
            result.output_size = None  # the pipeline's own sink wrote what it writes; no empty file from us
        else:
            try:
                result.output_size = writer.commit(result.output_rate or rate)
            except Exception as exc:
                raise StageError("write", exc) from exc
    finally:
        writer.discard()
    return result
