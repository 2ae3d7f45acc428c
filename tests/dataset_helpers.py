"""A small generated collection for the dataset-output tests.

Speech is espeak-ng's (tests/vad_corpus.py, cached) when it is installed,
else harmonic bursts (tests/batch_helpers.py); the layout is what matters:

- ``talk/pauses.wav``: 16 kHz mono, utterances separated by 1.2-2 s of silence;
- ``talk/pauses_stereo.flac``: 44.1 kHz stereo, the same kind of layout;
- ``long/continuous.wav``: 90 s at 48 kHz mono, utterances separated by
  0.2-0.3 s pauses (shorter than the VAD's 300 ms minimum silence: one long
  segment that ``--max-segment-s 30`` must cut inside those pauses);
- ``phone/call.wav``: 8 kHz mono;
- ``phone/memo.m4a``: AAC in MP4 written with PyAV (only when PyAV is installed).

Every silence is digital zero, so "inside a pause" can be checked on the
source audio itself. ``PAUSES`` maps each file to its pauses (source seconds).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

import batch_helpers
import vad_corpus

SR = 16000


def utterances(count: int, seed: int) -> list[np.ndarray]:
    """``count`` utterances at 16 kHz, float64, peak 0.5."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        if shutil.which("espeak-ng"):
            text = vad_corpus.SENTENCES[(seed + i) % len(vad_corpus.SENTENCES)]
            voice = vad_corpus.VOICES[(seed + i) % len(vad_corpus.VOICES)]
            x = vad_corpus.synth(text, voice, 175)
        else:
            x = batch_helpers.speech_like(rng.uniform(1.5, 2.5), SR, seed * 100 + i)[:, 0].astype(np.float64)
            nz = np.flatnonzero(np.abs(x) > 0.01)
            x = x[nz[0] : nz[-1] + 1]
        out.append(0.5 * x / max(np.abs(x).max(), 1e-9))
    return out


def layout(
    parts: list[np.ndarray], gaps: list[float], lead: float = 0.7
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Utterances with the given silences between them; returns audio and the pauses (s)."""
    pieces = [np.zeros(int(lead * SR))]
    pos = pieces[0].size
    pauses = []
    for i, p in enumerate(parts):
        pieces.append(p)
        pos += p.size
        gap = gaps[i] if i < len(gaps) else 0.8
        pauses.append((pos / SR, (pos + int(gap * SR)) / SR))
        pieces.append(np.zeros(int(gap * SR)))
        pos += int(gap * SR)
    return np.concatenate(pieces), pauses[:-1]


def _resample(x: np.ndarray, rate: int) -> np.ndarray:
    from scipy.signal import resample_poly

    g = np.gcd(SR, rate)
    return resample_poly(x, rate // g, SR // g)


def write_m4a(path: Path, x: np.ndarray, rate: int) -> None:
    """AAC in an MP4 container (stereo), with PyAV."""
    import av

    data = np.ascontiguousarray(np.stack([x, x]).astype(np.float32))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=rate, layout="stereo")
        pts = 0
        for i in range(0, data.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(data[:, i : i + 1024]), format="fltp", layout="stereo"
            )
            frame.sample_rate, frame.pts = rate, pts
            pts += frame.samples
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def have_av() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def make_dataset_collection(root: Path) -> dict[str, list[tuple[float, float]]]:
    """Write the collection below ``root``; returns each file's pauses (source seconds)."""
    rng = np.random.default_rng(5)
    pauses: dict[str, list[tuple[float, float]]] = {}

    def write(rel: str, x: np.ndarray, rate: int, channels: int = 1, subtype: str = "PCM_16") -> None:
        y = _resample(x, rate) if rate != SR else x
        data = np.repeat(y[:, None], channels, axis=1) if channels > 1 else y
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / rel, data.astype(np.float32), rate, subtype=subtype)

    x, p = layout(utterances(4, 1), list(rng.uniform(1.2, 2.0, 3)))
    write("talk/pauses.wav", x, 16000)
    pauses["talk/pauses.wav"] = p
    x, p = layout(utterances(3, 2), list(rng.uniform(1.2, 2.0, 2)))
    write("talk/pauses_stereo.flac", x, 44100, channels=2)
    pauses["talk/pauses_stereo.flac"] = p
    parts: list[np.ndarray] = []
    total = 0.0
    seed = 10
    while total < 89.0:  # continuous speech, short pauses, 90 s
        for u in utterances(1, seed):
            parts.append(u)
            total += u.size / SR + 0.25
        seed += 1
    gaps = list(rng.uniform(0.2, 0.3, len(parts)))
    x, p = layout(parts, gaps, lead=0.3)
    x = np.concatenate([x, np.zeros(max(0, 90 * SR - x.size))])[: 90 * SR]
    write("long/continuous.wav", x, 48000)
    pauses["long/continuous.wav"] = [q for q in p if q[1] <= 90.0]
    x, p = layout(utterances(2, 3), [1.5])
    write("phone/call.wav", x, 8000)
    pauses["phone/call.wav"] = p
    if have_av():
        x, p = layout(utterances(2, 4), [1.4])
        write_m4a(root / "phone" / "memo.m4a", _resample(x, 44100), 44100)
        pauses["phone/memo.m4a"] = p
    return pauses
