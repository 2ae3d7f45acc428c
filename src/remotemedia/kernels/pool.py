"""Idle kernel objects kept for reuse by the next stream of the same shape.

A streaming node builds kernel objects per stream (a resampler for the
stream's rate and channel count, say). Building one designs its filters
and allocates its buffers; resetting one only clears its history. A node
that serves stream after stream (a batch worker runs one stream per file)
parks the object here when a stream ends and takes it back when the next
stream has the same shape, so it is built once per shape, not per stream.

Objects are parked already reset, so a reused object and a new one give
the same output bit for bit. The pool holds at most ``limit`` objects in
all (least recently parked shapes dropped first). Operations are single
dict / list steps, atomic under the GIL, so streams in several threads may
share a pool. A pool is never pickled with its objects (native handles
cannot cross a process boundary): a copy starts empty.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any


class IdlePool:
    """Reset kernel objects by shape key; see the module doc.

    Parameters
    ----------
    limit : int
        Most objects kept in all.
    """

    def __init__(self, limit: int = 8) -> None:
        self.limit = limit
        self._idle: dict[Hashable, list[Any]] = {}

    def take(self, key: Hashable) -> Any | None:
        """An idle object parked under ``key`` (removed from the pool), or None."""
        stack = self._idle.get(key)
        if not stack:
            return None
        try:
            return stack.pop()
        except IndexError:  # another thread took the last one
            return None

    def park(self, key: Hashable, obj: Any) -> None:
        """Keep ``obj`` (already reset) for the next stream of shape ``key``."""
        stack = self._idle.pop(key, None) or []  # re-inserted last: most recently parked
        stack.append(obj)
        self._idle[key] = stack
        while sum(len(s) for s in self._idle.values()) > self.limit:
            oldest = next(iter(self._idle))
            if len(self._idle[oldest]) > 1:
                self._idle[oldest].pop(0)
            else:
                del self._idle[oldest]

    def __len__(self) -> int:
        return sum(len(s) for s in self._idle.values())

    def __getstate__(self) -> dict[str, Any]:
        return {"limit": self.limit}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.limit = state["limit"]
        self._idle = {}
