"""A file streamed block by block: source -> convert -> resample -> VAD -> sink.

Memory depends on the block size, not on the file. The output file
appears only when the stream ends (written to a temporary file, then
renamed).
"""

import asyncio
import tempfile
from pathlib import Path

import soundfile as sf
from _demo_audio import speech_like

from remotemedia import Pipeline
from remotemedia.nodes import AudioFileSink, AudioFileSource, AudioResampleNode, FormatConverterNode, VADNode


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.flac", Path(tmp) / "speech_16k.wav"
        sf.write(src, speech_like(6.0, 48000).T, 48000)  # any format libsndfile reads

        p = Pipeline("file", enable_metrics=True)
        p.add_node(AudioFileSource(src, block_duration_ms=500))
        p.add_node(FormatConverterNode("f32")).add_node(AudioResampleNode(16000))
        p.add_node(VADNode(mode="filter")).add_node(AudioFileSink(dst, subtype="PCM_16"))

        async for summary in p.stream():  # the sink reports once, at the end
            print(f"wrote {summary['frames']} frames of speech at {summary['sample_rate']} Hz to {dst.name}")
        queues = {name: n["stream"]["max_queue_depth"] for name, n in p.get_metrics()["nodes"].items()}
        print("max queue depth per node:", queues)
        assert sf.info(dst).frames == summary["frames"]


if __name__ == "__main__":
    asyncio.run(main())
