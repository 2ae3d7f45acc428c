"""Real time: 20 ms frames pushed one by one through a synchronous session (no event loop).

What an audio callback would do: push each frame as it arrives, react to
speech start / end events, flush at the end. Prints the events and checks
that the frames gave exactly what the whole recording gives.
"""

import numpy as np
from _demo_audio import speech_like

from remotemedia import Pipeline
from remotemedia.nodes import AudioResampleNode, DownmixNode, FormatConverterNode, VADNode
from remotemedia.stream import collect


def main() -> None:
    rate = 48000
    audio = speech_like(4.0, rate)  # int16 stereo
    p = Pipeline("realtime")
    p.add_node(FormatConverterNode("f32")).add_node(DownmixNode())
    p.add_node(AudioResampleNode(16000)).add_node(VADNode(pre_roll_audio=True))

    outputs = []
    with p.open_stream() as session:
        for i in range(0, audio.shape[1], rate // 50):  # 20 ms frames
            out = session.push((audio[:, i : i + rate // 50], rate))
            outputs.append(out)
            for ev in out.metadata["vad_events"]:
                extra = f", {ev.audio.size} samples of audio since the start" if ev.audio is not None else ""
                print(f"t={out.metadata['start_s']:.2f} s: speech {ev.kind} at {ev.time_s:.3f} s{extra}")
        outputs.append(session.flush())

    streamed = collect(outputs)
    whole = p.run_sync((audio, rate))
    assert streamed.metadata["vad_segments"] == whole.metadata["vad_segments"]
    assert np.allclose(streamed.data, whole.data, atol=1e-5)
    print(f"{len(outputs) - 1} frames; segments {streamed.metadata['vad_segments']} (same as one run)")


if __name__ == "__main__":
    main()
