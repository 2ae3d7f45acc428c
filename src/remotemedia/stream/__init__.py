"""Streaming through pipelines: ``Pipeline.stream()`` (async, bounded queues)
and ``Pipeline.open_stream()`` (synchronous per-frame sessions).

See docs/streaming.md for the contract: chunk invariance, flush order,
time stamps, queue policy, VAD events and errors.

The names below are imported on first access (PEP 562): a synchronous
session (``open_stream()``, the batch job) never loads asyncio or the
queue machinery of ``stream()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from remotemedia.nodes.vad_stream import SpeechEvent
    from remotemedia.stream.channel import POLICIES
    from remotemedia.stream.session import StreamSession
    from remotemedia.stream.stages import START_S, START_SAMPLE, collect

__all__ = ["POLICIES", "START_S", "START_SAMPLE", "SpeechEvent", "StreamSession", "collect"]

_HOME = {
    "POLICIES": "remotemedia.stream.channel",
    "START_S": "remotemedia.stream.stages",
    "START_SAMPLE": "remotemedia.stream.stages",
    "SpeechEvent": "remotemedia.nodes.vad_stream",
    "StreamSession": "remotemedia.stream.session",
    "collect": "remotemedia.stream.stages",
}


def __getattr__(name: str) -> Any:
    """Import a public name on first access and keep it."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'remotemedia.stream' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
