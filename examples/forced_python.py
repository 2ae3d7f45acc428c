"""Forcing Python: per node with runtime_hint="python", or for a whole run with use_rust=False."""

import asyncio

import numpy as np
from _demo_audio import speech_like

from remotemedia import Pipeline
from remotemedia.nodes import AudioResampleNode, FormatConverterNode


async def main() -> None:
    pipeline = Pipeline("python-only", enable_metrics=True)
    pipeline.add_node(FormatConverterNode("f32", runtime_hint="python"))
    pipeline.add_node(AudioResampleNode(target_rate=16000))
    x = (speech_like(), 48000)

    python_out = await pipeline.run(x, use_rust=False)  # every "auto" node runs in Python too
    runtimes = {name: s["runtime"] for name, s in pipeline.get_metrics()["nodes"].items()}
    assert set(runtimes.values()) == {"python"}, runtimes

    auto_out = await pipeline.run(x)  # the resampler may now use the native core
    print("max |auto - python| =", float(np.max(np.abs(auto_out.data - python_out.data))))
    np.testing.assert_allclose(auto_out.data, python_out.data, atol=1e-5)


if __name__ == "__main__":
    asyncio.run(main())
