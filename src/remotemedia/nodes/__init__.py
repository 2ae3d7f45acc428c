"""Built-in nodes: thin adapters that validate, pick a kernel set and call it.

Each class is imported on first access (PEP 562): a pipeline of three node
types loads those three modules, not every node's dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

_HOME = {
    "AudioFileSink": "files",
    "AudioFileSource": "files",
    "AudioResampleNode": "resample",
    "DownmixNode": "channels",
    "FormatConverterNode": "convert",
    "VADNode": "vad",
}


def __getattr__(name: str) -> Any:
    """Import a node class on first access and keep it."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'remotemedia.nodes' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"remotemedia.nodes.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
