"""FLAC files decoded by the Rust core instead of libsndfile, when that gives the same samples.

libsndfile decodes FLAC through libFLAC and copies every sample out of
libFLAC's buffers one at a time; the native decoder (``rm_flac_decode``)
writes each frame straight into the planar int16 blocks the pipeline
takes. It is used for a file only when all of these hold:

- the native core is loaded (the pure-Python install has no decoder);
- ``REMOTEMEDIA_NATIVE_FLAC`` is not ``0``;
- libsndfile opened the file as FLAC with 8- or 16-bit samples (the
  int16 decode rule of batch/decode.py chose int16: the pipeline takes it);
- the file holds at most :data:`MAX_SAMPLES` samples (the read-ahead's
  bound: the whole file is decoded at once).

soundfile stays the source of the file's information (format, subtype,
channels, rate, frames); the decoder must find exactly those counts. On
any refusal (a CRC mismatch, a stream cut short, counts that differ,
anything it does not decode exactly) the file is read by libsndfile as
before, so damaged files behave as they always did. The samples are those
of ``soundfile.read(dtype="int16")`` bit for bit (tests/test_flac_decode.py).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

#: Environment variable: "0" turns the native FLAC decoder off, "1" (the default) leaves it on.
ENV = "REMOTEMEDIA_NATIVE_FLAC"
#: Largest file decoded natively (samples over all channels): batch/readahead.py's MAX_SAMPLES,
#: 16 MiB as int16. A longer file streams block by block through libsndfile.
MAX_SAMPLES = 8 * 1024 * 1024
# FLAC subtypes as libsndfile names them whose samples int16 holds exactly, with their bits per sample.
_SUBTYPES = {"PCM_16": 16, "PCM_S8": 8}


def _stream_bits(data: bytes) -> int:
    """Bits per sample in the STREAMINFO of a stream that starts with ``fLaC`` (0 if it does not)."""
    if len(data) < 26 or data[:4] != b"fLaC" or data[4] & 0x7F != 0:
        return 0
    return ((data[20] & 1) << 4 | data[21] >> 4) + 1


def enabled() -> bool:
    """False when ``REMOTEMEDIA_NATIVE_FLAC=0``.

    Raises
    ------
    ValueError
        ``REMOTEMEDIA_NATIVE_FLAC`` is set to something other than 0 or 1.
    """
    text = os.environ.get(ENV, "").strip()
    if text not in ("", "0", "1"):
        raise ValueError(f"{ENV}={text!r}: expected 0 (libsndfile decodes FLAC) or 1 (the native decoder, the default)")
    return text != "0"


def _decoder() -> Any:
    """The automatic kernel set if it decodes FLAC, else None."""
    from remotemedia import kernels

    try:
        ks = kernels.get()
    except Exception:  # a bad REMOTEMEDIA_RUNTIME is reported by the run itself
        return None
    return ks if ks.decodes_flac else None


def blocks(f: Any, frames: int, dtype: str) -> list[np.ndarray] | None:
    """The whole of the open ``soundfile.SoundFile`` ``f`` as planar int16 blocks of ``frames`` frames
    (what :func:`remotemedia.batch.decode.planar_blocks` yields), decoded natively; None when the
    native decoder does not apply or refuses the file: the caller then reads ``f`` with libsndfile
    (``f`` is left untouched)."""
    if dtype != "int16" or f.format != "FLAC" or f.subtype not in _SUBTYPES:
        return None
    if f.frames * f.channels > MAX_SAMPLES or not isinstance(f.name, (str, bytes)) or not enabled():
        return None
    ks = _decoder()
    if ks is None:
        return None
    try:
        with open(f.name, "rb") as fh:
            # Compressed FLAC is smaller than its samples; a file much larger holds something else.
            if os.fstat(fh.fileno()).st_size > 4 * MAX_SAMPLES + (1 << 20):
                return None
            data = fh.read()
        if _stream_bits(data) != _SUBTYPES[f.subtype]:
            return None  # libsndfile's subtype for another width (or an ID3 tag first): its own reading
        result: list[np.ndarray] = ks.decode_flac(data, f.channels, f.frames, frames)
        return result
    except Exception:  # refused (ValueError) or anything else: libsndfile reads it, as before
        return None
