"""Built-in nodes: thin adapters that validate, pick a kernel set and call it."""

from __future__ import annotations

from remotemedia.nodes.channels import DownmixNode
from remotemedia.nodes.convert import FormatConverterNode
from remotemedia.nodes.files import AudioFileSink, AudioFileSource
from remotemedia.nodes.resample import AudioResampleNode
from remotemedia.nodes.vad import VADNode

__all__ = [
    "AudioFileSink",
    "AudioFileSource",
    "AudioResampleNode",
    "DownmixNode",
    "FormatConverterNode",
    "VADNode",
]
