"""Start-up cost of remotemedia itself, beyond numpy and soundfile (python -X importtime).

Run:  python benchmarks/startup.py [--repeat 7] [--modules]

Each scenario runs in a fresh interpreter under ``-X importtime`` after
``import numpy, soundfile`` (what any audio script pays anyway), so every
import that follows is remotemedia's own cost, the standard-library
modules it pulls in included. Reported: the median over ``--repeat`` runs
of the summed top-level import times (ms), and the import count.

- ``import remotemedia``
- ``remotemedia run --help`` (argument parsing and the help text)
- ``remotemedia run FILE -o OUT --workers 1`` on a 2 s file (everything a
  one-file run imports: manifest, pipeline, nodes, kernels, binding,
  stream session)

A second figure does not rely on ``-X importtime`` (which misses modules
an editable install's import hook loads, such as the native binding): the
modules a scenario added to ``sys.modules`` are imported again, in the same
order, in a fresh interpreter after ``import numpy, soundfile``, and the
wall and CPU (process) time of that is measured (median of ``--repeat``);
on a busy machine the CPU time is the steadier figure.

Bytecode is cached in a temporary folder, as an installed package has it
(PYTHONDONTWRITEBYTECODE is dropped for the runs), after one warm-up run.

``--modules`` lists the costliest modules of the last run of each scenario.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import table

PRELUDE = "import numpy, soundfile\n"
ENV: dict[str, str] = {}


def set_env(cache: Path) -> None:
    """The runs' environment: bytecode cached in ``cache``."""
    ENV.update({k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
    ENV["PYTHONPYCACHEPREFIX"] = str(cache)


LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)")


def scenarios(tmp: Path) -> list[tuple[str, str]]:
    import numpy as np
    import soundfile as sf

    wav = tmp / "one.wav"
    t = np.arange(2 * 48000) / 48000
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 48000, subtype="PCM_16")
    out = tmp / "out"
    run = f"from remotemedia.cli import main\nmain(['run', {str(wav)!r}, '-o', {str(out)!r}, '-q', '--workers', '1'])\n"
    return [
        ("import remotemedia", "import remotemedia\n"),
        (
            "remotemedia run --help",
            "from remotemedia.cli import main\ntry:\n    main(['run', '--help'])\nexcept SystemExit:\n    pass\n",
        ),
        ("remotemedia run FILE (1 file, in-process)", run),
    ]


def measure(code: str) -> tuple[float, int, list[tuple[int, str]]]:
    """Run ``code`` after the prelude; return (ms imported after it, count, [(self us, module)])."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", PRELUDE + code],
        capture_output=True,
        text=True,
        check=True,
        env=ENV,
    )
    rows = [m for m in map(LINE.match, done.stderr.splitlines()) if m]
    # Everything printed after soundfile's own (top-level) line was imported by remotemedia.
    after = next(i for i, m in enumerate(rows) if m.group(4) == "soundfile" and len(m.group(3)) == 1) + 1
    mine = rows[after:]
    total = sum(int(m.group(2)) for m in mine if len(m.group(3)) == 1)
    return total / 1000, len(mine), [(int(m.group(1)), m.group(4)) for m in mine]


def modules_added(code: str) -> list[str]:
    """Modules ``code`` adds to ``sys.modules`` after the prelude, in import order."""
    probe = (
        PRELUDE
        + "import sys, json\nbefore = set(sys.modules)\n"
        + code
        + "\nprint(json.dumps([m for m in sys.modules if m not in before]))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=ENV)
    return [m for m in json.loads(done.stdout.strip().splitlines()[-1]) if m != "json" and not m.startswith("json.")]


def wall_import_ms(modules: list[str]) -> tuple[float, float]:
    """Wall and CPU time (ms) to import ``modules`` in order in a fresh interpreter, after the prelude.

    Aliases that are not importable by name (``__mp_main__``, Cython's
    runtime modules) are skipped: the module that created them is in the list.
    """
    code = (
        PRELUDE
        + "import importlib, time\n"
        + f"mods = {modules!r}\n"
        + "t, c = time.perf_counter(), time.process_time()\n"
        + "for m in mods:\n    try:\n        importlib.import_module(m)\n    except ImportError:\n        pass\n"
        + "print((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=ENV)
    wall, cpu = done.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--modules", action="store_true", help="list the costliest modules (self time)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = scenarios(Path(tmp))
        set_env(Path(tmp) / "pycache")
        for _, code in cases:  # warm-up: bytecode
            measure(code)
        rows, details = [], []
        for label, code in cases:
            samples = [measure(code) for _ in range(args.repeat)]
            ms = [s[0] for s in samples]
            mods = modules_added(code)
            both = [wall_import_ms(mods) for _ in range(args.repeat)]
            wall, cpu = [w for w, _ in both], [c for _, c in both]
            rows.append(
                [
                    label,
                    f"{statistics.median(ms):.1f}",
                    f"{min(ms):.1f}",
                    f"{statistics.median(wall):.1f}",
                    f"{min(wall):.1f}",
                    f"{statistics.median(cpu):.1f}",
                    len(mods),
                ]
            )
            details.append((label, samples[-1][2]))
    print(f"remotemedia's own imports after `import numpy, soundfile` (median of {args.repeat} fresh interpreters)\n")
    print(
        table(
            ["scenario", "importtime median ms", "min", "re-import wall median ms", "min", "cpu median ms", "modules"],
            rows,
        )
    )
    if args.modules:
        for label, mods in details:
            print(f"\n{label}: costliest modules (self ms)")
            for us, name in sorted(mods, reverse=True)[:15]:
                print(f"  {us / 1000:6.2f}  {name}")


if __name__ == "__main__":
    main()
