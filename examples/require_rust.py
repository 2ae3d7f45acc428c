"""Requiring the native core: runtime_hint="rust" fails clearly where it is missing."""

import asyncio
import sys

from _demo_audio import speech_like

from remotemedia import Pipeline, RuntimeUnavailableError
from remotemedia.nodes import AudioResampleNode


async def main() -> int:
    pipeline = Pipeline("needs-rust").add_node(AudioResampleNode(target_rate=16000, runtime_hint="rust"))
    try:
        audio, rate = await pipeline.run((speech_like(channels=1), 48000))
    except RuntimeUnavailableError as exc:
        print(f"cannot run: {exc}", file=sys.stderr)
        return 1
    print(f"resampled in Rust: {audio.shape[-1]} frames at {rate} Hz")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
