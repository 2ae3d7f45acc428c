"""Reliability and metrics: a flaky node retried with backoff, metrics exported as JSON."""

from typing import Any

from _demo_audio import speech_like

from remotemedia import Node, Pipeline, RetryPolicy, TransientError
from remotemedia.nodes import FormatConverterNode


class FlakyUpload(Node):
    """Pretends to upload audio; the network drops the first ``failures`` tries of each upload."""

    def __init__(self, failures: int = 2, name: str | None = None) -> None:
        super().__init__(name=name)
        self.failures = failures
        self.tries = 0

    async def process(self, data: Any) -> Any:
        self.tries += 1
        if self.tries % (self.failures + 1):
            raise TransientError("connection reset by peer")
        return {"uploaded_frames": data.frames}


pipeline = Pipeline("upload", enable_metrics=True, retry=RetryPolicy(max_retries=5, initial_delay_ms=10))
pipeline.add_node(FormatConverterNode("i16")).add_node(FlakyUpload())
for _ in range(5):
    print(pipeline.run_sync((speech_like(seconds=0.5), 48000)))
print(pipeline.export_metrics())
stats = pipeline.get_metrics()["nodes"]["FlakyUpload"]
assert (stats["calls"], stats["retries"], stats["errors"]) == (5, 10, 10)
