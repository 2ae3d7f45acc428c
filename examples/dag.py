"""A DAG: one input fans out to two branches that run concurrently, then fans in."""

import asyncio
from typing import Any

import numpy as np
from _demo_audio import speech_like

from remotemedia import AudioBuffer, Node, Pipeline
from remotemedia.nodes import AudioResampleNode, FormatConverterNode, VADNode


class Report(Node):
    """Fan-in: gets {upstream id: output} and summarises both branches."""

    def process(self, data: dict[str, Any]) -> dict[str, Any]:
        speech, phone = data["speech"], data["phone"]
        return {
            "segments": speech.metadata["vad_segments"],
            "phone_rate": phone.sample_rate,
            "phone_rms": float(np.sqrt(np.mean(phone.data.astype(np.float64) ** 2))),
        }


async def main() -> None:
    p = Pipeline("dag", enable_metrics=True)
    p.add_node(FormatConverterNode("f32", name="f32"))
    p.connect("f32", AudioResampleNode(16000, name="wideband")).connect("wideband", VADNode(name="speech"))
    p.connect("f32", AudioResampleNode(8000, quality="medium", name="phone"))
    p.connect("speech", Report(name="report")).connect("phone", "report")

    report = await p.run(AudioBuffer(speech_like(), 48000))
    print(report)
    print("execution order:", p.get_metrics()["execution_order"])
    assert report["phone_rate"] == 8000 and report["phone_rms"] > 0.01


if __name__ == "__main__":
    asyncio.run(main())
