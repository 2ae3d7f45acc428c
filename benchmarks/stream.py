"""Streaming benchmark: per-frame sessions, and a file bigger than memory budgets.

Part 1: 20 ms frames of 48 kHz stereo int16 (960 frames) through
FormatConverterNode("f32") -> DownmixNode -> AudioResampleNode(16000) ->
VADNode() with ``pipeline.open_stream()`` / ``s.push(frame)``: time per
push (median, 99th percentile, mean) in microseconds, native and Python,
beside the same kernels called one by one from Python (what a session
did before native chains) and the same work written by hand per frame (numpy convert and
downmix, ``soxr.ResampleStream`` HQ, ``webrtcvad`` on 30 ms frames). The
session and the hand-written loop alternate ``--repeat`` times over the
frames; each row reports the median over those runs of its per-run
median / p99 / mean, and the session / by-hand ratios. Also the
pipeline without the downmix (stereo resampling), and the throughput
of ``async for out in pipeline.stream(frames)`` (tasks and bounded
queues included).

Part 2 (``--big``): a WAV file of ``--gb`` GB (default 2; 48 kHz stereo
int16) is generated in a temp dir and streamed through AudioFileSource ->
convert -> resample -> VAD -> AudioFileSink (16 kHz stereo PCM_16 WAV)
with ``run()``; reports the time and the peak resident memory of the
process during the run (Linux: VmHWM after resetting it through
/proc/self/clear_refs), then deletes the files.

    python benchmarks/stream.py                 # part 1
    python benchmarks/stream.py --frames 5000   # more frames
    python benchmarks/stream.py --big           # part 2 as well (2 GB on disk, a few minutes)
    python benchmarks/stream.py --kinds         # also: push times by what the push did (what sets the p99)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from remotemedia import Pipeline, kernels
from remotemedia.core.audio import AudioBuffer
from remotemedia.nodes import (
    AudioFileSink,
    AudioFileSource,
    AudioResampleNode,
    DownmixNode,
    FormatConverterNode,
    VADNode,
)

RATE = 48000
FRAME = 960  # 20 ms


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Stereo int16: harmonic bursts with syllable-like envelopes, pauses and a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    tone = sum(np.sin(k * phase) / k for k in range(1, 12))
    env = np.sqrt(np.clip(np.sin(2 * np.pi * 3 * t), 0, None)) * ((t % 2.0) > 0.6)
    x = (0.3 * tone * env + 0.003 * rng.standard_normal(t.size)) * 32767
    return np.stack([x, 0.8 * x]).astype(np.int16)


def pipeline(downmix: bool = True) -> Pipeline:
    p = Pipeline("frames").add_node(FormatConverterNode("f32"))
    if downmix:
        p.add_node(DownmixNode())
    return p.add_node(AudioResampleNode(16000)).add_node(VADNode())


def stats_us(ns: list[int]) -> tuple[float, float, float]:
    a = np.asarray(ns, np.float64) / 1e3
    return float(np.median(a)), float(np.percentile(a, 99)), float(a.mean())


def time_session(
    p: Pipeline, frames: list[AudioBuffer], use_rust: bool, warmup: int, cpu: bool = False
) -> tuple[float, float, float]:
    """Per-push times: wall clock, or with ``cpu`` this thread's CPU time (what preemption by
    other processes on a shared machine does not inflate)."""
    clock = time.thread_time_ns if cpu else time.perf_counter_ns
    ns = []
    with p.open_stream(use_rust=use_rust) as s:
        push = s.push
        for f in frames:
            t0 = clock()
            push(f)
            ns.append(clock() - t0)
        s.flush()
    return stats_us(ns[warmup:])


def time_stream(p: Pipeline, frames: list[AudioBuffer], use_rust: bool) -> float:
    """Mean µs per chunk of ``async for out in p.stream(frames)`` (throughput; tasks and queues included)."""

    async def run() -> float:
        t0 = time.perf_counter_ns()
        async for _ in p.stream(frames, use_rust):
            pass
        return (time.perf_counter_ns() - t0) / 1e3 / len(frames)

    return asyncio.run(run())


def time_kernels(ks: Any, frames: list[AudioBuffer], warmup: int) -> tuple[float, float, float]:
    """The same work as kernel calls, no nodes: convert, channel mean, Resampler, VAD."""
    rs = ks.Resampler(RATE, 16000, 1, "high")
    vad = ks.VAD(16000, 30, 2)
    clock = time.perf_counter_ns
    ns = []
    for f in frames:
        t0 = clock()
        y = ks.convert(f.data, "f32")
        m = np.add(y[0], y[1], dtype=np.float64)
        m /= 2
        vad.process(rs.process(m.astype(np.float32)))
        ns.append(clock() - t0)
    return stats_us(ns[warmup:])


def time_by_hand(frames: list[AudioBuffer], warmup: int) -> tuple[float, float, float]:
    """A per-frame script: numpy convert + downmix, soxr.ResampleStream (HQ), webrtcvad on 30 ms frames."""
    import soxr
    import webrtcvad

    rs = soxr.ResampleStream(RATE, 16000, 1, dtype="float32", quality="HQ")
    vad = webrtcvad.Vad(2)
    n30 = 480
    pending = np.zeros(0, np.int16)
    clock = time.perf_counter_ns
    ns = []
    for f in frames:
        t0 = clock()
        x = f.data.astype(np.float32) * np.float32(1 / 32768)
        y = rs.resample_chunk((x[0] + x[1]) * np.float32(0.5))
        q = np.clip(np.rint(y * 32768), -32768, 32767).astype(np.int16)
        pending = np.concatenate([pending, q])
        k = pending.size // n30
        for i in range(k):
            vad.is_speech(pending[i * n30 : (i + 1) * n30].tobytes(), 16000)
        pending = pending[k * n30 :]
        ns.append(clock() - t0)
    return stats_us(ns[warmup:])


def time_control(target_us: float, n: int) -> tuple[float, float, float]:
    """The machine's own spread for a call this short: one native convert of a fixed block,
    sized so that its median is about ``target_us``; every call does the same work, so its
    p99 / median is what interrupts, cache refills and the hypervisor add, not the code."""
    ks = kernels.get()
    size = 960
    while True:  # grow the block until one call takes about the target
        x = np.zeros((2, size), np.int16)
        probe = []
        for _ in range(200):
            t0 = time.perf_counter_ns()
            ks.convert(x, "f32")
            probe.append(time.perf_counter_ns() - t0)
        if np.median(probe) / 1e3 >= target_us or size > 1 << 22:
            break
        size = int(size * max(1.1, target_us / max(np.median(probe) / 1e3, 0.1)))
    ns = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        ks.convert(x, "f32")
        ns.append(time.perf_counter_ns() - t0)
    return stats_us(ns)


def part_kinds(frames: list[AudioBuffer], warmup: int = 100) -> None:
    """Native session pushes grouped by what each did (output frames, i.e. resampler blocks
    completed; VAD flags; speech events): share, median against the session's median, and how
    many took over twice the median, in wall and in thread CPU time. Shows whether the slow 1 %
    that sets the p99 are heavier pushes or ordinary ones hit by an interruption."""
    for clock_name in ("perf_counter_ns", "thread_time_ns"):
        clock = getattr(time, clock_name)
        ns, kinds = [], []
        with pipeline().open_stream() as s:
            push = s.push
            for f in frames:
                t0 = clock()
                out = push(f)
                ns.append(clock() - t0)
                m = out.metadata
                kinds.append((len(out.data), len(m["vad_flags"]), len(m["vad_events"])))
        a, k = np.asarray(ns[warmup:], np.float64) / 1e3, kinds[warmup:]
        med = float(np.median(a))
        print(f"\npushes by kind ({clock_name}; median {med:.1f} µs, p99 / median {np.percentile(a, 99) / med:.2f})")
        print(f"{'output frames, flags, events':<32}{'share':>8}{'median / all':>14}{'over 2x':>9}")
        for kind in sorted(set(k)):
            t = a[[i for i, x in enumerate(k) if x == kind]]
            share, rel, over = 100 * t.size / a.size, np.median(t) / med, int((t > 2 * med).sum())
            print(f"{kind!s:<32}{share:7.1f}%{rel:14.2f}{over:9d}")


def _median_rows(runs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    a = np.asarray(runs)
    return float(np.median(a[:, 0])), float(np.median(a[:, 1])), float(np.median(a[:, 2]))


def part_frames(n_frames: int, repeat: int = 3, kinds: bool = False) -> None:
    x = speech_like(n_frames * FRAME / RATE + 0.1)
    frames = [AudioBuffer(np.ascontiguousarray(x[:, i : i + FRAME]), RATE) for i in range(0, n_frames * FRAME, FRAME)]
    native = kernels.get().name == "rust"
    print(f"20 ms frames (48 kHz stereo int16 -> 16 kHz mono), {n_frames} frames; times per push in µs")
    print(f"{'path':<52}{'median':>9}{'p99':>9}{'mean':>9}")
    rows = []
    if native:
        binding = kernels.get().binding
        label = f"session, native ({binding}): convert>downmix>resample>VAD"
        sess, hand, cpu, ctl = [], [], [], []
        for _ in range(repeat):
            sess.append(time_session(pipeline(), frames, True, 100))
            hand.append(time_by_hand(frames, 100))
            cpu.append(time_session(pipeline(), frames, True, 100, cpu=True))
            ctl.append(time_control(sess[-1][0], len(frames)))
        s_row, h_row, c_row, k_row = _median_rows(sess), _median_rows(hand), _median_rows(cpu), _median_rows(ctl)
        rows.append((label, s_row))
        rows.append(("by hand: numpy + soxr.ResampleStream HQ + webrtcvad", h_row))
        rows.append(("session, native, thread CPU time (no preemption)", c_row))
        rows.append(("control: one fixed native call of that median", k_row))
        rows.append(("kernels called one by one, native (no chain)", time_kernels(kernels.get(), frames, 100)))
        label = "session, native, no downmix (stereo resample)"
        rows.append((label, time_session(pipeline(False), frames, True, 100)))
    few = frames[: max(200, n_frames // 10)]
    rows.append(("session, Python (numpy kernels)", time_session(pipeline(), few, False, 20)))
    rows.append(("kernels called one by one, Python", time_kernels(kernels.get("python"), few, 20)))
    for name, (med, p99, mean) in rows:
        print(f"{name:<52}{med:9.1f}{p99:9.1f}{mean:9.1f}")
    if native:
        print(f"ratios: session / by hand median = {s_row[0] / h_row[0]:.2f} (target <= 0.4); "
              f"session p99 / median = {s_row[1] / s_row[0]:.2f} (target <= 2; "
              f"{c_row[1] / c_row[0]:.2f} in thread CPU time)")  # fmt: skip
        print(f"control: a fixed native call of the same median has p99 / median = {k_row[1] / k_row[0]:.2f} "
              "in the same run (the machine's floor for a call this short)")  # fmt: skip
        print(f"{'async stream(), native, mean per chunk':<52}{'':9}{'':9}{time_stream(pipeline(), frames, True):9.1f}")
        if kinds:
            part_kinds(frames)


def peak_rss_reset() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def part_big(gb: float, block_ms: float) -> None:
    with tempfile.TemporaryDirectory(prefix="rm-stream-bench-") as tmp:
        src = Path(tmp) / "big.wav"
        seconds_per_write = 60
        block = speech_like(seconds_per_write, seed=1).T.copy()
        n_writes = max(1, round(gb * 1e9 / block.nbytes))
        t0 = time.perf_counter()
        import soundfile as sf

        with sf.SoundFile(src, "w", RATE, 2, format="WAV", subtype="PCM_16") as f:
            for _ in range(n_writes):
                f.write(block)
        del block
        size = src.stat().st_size
        print(f"\nbig file: {size / 1e9:.2f} GB ({n_writes} min of 48 kHz stereo int16), written in "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
        out = Path(tmp) / "out.wav"
        p = Pipeline("big").add_node(AudioFileSource(src, block_duration_ms=block_ms))
        p.add_node(FormatConverterNode("f32")).add_node(AudioResampleNode(16000))
        p.add_node(VADNode()).add_node(AudioFileSink(out, subtype="PCM_16"))
        base = rss_kib("VmRSS")
        reset = peak_rss_reset()
        t0 = time.perf_counter()
        summary = p.run_sync()
        elapsed = time.perf_counter() - t0
        peak = rss_kib("VmHWM")
        audio_s = n_writes * seconds_per_write
        print(f"source -> convert -> resample -> VAD -> sink (stereo), {block_ms:.0f} ms blocks, "
              f"runtime {kernels.get().name}:")  # fmt: skip
        print(f"  {elapsed:.1f} s for {audio_s / 3600:.2f} h of audio ({audio_s / elapsed:.0f}x real time); "
              f"output {summary['frames']} frames, {out.stat().st_size / 1e6:.0f} MB")  # fmt: skip
        what = "peak RSS during the run" if reset else "peak RSS of the process (could not reset VmHWM)"
        print(f"  {what}: {peak / 1024:.1f} MiB (RSS before: {base / 1024:.1f} MiB, "
              f"growth {(peak - base) / 1024:.1f} MiB)")  # fmt: skip
        os.unlink(src)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=3000, help="20 ms frames to time (default 3000 = 60 s)")
    ap.add_argument("--repeat", type=int, default=3, help="alternating session / by-hand runs (default 3)")
    ap.add_argument("--kinds", action="store_true", help="also time native pushes by kind (blocks, flags, events)")
    ap.add_argument("--big", action="store_true", help="also stream a big generated WAV file")
    ap.add_argument("--gb", type=float, default=2.0, help="size of the big file in GB (default 2)")
    ap.add_argument("--block-ms", type=float, default=1000.0, help="source block length (default 1000 ms)")
    args = ap.parse_args()
    part_frames(args.frames, args.repeat, args.kinds)
    if args.big:
        part_big(args.gb, args.block_ms)


if __name__ == "__main__":
    main()
