"""Built-in nodes: thin adapters that validate, pick a kernel set and call it.

Each class is imported on first access (PEP 562): a pipeline of three node
types loads those three modules, not every node's dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from remotemedia._lazy import lazy_exports

if TYPE_CHECKING:
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

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AudioFileSink": ".files",
        "AudioFileSource": ".files",
        "AudioResampleNode": ".resample",
        "DownmixNode": ".channels",
        "FormatConverterNode": ".convert",
        "VADNode": ".vad",
    },
)
