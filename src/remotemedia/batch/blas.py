"""One BLAS thread for `remotemedia run`, unless the user chose otherwise.

numpy's OpenBLAS starts a pool of threads (one per core) when numpy is
imported, and those threads spin for a while after every call before they
sleep. The batch job does no BLAS work of any size on the native core (the
kernels are Rust), and on the pure-Python core its matrix products are
small (a resampler's windows): there the pool only burns CPU beside the
run's own threads and worker processes, which already use the cores.
Measured over 200 files (``benchmarks/NOTES.md``, lean branch): -0.13 s of
the run's ~1.5 s of CPU at one worker, -0.09 s at two, no change in wall
time; on the pure-Python core -0.86 s of ~1.9 s for 20 files, same wall.

Dask's nanny sets the same variables to 1 for its workers, for the same
reason. The settings take effect only if they are made before numpy is
first imported (OpenBLAS reads them when it loads), so
:func:`one_blas_thread` is called by the run command before the run imports
numpy, and does nothing when numpy is already loaded (an in-process caller
that imported it keeps the pool it has). A variable the user set, to any
value, is left alone.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

#: The thread-count variables of the BLAS libraries numpy may be built with (OpenBLAS, OpenMP, MKL).
VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def one_blas_thread(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Set each of :data:`VARIABLES` the user did not set to "1", if numpy is not imported yet.

    Returns the names set (none when numpy is already loaded, or when the
    user set them all). Child processes (spawned workers) inherit them.
    """
    env = os.environ if environ is None else environ
    if "numpy" in sys.modules:
        return []
    made = [name for name in VARIABLES if name not in env]
    for name in made:
        env[name] = "1"
    return made
