"""Clock-drift correction: a 48000.7 Hz source kept locked to a 48 kHz sink.

A capture device and a playback device (or a WebRTC peer) never share a
clock: here the source delivers 48000.7 frames per second of the sink's
time. Played as it is, the buffer between them grows by 0.7 frames a
second until it overflows (or, the other way round, runs dry and clicks).
A variable resampler fixes that: every 10 ms the sink takes 480 frames,
and a small controller nudges the ratio with ``set_ratio`` (ramped over
one chunk, so the correction is inaudible) to hold the buffer at its
target fill. The ratio settles at 48000 / 48000.7 and the buffer stays
within a couple of frames of the target for the whole run.
"""

import numpy as np

from remotemedia import Resampler

SINK_RATE = 48_000
SOURCE_RATE = 48_000.7  # the source's true rate, in sink time (unknown to the controller)
TICK = 480  # frames the sink takes every 10 ms
TARGET_FILL = 960  # frames held between resampler and sink (20 ms)
FILTER_HOLD = 100  # about what the resampler itself holds at "medium"


def main(seconds: float = 20.0) -> None:
    r = Resampler(48_000, 48_000, quality="medium", variable=True)
    fifo = np.zeros(TARGET_FILL, np.float32)  # pre-filled with silence
    delivered = 0  # source frames delivered so far
    integral = 0.0
    ratio = 1.0
    worst, settled = 0, []
    ticks = int(seconds * SINK_RATE / TICK)
    for tick in range(1, ticks + 1):
        # The source produces whatever its own clock gives in this 10 ms.
        due = int(tick * TICK * SOURCE_RATE / SINK_RATE)
        t = np.arange(delivered, due) / SOURCE_RATE
        chunk = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
        delivered = due
        fifo = np.concatenate([fifo, r.process(chunk)])
        fifo = fifo[TICK:]  # the sink plays its 480 frames
        # PI controller on the fill level: what waits for the sink plus the
        # input the resampler still holds (its filter's reach).
        error = len(fifo) + r.delay - TARGET_FILL - FILTER_HOLD
        integral += error
        ratio = min(1.004, max(0.996, 1.0 - 1e-4 * error - 1e-6 * integral))
        r.set_ratio(ratio, ramp_frames=TICK)
        if tick > ticks // 2:  # after settling
            worst = max(worst, abs(error))
            settled.append(ratio)
    mean = float(np.mean(settled))
    print(f"source {SOURCE_RATE} Hz -> sink {SINK_RATE} Hz over {seconds:.0f} s")
    print(f"mean ratio over the second half {mean:.8f} (ideal {SINK_RATE / SOURCE_RATE:.8f})")
    print(f"buffer within {worst} frames of its {TARGET_FILL}-frame target over the second half")
    assert abs(mean - SINK_RATE / SOURCE_RATE) < 1e-6
    assert worst <= 3


if __name__ == "__main__":
    main()
