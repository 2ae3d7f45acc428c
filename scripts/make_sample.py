"""Regenerate src/remotemedia/data/sample.ogg, the embedded default input.

Speech synthesised with espeak-ng (a few sentences with pauses of varied
length, two voices), mixed with quiet pink-ish noise so the VAD has real
work, written as 22.05 kHz Ogg Vorbis (small: about 150 KB for 20 s). Deterministic for a given espeak-ng.

Run: python scripts/make_sample.py
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

OUT = Path(__file__).resolve().parents[1] / "src" / "remotemedia" / "data" / "sample.ogg"
RATE = 22050
PARTS = [
    ("en-us", 0.6, "Remote media turns raw recordings into clean speech for your models."),
    ("en", 1.2, "It converts the format, resamples to sixteen kilohertz, and finds the speech."),
    ("en-us", 0.35, "Silence is trimmed."),
    ("en", 1.8, "Every file is accounted for, even the broken ones."),
]


def speak(voice: str, text: str, tmp: Path) -> np.ndarray:
    wav = tmp / "part.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(wav), text], check=True)
    audio, rate = sf.read(wav, dtype="float32")
    assert rate == RATE, rate
    return audio


def main() -> None:
    rng = np.random.default_rng(7)
    pieces = [np.zeros(int(0.5 * RATE), np.float32)]
    with tempfile.TemporaryDirectory() as tmp:
        for voice, pause_s, text in PARTS:
            pieces.append(speak(voice, text, Path(tmp)))
            pieces.append(np.zeros(int(pause_s * RATE), np.float32))
    speech = np.concatenate(pieces)
    noise = np.cumsum(rng.standard_normal(speech.size)).astype(np.float32)
    noise -= np.convolve(noise, np.ones(64) / 64, mode="same").astype(np.float32)  # drop the random-walk drift
    noise *= 0.002 / np.sqrt(np.mean(noise**2))
    mix = np.clip(0.8 * speech / np.max(np.abs(speech)) + noise, -1, 1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    sf.write(OUT, mix, RATE, format="OGG", subtype="VORBIS")
    print(f"{OUT}: {mix.size / RATE:.1f} s, {OUT.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
