"""VAD benchmark: frame F1 per condition and cost per 30 ms frame, side by side.

Compares remotemedia's VAD (each aggressiveness; flags are identical in
every body), webrtcvad (package webrtcvad-wheels, each mode) and, when
onnxruntime and the silero-vad package are installed, silero-vad (its ONNX
model as shipped in the package, driven directly with onnxruntime, p >= 0.5).

Corpora: espeak-ng speech and CMU ARCTIC read speech in noise (per
condition, then pooled per corpus), and the AMI meeting excerpts in
../shared/data/ami-meetings, reported as two halves: trn00-04 (used in
training the model, scripts/train_vad.py) and trn05-09 (never used in
training or tuning). "pure noise" is the fraction of 30 ms frames flagged on
the 95 s kitchen recording alone.

Run from the repository root:

    python benchmarks/vad.py            # full corpus, every condition
    python benchmarks/vad.py --quick    # 5 and 0 dB only, shorter timing

The corpus comes from tests/vad_corpus.py (espeak-ng speech and CMU ARCTIC
read speech, with white, pink, babble and real kitchen noise). Costs are
medians of repeated runs on 20 s of noisy speech, in microseconds per
30 ms frame; "block" feeds the whole signal in one call, "per call" feeds
one 30 ms frame per call (Python call overhead included, as for webrtcvad).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import median_seconds

import vad_corpus as vc
from remotemedia import kernels

SR = vc.SR


# ---- silero-vad (optional) ---------------------------------------------------


class Silero:
    """silero-vad v5 ONNX model at 16 kHz (512-sample windows with 64 samples of
    context), run through the package's own silero engine (kernels/vad_silero.py)."""

    def __init__(self) -> None:
        from remotemedia.kernels.vad_silero import SileroStream

        self.stream = SileroStream(SR, 30, 0, 0, 0)

    def probs(self, x: np.ndarray) -> np.ndarray:
        """silero's probability of every whole 512-sample window of ``x``."""
        self.stream.reset()
        return np.array([p for _, p in self.stream.probs(x.astype(np.float32))])

    def flags(self, x: np.ndarray, frame_ms: int = 30) -> np.ndarray:
        p = self.probs(x)
        n = SR * frame_ms // 1000
        centres = (np.arange(x.size // n) * n + n // 2) // 512
        return (p[np.minimum(centres, p.size - 1)] >= 0.5).astype(np.uint8)


def load_silero() -> tuple[Silero | None, str]:
    try:
        return Silero(), "silero-vad (onnxruntime)"
    except ImportError as exc:
        return None, f"silero-vad not available: {exc}"


# ---- quality -------------------------------------------------------------------


def detectors(ks: kernels.KernelSet, silero: Silero | None) -> dict[str, Any]:
    """Name -> function of float32 16 kHz audio giving 30 ms flags."""
    out: dict[str, Any] = {f"ours{a}": (lambda x, a=a: ks.VAD(SR, 30, a).process(x)) for a in range(4)}
    out.update({f"webrtc{m}": (lambda x, m=m: vc.webrtc_flags(x, m)) for m in range(4)})
    if silero is not None:
        out["silero"] = silero.flags
    return out


def quality(groups: dict[str, list[tuple[np.ndarray, np.ndarray]]], fns: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, items in groups.items():
        row: dict[str, Any] = {"name": name}
        for k, fn in fns.items():
            row[k] = vc.pooled_f1(items, fn)
        rows.append(row)
    return rows


def print_quality(rows: list[dict[str, Any]], title: str) -> None:
    cols = [k for k in rows[0] if k != "name"]
    print(f"\n{title}: frame F1 (30 ms frames); ours2 is the default; * = best of the four settings")
    print(f"{'set':26s} " + " ".join(f"{c:>8s}" for c in cols) + "  ours*  webrtc*  default-webrtc*")
    wins = 0
    for r in rows:
        ours = max(r[f"ours{a}"][2] for a in range(4))
        web = max(r[f"webrtc{m}"][2] for m in range(4))
        wins += r["ours2"][2] >= web
        print(
            f"{r['name']:26s} "
            + " ".join(f"{r[c][2]:8.3f}" for c in cols)
            + f"  {ours:5.3f}  {web:7.3f}  {r['ours2'][2] - web:+6.3f}"
        )
    print(f"ours at the default >= webrtcvad (best mode) in {wins} of {len(rows)} rows")
    print("\nPrecision/recall per condition")
    print(f"{'condition':22s} " + " ".join(f"{c:>9s}" for c in cols))
    for r in rows:
        print(f"{r['name']:22s} " + " ".join(f"{r[c][0]:.2f}/{r[c][1]:.2f}" for c in cols))


# ---- cost ------------------------------------------------------------------------


def cost(quick: bool, silero: Silero | None) -> None:
    import webrtcvad
    from scipy.signal import resample_poly

    speech = vc.conditions("synth", noises=("white",), snrs=(10,))[1].audio[: SR * (8 if quick else 20)]
    repeats = 5 if quick else 15
    sets = {ks.binding or "numpy": ks for ks in kernels.available()}
    print("\nCost per 30 ms frame (microseconds, median of", repeats, "runs; ratio = ours / webrtcvad)")
    header = f"{'rate':>6s} {'webrtc':>8s}"
    for name in sets:
        if name != "numpy":
            header += f" {name + ' block':>13s} {name + ' call':>12s} {'ratio':>6s}"
    header += f" {'numpy':>8s}"
    if silero is not None:
        header += f" {'silero':>8s}"
    print(header)
    for sr in (8000, 16000, 48000):
        g = np.gcd(sr, SR)
        x = resample_poly(speech.astype(np.float64), sr // g, SR // g).astype(np.float32)
        xi = np.clip(np.rint(x * 32768), -32768, 32767).astype(np.int16)
        n = sr * 30 // 1000
        nf = x.size // n
        frames_b = [xi[i * n : (i + 1) * n].tobytes() for i in range(nf)]
        frames_i = [xi[i * n : (i + 1) * n] for i in range(nf)]
        w = webrtcvad.Vad(2)

        def run_webrtc(w: Any = w, frames: list[bytes] = frames_b, sr: int = sr) -> None:
            for f in frames:
                w.is_speech(f, sr)

        t_web = median_seconds(run_webrtc, repeat=repeats, warmup=0) / nf * 1e6
        line = f"{sr:6d} {t_web:8.2f}"
        for name, ks in sets.items():
            if name == "numpy":
                continue

            def run_block(ks: kernels.KernelSet = ks, sr: int = sr, x: np.ndarray = xi) -> None:
                ks.VAD(sr, 30, 2).process(x)

            stream = ks.VAD(sr, 30, 2)

            def run_calls(v: Any = stream, frames: list[np.ndarray] = frames_i) -> None:
                for f in frames:
                    v.process(f)

            t_block = median_seconds(run_block, repeat=repeats, warmup=0) / nf * 1e6
            t_call = median_seconds(run_calls, repeat=repeats, warmup=0) / nf * 1e6
            line += f" {t_block:13.2f} {t_call:12.2f} {t_block / t_web:6.2f}"
        short = xi[: n * (100 if quick else 300)]

        def run_numpy(sr: int = sr, x: np.ndarray = short) -> None:
            sets["numpy"].VAD(sr, 30, 2).process(x)

        t_np = median_seconds(run_numpy, repeat=3, warmup=0) / (short.size // n) * 1e6
        line += f" {t_np:8.1f}"
        if silero is not None:
            if sr == SR:
                seg = x[: SR * 3]
                t_sil = (
                    median_seconds(lambda seg=seg: silero.probs(seg), repeat=3, warmup=0)
                    / (seg.size / 512)
                    * 1e6
                    * 30
                    / 32
                )
                line += f" {t_sil:8.1f}"
            else:
                line += f" {'-':>8s}"
        print(line)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="5 and 0 dB only, fewer timing runs")
    p.add_argument("--no-silero", action="store_true", help="leave silero-vad out even if installed")
    p.add_argument("--no-quality", action="store_true", help="timing only")
    args = p.parse_args(argv)
    ks = kernels.get()
    silero, note = (None, "silero-vad left out (--no-silero)") if args.no_silero else load_silero()
    print(f"remotemedia kernel set for quality: {ks.name}/{ks.binding}; {note}")
    if not args.no_quality:
        snrs = (5, 0) if args.quick else vc.SNRS
        fns = detectors(ks, silero)
        synth = vc.conditions("synth", snrs=snrs)
        arctic = vc.conditions("arctic", snrs=snrs)
        per_cond = {c.name: [(c.audio, c.labels(30))] for c in synth + arctic}
        print_quality(quality(per_cond, fns), "Per condition")
        meet = vc.meetings()
        corpora = {
            "synthetic (all conditions)": [(c.audio, c.labels(30)) for c in synth],
            "ARCTIC (all conditions)": [(c.audio, c.labels(30)) for c in arctic],
            "AMI trn00-04 (trained on)": [(m.audio, m.labels(30)) for m in meet if m.name in vc.AMI_TUNE],
            "AMI trn05-09 (held out)": [(m.audio, m.labels(30)) for m in meet if m.name in vc.AMI_HELD_OUT],
            "AMI all ten": [(m.audio, m.labels(30)) for m in meet],
        }
        print_quality(quality(corpora, fns), "Pooled per corpus")
        kitchen, _ = vc.read_wav(vc.shared_data_dir() / "doing_the_dishes.wav")
        kitchen = kitchen.astype(np.float32)
        print("\nPure noise (doing_the_dishes.wav alone, 95 s): fraction of frames flagged")
        print("  " + "  ".join(f"{k} {float(np.mean(fn(kitchen))):.3f}" for k, fn in fns.items()))
    cost(args.quick, silero)


def _main_or_explain() -> int:
    """Run; a missing corpus input (shared recordings, espeak-ng) is one line saying how to get it."""
    try:
        main()
    except FileNotFoundError as exc:
        print(f"benchmarks/vad.py: cannot build the VAD corpus: {exc}", file=sys.stderr)
        print("  (--no-quality times the kernels alone, without the corpus)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main_or_explain())
