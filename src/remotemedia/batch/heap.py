"""Freed memory kept for the next file in `remotemedia run` (glibc's malloc, Linux).

Every file of a batch run allocates the same kinds of large buffers again:
decoded blocks (up to 10 s of audio, often megabytes), float32
intermediates, the int16 output. glibc serves an allocation above its
mmap threshold (128 KiB at first, raised as large blocks are freed) with a
fresh ``mmap`` and returns it with ``munmap`` when freed, and gives the top
of its heaps back to the kernel beyond a trim threshold; each page of such
memory is then faulted in (and zeroed by the kernel) again for the next
file. Over 200 files that was ~30,000 minor page faults and most of the
run's system time.

:func:`keep_freed_memory` sets both thresholds once, before the work: large
blocks come from the heap and freed ones stay there for the next file
(mmap threshold 32 MiB, the largest glibc's dynamic rule would reach on its
own; trim threshold 256 MiB). Setting only one of the two is worse than
neither (it turns the dynamic rule off), so it sets both or none. Measured
(benchmarks/NOTES.md, lean branch): faults 32k -> 10k, ~0.08 s of CPU less
per 200 files at one worker. Memory: what the run freed stays with the
process until it ends, at most its peak (the read-ahead's, write-behind's
and chain's bounds set that peak; batch/readahead.py, batch/writebehind.py).

Only for the run command (the CLI's process, and the worker processes
forked from it): an application calling ``run_batch`` keeps its own malloc
settings. Nothing is done off glibc, or when the user tuned malloc through
the environment (``MALLOC_*_`` variables or ``GLIBC_TUNABLES`` with
``glibc.malloc``): those win.
"""

from __future__ import annotations

import os
import sys

#: glibc's mallopt parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: Allocations below this come from the heap (glibc's own upper bound for its dynamic threshold on 64 bits).
MMAP_THRESHOLD = 32 * 1024 * 1024
#: Free memory at the top of a heap kept before it is given back to the kernel.
TRIM_THRESHOLD = 256 * 1024 * 1024
#: Environment variables through which a user tunes glibc's malloc (any of them: nothing is changed).
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")


def glibc() -> bool:
    """True if this process runs on GNU libc (Linux with glibc; not musl, macOS or Windows)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        return False
    return version is not None and version.startswith("glibc")


def user_tuned(environ: dict[str, str] | os._Environ[str] | None = None) -> bool:
    """True if the environment already tunes glibc's malloc."""
    env = os.environ if environ is None else environ
    return any(name in env for name in USER_SETTINGS) or "glibc.malloc" in env.get("GLIBC_TUNABLES", "")


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds for a batch run (see the module's text); True if set."""
    if not glibc() or user_tuned():
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (ImportError, OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success; the trim threshold only after the mmap one took
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
