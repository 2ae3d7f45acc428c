"""Bounded queues between the stages of ``Pipeline.stream()``.

Policy when a queue is full:

- ``"block"`` (default): the producer waits until the consumer takes an
  item. Nothing is lost; a slow node slows everything upstream of it, back
  to the input iterable (back-pressure). Memory stays bounded.
- ``"drop_oldest"``: the producer never waits for data: the oldest queued
  chunk is dropped to make room (for real time, where fresh audio matters
  more than complete audio). Drops are counted per node in the metrics.
  End-of-stream markers are never dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

POLICIES = ("block", "drop_oldest")


class QueueStats:
    """Queue counters of one node's input (reported under ``stream`` in the metrics)."""

    __slots__ = ("depth", "dropped", "items", "max_depth", "wait_max_ns", "wait_ns")

    def __init__(self) -> None:
        self.depth = 0
        self.max_depth = 0
        self.dropped = 0
        self.items = 0
        self.wait_ns = 0
        self.wait_max_ns = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON form: queue depth now and at most, drops, and lag (time chunks waited in the queue)."""
        n = self.items
        return {
            "queue_depth": self.depth,
            "max_queue_depth": self.max_depth,
            "dropped": self.dropped,
            "lag_mean_us": self.wait_ns / 1e3 / n if n else 0.0,
            "lag_max_us": self.wait_max_ns / 1e3,
        }


class Channel:
    """A bounded FIFO for one event loop, with a full-queue policy."""

    def __init__(self, maxsize: int, policy: str, stats: QueueStats | None) -> None:
        self._items: deque[tuple[Any, int]] = deque()
        self._maxsize = maxsize
        self._drop = policy == "drop_oldest"
        self._stats = stats
        self._getter: asyncio.Future[None] | None = None
        self._putters: deque[asyncio.Future[None]] = deque()

    def _wake_getter(self) -> None:
        g = self._getter
        if g is not None and not g.done():
            g.set_result(None)

    def _wake_putter(self) -> None:
        while self._putters:
            f = self._putters.popleft()
            if not f.done():
                f.set_result(None)
                return

    def _append(self, item: Any) -> None:
        s = self._stats
        self._items.append((item, time.perf_counter_ns() if s is not None else 0))
        if s is not None:
            s.depth = len(self._items)
            if s.depth > s.max_depth:
                s.max_depth = s.depth
        self._wake_getter()

    async def put(self, item: Any, control: bool = False) -> None:
        """Queue ``item``; a full queue blocks or drops its oldest chunk (never for ``control`` items)."""
        while len(self._items) >= self._maxsize:
            if self._drop and not control:
                self._items.popleft()
                if self._stats is not None:
                    self._stats.dropped += 1
                break
            fut = asyncio.get_running_loop().create_future()
            self._putters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                fut.cancel()
                raise
        self._append(item)

    def force(self, item: Any) -> None:
        """Queue ``item`` now, beyond the capacity if need be (failure reports: never wait, never dropped)."""
        self._append(item)

    async def get(self) -> Any:
        """Take the oldest item (waits while the queue is empty)."""
        while not self._items:
            self._getter = asyncio.get_running_loop().create_future()
            try:
                await self._getter
            finally:
                self._getter = None
        item, t = self._items.popleft()
        s = self._stats
        if s is not None:
            wait = time.perf_counter_ns() - t
            s.items += 1
            s.wait_ns += wait
            if wait > s.wait_max_ns:
                s.wait_max_ns = wait
            s.depth = len(self._items)
        self._wake_putter()
        return item
