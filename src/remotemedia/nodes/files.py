"""AudioFileSource and AudioFileSink: audio files read and written in blocks.

Both go through soundfile (libsndfile): WAV, FLAC, OGG/Vorbis, AIFF, AU,
CAF, W64, RF64 and every other format the installed libsndfile supports.
A pipeline that starts with an AudioFileSource streams from it
(``pipeline.stream()`` with no argument, or ``run()`` with no data), one
block at a time, so memory depends on the block size, not the file size.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from remotemedia.core.audio import AudioBuffer
from remotemedia.core.chunks import collect
from remotemedia.core.node import Node
from remotemedia.core.tempfiles import temp_path_for

if TYPE_CHECKING:
    from remotemedia.core.retry import RetryPolicy
    from remotemedia.kernels import KernelSet

DTYPES = ("float32", "float64", "int16", "int32")
# libsndfile subtype -> the numpy dtype that holds it without loss ("as stored").
_NATIVE = {"PCM_S8": "int16", "PCM_U8": "int16", "PCM_16": "int16", "PCM_24": "int32", "PCM_32": "int32",
           "FLOAT": "float32", "DOUBLE": "float64"}  # fmt: skip
# numpy dtype -> the subtype a sink writes it as (when the format allows).
_SUBTYPES = {"int16": "PCM_16", "int32": "PCM_32", "float32": "FLOAT", "float64": "DOUBLE"}
_EXT_ALIASES = {"AIF": "AIFF", "OGA": "OGG", "OPUS": "OGG"}


def _soundfile() -> Any:
    import soundfile

    return soundfile


class AudioFileSource(Node):
    """Read an audio file in blocks (any format libsndfile reads).

    Each block is an AudioBuffer: planar (1-D for mono, else ``(channels,
    frames)``), ``block_duration_ms`` long (the last one shorter), with
    ``source_path`` in the metadata.

    Parameters
    ----------
    path : str or Path
        The file. It is opened when a stream starts (so a manifest can be
        loaded before the file exists).
    block_duration_ms : float
        Block length in milliseconds (> 0), rounded to whole frames.
    dtype : {"float32", "float64", "int16", "int32"} or None
        Sample format of the blocks (full scale 1.0 for floats); None reads
        them as stored (int16 for 8/16-bit PCM, int32 for 24/32-bit PCM,
        float32/float64 for float files, float32 for compressed formats).
    name, runtime_hint, retry
        See :class:`~remotemedia.Node`.

    Raises
    ------
    ValueError
        Bad block duration or dtype.
    """

    is_source = True
    path_params = ("path",)

    def __init__(
        self,
        path: str | Path,
        block_duration_ms: float = 1000.0,
        dtype: str | None = "float32",
        name: str | None = None,
        runtime_hint: str = "auto",
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(name=name, runtime_hint=runtime_hint, retry=retry)
        if isinstance(block_duration_ms, bool) or not isinstance(block_duration_ms, (int, float)):
            raise ValueError(f"AudioFileSource: block_duration_ms must be a number > 0, got {block_duration_ms!r}")
        if not block_duration_ms > 0 or block_duration_ms == float("inf"):
            raise ValueError(f"AudioFileSource: block_duration_ms must be > 0 and finite, got {block_duration_ms!r}")
        if dtype is not None and dtype not in DTYPES:
            raise ValueError(f"AudioFileSource: dtype must be one of {', '.join(DTYPES)} or None, got {dtype!r}")
        self.path = str(path)
        self.block_duration_ms = block_duration_ms
        self.dtype = dtype

    def blocks(self) -> Iterator[AudioBuffer]:
        """The file's blocks, in order; the file is closed when the iterator ends or is closed.

        Raises
        ------
        soundfile.LibsndfileError
            The file is missing or not readable (the stream reports it as a
            NodeError naming this node).
        """
        sf = _soundfile()
        with sf.SoundFile(self.path) as f:
            rate = int(f.samplerate)
            n = max(1, round(self.block_duration_ms * rate / 1000))
            dtype = self.dtype or _NATIVE.get(f.subtype, "float32")
            meta = {"source_path": self.path}
            while True:
                block = f.read(n, dtype=dtype, always_2d=False)
                if block.shape[0] == 0:
                    return
                data = block if block.ndim == 1 else np.ascontiguousarray(block.T)
                out = AudioBuffer.__new__(AudioBuffer)
                out.data, out.sample_rate, out.metadata = data, rate, dict(meta)
                yield out

    def process(self, data: Any) -> AudioBuffer:
        """Read the whole file into one AudioBuffer (``data`` must be None).

        ``Pipeline.run()`` without data streams instead; this is for direct use.

        Raises
        ------
        TypeError
            ``data`` is not None (a source takes no input).
        """
        if data is not None:
            raise TypeError(
                f"AudioFileSource {self.name!r} reads {self.path!r} and takes no input; call run() / stream() "
                "without data"
            )
        out = collect(list(self.blocks()))
        if out is None:
            raise ValueError(f"AudioFileSource {self.name!r}: {self.path!r} holds no audio frames")
        return out


class _SinkState:
    __slots__ = ("channels", "file", "frames", "ndim", "rate", "subtype", "tmp")

    def __init__(self) -> None:
        self.file: Any = None
        self.tmp: Path | None = None
        self.frames = 0
        self.rate = 0
        self.channels = 0
        self.ndim = 0
        self.subtype = ""


class AudioFileSink(Node):
    """Write the stream to an audio file, block by block (format from the extension).

    The file appears only when the stream ends: blocks go to a temporary
    file next to ``path`` that is renamed over ``path`` at the end (an
    atomic replace); a failed or cancelled stream deletes it. Returns
    nothing per block; at the end (or from ``run()``) a summary dict:
    ``{"path", "frames", "sample_rate", "channels", "format", "subtype"}``.
    An empty stream writes no file and returns None.

    Parameters
    ----------
    path : str or Path
        Output file; its extension picks the format (".wav", ".flac",
        ".ogg", ".aiff", ...: whatever libsndfile writes).
    subtype : str, optional
        libsndfile subtype (e.g. "PCM_16", "PCM_24", "FLOAT", "VORBIS").
        Default: the input's dtype (int16 -> PCM_16, int32 -> PCM_32,
        float32 -> FLOAT, float64 -> DOUBLE) when the format allows it,
        else the format's default.
    name, runtime_hint, retry
        See :class:`~remotemedia.Node`.

    Raises
    ------
    ValueError
        Unknown extension, or a subtype the format does not support.
    """

    path_params = ("path",)

    def __init__(
        self,
        path: str | Path,
        subtype: str | None = None,
        name: str | None = None,
        runtime_hint: str = "auto",
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(name=name, runtime_hint=runtime_hint, retry=retry)
        sf = _soundfile()
        self.path = str(path)
        ext = Path(self.path).suffix.lstrip(".").upper()
        fmt = _EXT_ALIASES.get(ext, ext)
        if fmt not in sf.available_formats():
            raise ValueError(
                f"AudioFileSink: cannot tell the format of {self.path!r} from its extension; use one of "
                f"{', '.join('.' + f.lower() for f in sorted(sf.available_formats()))}"
            )
        if subtype is not None and not sf.check_format(fmt, subtype):
            raise ValueError(
                f"AudioFileSink: format {fmt} does not support subtype {subtype!r}; supported: "
                f"{', '.join(sorted(sf.available_subtypes(fmt)))}"
            )
        self.format = fmt
        self.subtype = subtype
        if ext == "OPUS" and subtype is None:
            self.subtype = "OPUS"

    def params(self) -> dict[str, Any]:
        """``path`` and ``subtype``."""
        return {"path": self.path, "subtype": self.subtype}

    def open_state(self, kernels: KernelSet | None) -> _SinkState:
        """Per-stream state: the temporary file, opened on the first block."""
        return _SinkState()

    def _start(self, state: _SinkState, buf: AudioBuffer) -> None:
        sf = _soundfile()
        subtype = self.subtype
        if subtype is None:
            subtype = _SUBTYPES.get(buf.data.dtype.name, "FLOAT")
            if not sf.check_format(self.format, subtype):
                subtype = sf.default_subtype(self.format)
        target = Path(self.path)
        state.tmp = temp_path_for(target)  # the package's one naming: the batch job's cleanup finds it
        state.file = sf.SoundFile(
            state.tmp, "w", samplerate=buf.sample_rate, channels=buf.channels, format=self.format, subtype=subtype
        )
        state.rate, state.channels, state.ndim, state.subtype = buf.sample_rate, buf.channels, buf.data.ndim, subtype

    def process_chunk(self, data: Any, state: _SinkState, kernels: KernelSet | None) -> None:
        """Append one block to the temporary file (returns nothing)."""
        buf = AudioBuffer.from_any(data, "AudioFileSink")
        if state.file is None:
            self._start(state, buf)
        elif (buf.sample_rate, buf.channels) != (state.rate, state.channels):
            raise ValueError(
                f"AudioFileSink {self.name!r}: stream changed from {state.channels} ch at {state.rate} Hz to "
                f"{buf.channels} ch at {buf.sample_rate} Hz mid-stream; a file has one format: open a new stream"
            )
        x = buf.data
        if x.shape[-1]:
            state.file.write(x if x.ndim == 1 else np.ascontiguousarray(x.T))
            state.frames += x.shape[-1]

    def flush(self, state: _SinkState, kernels: KernelSet | None) -> dict[str, Any] | None:
        """Close the temporary file and rename it over ``path``; return the summary."""
        if state.file is None:
            return None
        state.file.close()
        state.file = None
        assert state.tmp is not None
        os.replace(state.tmp, self.path)
        state.tmp = None
        return {
            "path": self.path,
            "frames": state.frames,
            "sample_rate": state.rate,
            "channels": state.channels,
            "format": self.format,
            "subtype": state.subtype,
        }

    def close_state(self, state: _SinkState, kernels: KernelSet | None) -> None:
        """A stream that ended without flush: delete the temporary file."""
        if state.file is not None:
            state.file.close()
            state.file = None
        if state.tmp is not None:
            state.tmp.unlink(missing_ok=True)
            state.tmp = None

    def process(self, data: Any) -> dict[str, Any] | None:
        """Write one whole buffer to ``path`` (atomically); return the summary."""
        state = self.open_state(None)
        try:
            self.process_chunk(data, state, None)
            return self.flush(state, None)
        finally:
            self.close_state(state, None)
