"""Automatic runtime selection: the same script runs with or without the native core."""

import asyncio

from _demo_audio import speech_like

import remotemedia
from remotemedia import Pipeline
from remotemedia.nodes import AudioResampleNode, FormatConverterNode


async def main() -> None:
    if remotemedia.is_rust_runtime_available():
        print("native core detected: kernels run in Rust")
    else:
        print("pure-Python mode: same results, slower (see `remotemedia info`)")

    pipeline = Pipeline("auto", enable_metrics=True)
    pipeline.add_node(FormatConverterNode(target_format="f32"))
    pipeline.add_node(AudioResampleNode(target_rate=16000))  # runtime_hint="auto"
    audio, sample_rate = await pipeline.run((speech_like(), 48000))

    assert sample_rate == 16000 and audio.shape == (2, 48000)
    for name, stats in pipeline.get_metrics()["nodes"].items():
        print(f"{name}: ran on {stats['runtime']} ({stats['binding'] or 'numpy'}) in {stats['total_us']:.0f} us")


if __name__ == "__main__":
    asyncio.run(main())
