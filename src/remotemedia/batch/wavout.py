"""16-bit PCM WAV output written directly, byte for byte what libsndfile writes.

The batch job's default output (``wav``, 16-bit PCM, mono or stereo) is
the simplest container there is: a 44-byte header and the samples. Going
through libsndfile's virtual I/O cost a Python callback per internal
buffer (dozens per file) and a per-sample conversion loop; here each block
is converted by numpy in a few vector passes and written with one
``write`` call, and the header's two sizes are filled in at the end.

The conversion is libsndfile's own (1.1 and later, with clipping on, as
soundfile opens files for writing): a float sample ``x`` becomes
``floor(rint(x * 2**31) / 2**16)`` clipped to int16 (NaN gives -32768, as
libsndfile's ``lrint`` does), int32 keeps its top 16 bits, int16 is copied.
The bytes are identical to ``soundfile`` writing the same blocks
(tests/test_batch_wavout.py). Other formats, subtypes and channel counts
go through soundfile as before (batch/streamfile.py).
"""

from __future__ import annotations

import struct
from typing import IO

import numpy as np

#: Channel counts written here (libsndfile writes a plain PCM ``fmt `` chunk for these).
CHANNELS = (1, 2)
HEADER_BYTES = 44
#: The RIFF size field is 32-bit: samples beyond this would not fit.
MAX_DATA_BYTES = 0xFFFFFFFF - (HEADER_BYTES - 8)

_TO_TOP = {np.dtype(np.float32): np.float32(2.0**31), np.dtype(np.float64): np.float64(2.0**31)}
_FROM_TOP = {np.dtype(np.float32): np.float32(2.0**-16), np.dtype(np.float64): np.float64(2.0**-16)}


def handles(fmt: str, subtype: str, channels: int) -> bool:
    """True if this writer produces ``fmt``/``subtype`` with ``channels`` channels."""
    return fmt == "WAV" and subtype == "PCM_16" and channels in CHANNELS


def to_pcm16(data: np.ndarray) -> np.ndarray:
    """Planar ``(channels, frames)`` or 1-D samples as interleaved little-endian int16, libsndfile's way.

    Raises
    ------
    TypeError
        The samples are not float32, float64, int32 or int16 (what soundfile writes).
    """
    frames_first = data.T if data.ndim == 2 else data
    kind = data.dtype
    if kind == np.int16:
        return np.ascontiguousarray(frames_first, dtype="<i2")
    if kind == np.int32:
        return np.right_shift(frames_first, 16).astype("<i2", order="C")
    if kind not in _TO_TOP:
        raise TypeError(f"cannot write {kind} samples as 16-bit PCM (float32, float64, int32 or int16)")
    scaled = np.empty(frames_first.shape, dtype=kind)
    with np.errstate(over="ignore", invalid="ignore"):
        np.multiply(frames_first, _TO_TOP[kind], out=scaled)
        np.rint(scaled, out=scaled)
        np.multiply(scaled, _FROM_TOP[kind], out=scaled)
        np.floor(scaled, out=scaled)
        np.fmax(scaled, -32768, out=scaled)  # fmax takes the number over a NaN: NaN -> -32768
        np.minimum(scaled, 32767, out=scaled)
        return scaled.astype("<i2")


def _header(rate: int, channels: int, data_bytes: int) -> bytes:
    align = 2 * channels
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        data_bytes + HEADER_BYTES - 8,
        b"WAVE",
        b"fmt ",
        16,
        1,  # WAVE_FORMAT_PCM
        channels,
        rate,
        rate * align,
        align,
        16,
        b"data",
        data_bytes,
    )


class Pcm16WavWriter:
    """Writes a 16-bit PCM WAV into an open binary file, block by block.

    The header goes first with zero sizes (a file cut short reads as
    empty, not as garbage); :meth:`finish` writes the real sizes.
    """

    def __init__(self, fh: IO[bytes], rate: int, channels: int) -> None:
        if channels not in CHANNELS:
            raise ValueError(f"16-bit WAV output here takes 1 or 2 channels, got {channels}")
        self.fh, self.rate, self.channels = fh, int(rate), channels
        self.data_bytes = 0
        fh.write(_header(self.rate, channels, 0))

    def write(self, data: np.ndarray) -> None:
        """Append samples (planar ``(channels, frames)`` or 1-D for mono).

        Raises
        ------
        ValueError
            Wrong channel count, or the file would pass WAV's 4 GiB limit.
        """
        channels = 1 if data.ndim == 1 else data.shape[0]
        if channels != self.channels:
            raise ValueError(f"a block of {channels} channels in a {self.channels}-channel WAV")
        pcm = to_pcm16(data)
        if not pcm.size:
            return
        if self.data_bytes + pcm.nbytes > MAX_DATA_BYTES:
            raise ValueError("the output passes the 4 GiB a WAV file can hold; choose --format flac or w64")
        self.fh.write(pcm.data.cast("B"))
        self.data_bytes += pcm.nbytes

    def finish(self) -> None:
        """Write the final sizes into the header (the file stays open)."""
        self.fh.seek(0)
        self.fh.write(_header(self.rate, self.channels, self.data_bytes))
        self.fh.seek(0, 2)
