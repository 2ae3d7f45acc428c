"""16-bit PCM WAV outputs written without libsndfile's per-call overhead, byte for byte as libsndfile writes them.

The batch job's default output is 16-bit PCM WAV, and its samples are
already int16 when they reach the writer (batch/pcm16.py). libsndfile then
only copies them, but through soundfile's virtual I/O: each output file
costs a ``SoundFile`` (cffi objects, a dozen library calls) and ~50 calls
from libsndfile back into Python (``tell``, ``seek``, ``write``), each a
system call and, with the run's other threads, a hand-over of the GIL.

Here the file is written directly: libsndfile's own header for the rate and
channel count (made once per pair by libsndfile itself, into memory, and
kept), the samples as they are, and at the end the header's two size fields
(the RIFF chunk's and the data chunk's) set as libsndfile sets them when it
closes the file. The bytes are the same (tests/test_batch_pcm16.py compares
whole runs with the soundfile path). If libsndfile's header is not the plain
44-byte one this module expects (another libsndfile version), nothing is
done here and soundfile writes the file as before.

A WAV file cannot describe more than 4 GiB of samples; a file that would
grow past :data:`MAX_DATA_BYTES` is handed over to libsndfile (opened on the
same file, appending) before the block that would cross it, so what happens
beyond the limit is whatever libsndfile does.
"""

from __future__ import annotations

import functools
import io
import struct
import sys
from typing import IO, Any

import numpy as np

#: Samples (bytes) this module writes into one file before libsndfile takes over: the RIFF size field
#: (data + 36 bytes of header) must fit in 32 bits.
MAX_DATA_BYTES = 0xFFFFFFFF - 36
_HEADER_BYTES = 44


@functools.lru_cache(maxsize=64)
def header(rate: int, channels: int) -> bytes | None:
    """libsndfile's header of an empty 16-bit PCM WAV file at ``rate`` and ``channels``; None if it is
    not the plain 44-byte layout (RIFF, a 16-byte ``fmt `` chunk, ``data``) whose sizes are patched here."""
    import soundfile as sf

    out = io.BytesIO()
    with sf.SoundFile(out, "w", rate, channels, "PCM_16", format="WAV"):
        pass
    head = out.getvalue()
    plain = (
        len(head) == _HEADER_BYTES
        and head[0:4] == b"RIFF"
        and head[8:20] == b"WAVEfmt \x10\x00\x00\x00"
        and head[36:40] == b"data"
        and struct.unpack("<II", head[4:8] + head[40:44]) == (36, 0)
    )
    return head if plain else None


class Pcm16Wav:
    """Writes frames-first int16 samples into ``fh`` (an open, empty, seekable binary file) as a WAV file.

    Made by :func:`open_pcm16`; the interface ``_AtomicWriter`` uses of a
    ``soundfile.SoundFile``: :meth:`write`, :meth:`close` (which does not
    close ``fh``).
    """

    def __init__(self, fh: IO[bytes], rate: int, channels: int, head: bytes) -> None:
        self._fh, self._rate, self._channels = fh, rate, channels
        self._data = 0  # bytes of samples written
        self._sf: Any = None  # libsndfile, once the data passes MAX_DATA_BYTES
        fh.write(head)

    def write(self, frames: np.ndarray) -> None:
        """Append ``frames`` (int16, ``(frames,)`` or ``(frames, channels)``)."""
        if frames.dtype != np.int16:
            raise TypeError(f"16-bit PCM WAV takes int16 samples here, not {frames.dtype} (see batch/pcm16.py)")
        # soundfile's own checks, with its words (a block of another channel count fails as it failed there)
        if frames.ndim not in (1, 2):
            why = "0 dimensions not supported" if frames.ndim < 1 else "too many dimensions"
            raise ValueError(f"Invalid shape: {frames.shape!r} ({why})")
        channels = 1 if frames.ndim == 1 else frames.shape[1]
        if channels != self._channels:
            raise ValueError(f"Invalid shape: {frames.shape!r} (Expected {self._channels} channels, got {channels})")
        frames = np.ascontiguousarray(frames)  # no copy for what pcm16 hands over
        if not frames.nbytes:
            return
        if self._sf is None and self._data + frames.nbytes > MAX_DATA_BYTES:
            self._hand_over()
        if self._sf is not None:
            self._sf.write(frames)
            return
        self._fh.write(frames.data.cast("B"))
        self._data += frames.nbytes

    def close(self) -> None:
        """Set the header's sizes (libsndfile's, if it took over, closes it its way)."""
        if self._sf is not None:
            self._sf.close()
            return
        self._sizes()

    def _sizes(self) -> None:
        self._fh.seek(4)
        self._fh.write(struct.pack("<I", 36 + self._data))
        self._fh.seek(40)
        self._fh.write(struct.pack("<I", self._data))
        self._fh.seek(0, io.SEEK_END)

    def _hand_over(self) -> None:
        """Let libsndfile append from here: the header made complete, the file opened by it read-write."""
        import soundfile as sf

        self._sizes()
        self._fh.flush()
        self._fh.seek(0)
        self._sf = sf.SoundFile(self._fh, "r+")
        self._sf.seek(0, sf.SEEK_END)


def open_pcm16(fh: IO[bytes], rate: int, channels: int) -> Pcm16Wav | None:
    """A :class:`Pcm16Wav` on ``fh``, or None when libsndfile's header is not the expected one
    (or on a big-endian machine, where int16 samples are not a WAV file's little-endian ones)."""
    if sys.byteorder != "little":
        return None
    try:
        head = header(rate, channels)
    except Exception:  # a rate or channel count libsndfile refuses: it says so itself, on the soundfile path
        return None
    return None if head is None else Pcm16Wav(fh, rate, channels, head)
