"""Decoding an input in blocks: libsndfile, or PyAV for the containers it cannot read.

libsndfile (through soundfile) reads wav, flac, ogg/vorbis/opus, mp3,
aiff and more. AAC in m4a/mp4, webm, wma and other FFmpeg containers are
decoded with PyAV when the optional extra ``remotemedia[ffmpeg]`` is
installed; without it such a file fails with a message naming the extra.
A span (``offset_s``, ``duration_s``, from a NeMo manifest line) limits
what is read.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from remotemedia.batch.discover import AV_EXTENSIONS

FFMPEG_EXTRA = "remotemedia[ffmpeg]"


@dataclass
class Decoded:
    """An open input: its properties and a generator of (frames, channels) float32 blocks."""

    sample_rate: int
    channels: int
    format: str
    subtype: str
    blocks: Iterator[np.ndarray]
    decoder: str


def needs_av(path: Path) -> bool:
    """True if libsndfile cannot read this container (by extension)."""
    return path.suffix.lower() in AV_EXTENSIONS


def _span(rate: int, offset_s: float, duration_s: float | None) -> tuple[int, int | None]:
    start = round(offset_s * rate)
    return start, (None if duration_s is None else max(0, round(duration_s * rate)))


def _limit(blocks: Iterator[np.ndarray], skip: int, count: int | None) -> Iterator[np.ndarray]:
    """Drop ``skip`` frames, then yield at most ``count`` frames."""
    left = math.inf if count is None else count
    for block in blocks:
        if skip:
            cut = min(skip, block.shape[0])
            block = block[cut:]
            skip -= cut
        if left <= 0:
            return
        if block.shape[0] > left:
            block = block[: int(left)]
        if block.shape[0]:
            left -= block.shape[0]
            yield block


def open_soundfile(path: Path, block: int, offset_s: float = 0.0, duration_s: float | None = None) -> Decoded:
    """Open with libsndfile (raises what soundfile raises)."""
    import soundfile as sf

    f = sf.SoundFile(str(path))
    start, count = _span(f.samplerate, offset_s, duration_s)
    if start:
        f.seek(min(start, f.frames))

    def blocks() -> Iterator[np.ndarray]:
        with f:
            left = math.inf if count is None else count
            while left > 0:
                data = f.read(int(min(block * f.samplerate, left)), dtype="float32", always_2d=True)
                if data.shape[0] == 0:
                    return
                left -= data.shape[0]
                yield data

    return Decoded(f.samplerate, f.channels, f.format, f.subtype, blocks(), "libsndfile")


def open_av(path: Path, offset_s: float = 0.0, duration_s: float | None = None) -> Decoded:
    """Open with PyAV (the first audio stream), float32 planar output.

    Raises
    ------
    ImportError
        PyAV is not installed; the message names the extra to install.
    """
    try:
        import av
    except ImportError as exc:
        raise ImportError(
            f"{path.suffix or 'this'} files need FFmpeg decoding, which libsndfile lacks: "
            f"pip install '{FFMPEG_EXTRA}' (PyAV) and run again"
        ) from exc
    container = av.open(str(path))
    try:
        stream = container.streams.audio[0]
    except IndexError:
        container.close()
        raise ValueError("the file has no audio stream") from None
    rate = int(stream.rate or stream.codec_context.sample_rate)
    channels = int(stream.codec_context.channels)
    resampler = av.AudioResampler(format="fltp", layout=stream.layout, rate=rate)
    start, count = _span(rate, offset_s, duration_s)

    def frames() -> Iterator[np.ndarray]:
        with container:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    yield np.ascontiguousarray(out.to_ndarray().T, dtype=np.float32)
            for out in resampler.resample(None):
                yield np.ascontiguousarray(out.to_ndarray().T, dtype=np.float32)

    codec = stream.codec_context.name or "unknown"
    return Decoded(rate, channels, container.format.name, codec, _limit(frames(), start, count), "pyav")


def open_input(path: Path, block: int, offset_s: float = 0.0, duration_s: float | None = None) -> Decoded:
    """Open an input with the decoder its container needs."""
    if needs_av(path):
        return open_av(path, offset_s, duration_s)
    return open_soundfile(path, block, offset_s, duration_s)


def describe(decoded: Decoded) -> dict[str, Any]:
    """The input's properties as recorded in the sidecar."""
    return {
        "format": decoded.format,
        "subtype": decoded.subtype,
        "channels": decoded.channels,
        "sample_rate": decoded.sample_rate,
        "decoder": decoded.decoder,
    }
