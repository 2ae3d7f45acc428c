"""The ``remotemedia`` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import NoReturn


def _cmd_info(args: argparse.Namespace) -> int:
    from remotemedia.runtime import get_runtime_info

    info = get_runtime_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    binding = info["binding"] or "none (pure Python)"
    rows = [
        ("remotemedia", info["version"]),
        ("binding", binding),
        ("reason", info["reason"] or "-"),
        ("native core", info["native_version"] or "-"),
        ("native ABI", info["abi_version"] if info["abi_version"] is not None else "-"),
        ("CPU features", info["cpu_features"] or "-"),
        ("forced by env", info["forced"] or "no (REMOTEMEDIA_RUNTIME unset or auto)"),
        ("python", f"{info['python']} ({info['implementation']})"),
        ("numpy", info["numpy"]),
        ("platform", info["platform"]),
    ]
    if "library" in info:
        rows.insert(4, ("library", info["library"]))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from remotemedia.batch import presets
    from remotemedia.core.build import validate
    from remotemedia.core.errors import ManifestError

    is_preset = args.file in presets.names()
    if not is_preset and not os.path.exists(args.file):
        print(
            f"{args.file}: INVALID: neither a preset ({', '.join(presets.names())}) nor a manifest file",
            file=sys.stderr,
        )
        return 1
    try:
        manifest = validate(presets.load(args.file) if is_preset else args.file)
    except ManifestError as exc:
        print(f"{args.file}: INVALID: {exc}", file=sys.stderr)
        return 1
    n, c = len(manifest["nodes"]), len(manifest.get("connections", []))
    kind = "preset, " if is_preset else ""
    print(f"{args.file}: OK ({kind}manifest version {manifest['version']}, {n} nodes, {c} connections)")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from remotemedia import bench
    from remotemedia.runtime import get_runtime_info

    rows = bench.run(args.seconds, args.repeat)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    info = get_runtime_info()
    print(
        f"remotemedia {info['version']}, native core: {info['binding'] or 'none'}; {args.seconds:g} s of 48 kHz stereo"
    )
    print(bench.report(rows))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="remotemedia",
        description="Audio pipelines with a Rust core and a pure-Python fallback.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="show the version and which runtime is in use, and why")
    info.add_argument("--json", action="store_true", help="print the same facts as JSON")
    info.set_defaults(func=_cmd_info)
    validate = sub.add_parser(
        "validate", help="check a pipeline manifest (JSON) or a preset of `remotemedia run` without running it"
    )
    validate.add_argument("file", help="path to the manifest JSON file, or a preset name (e.g. speech-16k)")
    validate.set_defaults(func=_cmd_validate)
    bench = sub.add_parser(
        "bench",
        help="time conversion, resampling, VAD and speech-16k on every runtime here (and soxr/webrtcvad if installed)",
        description="Times each kernel and the speech-16k pipeline under every runtime available on this machine, "
        "side by side in one run (medians), with soxr and webrtcvad for reference when they are installed. "
        "Shows what the native core buys you before you choose a deployment.",
    )
    bench.add_argument("--seconds", type=float, default=10.0, help="length of the test recording (default 10 s)")
    bench.add_argument("--repeat", type=int, default=5, help="repeats per measurement; the median is shown")
    bench.add_argument("--json", action="store_true", help="print the measurements as JSON")
    bench.set_defaults(func=_cmd_bench)
    from remotemedia.batch import command as run_command

    run_command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except BrokenPipeError:  # `remotemedia info | head -1`: the reader went away; end quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail again
        os.close(devnull)
        return 0


def entry() -> NoReturn:
    """The ``remotemedia`` program: :func:`main`, then the process ends without the interpreter's
    teardown (remotemedia/_quick_exit.py: 20-40 ms less per command)."""
    from remotemedia._quick_exit import end

    end(main())


if __name__ == "__main__":
    entry()
