"""Channels on threads: where a native chain's block is big enough to pay for them.

A 48 kHz stereo int16 block through convert -> resample 16 kHz -> VAD
(the pipeline of benchmarks/pipeline.py) as one native chain, the
whole-buffer ``run`` and a stream's ``process`` of the block, with the
chain's thread setting at 1 (the calling thread only) and 2 (one thread
per channel), alternating; median wall time per call over ``--repeat``
calls and the 1-thread / 2-thread ratio per block size. A ratio above 1
means the threads paid; the chain starts them from 32768 frames
(``PARALLEL_MIN`` in rust/remotemedia-runtime/src/chain/mod.rs).
Needs the native core and two usable cores to mean anything.

    python benchmarks/threads.py
    python benchmarks/threads.py --repeat 200 --sizes 4096,8192,16384,32768
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from remotemedia import kernels
from remotemedia.kernels.chain import ConvertStage, Layout, ResampleStage, VadStage

STAGES = (ConvertStage("f32"), ResampleStage(16000), VadStage())
LAYOUT = Layout(np.dtype(np.int16), 2, 48000, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=60, help="calls per size and setting (default 60)")
    ap.add_argument("--sizes", default="4096,8192,16384,24576,32768,65536,131072", help="block sizes in frames")
    args = ap.parse_args()
    ks = kernels.get()
    if ks.name != "rust":
        raise SystemExit("needs the native core (kernels.get() is the numpy set)")
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    print(f"native core ({ks.binding}), {cores} usable cores; median of {args.repeat} calls, wall time")
    rng = np.random.default_rng(0)
    print(f"{'frames':>8} {'call':>8} {'1 thread (us)':>14} {'2 threads (us)':>15} {'1/2 ratio':>10}")
    for n in (int(s) for s in args.sizes.split(",")):
        x = (rng.standard_normal((2, n)) * 3000).astype(np.int16)
        for call in ("run", "process"):
            chains = {t: ks.Chain(STAGES, LAYOUT) for t in (1, 2)}
            for t, c in chains.items():
                c.set_threads(t)
            times: dict[int, list[float]] = {1: [], 2: []}
            for i in range(args.repeat + 3):
                for t in (1, 2) if i % 2 else (2, 1):
                    c = chains[t]
                    t0 = time.perf_counter()
                    if call == "run":
                        c.run(x)
                    else:
                        c.process(x)
                        if i % 8 == 7:
                            c.flush()  # a stream of a few blocks, then a new one
                    if i >= 3:
                        times[t].append(time.perf_counter() - t0)
            one, two = (statistics.median(times[t]) * 1e6 for t in (1, 2))
            print(f"{n:>8} {call:>8} {one:14.0f} {two:15.0f} {one / two:10.2f}")


if __name__ == "__main__":
    main()
