"""The batch job: a pipeline over a collection of files, never losing work.

See :func:`run_batch`; ``remotemedia run`` is its command line.
"""

from remotemedia.batch.presets import names as preset_names
from remotemedia.batch.runner import BatchSummary, run_batch

__all__ = ["BatchSummary", "preset_names", "run_batch"]
