"""Pipeline benchmark: convert -> resample -> VAD, and the machinery's own overhead.

Part 1 (needs the resample and VAD kernels): 10 minutes of 48 kHz stereo
int16 through FormatConverterNode("f32") -> AudioResampleNode(16000) ->
VADNode(), on the native runtime (one native chain call), in Python
(use_rust=False, the same chain on the numpy body), and the same steps
written by hand with numpy + soxr + webrtcvad. The native pipeline and the
script by hand alternate ``--repeat`` times (median reported; the Python
runtime runs once); times, times real time, CPU time of the process (all
threads: what a busy shared machine does not inflate the way it inflates
wall time) and same-run ratios.

Part 2 (always): overhead of the pipeline machinery per node call, from a
3-node FormatConverterNode pipeline on a tiny buffer: median time of
``await pipeline.run()`` minus the median time of the same three kernel
calls made directly, divided by 3; and the extra cost of metrics per run.

    python benchmarks/pipeline.py                # both parts
    python benchmarks/pipeline.py --minutes 1    # shorter input
    python benchmarks/pipeline.py --repeat 5     # median of 5 alternating runs
    python benchmarks/pipeline.py --overhead-only
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import numpy as np

import remotemedia
from remotemedia import Node, Pipeline, kernels
from remotemedia.nodes import AudioResampleNode, FormatConverterNode, VADNode

RATE_IN, RATE_OUT = 48000, 16000


class Identity(Node):
    """Returns its input: isolates the cost of the machinery."""

    def process(self, data: Any) -> Any:
        return data


def make_input(minutes: float) -> np.ndarray:
    """Speech-like int16 stereo: harmonic bursts with silences and a little noise.

    Built one minute at a time so the float64 temporaries stay small.
    """
    n = int(minutes * 60 * RATE_IN)
    out = np.empty((2, n), np.int16)
    rng = np.random.default_rng(0)
    block = 60 * RATE_IN
    for start in range(0, n, block):
        t = np.arange(start, min(n, start + block), dtype=np.float64) / RATE_IN
        f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * t)
        phase = 2 * np.pi * (np.cumsum(f0) / RATE_IN + 120 * start / RATE_IN)
        tone = np.zeros(t.size)
        for k in range(1, 12):
            tone += np.sin(k * phase) / k
        envelope = np.sqrt(np.clip(np.sin(2 * np.pi * 3 * t), 0, None)) * ((t % 2.0) > 0.6)
        mono = (0.3 * tone * envelope + 0.003 * rng.standard_normal(t.size)) * 32767
        out[0, start : start + t.size] = mono
        out[1, start : start + t.size] = 0.8 * mono
    return out


def speech_pipeline(name: str) -> Pipeline:
    p = Pipeline(name, enable_metrics=True)
    return p.add_node(FormatConverterNode("f32")).add_node(AudioResampleNode(RATE_OUT)).add_node(VADNode())


def by_hand(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[tuple[float, float]]]:
    """The same three steps with numpy + soxr + webrtcvad (30 ms frames, mode 2)."""
    import soxr
    import webrtcvad

    f = x.astype(np.float32) / np.float32(32768)
    y = soxr.resample(f.T, RATE_IN, RATE_OUT, "HQ").T
    mono = np.clip(np.round(y.mean(axis=0) * 32768), -32768, 32767).astype(np.int16)
    vad, n = webrtcvad.Vad(2), RATE_OUT * 30 // 1000
    flags = np.fromiter(
        (vad.is_speech(mono[i : i + n].tobytes(), RATE_OUT) for i in range(0, mono.size - n + 1, n)), np.uint8
    )
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags, [0]])))
    segments = [(s * 0.03, e * 0.03) for s, e in zip(edges[::2], edges[1::2], strict=True)]
    return y, flags, segments


def part1(minutes: float, repeat: int = 3) -> None:
    py = kernels.get("python")
    if not all(hasattr(py, k) for k in ("resample", "VAD", "speech_segments")):
        print("part 1 skipped: this build has no resample/VAD kernels yet (they land with their branches)\n")
        return
    x = make_input(minutes)
    seconds = x.shape[-1] / RATE_IN
    print(f"part 1: {minutes:g} min of {RATE_IN} Hz stereo int16 ({x.nbytes / 1e6:.0f} MB); "
          f"native and by hand: median of {repeat} alternating runs")  # fmt: skip
    rows: list[tuple[str, float, float, dict[str, Any] | None]] = []
    native_rust = remotemedia.is_rust_runtime_available()
    t_native: list[float] = []
    t_hand: list[float] = []
    c_native: list[float] = []
    c_hand: list[float] = []
    metrics = None
    for _ in range(repeat):
        if native_rust:
            p = speech_pipeline("native")
            t0, c0 = time.perf_counter(), time.process_time()
            native = p.run_sync((x, RATE_IN))
            t_native.append(time.perf_counter() - t0)
            c_native.append(time.process_time() - c0)
            metrics = p.get_metrics()
        t0, c0 = time.perf_counter(), time.process_time()
        hand = by_hand(x)
        t_hand.append(time.perf_counter() - t0)
        c_hand.append(time.process_time() - c0)
    if native_rust:
        name = f"pipeline, native ({kernels.get().binding})"
        rows.append((name, statistics.median(t_native), statistics.median(c_native), metrics))
    p = speech_pipeline("python")
    t0, c0 = time.perf_counter(), time.process_time()
    python = p.run_sync((x, RATE_IN), use_rust=False)
    rows.append(("pipeline, Python runtime", time.perf_counter() - t0, time.process_time() - c0, p.get_metrics()))
    rows.append(("by hand: numpy + soxr HQ + webrtcvad", statistics.median(t_hand), statistics.median(c_hand), None))
    ref, cref = rows[-1][1], rows[-1][2]
    print(f"{'variant':<40} {'seconds':>8} {'x realtime':>11} {'vs by hand':>10} {'CPU s':>7}   per node (ms)")
    for name, s, c, m in rows:
        nodes = "" if m is None else "  ".join(f"{k[:12]}={v['total_us'] / 1e3:.0f}" for k, v in m["nodes"].items())
        print(f"{name:<40} {s:8.2f} {seconds / s:11.0f} {s / ref:10.2f} {c:7.2f}   {nodes}")
    if native_rust:
        print(f"native runs (s): {', '.join(f'{t:.3f}' for t in t_native)}; by hand: "
              f"{', '.join(f'{t:.3f}' for t in t_hand)}")  # fmt: skip
        print(f"ratios: native / by hand = {rows[0][1] / ref:.2f} (target <= 0.5); "
              f"Python runtime / native = {rows[1][1] / rows[0][1]:.1f}x (target >= 30)")  # fmt: skip
        print(f"in CPU time (all threads of the process): native / by hand = {rows[0][2] / cref:.2f}; "
              f"Python runtime / native = {rows[1][2] / rows[0][2]:.1f}x")  # fmt: skip
        diff = float(np.max(np.abs(native.data - python.data)))
        same = np.array_equal(native.metadata["vad_flags"], python.metadata["vad_flags"])
        print(f"native vs Python: max |diff| = {diff:.2e}, identical VAD flags: {same}")
    seg = python.metadata["vad_segments"]
    print(f"speech segments: ours {len(seg)}, webrtcvad {len(hand[2])}\n")


async def _time_runs(p: Pipeline, data: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        await p.run(data)
        out.append(time.perf_counter_ns() - t0)
    return out


def part2(iterations: int) -> None:
    ks = kernels.get()
    x = (np.zeros(160, np.int16), RATE_OUT)  # one 10 ms frame at 16 kHz
    fmts = ("f32", "i16", "f32")

    def direct() -> float:
        samples = []
        for _ in range(iterations):
            t0 = time.perf_counter_ns()
            y = x[0]
            for f in fmts:
                y = ks.convert(y, f)
            samples.append(time.perf_counter_ns() - t0)
        return statistics.median(samples)

    def pipeline(metrics: bool) -> float:
        p = Pipeline("overhead", enable_metrics=metrics)
        for f in fmts:
            p.add_node(FormatConverterNode(f))

        async def go() -> list[float]:
            async with p:
                await _time_runs(p, x, 200)  # warm up
                return await _time_runs(p, x, iterations)

        return statistics.median(asyncio.run(go()))

    d, off, on = direct(), pipeline(False), pipeline(True)
    print(f"part 2: machinery overhead, 3 x FormatConverterNode on 160 samples, kernels {ks.name}/{ks.binding}")
    print(f"  median of {iterations} runs")
    print(f"  3 direct kernel calls            {d / 1e3:8.2f} us")
    print(f"  await pipeline.run(), no metrics {off / 1e3:8.2f} us  -> {(off - d) / 3e3:.2f} us per node call")
    print(f"  await pipeline.run(), metrics    {on / 1e3:8.2f} us  -> metrics add {(on - off) / 1e3:.2f} us per run")

    def identity_chain(k: int) -> float:
        p = Pipeline("identity")
        for _ in range(k):
            p.add_node(Identity())

        async def go() -> list[float]:
            await _time_runs(p, x, 200)
            return await _time_runs(p, x, iterations)

        return statistics.median(asyncio.run(go()))

    one, ten = identity_chain(1), identity_chain(10)
    per_node = (ten - one) / 9
    print(
        f"  identity nodes (machinery only): {per_node / 1e3:.2f} us per node + {(one - per_node) / 1e3:.2f} us per run"
    )
    p = Pipeline("sync")
    for f in fmts:
        p.add_node(FormatConverterNode(f))
    samples = []
    for _ in range(max(50, iterations // 20)):
        t0 = time.perf_counter_ns()
        p.run_sync(x)
        samples.append(time.perf_counter_ns() - t0)
    print(f"  pipeline.run_sync() (new event loop per call) {statistics.median(samples) / 1e3:8.2f} us")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="input length for part 1 (default 10)")
    ap.add_argument("--iterations", type=int, default=5000, help="runs for part 2 (default 5000)")
    ap.add_argument("--repeat", type=int, default=3, help="alternating runs of native and by hand (default 3)")
    ap.add_argument("--overhead-only", action="store_true", help="skip part 1")
    args = ap.parse_args()
    info = remotemedia.get_runtime_info()
    print(f"remotemedia {info['version']}, native core: {info['binding'] or 'none'}, numpy {info['numpy']}\n")
    if not args.overhead_only:
        part1(args.minutes, args.repeat)
    part2(args.iterations)


if __name__ == "__main__":
    main()
