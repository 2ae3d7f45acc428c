"""`remotemedia bench`: what the native core buys on this machine.

Times PCM conversion, resampling, VAD and the speech-16k pipeline under
every kernel set that loads here (numpy, and the native core through each
binding), and soxr / webrtcvad when they are installed, on the same
synthetic recording in one run. Prints medians and ratios.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from remotemedia import kernels


def _median_s(fn: Callable[[], object], repeat: int) -> float:
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _bind(fn: Callable[..., object], *args: Any) -> Callable[[], object]:
    return lambda: fn(*args)


def _vad_pass(ks: kernels.KernelSet, x: np.ndarray) -> np.ndarray:
    return ks.VAD(16000, 30, 2).process(x)


def _recording(seconds: float, rate: int = 48000) -> np.ndarray:
    """Stereo int16 at ``rate``: voiced bursts and pauses over a little noise."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    voice = sum(np.sin(2 * np.pi * 130 * k * t) / k for k in range(1, 15))
    gate = (np.sin(2 * np.pi * 0.4 * t) > 0).astype(float) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    mono = 0.25 * voice * gate + 0.003 * rng.standard_normal(t.size)
    return (np.stack([mono, 0.9 * mono]) * 32767 / max(1.0, np.abs(mono).max() * 1.2)).astype(np.int16)


def _webrtc_frames(x16: np.ndarray) -> Callable[[], object] | None:
    try:
        import webrtcvad
    except ImportError:
        return None
    pcm = (np.clip(x16, -1, 1) * 32767).astype(np.int16)
    frames = [pcm[i : i + 480].tobytes() for i in range(0, pcm.size - 479, 480)]
    vad = webrtcvad.Vad(2)
    return lambda: [vad.is_speech(f, 16000) for f in frames]


def run(seconds: float = 10.0, repeat: int = 5) -> list[dict[str, Any]]:
    """Measure every task on every body; one dict per (task, body)."""
    from remotemedia import Pipeline
    from remotemedia.batch import presets

    stereo = _recording(seconds)
    sets = kernels.available()
    py = kernels.get("python")
    mono48 = py.convert(stereo, "f32").mean(axis=0).astype(np.float32)
    mono16 = py.resample(mono48, 48000, 16000)
    rows: list[dict[str, Any]] = []

    def add(task: str, body: str, fn: Callable[[], object], reps: int = repeat) -> None:
        rows.append({"task": task, "body": body, "seconds": _median_s(fn, reps)})

    for ks in sets:
        body = ks.binding or "numpy"
        reps = 2 if ks.name == "python" else repeat
        add("convert i16->f32 (stereo 48k)", body, _bind(ks.convert, stereo, "f32"))
        add("resample 48k->16k high (mono)", body, _bind(ks.resample, mono48, 48000, 16000), reps)
        add("VAD 30 ms frames (16k)", body, _bind(_vad_pass, ks, mono16), reps)
    try:
        import soxr

        add("resample 48k->16k high (mono)", "soxr HQ", lambda: soxr.resample(mono48, 48000, 16000, "HQ"))
    except ImportError:
        pass
    webrtc = _webrtc_frames(mono16)
    if webrtc is not None:
        add("VAD 30 ms frames (16k)", "webrtcvad", webrtc)
    manifest = presets.load("speech-16k")
    pipeline = Pipeline.from_manifest(manifest)
    native = [ks for ks in sets if ks.name == "rust"]
    if native:
        add("speech-16k pipeline", f"auto ({native[0].binding})", lambda: pipeline.run_sync((stereo, 48000)))
    add("speech-16k pipeline", "numpy", lambda: pipeline.run_sync((stereo, 48000), use_rust=False), 1)
    for row in rows:
        row["audio_s"] = seconds
        row["x_real_time"] = seconds / row["seconds"]
    return rows


def report(rows: list[dict[str, Any]]) -> str:
    """A table: per task, each body's time, speed and ratio to numpy."""
    lines = [f"{'task':<32} {'body':<16} {'ms':>9} {'x real time':>12} {'vs numpy':>9}", "-" * 82]
    for task in dict.fromkeys(r["task"] for r in rows):
        group = [r for r in rows if r["task"] == task]
        base = next((r["seconds"] for r in group if r["body"] == "numpy"), None)
        for r in group:
            ratio = f"{base / r['seconds']:.1f}x" if base else "-"
            lines.append(f"{task:<32} {r['body']:<16} {r['seconds'] * 1e3:9.2f} {r['x_real_time']:12.0f} {ratio:>9}")
    return "\n".join(lines)
