"""The batch job: a pipeline over a collection of files, never losing work.

See :func:`run_batch`; ``remotemedia run`` is its command line. The
runner is imported on first use of its names, so that the command line
can build its parser (and print ``--help``) without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from remotemedia._lazy import lazy_exports
from remotemedia.batch.presets import names as preset_names

if TYPE_CHECKING:
    from remotemedia.batch.runner import BatchSummary, run_batch

__all__ = ["BatchSummary", "preset_names", "run_batch"]


__getattr__, __dir__ = lazy_exports(__name__, {"BatchSummary": ".runner", "run_batch": ".runner"})
