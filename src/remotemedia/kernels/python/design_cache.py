"""A cache of filter designs for the numpy body: shared while in use, a few kept after.

Designing a resampler's filters costs milliseconds; a pipeline that opens
many streams of the same conversion should pay it once. A design in use is
held through a weak reference, so every resampler of that conversion
shares one copy and the last user frees it; besides, the most recently
used designs are kept alive within a byte budget, so closing a stream and
opening the next does not design again. The Rust core keeps the same
budget per precision.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar


class Sized(Protocol):
    """What the cache needs of a design: its size in bytes (and weak references)."""

    @property
    def nbytes(self) -> int: ...


K = TypeVar("K", bound=Hashable)
V = TypeVar("V", bound=Sized)


class DesignCache(Generic[K, V]):
    """Designs by key: shared while in use, the most recent kept within ``retain_bytes``.

    Thread-safe. Two threads asking for the same new key may both design
    it; the second then takes the first's, so users always share one copy.
    A design bigger than the budget is never retained, only shared.
    """

    def __init__(self, retain_bytes: int) -> None:
        self.retain_bytes = retain_bytes
        self._lock = threading.Lock()
        self._live: weakref.WeakValueDictionary[K, V] = weakref.WeakValueDictionary()
        self._recent: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K, build: Callable[[], V]) -> V:
        """The design of ``key``: the shared one, or ``build()`` (called without the lock held)."""
        with self._lock:
            c = self._live.get(key)
            if c is not None:
                self._touch(key, c)
                return c
        built = build()
        with self._lock:
            c = self._live.get(key)
            if c is None:  # else another thread designed it meanwhile: share theirs
                c = self._live[key] = built
            self._touch(key, c)
            return c

    def stats(self) -> tuple[int, int]:
        """``(designs alive, bytes kept for reuse)``."""
        with self._lock:
            return len(self._live), sum(v.nbytes for v in self._recent.values())

    def _touch(self, key: K, c: V) -> None:
        # Mark c most recently used; evict the least recently used beyond the budget (lock held).
        recent = self._recent
        if key in recent:
            recent.move_to_end(key)
            return
        if c.nbytes > self.retain_bytes:
            return
        recent[key] = c
        total = sum(v.nbytes for v in recent.values())
        while total > self.retain_bytes:
            _, old = recent.popitem(last=False)
            total -= old.nbytes
