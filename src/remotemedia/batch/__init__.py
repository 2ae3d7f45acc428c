"""The batch job: a pipeline over a collection of files, never losing work.

See :func:`run_batch`; ``remotemedia run`` is its command line. The
runner is imported on first use of its names, so that the command line
can build its parser (and print ``--help``) without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remotemedia.batch.presets import names as preset_names

if TYPE_CHECKING:
    from remotemedia.batch.runner import BatchSummary, run_batch

__all__ = ["BatchSummary", "preset_names", "run_batch"]


def __getattr__(name: str) -> Any:
    if name in ("BatchSummary", "run_batch"):
        from remotemedia.batch import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
