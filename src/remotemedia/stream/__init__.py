"""Streaming through pipelines: ``Pipeline.stream()`` (async, bounded queues)
and ``Pipeline.open_stream()`` (synchronous per-frame sessions).

See docs/streaming.md for the contract: chunk invariance, flush order,
time stamps, queue policy, VAD events and errors.
"""

from __future__ import annotations

from remotemedia.nodes.vad_stream import SpeechEvent
from remotemedia.stream.channel import POLICIES
from remotemedia.stream.session import StreamSession
from remotemedia.stream.stages import START_S, START_SAMPLE, collect

__all__ = ["POLICIES", "START_S", "START_SAMPLE", "SpeechEvent", "StreamSession", "collect"]
