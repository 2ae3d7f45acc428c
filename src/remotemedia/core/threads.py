"""How many threads a native chain may use for a big block (the thread setting).

A native chain runs the per-channel stages (conversion, resampling) of a
block of at least 32768 frames with two or more channels one channel per
thread, the way soxr runs channels on parallel threads; small blocks
(real-time frames) always stay on the calling thread. The results are the
same bits for every setting. The setting, first match wins:

1. ``Pipeline(threads=n)``: at most ``n`` threads per chain call (1: none started);
2. the ``REMOTEMEDIA_THREADS`` environment variable: a positive integer,
   or ``auto`` (read when a pipeline is planned);
3. auto (the default): one thread per channel, up to the cores this
   process may run on (its CPU affinity and cgroup quota, as
   ``std::thread::available_parallelism`` sees them), started only when
   the system's run queue (``/proc/loadavg``) shows a free core.

The batch job passes ``cores // workers`` (at least 1) to each worker's
pipeline unless ``REMOTEMEDIA_THREADS`` is set: it already runs one
worker process per core, and more threads than cores would only add
switching.
"""

from __future__ import annotations

import os

#: The environment variable of the thread setting.
ENV = "REMOTEMEDIA_THREADS"

#: What the native core takes for "one per channel, up to the usable cores".
AUTO = 0


def check_threads(threads: int | None, owner: str) -> int | None:
    """``threads`` unchanged when it is None or a positive integer.

    Raises
    ------
    ValueError
        ``threads`` is not a positive integer (``owner`` names who was given it).
    """
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(
            f"{owner}: threads must be a positive integer or None (one per channel, up to the usable cores), "
            f"got {threads!r}"
        )
    return threads


def resolve_threads(threads: int | None) -> int:
    """The setting a chain gets: ``threads`` if given, else ``REMOTEMEDIA_THREADS``, else :data:`AUTO`.

    Raises
    ------
    ValueError
        ``REMOTEMEDIA_THREADS`` holds something other than a positive integer or ``auto``.
    """
    if threads is not None:
        return threads
    raw = os.environ.get(ENV, "").strip()
    if raw == "" or raw.lower() == "auto":
        return AUTO
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(
            f"{ENV}={raw!r}: expected a positive integer (threads per native chain call) or 'auto'; "
            f"unset it or fix its value"
        )
    return value


def env_threads_set() -> bool:
    """True when ``REMOTEMEDIA_THREADS`` holds a setting (anything but empty)."""
    return os.environ.get(ENV, "").strip() != ""
