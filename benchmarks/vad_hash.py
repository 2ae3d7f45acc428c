"""SHA-256 of VAD flags and scores: the bit-identity check of a VAD speed-up.

Real recordings from ../shared/data plus a synthetic signal (digital
silence, clipping, DC offset), each at 8, 16, 32, 44.1 and 48 kHz (linear
interpolation), 10/20/30 ms frames, aggressiveness 0 and 2, int16,
float32 (with a NaN and an out-of-range sample), int32 and float64 input,
plus chunked streams of random sizes that switch format between chunks.
Run it before and after a change; the digests must be equal (and equal
across bodies). Inputs are built deterministically here.

The recordings come from $REMOTEMEDIA_SHARED_DIR/data (default: ../shared
next to the repository; set it when running from a worktree).

    python benchmarks/vad_hash.py cython ctypes          # full set
    python benchmarks/vad_hash.py python cython --subset # small, numpy too
"""

import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from remotemedia import kernels
from remotemedia.kernels.vad import VAD

D = os.environ.get("REMOTEMEDIA_SHARED_DIR", str(Path(__file__).resolve().parents[2] / "shared")) + "/data/"
RATES = (8000, 16000, 32000, 44100, 48000)


def sources():
    out = []
    for f in [
        "real-speech/cmu_arctic_us_aew_a0001.wav",
        "real-speech/cmu_arctic_us_aew_a0002.wav",
        "real-speech/doing_the_dishes.wav",
        "ami-meetings/trn00.flac",
        "ami-meetings/trn03.flac",
        "ami-meetings/trn07.flac",
        "py-webrtcvad/leak-test.wav",
    ]:
        x, sr = sf.read(D + f, dtype="float64", always_2d=False)
        if x.ndim > 1:
            x = x.mean(axis=1)
        out.append((x, sr))
    rng = np.random.default_rng(7)
    n = 16000 * 12
    t = np.arange(n) / 16000
    syn = 0.3 * np.sin(2 * np.pi * 440 * t) * (np.sin(2 * np.pi * 0.7 * t) > 0)
    syn += rng.normal(0, 0.02, n) * (1 + 10 * (np.sin(2 * np.pi * 0.3 * t) > 0.5))
    syn[3 * 16000 : 4 * 16000] = 0.0  # digital silence
    syn[6 * 16000 : 6 * 16000 + 4000] = 0.999  # DC / clip
    syn[8 * 16000 : 9 * 16000] = rng.normal(0, 0.9, 16000)  # loud, clips
    syn[10 * 16000 : 11 * 16000] += 0.25  # DC offset
    out.append((syn, 16000))
    return out


def at_rate(x, sr, rate):
    if sr == rate:
        return x.copy()
    n = int(len(x) * rate / sr)
    return np.interp(np.arange(n) * (sr / rate), np.arange(len(x)), x)


def as_dtype(x, dt):
    if dt == "int16":
        return np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16)
    if dt == "int32":
        return np.clip(np.round(x * 2**31), -(2**31), 2**31 - 1).astype(np.int32)
    return x.astype(dt)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    subset = "--subset" in sys.argv
    srcs = sources()
    if subset:
        srcs = [(x[: sr * 4], sr) for x, sr in srcs[:2]] + [(srcs[-1][0][: 16000 * 12], 16000)]
    for body in args:
        ks = kernels.get("python") if body == "python" else kernels.get("rust", binding=body)
        h = hashlib.sha256()
        frames = 0
        rng = np.random.default_rng(11)
        for rate in RATES:
            sig = [at_rate(x, sr, rate) for x, sr in srcs]
            for ms in (10, 20, 30):
                for ag in (0, 2) if not subset else (2,):
                    for dt in ("int16", "float32", "int32", "float64") if not subset else ("int16", "float32"):
                        for x in sig:
                            xs = as_dtype(x, dt)
                            if dt == "float32" and not subset:
                                xs = xs.copy()
                                xs[len(xs) // 3] = np.nan
                                xs[len(xs) // 2] = 4.0
                            v = VAD(rate, ms, ag, kernel_set=ks)
                            f, s = v.process_scores(xs)
                            h.update(f.tobytes())
                            h.update(s.tobytes())
                            frames += len(f)
                    # chunked streams, random chunk sizes, dtype switching between chunks
                    for x in sig[:4] if not subset else sig[:2]:
                        v = VAD(rate, ms, 1, kernel_set=ks)
                        pos = 0
                        while pos < len(x):
                            c = int(rng.integers(1, 3 * rate // 100))
                            dt = ("int16", "float32", "int16", "float64", "int32")[int(rng.integers(0, 5))]
                            f, s = v.process_scores(as_dtype(x[pos : pos + c], dt))
                            h.update(f.tobytes())
                            h.update(s.tobytes())
                            frames += len(f)
                            pos += c
        print(body, frames, h.hexdigest(), flush=True)


if __name__ == "__main__":
    main()
