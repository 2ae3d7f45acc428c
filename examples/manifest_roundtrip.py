"""Manifests: save a pipeline as JSON, validate it, load it back, get the same results."""

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from _demo_audio import speech_like

from remotemedia import Pipeline, RetryPolicy
from remotemedia.cli import main as cli
from remotemedia.nodes import AudioResampleNode, FormatConverterNode, VADNode

original = Pipeline("speech", retry=RetryPolicy(max_retries=2, initial_delay_ms=50))
original.add_node(FormatConverterNode("f32"))
original.add_node(AudioResampleNode(target_rate=16000, quality="very_high"))
original.add_node(VADNode(frame_duration_ms=20, aggressiveness=3, mode="filter"))

with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "speech.json"
    path.write_text(json.dumps(original.to_manifest(), indent=2))
    print(path.read_text())
    if cli(["validate", str(path)]) != 0:  # same as `remotemedia validate speech.json`
        sys.exit("manifest did not validate")
    loaded = Pipeline.from_manifest(path)

assert loaded.to_manifest() == original.to_manifest()
x = (speech_like(), 48000)
a, b = original.run_sync(x), loaded.run_sync(x)
np.testing.assert_array_equal(a.data, b.data)
print(f"same output from the loaded pipeline: {a.data.shape[-1]} frames of speech kept")
