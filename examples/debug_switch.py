"""A debug switch by environment variable: DEBUG=1 runs the resampler in Python."""

import os

from _demo_audio import speech_like

from remotemedia import Pipeline
from remotemedia.nodes import AudioResampleNode, VADNode

DEBUG = os.getenv("DEBUG", "false").lower() in ("1", "true", "yes")

pipeline = Pipeline("debuggable", enable_metrics=True)
pipeline.add_node(AudioResampleNode(target_rate=16000, runtime_hint="python" if DEBUG else "auto"))
pipeline.add_node(VADNode(aggressiveness=2))
out = pipeline.run_sync((speech_like(channels=1), 48000))  # no event loop needed in scripts

stats = pipeline.get_metrics()["nodes"]["AudioResampleNode"]
print(f"DEBUG={DEBUG}: resampler ran on {stats['runtime']}; speech segments: {out.metadata['vad_segments']}")
if DEBUG:
    assert stats["runtime"] == "python"
