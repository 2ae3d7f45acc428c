"""Measured quality of every resampler preset, next to soxr's presets.

    python benchmarks/resample_quality.py          # all figures (a few seconds)

Columns: passband ripple (largest gain error of pure tones from 20 Hz to
the preset's passband edge; 0.91 of the lower Nyquist for soxr); stopband
(down: largest output of tones between the output and input Nyquist, i.e.
aliases; up: largest residual beside passband tones, i.e. images); SNR of
a 1 kHz sine; residual of a tone above the output Nyquist; white-noise
passband deviation up to 0.9 of the lower Nyquist (tests/resample_metrics.py);
latency (the largest ``Resampler.delay`` while streaming 1 ms chunks, ms
of input). float32 in and out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from remotemedia import kernels
from remotemedia.kernels.python.resample_design import SPECS
from remotemedia.kernels.resample import uses_interp
from resample_metrics import AWKWARD, PRESET_PAIRS, alias_db, passband_deviation_db, sine_snr_db

try:
    import soxr
except ImportError:  # pragma: no cover
    soxr = None

EDGE = 0.91


def tone_gain(fn, i: int, o: int, f: float, seconds: float = 0.5, rest: bool = False) -> float:  # type: ignore[no-untyped-def]
    """Gain of a pure tone, by least squares against sin/cos at the output rate
    (``rest``: the rms of what is left after removing that tone, re the tone)."""
    n = int(seconds * i)
    x = np.sin(2 * np.pi * f * np.arange(n) / i).astype(np.float32)
    y = np.asarray(fn(x, i, o), np.float64)
    e = int(0.1 * o)
    t = np.arange(len(y))[e:-e] / o
    y = y[e:-e]
    if f < o / 2:
        basis = np.stack([np.sin(2 * np.pi * f * t), np.cos(2 * np.pi * f * t)], axis=1)
        coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
        if rest:
            return float(np.sqrt(2 * np.mean((y - basis @ coef) ** 2)))
        return float(np.hypot(*coef))
    return float(np.sqrt(2 * np.mean(y**2)))


def ripple_and_stopband(fn, i: int, o: int, count: int, edge: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Passband ripple up to ``edge`` x the lower Nyquist; stopband: down, the
    largest output of tones above the output Nyquist; up, the largest
    residual (images and noise) left beside passband tones."""
    low = min(i, o) / 2
    pass_f = np.linspace(20.0, edge * low, count)
    ripple = max(abs(20 * np.log10(tone_gain(fn, i, o, f))) for f in pass_f)
    if o < i:
        stop_f = np.linspace(low * 1.001, i / 2 * 0.999, count)
        stop = max(20 * np.log10(max(tone_gain(fn, i, o, f), 1e-12)) for f in stop_f)
    else:
        stop = max(20 * np.log10(max(tone_gain(fn, i, o, f, rest=True), 1e-12)) for f in pass_f)
    return ripple, stop


def latency_ms(ks: kernels.KernelSet, i: int, o: int, q: str) -> float:
    """Largest ``Resampler.delay`` over 1 s streamed in 1 ms chunks, in ms.

    Direct stages hold only their filter's reach; a fast-convolution stage
    also holds up to one block, so the delay varies along the stream.
    """
    r = ks.Resampler(i, o, 1, q)
    chunk = np.zeros(i // 1000, np.float32)
    worst = 0
    for _ in range(1000):
        r.process(chunk)
        worst = max(worst, r.delay)
    return worst / i * 1e3


def awkward_table(ks: kernels.KernelSet, tones: int) -> None:
    """Each preset next to its soxr counterpart on the awkward pairs.

    SNR of a sine at min(1 kHz, 0.15 x the lower rate); stopband: down, the
    largest alias of tones between the output and input Nyquist; up, the
    residual beside passband tones; ripple to the preset's own edge (0.91
    for soxr). float32 in and out.
    """
    print("\nAwkward pairs: ripple dB / stopband dB / SNR dB, ours against soxr")
    for i, o in AWKWARD:
        kernel = "interp" if uses_interp(i, o, "high") else "exact"
        print(f"\n{i} -> {o} Hz ({kernel})")
        for q, p in PRESET_PAIRS:
            cells = []
            for label, fn, edge in (
                (q, lambda x, a, b, q=q: ks.resample(x, a, b, q), SPECS[q][0]),
                (f"soxr {p}", lambda x, a, b, p=p: soxr.resample(x, a, b, quality=p), EDGE),
            ):
                ripple, stop = ripple_and_stopband(fn, i, o, tones, edge)
                snr = sine_snr_db(fn, i, o, freq=min(1_000.0, 0.15 * min(i, o)), seconds=0.6)
                cells.append(f"{label:14s} {ripple:8.1e} {stop:7.1f} {snr:6.1f}")
            print("  " + "   ".join(cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tones", type=int, default=40, help="tones per band for ripple and attenuation")
    ap.add_argument("--awkward", action="store_true", help="only the awkward-pair table")
    args = ap.parse_args()
    ks = kernels.get()
    print(f"body: {ks.name} ({ks.binding}); soxr {getattr(soxr, '__version__', 'missing')}")
    if soxr is not None:
        awkward_table(ks, max(8, args.tones // 4))
    if args.awkward:
        return
    rows: list[tuple[str, str]] = [(f"ours {q}", q) for q in SPECS]
    if soxr is not None:
        rows += [(f"soxr {p}", p) for p in ("LQ", "MQ", "HQ", "VHQ")]
    conversions = (
        (48_000, 16_000, 10_000.0),
        (44_100, 16_000, 12_000.0),
        (22_050, 16_000, 10_000.0),
        (16_000, 48_000, None),
        (8_000, 16_000, None),
    )
    for i, o, tone in conversions:
        print(f"\n{i} -> {o} Hz")
        head = f"  {'preset':16s} {'ripple dB':>10s} {'stopband dB':>12s} {'1k SNR dB':>10s} "
        head += f"{'alias dB':>9s} {'noise dev dB':>13s} {'latency ms':>11s}"
        print(head)
        for label, q in rows:
            edge = SPECS[q][0] if q in SPECS else EDGE
            if label.startswith("ours"):
                fn = lambda x, a, b, q=q: ks.resample(x, a, b, q)  # noqa: E731
                lat = f"{latency_ms(ks, i, o, q):11.2f}"
            else:
                fn = lambda x, a, b, q=q: soxr.resample(x, a, b, quality=q)  # noqa: E731
                lat = f"{'-':>11s}"
            ripple, stop = ripple_and_stopband(fn, i, o, args.tones, edge)
            snr = sine_snr_db(fn, i, o)
            alias = f"{alias_db(fn, i, o, tone):9.1f}" if tone else f"{'-':>9s}"
            dev = passband_deviation_db(fn, i, o)
            print(f"  {label:16s} {ripple:10.2e} {stop:12.1f} {snr:10.1f} {alias} {dev:13.1e} {lat}")


if __name__ == "__main__":
    main()
