"""FLAC decode: the native decoder (rm_flac_decode) vs soundfile's ``read(dtype="int16")``.

Run:  python benchmarks/decode.py [--files 200] [--repeat 7]

Decodes the FLAC files of the batch benchmark's collection
(benchmarks/batch.py, the same seed: 16-bit, mono and stereo, 8 to 48 kHz,
1 to 20 s) in one process, each way in turn, and prints the medians over
the rounds of the whole set's thread CPU time, ns per sample and the
ratio (soundfile / native, computed within each round). The native side
includes reading the file's bytes and returns the planar blocks the batch
job pushes (one block per 10 s); soundfile's returns frames-first arrays
(the batch reader then transposes multi-channel ones). Every file's
samples are checked equal first.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch import make_collection

from remotemedia import kernels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=200, help="files in the batch collection (half are FLAC)")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    ks = kernels.get()
    if not ks.decodes_flac:
        sys.exit("the native core is not loaded here: nothing to compare")
    with tempfile.TemporaryDirectory() as tmp:
        make_collection(Path(tmp), args.files)
        files = sorted(Path(tmp).rglob("*.flac"))
        infos = [sf.info(str(p)) for p in files]
        samples = sum(i.frames * i.channels for i in infos)

        def native() -> None:
            for p, i in zip(files, infos, strict=True):
                ks.decode_flac(p.read_bytes(), i.channels, i.frames, 10 * i.samplerate)

        def libsndfile() -> None:
            for p in files:
                sf.read(str(p), dtype="int16")

        for p, i in zip(files, infos, strict=True):
            ref = sf.read(str(p), dtype="int16", always_2d=True)[0].T
            got = np.concatenate(
                [
                    b.reshape(i.channels, -1)
                    for b in ks.decode_flac(p.read_bytes(), i.channels, i.frames, 10 * i.samplerate)
                ],
                axis=1,
            )
            assert np.array_equal(ref, got), p
        times: dict[str, list[float]] = {"native": [], "soundfile": []}
        ratios = []
        for r in range(args.repeat):
            order = [("native", native), ("soundfile", libsndfile)]
            for name, fn in order if r % 2 == 0 else order[::-1]:
                start = time.thread_time()
                fn()
                times[name].append(time.thread_time() - start)
            ratios.append(times["soundfile"][-1] / times["native"][-1])
    print(f"{len(files)} FLAC files, {samples / 1e6:.1f} M samples, {args.repeat} rounds ({ks.binding} binding)")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:<10} {med:7.3f} s cpu   {med / samples * 1e9:5.2f} ns/sample")
    print(f"  soundfile / native: {statistics.median(ratios):.2f}x (median of per-round ratios)")


if __name__ == "__main__":
    main()
