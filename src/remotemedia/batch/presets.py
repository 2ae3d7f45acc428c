"""Built-in pipelines for `remotemedia run`, as manifests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

MANIFEST_VERSION = 1

# speech-16k: any input to 16 kHz mono (written as 16-bit PCM WAV by default), speech kept, silence trimmed.
# The output file holds the speech segments (with 200 ms of padding each side
# and gaps under 300 ms bridged, as VADNode's defaults do) back to back; the
# sidecar JSON gives each segment's place in the original recording.
_PRESETS: dict[str, dict[str, Any]] = {
    "speech-16k": {
        "version": MANIFEST_VERSION,
        "name": "speech-16k",
        "nodes": [
            {"id": "to_float", "node_type": "FormatConverterNode", "params": {"target_format": "f32"}},
            {"id": "mono", "node_type": "DownmixNode", "params": {}},
            {"id": "resample", "node_type": "AudioResampleNode", "params": {"target_rate": 16000, "quality": "high"}},
            {
                "id": "vad",
                "node_type": "VADNode",
                "params": {"frame_duration_ms": 30, "aggressiveness": 2, "mode": "filter"},
            },
        ],
        "connections": [
            {"from": "to_float", "to": "mono"},
            {"from": "mono", "to": "resample"},
            {"from": "resample", "to": "vad"},
        ],
        "config": {"enable_metrics": True},
    },
}

DESCRIPTIONS = {
    "speech-16k": "any input -> 16 kHz mono 16-bit, speech kept and silence trimmed (VAD), segments in the sidecar",
}


def names() -> list[str]:
    """Names of the built-in presets."""
    return sorted(_PRESETS)


def load(spec: str | Path) -> dict[str, Any]:
    """A preset by name, or a manifest file's contents.

    Raises
    ------
    FileNotFoundError
        ``spec`` is neither a preset name nor an existing file.
    ValueError
        The file is not valid JSON.
    """
    text = str(spec)
    if text in _PRESETS:
        return copy.deepcopy(_PRESETS[text])
    path = Path(text)
    if not path.is_file():
        raise FileNotFoundError(f"pipeline {text!r} is neither a preset ({', '.join(names())}) nor a manifest file")
    from remotemedia.core.manifest import load as load_manifest

    return load_manifest(path)  # strict JSON (UTF-8, no duplicate keys, ...); a ManifestError is a ValueError


def is_pipeline_spec(arg: str) -> bool:
    """True if a CLI argument names a preset or a JSON manifest file."""
    return arg in _PRESETS or (arg.lower().endswith(".json") and Path(arg).is_file())
