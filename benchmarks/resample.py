"""Resampler benchmark: remotemedia (native and numpy) against soxr,
libsamplerate (python-samplerate) and scipy.signal.resample_poly.

    python benchmarks/resample.py            # 60 s of audio, 5 runs each
    python benchmarks/resample.py --quick    # 5 s of audio, 3 runs each
    python benchmarks/resample.py --presets --seconds 10   # presets vs soxr only
    python benchmarks/resample.py --ratios 15 --seconds 10 # per-round ratios, interpolated pairs

Prints, per conversion and layout, the median over repeated runs in ms per
second of audio, times real time, and the ratio to soxr "HQ" measured in
the same run; then a two-thread run (GIL released), the streaming cost per
10 ms / 20 ms chunk, and the cost of creating a Resampler. Contenders run
in interleaved rounds so that load changes hit them alike; still, run it on
an otherwise idle machine. BLAS is limited to one thread (as every other
contender runs on one core) unless OPENBLAS_NUM_THREADS etc. are set.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from remotemedia import kernels  # noqa: E402
from remotemedia.kernels.resample import uses_interp  # noqa: E402
from remotemedia.runtime import BINDINGS, load_binding  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from resample_metrics import AWKWARD, PRESET_PAIRS  # noqa: E402

try:
    import soxr
except ImportError:  # pragma: no cover - soxr is in the test extra
    soxr = None
try:
    import samplerate
except ImportError:  # pragma: no cover
    samplerate = None
try:
    from scipy.signal import resample_poly
except ImportError:  # pragma: no cover
    resample_poly = None

CONVERSIONS = [(48_000, 16_000), (44_100, 16_000), (16_000, 48_000), (8_000, 16_000), (22_050, 16_000)]
QUALITIES = ["low", "medium", "high", "very_high"]


def native_sets() -> list[kernels.KernelSet]:
    out = []
    for b in BINDINGS:
        if load_binding(b)[0] is not None:
            out.append(kernels.get("rust", binding=b))
    return out


def contenders(i: int, o: int, planar: np.ndarray, interleaved: np.ndarray) -> list[tuple[str, Callable[[], object]]]:
    """(label, zero-argument call) for every resampler, each fed its own layout."""
    runs: list[tuple[str, Callable[[], object]]] = []
    native = native_sets()
    if native:
        ks = native[0]
        for q in QUALITIES:
            runs.append((f"remotemedia {ks.binding} {q}", lambda q=q, ks=ks: ks.resample(planar, i, o, q)))
    py = kernels.get("python")
    for q in QUALITIES:
        runs.append((f"remotemedia numpy {q}", lambda q=q: py.resample(planar, i, o, q)))
    if soxr is not None:
        for q in ("LQ", "MQ", "HQ", "VHQ"):
            runs.append((f"soxr {q}", lambda q=q: soxr.resample(interleaved, i, o, quality=q)))
    if samplerate is not None:
        for c in ("sinc_fastest", "sinc_medium", "sinc_best"):
            runs.append((f"samplerate {c}", lambda c=c: samplerate.resample(interleaved, o / i, c)))
    if resample_poly is not None:
        g = math.gcd(i, o)
        runs.append(("scipy resample_poly", lambda: resample_poly(planar, o // g, i // g, axis=-1)))
    return runs


def interleaved(runs: list[tuple[str, Callable[[], object]]], reps: int, budget_s: float) -> dict[str, float]:
    """Median wall time per contender, measured in rounds (every contender once
    per round) so that a change of machine load hits all of them alike. A
    contender stops once it has used ``budget_s`` (it always runs once)."""
    times: dict[str, list[float]] = {label: [] for label, _ in runs}
    for fn in (fn for _, fn in runs):
        fn()  # warm-up: caches, first-use filter design, page faults
    for _ in range(reps):
        for label, fn in runs:
            if times[label] and sum(times[label]) > budget_s:
                continue
            t0 = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - t0)
    return {label: statistics.median(ts) for label, ts in times.items()}


def one_shot_tables(seconds: float, reps: int, budget: float) -> None:
    rng = np.random.default_rng(0)
    for channels in (1, 2):
        for i, o in CONVERSIONS:
            n = int(seconds * i)
            planar = rng.uniform(-0.5, 0.5, (channels, n)).astype(np.float32)
            if channels == 1:
                planar = planar[0]
            interleaved_x = np.ascontiguousarray(planar.T)
            runs = contenders(i, o, planar, interleaved_x)
            med = interleaved(runs, reps, budget)
            rows = [(label, med[label] / seconds * 1e3) for label, _ in runs]
            hq = dict(rows).get("soxr HQ", float("nan"))
            layout = "mono" if channels == 1 else "stereo"
            print(f"\n{i} -> {o} Hz, {layout}, {seconds:g} s of audio (median of up to {reps} interleaved runs)")
            print(f"  {'resampler':34s} {'ms per s':>10s} {'x real time':>12s} {'vs soxr HQ':>11s}")
            for label, ms in rows:
                print(f"  {label:34s} {ms:10.3f} {1e3 / ms:12.0f} {ms / hq:11.2f}")


def native_against_soxr(table: str) -> kernels.KernelSet | None:
    """The first native kernel set, or None (and a line saying so) without it or soxr."""
    native = native_sets()
    if not native or soxr is None:
        print(f"\n{table}: needs the native core and soxr")
        return None
    return native[0]


def noise_inputs(conversions: list[tuple[int, int]], seconds: float) -> Iterator[tuple[int, int, np.ndarray]]:
    """(in rate, out rate, ``seconds`` of mono uniform noise at the in rate), the same noise every run."""
    rng = np.random.default_rng(1)
    for i, o in conversions:
        yield i, o, rng.uniform(-0.5, 0.5, int(seconds * i)).astype(np.float32)


def preset_table(conversions: list[tuple[int, int]], seconds: float, reps: int, budget: float) -> None:
    """Each preset against its soxr counterpart, mono, interleaved rounds per conversion."""
    ks = native_against_soxr("preset table")
    if ks is None:
        return
    print(f"\nPresets against soxr, mono, {seconds:g} s of audio, ms per s of audio (median of up to {reps} rounds)")
    print(f"  {'conversion':18s} {'kernel':7s}" + "".join(f" {q + ' / ' + sq:>26s}" for q, sq in PRESET_PAIRS))
    for i, o, x in noise_inputs(conversions, seconds):
        runs: list[tuple[str, Callable[[], object]]] = []
        for q, sq in PRESET_PAIRS:
            runs.append((q, lambda q=q: ks.resample(x, i, o, q)))
            runs.append((sq, lambda sq=sq: soxr.resample(x, i, o, quality=sq)))
        med = interleaved(runs, reps, budget)
        kernel = "interp" if uses_interp(i, o, "high") else "exact"
        cells = "".join(
            f" {med[q] / seconds * 1e3:7.3f} / {med[sq] / seconds * 1e3:7.3f} ({med[q] / med[sq]:4.2f})"
            for q, sq in PRESET_PAIRS
        )
        print(f"  {f'{i} -> {o}':18s} {kernel:7s}{cells}")


# The conversions that run on interpolated phases (8000 -> 47999 ends with an
# exact stage up by 2, 11025 -> 96001 with one up by 4).
INTERP_PAIRS = [(48_000, 48_001), (44_100, 44_056), (100_000, 78_901), (11_025, 96_001), (8_000, 47_999)]


def ratio_table(conversions: list[tuple[int, int]], seconds: float, rounds: int) -> None:
    """Each preset against its soxr counterpart as the median of per-round ratios.

    Every round times ours and soxr's back to back (the order alternating
    between rounds), so a change of machine load between rounds cancels in
    that round's ratio; printed: the median ratio and its quartiles.
    """
    ks = native_against_soxr("ratio table")
    if ks is None:
        return
    print(f"\nPresets against soxr, mono, {seconds:g} s of audio: ours / soxr per round, median (quartiles)")
    print(f"  {'conversion':18s}" + "".join(f" {q + ' / ' + sq:>20s}" for q, sq in PRESET_PAIRS))
    for i, o, x in noise_inputs(conversions, seconds):
        cells = ""
        for q, sq in PRESET_PAIRS:

            def ours(q: str = q) -> object:
                return ks.resample(x, i, o, q)

            def theirs(sq: str = sq) -> object:
                return soxr.resample(x, i, o, quality=sq)

            ours()
            theirs()
            ratios = []
            for r in range(rounds):
                took = {}
                for fn in (ours, theirs) if r % 2 == 0 else (theirs, ours):
                    t0 = time.perf_counter()
                    fn()
                    took[fn] = time.perf_counter() - t0
                ratios.append(took[ours] / took[theirs])
            q1, med, q3 = statistics.quantiles(ratios, n=4)
            cells += f" {med:8.2f} ({q1:4.2f}-{q3:4.2f})"
        print(f"  {f'{i} -> {o}':18s}{cells}")


def thread_table(seconds: float, reps: int, budget: float) -> None:
    native = native_sets()
    if not native:
        return
    ks = native[0]
    rng = np.random.default_rng(1)
    xs = [rng.uniform(-0.5, 0.5, int(seconds * 48_000)).astype(np.float32) for _ in range(2)]

    def sequential(fn: Callable[[np.ndarray], object]) -> Callable[[], None]:
        def run() -> None:
            for x in xs:
                fn(x)

        return run

    def parallel(fn: Callable[[np.ndarray], object]) -> Callable[[], None]:
        def run() -> None:
            ts = [threading.Thread(target=fn, args=(x,)) for x in xs]
            for t in ts:
                t.start()
            for t in ts:
                t.join()

        return run

    print(f"\nTwo streams of {seconds:g} s, 48000 -> 16000 Hz mono: sequential vs two threads")
    print(f"  {'resampler':34s} {'sequential ms':>14s} {'2 threads ms':>13s} {'speed-up':>9s}")
    cases: list[tuple[str, Callable[[np.ndarray], object]]] = [
        (f"remotemedia {ks.binding} high", lambda x: ks.resample(x, 48_000, 16_000, "high")),
    ]
    if soxr is not None:
        cases.append(("soxr HQ", lambda x: soxr.resample(x, 48_000, 16_000, quality="HQ")))
    runs = []
    for label, fn in cases:
        runs += [(f"{label} seq", sequential(fn)), (f"{label} par", parallel(fn))]
    med = interleaved(runs, reps, budget)
    for label, _ in cases:
        s, p = med[f"{label} seq"] * 1e3, med[f"{label} par"] * 1e3
        print(f"  {label:34s} {s:14.1f} {p:13.1f} {s / p:9.2f}")


def gil_table(seconds: float) -> None:
    """Longest pause of a pure-Python thread while another thread resamples.

    With the GIL held for the whole native call, the Python thread would
    stop for about the length of the call; with it released, only the OS
    scheduler pauses it. This holds even when no second core is free.
    """
    native = native_sets()
    if not native:
        return
    x = np.random.default_rng(3).uniform(-0.5, 0.5, int(seconds * 48_000)).astype(np.float32)
    print(f"\nGIL check: a Python thread spins while another resamples {seconds:g} s (48000 -> 16000 Hz, high)")
    print(f"  {'binding':34s} {'call ms':>9s} {'longest Python pause ms':>24s}")
    for ks in native:
        ks.resample(x, 48_000, 16_000)
        done = threading.Event()
        gaps: list[float] = []

        def spin(done: threading.Event = done, gaps: list[float] = gaps) -> None:
            last = time.perf_counter()
            while not done.is_set():
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        t = threading.Thread(target=spin)
        t.start()
        time.sleep(0.01)
        t0 = time.perf_counter()
        ks.resample(x, 48_000, 16_000)
        call = time.perf_counter() - t0
        done.set()
        t.join()
        print(f"  {ks.binding:34s} {call * 1e3:9.1f} {max(gaps) * 1e3:24.2f}")


def stream_table(seconds: float) -> None:
    rng = np.random.default_rng(2)
    print(f"\nStreaming, {seconds:g} s through a Resampler in fixed chunks: cost per chunk (median µs)")
    print(f"  {'conversion':16s} {'chunk':>6s} {'resampler':34s} {'µs/chunk':>9s} {'vs soxr stream':>15s}")
    for i, o in ((48_000, 16_000), (44_100, 16_000), (16_000, 48_000)):
        for ms in (10, 20):
            size = i * ms // 1000
            chunks = [c for c in rng.uniform(-0.5, 0.5, (int(seconds * 1000 / ms), size)).astype(np.float32)]
            rows = []
            if soxr is not None:
                st = soxr.ResampleStream(i, o, 1, dtype="float32", quality="HQ")
                rows.append(("soxr ResampleStream HQ", per_chunk(st.resample_chunk, chunks)))
            for ks in [*native_sets(), kernels.get("python")]:
                r = ks.Resampler(i, o, 1, "high")
                label = f"remotemedia {ks.binding or 'numpy'} high"
                rows.append((label, per_chunk(r.process, chunks)))
            ref = rows[0][1] if soxr is not None else float("nan")
            for label, us in rows:
                print(f"  {f'{i}->{o}':16s} {f'{ms} ms':>6s} {label:34s} {us:9.1f} {us / ref:15.2f}")


def per_chunk(fn: Callable[[np.ndarray], object], chunks: list[np.ndarray]) -> float:
    times = []
    for c in chunks:
        t0 = time.perf_counter()
        fn(c)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def construction_table() -> None:
    print("\nCreating a Resampler (filter cached after the first use of a ratio), median µs")
    for ks in [*native_sets(), kernels.get("python")]:
        label = f"remotemedia {ks.binding or 'numpy'}"
        ks.Resampler(48_000, 16_000)
        times = []
        for _ in range(200):
            t0 = time.perf_counter()
            ks.Resampler(48_000, 16_000)
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ks.Resampler(44_100, 47_999, quality="medium")  # a ratio seen for the first time
        first = (time.perf_counter() - t0) * 1e3
        print(
            f"  {label:34s} cached 48000->16000: {statistics.median(times) * 1e6:8.1f} µs;"
            f"  first 44100->47999: {first:8.1f} ms"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="5 s of audio and 3 runs (a smoke run)")
    ap.add_argument("--seconds", type=float, default=None, help="seconds of audio per run (default 60)")
    ap.add_argument("--reps", type=int, default=None, help="runs per contender (default 5)")
    ap.add_argument("--budget", type=float, default=None, help="max seconds spent per contender (default 20)")
    ap.add_argument(
        "--presets", action="store_true", help="only the preset-against-soxr table (common and awkward pairs)"
    )
    ap.add_argument(
        "--ratios",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="only the per-round ours/soxr ratios on the interpolated-phase pairs, over ROUNDS rounds",
    )
    args = ap.parse_args()
    seconds = args.seconds or (5.0 if args.quick else 60.0)
    reps = args.reps or (3 if args.quick else 5)
    budget = args.budget or (3.0 if args.quick else 20.0)
    native = native_sets()
    print(
        f"remotemedia native bindings: {[k.binding for k in native] or 'none'}; "
        f"soxr {getattr(soxr, '__version__', 'missing')}; samplerate {getattr(samplerate, '__version__', 'missing')}"
    )
    if args.ratios:
        ratio_table(INTERP_PAIRS, min(seconds, 10.0), args.ratios)
        return
    if args.presets:
        preset_table(CONVERSIONS + AWKWARD, min(seconds, 10.0), reps, budget)
        return
    one_shot_tables(seconds, reps, budget)
    preset_table(CONVERSIONS + AWKWARD, min(seconds, 10.0), reps, budget)
    thread_table(seconds, reps, budget)
    gil_table(seconds)
    stream_table(min(seconds, 10.0))
    construction_table()


if __name__ == "__main__":
    main()
