"""A labelled, deterministic corpus for voice activity detection.

Speech is synthesised with espeak-ng (several voices and speeds) and laid
out with silences of varied length; labels come from the clean speech
(frame energy against the track's active level, short closures filled).
Noise is added at a stated SNR: white, pink, a babble of other synthetic
talkers, and real kitchen noise. Real read speech (CMU ARCTIC) is mixed
with the same noises. Everything is seeded: the same call gives the same
samples on every machine that has the same espeak-ng.

Synthesised utterances are cached under ``$REMOTEMEDIA_VAD_CACHE`` (default:
``<tmp>/remotemedia-vad-corpus``), never in the repository. The real
recordings are read from ``../shared/data/real-speech`` next to the clone
(override with ``$REMOTEMEDIA_SHARED_DIR``); see that directory's README
for their origin and licences.

Used by tests/test_vad_quality.py and benchmarks/vad.py.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SR = 16000
SNRS = (20, 10, 5, 0)
NOISES = ("white", "pink", "babble", "kitchen")

REPO_ROOT = Path(__file__).resolve().parents[1]

SENTENCES = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It is easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
)
BABBLE_SENTENCES = (
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
    "The small pup gnawed a hole in the sock.",
    "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.",
    "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.",
    "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.",
)
VOICES = ("en-us", "en", "en-us+f3", "en-gb-scotland", "en+m3", "en-us+f2")
SPEEDS = (140, 160, 185)


# ---- real recordings ------------------------------------------------------


def shared_data_dir() -> Path:
    """Directory of the real recordings; raise a clear error if it is missing."""
    env = os.environ.get("REMOTEMEDIA_SHARED_DIR")
    base = Path(env) if env else REPO_ROOT.parent / "shared"
    d = base / "data" / "real-speech"
    if not (d / "doing_the_dishes.wav").is_file():
        raise FileNotFoundError(
            f"real speech and noise recordings not found in {d}: the VAD tests need the shared data "
            "directory next to the clone (../shared/data/real-speech, see its README), or set "
            "REMOTEMEDIA_SHARED_DIR to the directory that contains data/real-speech"
        )
    return d


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Read a 16-bit PCM wav (mono, or the first channel) as float64 in [-1, 1)."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM")
        sr = w.getframerate()
        ch = w.getnchannels()
        raw = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return raw.reshape(-1, ch)[:, 0].astype(np.float64) / 32768.0, sr


# ---- synthetic speech -----------------------------------------------------


def cache_dir() -> Path:
    d = Path(os.environ.get("REMOTEMEDIA_VAD_CACHE", Path(tempfile.gettempdir()) / "remotemedia-vad-corpus"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _resample_to_sr(x: np.ndarray, sr: int) -> np.ndarray:
    if sr == SR:
        return x
    from scipy.signal import resample_poly

    g = np.gcd(SR, sr)
    return resample_poly(x, SR // g, sr // g)


def synth(text: str, voice: str, speed: int) -> np.ndarray:
    """One utterance from espeak-ng at 16 kHz, float64, trailing/leading silence trimmed."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError("espeak-ng is not installed: the VAD corpus needs it (apt-get install espeak-ng)")
    key = hashlib.sha1(f"{voice}|{speed}|{text}".encode()).hexdigest()[:16]
    path = cache_dir() / f"{key}.wav"
    if not path.is_file():
        tmp = path.with_suffix(f".{os.getpid()}.tmp.wav")
        subprocess.run([exe, "-w", str(tmp), "-s", str(speed), "-v", voice, text], check=True, capture_output=True)
        os.replace(tmp, path)
    x, sr = read_wav(path)
    nz = np.flatnonzero(np.abs(x) > 1e-3)
    x = x[nz[0] : nz[-1] + 1] if nz.size else x[:0]
    return _resample_to_sr(x, sr)


def frame_labels(
    clean: np.ndarray,
    sr: int,
    frame_ms: int = 30,
    rel_db: float = 40.0,
    fill_ms: int = 120,
    floor_margin_db: float | None = None,
) -> np.ndarray:
    """Speech labels per frame from clean speech.

    A frame is speech when its energy is within ``rel_db`` dB of the track's
    active level (mean energy of the frames above -60 dB of the loudest
    frame) and, when ``floor_margin_db`` is given, more than that many dB
    above the recording's own noise floor (10th percentile of the non-zero
    frame energies: real recordings such as CMU ARCTIC have room noise
    within 40 dB of the speech, which is not speech); non-speech runs of at
    most ``fill_ms`` (stop closures, the gaps espeak-ng leaves inside
    words) are filled.
    """
    n = sr * frame_ms // 1000
    m = len(clean) // n
    e = (clean[: m * n].reshape(m, n) ** 2).mean(axis=1)
    if m == 0 or e.max() <= 0:
        return np.zeros(m, np.uint8)
    active = e[e > e.max() * 1e-6].mean()
    limit = active * 10 ** (-rel_db / 10)
    if floor_margin_db is not None:
        limit = max(limit, float(np.percentile(e[e > 0], 10)) * 10 ** (floor_margin_db / 10))
    lab = e > limit
    fill = fill_ms // frame_ms
    i = 0
    while i < m:
        if not lab[i]:
            j = i
            while j < m and not lab[j]:
                j += 1
            if i > 0 and j < m and j - i <= fill:
                lab[i:j] = True
            i = j
        else:
            i += 1
    return lab.astype(np.uint8)


def speech_track(seed: int, seconds_of_silence: tuple[float, float] = (0.2, 2.5)) -> np.ndarray:
    """Clean speech: the sentences in a seeded order, voices and speeds, varied silences."""
    rng = np.random.default_rng(seed)
    parts = [np.zeros(int(SR * 1.0))]
    for i in rng.permutation(len(SENTENCES)):
        voice = VOICES[rng.integers(len(VOICES))]
        speed = SPEEDS[rng.integers(len(SPEEDS))]
        s = synth(SENTENCES[i], voice, speed)
        parts.append(s * 10 ** (rng.uniform(-6, 0) / 20) / max(np.abs(s).max(), 1e-9) * 0.5)
        parts.append(np.zeros(int(SR * rng.uniform(*seconds_of_silence))))
    return np.concatenate(parts)


def arctic_track(seed: int) -> np.ndarray:
    """Real read speech (CMU ARCTIC, 16 kHz), repeated with varied silences."""
    d = shared_data_dir()
    rng = np.random.default_rng(seed)
    utts = [read_wav(d / f"cmu_arctic_us_aew_a000{i}.wav")[0] for i in (1, 2, 3)]
    parts = [np.zeros(int(SR * 1.0))]
    for _ in range(3):
        for i in rng.permutation(3):
            parts.append(utts[i] * 10 ** (rng.uniform(-6, 0) / 20))
            parts.append(np.zeros(int(SR * rng.uniform(0.8, 3.5))))
    return np.concatenate(parts)


# ---- noise ------------------------------------------------------------------


def white(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n)


def pink(n: int, seed: int) -> np.ndarray:
    """1/f power spectrum (-3 dB per octave) from 20 Hz up, by spectral shaping."""
    spec = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    spec /= np.sqrt(np.maximum(f, 20.0))
    return np.fft.irfft(spec, n)


def babble(n: int, seed: int, talkers: int = 6) -> np.ndarray:
    """Several other synthetic talkers speaking at once, without pauses."""
    rng = np.random.default_rng(seed)
    out = np.zeros(n)
    for t in range(talkers):
        parts: list[np.ndarray] = []
        total = 0
        while total < n + SR:
            s = synth(
                BABBLE_SENTENCES[rng.integers(len(BABBLE_SENTENCES))],
                VOICES[(t + rng.integers(2)) % len(VOICES)],
                SPEEDS[rng.integers(len(SPEEDS))],
            )
            s = s / np.sqrt(np.mean(s**2))
            parts.append(s)
            total += len(s)
        track = np.concatenate(parts)
        off = rng.integers(SR)
        out += track[off : off + n]
    return out


def kitchen(n: int, seed: int) -> np.ndarray:
    """Real kitchen noise (doing_the_dishes.wav), from a seeded offset, looped if needed."""
    x, sr = read_wav(shared_data_dir() / "doing_the_dishes.wav")
    assert sr == SR
    off = np.random.default_rng(seed).integers(len(x))
    reps = -(-(n + off) // len(x))
    return np.tile(x, reps)[off : off + n]


def noise(kind: str, n: int, seed: int) -> np.ndarray:
    return {"white": white, "pink": pink, "babble": babble, "kitchen": kitchen}[kind](n, seed)


# ---- conditions ---------------------------------------------------------------


@dataclass
class Condition:
    """One test signal: a name, noisy samples (float32, 16 kHz) and per-frame labels."""

    name: str
    audio: np.ndarray
    clean: np.ndarray

    def labels(self, frame_ms: int = 30) -> np.ndarray:
        return frame_labels(self.clean, SR, frame_ms, floor_margin_db=label_floor_margin(self.name))


def label_floor_margin(name: str) -> float | None:
    """Real recordings (ARCTIC) are labelled above their own noise floor (+10 dB); synthetic speech has none."""
    return 10.0 if name.startswith("arctic") else None


def mix(clean: np.ndarray, nz: np.ndarray, snr_db: float) -> tuple[np.ndarray, np.ndarray]:
    """Noisy and clean signals: noise added at ``snr_db`` below the active speech level.

    Both are scaled down together if the mix would exceed 0.99 of full scale.
    """
    lab = frame_labels(clean, SR, 30).astype(bool)
    n = SR * 30 // 1000
    frames = clean[: lab.size * n].reshape(-1, n)
    p_speech = np.mean(frames[lab] ** 2)
    p_noise = np.mean(nz**2)
    y = clean + nz * np.sqrt(p_speech / p_noise * 10 ** (-snr_db / 10))
    peak = np.abs(y).max()
    if peak > 0.99:
        y = y * (0.99 / peak)
        clean = clean * (0.99 / peak)
    return y, clean


def conditions(
    source: str = "synth", noises: tuple[str, ...] = NOISES, snrs: tuple[int, ...] = SNRS
) -> list[Condition]:
    """Every (noise, SNR) condition on one speech track, plus the clean track.

    ``source`` is "synth" (espeak-ng speech) or "arctic" (real read speech).
    """
    clean = speech_track(1) if source == "synth" else arctic_track(2)
    out = [Condition(f"{source}/clean", clean.astype(np.float32), clean)]
    for k, kind in enumerate(noises):
        nz = noise(kind, clean.size, 100 + k)
        for snr in snrs:
            y, c = mix(clean, nz, snr)
            out.append(Condition(f"{source}/{kind}/{snr}dB", y.astype(np.float32), c))
    return out


def f1_score(pred: np.ndarray, ref: np.ndarray) -> tuple[float, float, float]:
    """Frame precision, recall and F1 of ``pred`` against ``ref`` (same length)."""
    m = min(pred.size, ref.size)
    p = pred[:m].astype(bool)
    r = ref[:m].astype(bool)
    tp = float(np.sum(p & r))
    prec = tp / max(float(p.sum()), 1.0)
    rec = tp / max(float(r.sum()), 1.0)
    f1 = 2 * prec * rec / max(prec + rec, 1e-12)
    return prec, rec, f1


def pooled_f1(
    items: list[tuple[np.ndarray, np.ndarray]], fn: Callable[[np.ndarray], np.ndarray]
) -> tuple[float, float, float]:
    """Precision, recall and F1 over the frames of all ``(audio, labels)`` items pooled,
    ``fn`` giving an item's flags (each item cut to the shorter of flags and labels)."""
    preds, labs = [], []
    for x, lab in items:
        p = fn(x)
        m = min(p.size, lab.size)
        preds.append(p[:m])
        labs.append(lab[:m])
    return f1_score(np.concatenate(preds), np.concatenate(labs))


def webrtc_flags(x: np.ndarray, mode: int, frame_ms: int = 30, sr: int = SR) -> np.ndarray:
    """Per-frame decisions of webrtcvad (package webrtcvad-wheels) in one mode."""
    import webrtcvad

    v = webrtcvad.Vad(mode)
    n = sr * frame_ms // 1000
    pcm = np.clip(np.rint(x * 32768.0), -32768, 32767).astype("<i2")
    m = len(pcm) // n
    return np.array([v.is_speech(pcm[i * n : (i + 1) * n].tobytes(), sr) for i in range(m)], np.uint8)


# ---- real meetings (AMI excerpts with RTTM turns) -----------------------------


def ami_dir() -> Path:
    """Directory of the AMI excerpts; raise a clear error if it is missing."""
    d = shared_data_dir().parent / "ami-meetings"
    if not (d / "train.rttm").is_file():
        raise FileNotFoundError(f"AMI meeting excerpts not found in {d} (see ../shared/data/ami-meetings/README.md)")
    return d


@dataclass
class Meeting:
    """One AMI excerpt: samples (float32, 16 kHz) and its speech turns (seconds)."""

    name: str
    audio: np.ndarray
    turns: list[tuple[float, float]]

    def labels(self, frame_ms: int = 30) -> np.ndarray:
        """A frame is speech when more than half of it lies inside a turn."""
        n = SR * frame_ms // 1000
        cover = np.zeros(self.audio.size, np.int8)
        for a, b in self.turns:
            cover[round(a * SR) : round(b * SR)] = 1
        m = self.audio.size // n
        return (cover[: m * n].reshape(m, n).sum(axis=1) * 2 > n).astype(np.uint8)


AMI_TUNE = tuple(f"trn0{i}" for i in range(5))  # may be used for training
AMI_HELD_OUT = tuple(f"trn0{i}" for i in range(5, 10))  # never used for training


def meetings(names: tuple[str, ...] = AMI_TUNE + AMI_HELD_OUT) -> list[Meeting]:
    """The AMI excerpts named (all ten by default), with the union of their speaker turns."""
    import soundfile

    d = ami_dir()
    turns: dict[str, list[tuple[float, float]]] = {}
    for line in (d / "train.rttm").read_text().splitlines():
        f = line.split()
        if len(f) >= 5 and f[0] == "SPEAKER":
            start, dur = float(f[3]), float(f[4])
            turns.setdefault(f[1], []).append((start, start + dur))
    out = []
    for name in names:
        x, sr = soundfile.read(str(d / f"{name}.flac"), dtype="float32")
        assert sr == SR, (name, sr)
        if x.ndim == 2:
            x = x[:, 0].copy()
        out.append(Meeting(name, x, turns.get(name, [])))
    return out


def skip_unless_available(ami: bool = False) -> None:
    """In a test: skip, with the reason, when espeak-ng or ../shared/data (and the AMI files) are absent."""
    import pytest

    # .ci/run installs espeak-ng and brings the data: there a missing piece is a failure, not a skip
    give_up = pytest.fail if os.environ.get("REMOTEMEDIA_REQUIRE_SHARED", "") not in ("", "0") else pytest.skip
    if shutil.which("espeak-ng") is None:
        give_up("espeak-ng is not installed (apt-get install espeak-ng): the VAD corpus needs it")
    try:
        shared_data_dir()
        if ami:
            ami_dir()
    except FileNotFoundError as exc:
        give_up(f"../shared/data is not available: {exc}")
