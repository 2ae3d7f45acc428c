"""Checks and notes before a batch run does any work (issue 11: nothing lost, every error answered).

Everything here runs before the output folder is touched: an error raised
here leaves no trace on disk.
"""

from __future__ import annotations

from pathlib import Path

from remotemedia.batch.collisions import Planned, describe_renamed
from remotemedia.batch.discover import OutputInsideInputsError, Scan
from remotemedia.batch.job import FileTask


def refuse_overwriting_inputs(tasks: list[FileTask], found: Scan) -> None:
    """No output (or sidecar) may be an input, nor an existing file in the input tree that is not ours."""
    from remotemedia.batch.realpaths import RealPaths

    realpath = RealPaths()  # os.path.realpath, each folder resolved once
    inputs = {realpath(s.path) for s in found.sources}
    for task in tasks:
        for target in (task.output, task.sidecar):
            if realpath(target) in inputs:
                raise OutputInsideInputsError(
                    f"output {target} is the input {task.source}: refusing to write over an input; "
                    "choose an output folder outside the inputs (-o)"
                )
        if found.outdir_inside and task.output.exists() and not task.sidecar.exists():
            raise OutputInsideInputsError(
                f"output {task.output} would replace a file in the input tree that no run wrote "
                "(it has no sidecar); choose an output folder outside the inputs (-o)"
            )


def check_runtime() -> None:
    """A bad REMOTEMEDIA_RUNTIME is one error before any file, not one per file."""
    from remotemedia import runtime
    from remotemedia.errors import RuntimeUnavailableError

    try:
        runtime.get_rust_runtime()
    except (ValueError, RuntimeUnavailableError) as exc:
        raise ValueError(str(exc)) from exc


def pure_python_note() -> str | None:
    """One short line when the native core is missing and pure Python was not asked for, else None."""
    from remotemedia import runtime

    if runtime.forced_runtime() == "python" or runtime.try_load_rust_runtime()[0]:
        return None
    return (
        "note: native core unavailable, running pure Python (same results, slower); "
        "`remotemedia info` says why, REMOTEMEDIA_RUNTIME=python silences this"
    )


def notes(found: Scan, planned: list[Planned], out: Path) -> list[str]:
    """One-line notes to show before the work starts."""
    lines = []
    for root in found.outdir_inside:
        lines.append(f"note: the output folder {out} lies inside the input {root}: it is never an input (left out)")
    if found.duplicates:
        lines.append(f"note: {found.duplicates} files were named more than once by the inputs; each is processed once")
    renamed = describe_renamed(planned)
    if renamed:
        lines.append(f"note: {renamed}")
    pure = pure_python_note()
    if pure:
        lines.append(pure)
    return lines
