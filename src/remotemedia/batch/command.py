"""`remotemedia run`: the batch job's command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from remotemedia.batch import presets
from remotemedia.batch.job import FORMATS
from remotemedia.batch.runner import FAILURES_FILE, ON_ERROR, SUMMARY_FILE

DEFAULT_OUTDIR = "remotemedia-out"

HELP = f"""\
Run a pipeline over audio files: decode, process, write each output
atomically with a JSON sidecar (duration, rates, speech segments, per-node
metrics), record failures and go on.

PIPELINE is a preset ({", ".join(presets.names())}) or a manifest file
(*.json); it may be left out (default speech-16k). INPUT is any mix of
files, directories (searched recursively for audio extensions) and globs
(quote them: "data/**/*.flac"). With no INPUT the embedded sample (20 s of
synthetic speech) is processed.

Outputs mirror the input tree below OUTDIR. {SUMMARY_FILE} holds the run
summary, {FAILURES_FILE} one line per failed file (path, node, error,
attempts). The exit status is 0 when every file is ok or skipped, 1 when
any failed, 2 for bad arguments.

presets:
""" + "\n".join(f"  {name:<12} {presets.DESCRIPTIONS[name]}" for name in presets.names())


def add_parser(sub: Any) -> None:
    """Register the `run` subcommand on an argparse subparsers object."""
    p = sub.add_parser(
        "run",
        help="run a pipeline over audio files (default: speech-16k on the embedded sample)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("args", nargs="*", metavar="[PIPELINE] INPUT", help="pipeline (optional) then inputs")
    p.add_argument("-o", "--outdir", default=DEFAULT_OUTDIR, help=f"output folder (default: ./{DEFAULT_OUTDIR})")
    p.add_argument(
        "--format", default="wav", choices=sorted(FORMATS), help="output container (default: wav, 16-bit PCM)"
    )
    p.add_argument("--resume", action="store_true", help="skip files already complete for the same pipeline and input")
    p.add_argument("--on-error", default="skip", choices=ON_ERROR, help="skip: record and go on (default); stop: stop")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: CPU count; 1: in-process)")
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run on Dask: a scheduler address (tcp://host:8786) or 'local' for a LocalCluster of --workers processes",
    )
    p.add_argument("--max-attempts", type=int, default=3, help="attempts per file when a worker dies (default 3)")
    p.add_argument("--progress", default="auto", choices=["auto", "bar", "lines", "none"], help="progress display")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress and no summary (exit status only)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    from remotemedia.dataset.cli import add_arguments

    add_arguments(p)
    p.set_defaults(func=main)


def embedded_sample() -> Path:
    """Path of the sample recording shipped in the package."""
    return Path(str(resources.files("remotemedia") / "data" / "sample.ogg"))


def _split(args: list[str]) -> tuple[str, list[str]]:
    if args and presets.is_pipeline_spec(args[0]):
        return args[0], args[1:]
    if args and args[0].lower().endswith(".json"):
        raise FileNotFoundError(f"manifest {args[0]} not found")
    return "speech-16k", args


def _dask_executor(address: str, workers: int | None, max_attempts: int) -> tuple[Any, list[Any]]:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise SystemExit("--dask needs the distributed package: pip install 'remotemedia[dask]'") from exc
    closers: list[Any] = []
    if address == "local":
        cluster = LocalCluster(
            n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        closers.append(cluster)
        client = Client(cluster)
    else:
        client = Client(address)
    closers.insert(0, client)
    # Dask's own executor: tasks are plain (paths + manifest), never cached as pure.
    return client.get_executor(pure=False, retries=max(0, max_attempts - 1)), closers


def _describe_sample_output(outdir: Path, fmt: str) -> None:
    sidecar = outdir / f"sample.{fmt}.json"
    try:
        record = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return
    segments = record.get("speech_segments", [])
    kept = record["output"]["duration_s"]
    where = record["output"]["path"] or f"{len(record.get('outputs', []))} files ({record.get('cut')})"
    print(
        f"  {record['input']['duration_s']:.1f} s at {record['input']['sample_rate']} Hz -> {kept:.1f} s of speech "
        f"at {record['output']['sample_rate']} Hz in {len(segments)} segments: {where}"
    )
    for start, end in segments:
        print(f"    speech {start:6.2f} s .. {end:6.2f} s")


def main(ns: argparse.Namespace) -> int:
    """Entry point of `remotemedia run`."""
    from remotemedia.batch.runner import run_batch

    try:
        pipeline, inputs = _split(ns.args)
    except FileNotFoundError as exc:
        print(f"remotemedia run: {exc}", file=sys.stderr)
        return 2
    from remotemedia.dataset.cli import listed_inputs, options_from_args

    try:
        listed = listed_inputs(ns)
    except (OSError, ValueError) as exc:
        print(f"remotemedia run: {exc}", file=sys.stderr)
        return 2
    dataset = options_from_args(ns)
    used_sample = not inputs and not listed
    if used_sample:
        inputs = [str(embedded_sample())]
    if ns.workers is not None and ns.workers < 1:
        print("remotemedia run: --workers must be at least 1", file=sys.stderr)
        return 2
    executor: Any = None
    closers: list[Any] = []
    if ns.dask:
        executor, closers = _dask_executor(ns.dask, ns.workers, ns.max_attempts)
    try:
        summary = run_batch(
            [*inputs, *listed],
            pipeline,
            ns.outdir,
            output_format=ns.format,
            resume=ns.resume,
            on_error=ns.on_error,
            workers=ns.workers,
            executor=executor,
            max_attempts=ns.max_attempts,
            progress="none" if ns.quiet else ns.progress,
            dataset=dataset,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"remotemedia run: {exc}", file=sys.stderr)
        return 2
    finally:
        for closer in closers:
            closer.close()
    if ns.json:
        print(json.dumps(summary.to_dict(), indent=2))
    elif not ns.quiet:
        if used_sample:
            print(f"no INPUT given: processed the embedded sample {inputs[0]}")
            _describe_sample_output(Path(ns.outdir), ns.format)
        print(summary.describe())
        for kind, path in summary.written.items():
            print(f"  {kind} manifest: {path}")
        print(f"  summary: {Path(ns.outdir) / SUMMARY_FILE}")
    return 1 if summary.failed else 0
