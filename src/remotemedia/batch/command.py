"""`remotemedia run`: the batch job's command line."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from remotemedia.batch import presets
from remotemedia.batch.settings import FAILURES_FILE, FORMATS, ON_COLLISION, ON_ERROR, SUMMARY_FILE, usable_cores

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

Outputs mirror the input tree below OUTDIR; OUTDIR is never an input, even
inside an input folder, and an OUTDIR that is (or holds) an input is
refused. Inputs that would share an output name (a.wav + a.flac, X.wav +
x.wav, one name under two folders) keep their extension (or folder) in the
name: a.flac -> a.flac.wav; --on-collision error stops instead. One run at
a time per OUTDIR. {SUMMARY_FILE} holds the run summary,
{FAILURES_FILE} one line per failed file (path, node, error, attempts).

exit status:
  0    every file ok or skipped
  1    some files failed (listed in {FAILURES_FILE})
  2    bad arguments or a refused run (unknown preset, bad manifest, -o that
       is a file, holds an input or cannot be written, output collisions
       with --on-collision error, --max-attempts 0, a bad REMOTEMEDIA_RUNTIME,
       REMOTEMEDIA_THREADS, REMOTEMEDIA_READ_AHEAD, REMOTEMEDIA_WRITE_BEHIND or
       REMOTEMEDIA_NATIVE_FLAC, unreachable --dask scheduler)
  3    nothing to do: the inputs hold no audio file
  4    OUTDIR is in use by another run
  130  interrupted (Ctrl-C); 143: terminated (SIGTERM). The summary says
       what finished; rerun with --resume to do the rest.

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
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: usable cores; 1: in-process)")
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run on Dask: a scheduler address (tcp://host:8786) or 'local' for a LocalCluster of --workers processes",
    )
    p.add_argument("--on-collision", default="keep", choices=ON_COLLISION, help=COLLISION_HELP)
    p.add_argument(
        "--dask-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="give up connecting to the --dask scheduler after this long (default 10)",
    )
    p.add_argument(
        "--max-attempts", type=_positive_int, default=3, help="attempts per file when a worker dies (default 3)"
    )
    p.add_argument("--progress", default="auto", choices=["auto", "bar", "lines", "none"], help="progress display")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress and no summary (exit status only)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    from remotemedia.dataset.cli import add_arguments

    add_arguments(p)
    p.set_defaults(func=main)
    p.error = functools.partial(_one_line_usage_error, p)


def _one_line_usage_error(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    """argparse's error, as one line (exit status 2)."""
    parser.exit(EXIT_USAGE, f"{parser.prog}: {message} (see --help)\n")


COLLISION_HELP = (
    "inputs that would write the same output: keep (default) names each with its extension or folder "
    "(a.flac -> a.flac.wav); error stops with the list"
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_EMPTY, EXIT_LOCKED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def embedded_sample() -> Path:
    """Path of the sample recording shipped in the package."""
    from importlib import resources

    return Path(str(resources.files("remotemedia") / "data" / "sample.ogg"))


def _split(args: list[str]) -> tuple[str, list[str]]:
    if args and presets.is_pipeline_spec(args[0]):
        return args[0], args[1:]
    if args and args[0].lower().endswith(".json"):
        raise FileNotFoundError(f"manifest {args[0]} not found")
    if args and _looks_like_a_preset(args[0]):
        raise FileNotFoundError(
            f"{args[0]!r} is neither a preset ({', '.join(presets.names())}) "
            "nor a file, a directory or a glob that matches anything"
        )
    return "speech-16k", args


def _looks_like_a_preset(arg: str) -> bool:
    """A first argument that names nothing on disk and has no path or glob syntax: a mistyped preset."""
    import glob

    return not os.path.lexists(arg) and not glob.has_magic(arg) and "/" not in arg and os.sep not in arg


class _OperatorError(Exception):
    """An error the operator can fix: printed as one line, exit status ``code``."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def _dask_executor(address: str, workers: int | None, max_attempts: int, timeout: float) -> tuple[Any, list[Any]]:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise _OperatorError("--dask needs the distributed package: pip install 'remotemedia[dask]'") from exc
    closers: list[Any] = []
    if address == "local":
        cluster = LocalCluster(
            n_workers=workers or usable_cores(), threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        closers.append(cluster)
        client = Client(cluster)
    else:
        try:
            client = Client(address, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise _OperatorError(
                f"cannot reach the Dask scheduler at {address} within {timeout:g} s ({type(exc).__name__}); "
                "check the address or raise --dask-timeout"
            ) from exc
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
    _print_out(
        f"  {record['input']['duration_s']:.1f} s at {record['input']['sample_rate']} Hz -> {kept:.1f} s of speech "
        f"at {record['output']['sample_rate']} Hz in {len(segments)} segments: {where}"
    )
    for start, end in segments:
        _print_out(f"    speech {start:6.2f} s .. {end:6.2f} s")


_sigterm_seen = False


def _on_sigterm(signum: int, frame: Any) -> None:
    global _sigterm_seen
    _sigterm_seen = True
    raise _Terminated()


class _Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an interrupt so the run stops its workers and writes its summary."""


def _resume_command(ns: argparse.Namespace) -> str:
    import shlex

    argv = [a for a in sys.argv[1:] if a != "--resume"] if sys.argv[1:2] == ["run"] else ["run", *ns.args]
    return "remotemedia " + " ".join(shlex.quote(a) for a in argv) + " --resume"


def main(ns: argparse.Namespace) -> int:
    """Entry point of `remotemedia run`: every operator error is one line and an exit status."""
    import signal

    from remotemedia.batch.blas import one_blas_thread
    from remotemedia.batch.heap import keep_freed_memory

    one_blas_thread()  # before numpy's first import: no BLAS thread pool spinning beside the run (batch/blas.py)
    keep_freed_memory()  # large buffers freed by one file serve the next (batch/heap.py)

    previous = signal.signal(signal.SIGTERM, _on_sigterm) if _main_thread() else None
    try:
        return _main(ns)
    except _OperatorError as exc:
        _err(str(exc))
        return exc.code
    except KeyboardInterrupt:
        _err("terminated" if _sigterm_seen else "interrupted")
        return 143 if _sigterm_seen else EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _err(line: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(f"remotemedia run: {line}", file=sys.stderr, flush=True)


def _main(ns: argparse.Namespace) -> int:
    from remotemedia.batch.lock import OutputLockedError
    from remotemedia.batch.runner import BatchInterrupted, run_batch

    for stream in (sys.stdout, sys.stderr):  # file names that are not UTF-8 print escaped, never crash
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]

    try:
        pipeline, inputs = _split(ns.args)
    except FileNotFoundError as exc:
        raise _OperatorError(str(exc)) from exc
    from remotemedia.dataset.cli import listed_inputs, options_from_args

    try:
        listed = listed_inputs(ns)
    except (OSError, ValueError) as exc:
        raise _OperatorError(str(exc)) from exc
    dataset = options_from_args(ns)
    used_sample = not inputs and not listed
    if used_sample:
        inputs = [str(embedded_sample())]
    if ns.workers is not None and ns.workers < 1:
        raise _OperatorError("--workers must be at least 1")
    executor: Any = None
    closers: list[Any] = []
    if ns.dask:
        executor, closers = _dask_executor(ns.dask, ns.workers, ns.max_attempts, ns.dask_timeout)
    interrupted: BatchInterrupted | None = None
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
            on_collision=ns.on_collision,
            notify=_quiet if ns.quiet else _note,
            dataset=dataset,
        )
    except BatchInterrupted as exc:
        interrupted, summary = exc, exc.summary
    except OutputLockedError as exc:
        raise _OperatorError(str(exc), EXIT_LOCKED) from exc
    except (OSError, ValueError) as exc:  # FileNotFoundError, NotADirectoryError, refused outputs, collisions
        raise _OperatorError(str(exc)) from exc
    finally:
        for closer in closers:
            closer.close()
    if interrupted is not None:
        if ns.json:
            _print_out(json.dumps(summary.to_dict(), indent=2))
        elif not ns.quiet:
            _print_out(summary.describe())
        _err(
            f"{'terminated' if _sigterm_seen else 'interrupted'}: "
            f"{summary.ok} ok, {summary.failed} failed, {summary.skipped} skipped, {summary.not_run} not run; "
            f"to finish: {_resume_command(ns)}"
        )
        return 143 if _sigterm_seen else EXIT_INTERRUPTED
    if summary.files == 0:
        _err(f"warning: the inputs hold no audio file ({', '.join(inputs)}); nothing to do")
        return EXIT_EMPTY
    if ns.json:
        _print_out(json.dumps(summary.to_dict(), indent=2))
    elif not ns.quiet:
        if used_sample:
            _print_out(f"no INPUT given: processed the embedded sample {inputs[0]}")
            _describe_sample_output(Path(ns.outdir), ns.format)
        lines = [summary.describe(), *(f"  {kind} manifest: {path}" for kind, path in summary.written.items())]
        _print_out("\n".join([*lines, f"  summary: {Path(ns.outdir) / SUMMARY_FILE}"]))
    return EXIT_FAILED if summary.failed else EXIT_OK


def _note(line: str) -> None:
    """A note before the work (also with --progress none); never under -q."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


def _quiet(line: str) -> None:
    """-q: notes are dropped."""


def _print_out(text: str) -> None:
    """Print to stdout; a closed pipe (``| head``) ends the printing quietly, not the run's status."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail again
        os.close(devnull)
