"""Streaming through pipelines: ``Pipeline.stream()`` (async, bounded queues)
and ``Pipeline.open_stream()`` (synchronous per-frame sessions).

See docs/streaming.md for the contract: chunk invariance, flush order,
time stamps, queue policy, VAD events and errors.

The names below are imported on first access (PEP 562): a synchronous
session (``open_stream()``, the batch job) never loads asyncio or the
queue machinery of ``stream()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from remotemedia._lazy import lazy_exports

if TYPE_CHECKING:
    from remotemedia.nodes.vad_stream import SpeechEvent
    from remotemedia.stream.channel import POLICIES
    from remotemedia.stream.session import StreamSession
    from remotemedia.stream.stages import START_S, START_SAMPLE, collect

__all__ = ["POLICIES", "START_S", "START_SAMPLE", "SpeechEvent", "StreamSession", "collect"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "POLICIES": ".channel",
        "START_S": ".stages",
        "START_SAMPLE": ".stages",
        "SpeechEvent": "..nodes.vad_stream",
        "StreamSession": ".session",
        "collect": ".stages",
    },
)
