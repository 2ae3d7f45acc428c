"""Decoding blocks straight into the sample format the pipeline's first node wants.

libsndfile converts while it decodes. When a pipeline starts with a
format converter (``speech-16k`` does: to float32) and the file holds
16-bit PCM, asking libsndfile for float32 would convert once there and the
converter's own work would be a second pass; asking for int16 is a plain
decode, and the converter (one native pass, fused with the downmix in a
native chain) makes the float32. 16-bit PCM to float32 is a division by
32768 on both paths, exact in float32, so the results are bit-identical.
Any other input, or a pipeline whose first node takes audio as it is,
is decoded to float32 as before.

Blocks come out planar (``(channels, frames)``, or 1-D for mono) and
C-contiguous: a mono block is read 1-D (no copy); a multi-channel block is
transposed once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from remotemedia.batch import nativeflac

# File subtypes whose samples int16 holds exactly.
_INT16_EXACT = frozenset({"PCM_16", "PCM_S8", "PCM_U8"})


def first_node_wants(pipeline: Any, subtype: str) -> str:
    """The dtype to decode a file of ``subtype`` into for ``pipeline`` ("int16" or "float32").

    int16 only when the single first node is a ``FormatConverterNode``
    (whatever its target, it accepts any PCM format) and int16 holds the
    file's samples exactly.
    """
    return dtype_for(subtype, subtype in _INT16_EXACT and takes_int16(pipeline))


def takes_int16(pipeline: Any) -> bool:
    """True if ``pipeline``'s single first node is a ``FormatConverterNode`` (it takes any PCM format)."""
    from remotemedia.nodes.convert import FormatConverterNode

    sources = pipeline.plan().topology.sources
    return len(sources) == 1 and type(pipeline.graph.nodes[sources[0]]) is FormatConverterNode


def dtype_for(subtype: str, int16_ok: bool) -> str:
    """The dtype to decode a file of ``subtype`` into: "int16" when the pipeline takes it
    (``int16_ok``, see :func:`takes_int16`) and int16 holds the file's samples exactly."""
    return "int16" if int16_ok and subtype in _INT16_EXACT else "float32"


def planar_blocks(f: Any, frames: int, dtype: str) -> Iterator[np.ndarray]:
    """Blocks of up to ``frames`` frames from an open ``soundfile.SoundFile``, planar.

    Raises whatever libsndfile raises for a corrupt or truncated body
    (callers wrap it as a read error). FLAC read as int16 is decoded by the
    native core when it can (batch/nativeflac.py: the same samples).
    """
    native = nativeflac.blocks(f, frames, dtype)
    if native is not None:
        yield from native
        return
    mono = f.channels == 1
    while True:
        block = f.read(frames, dtype=dtype, always_2d=not mono)
        if block.shape[0] == 0:
            return
        yield block if mono else np.ascontiguousarray(block.T)
