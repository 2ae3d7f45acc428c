"""PCM conversion: native vs numpy vs memcpy, and per-call overhead.

Run:  python benchmarks/convert.py [--quick]

Bandwidth counts bytes read plus bytes written. The memcpy reference is
``np.copyto`` of an array the size of the conversion's output.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_seconds, table

from remotemedia import kernels, runtime


def bandwidth_rows(sets: list[kernels.KernelSet], sizes: list[int], repeat: int) -> list[list[object]]:
    """Kernel bandwidth into a preallocated output, next to np.copyto of the output's bytes.

    The allocating API call (what ``convert(x, to)`` costs end to end, page
    faults of a fresh output included) is shown next to ``ndarray.copy()``.
    """
    rows: list[list[object]] = []
    rng = np.random.default_rng(0)
    for n in sizes:
        cases = {
            ("i16", "f32"): rng.integers(-32768, 32767, n, dtype=np.int16, endpoint=True),
            ("f32", "i16"): rng.uniform(-1, 1, n).astype(np.float32),
        }
        for (src, dst), x in cases.items():
            out_dtype = {"f32": np.float32, "i16": np.int16}[dst]
            moved = x.nbytes + n * np.dtype(out_dtype).itemsize
            out = np.empty(n, out_dtype)
            ref = np.ones(n, out_dtype)
            t_copy = median_seconds(lambda o=out, r=ref: np.copyto(o, r), repeat=repeat)
            t_alloc = median_seconds(lambda r=ref: r.copy(), repeat=repeat)
            copy_gbps = 2 * out.nbytes / t_copy / 1e9
            rows.append(
                [
                    f"{src}->{dst} memcpy",
                    f"{n:,}",
                    f"{t_copy * 1e3:.2f}",
                    f"{copy_gbps:.1f}",
                    "1.00",
                    "-",
                    f"{t_alloc * 1e3:.2f}",
                ]
            )
            for ks in sets:
                t_api = median_seconds(lambda ks=ks, x=x, dst=dst: ks.convert(x, dst), repeat=repeat)
                if ks.binding:
                    module, _ = runtime.load_binding(ks.binding)
                    fn = getattr(module, f"convert_{src}_{dst}")
                    t = median_seconds(lambda fn=fn, x=x, o=out: fn(x, o), repeat=repeat)
                else:
                    t = (
                        median_seconds(lambda x=x, o=out: np.copyto(o, x.astype(o.dtype)), repeat=repeat)
                        if src == "i16"
                        else float("nan")
                    )
                gbps = moved / t / 1e9
                row = [f"{src}->{dst} {ks.binding or 'numpy'}", f"{n:,}"]
                if t == t:
                    row += [f"{t * 1e3:.2f}", f"{gbps:.1f}", f"{gbps / copy_gbps:.2f}"]
                else:
                    row += ["-", "-", "-"]
                rows.append([*row, f"{t_api * 1e3:.2f}", f"{t_api / t_alloc:.2f}x copy"])
    return rows


def overhead_rows(sets: list[kernels.KernelSet], number: int) -> list[list[object]]:
    x = np.zeros(16, np.int16)
    out = np.empty(16, np.float32)
    rows: list[list[object]] = []
    for ks in sets:
        api = min(timeit.repeat(lambda ks=ks: ks.convert(x, "f32"), number=number, repeat=7)) / number
        if ks.binding:
            module, _ = runtime.load_binding(ks.binding)
            fn = module.convert_i16_f32
            raw = min(timeit.repeat(lambda fn=fn: fn(x, out), number=number, repeat=7)) / number
            raw_s = f"{raw * 1e6:.2f}"
        else:
            raw_s = "-"
        rows.append([ks.binding or "numpy", raw_s, f"{api * 1e6:.2f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    args = parser.parse_args()
    sets = kernels.available()
    repeat = 3 if args.quick else 9
    print(f"kernel sets: {', '.join(ks.binding or ks.name for ks in sets)}; medians of {repeat} runs\n")
    print("kernel = into a preallocated output (numpy: astype + copyto, i16->f32 only);")
    print("api = convert(x, to), allocating its output, next to ndarray.copy() of the output bytes\n")
    headers = ["case", "samples", "kernel ms", "GB/s", "vs memcpy", "api ms", "api vs copy"]
    print(table(headers, bandwidth_rows(sets, [1 << 20, 1 << 24], repeat)))
    print("\nPer-call cost, 16 samples i16->f32 (µs; best of 7 x N calls):")
    print("  binding = the bare binding call into preallocated output")
    print("  api     = KernelSet.convert (validation, allocation, call)")
    number = 20_000 if args.quick else 200_000
    print(table(["body", "binding", "api"], overhead_rows(sets, number)))


if __name__ == "__main__":
    main()
