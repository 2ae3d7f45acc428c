"""One call at a time inside a stateful kernel object, on every body.

A Resampler or VAD holds stream state. The native body releases the GIL
while it computes, so two threads can be inside one object at once; on
any body that interleaves updates of the state (a corrupted stream, or
on the native core a data race). The rule, the same for every body: one
object serves one call at a time, and a call that finds another thread
inside raises :class:`~remotemedia.errors.ConcurrentUseError` without
touching the state. It never waits: waiting would hide the bug and mix
two streams' audio in one state.

The native core enforces the same rule per handle (``RM_ERR_STATE``, "used
from two threads at once") for callers of the bindings themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from remotemedia.errors import ConcurrentUseError


class Busy:
    """A non-blocking claim on one object; ``what`` names it in the error."""

    __slots__ = ("_lock", "what")

    def __init__(self, what: str) -> None:
        self._lock = threading.Lock()
        self.what = what

    def enter(self, op: str) -> None:
        """Claim the object for ``op``.

        Raises
        ------
        ConcurrentUseError
            Another thread is inside the object.
        """
        if not self._lock.acquire(blocking=False):
            raise ConcurrentUseError(
                f"{self.what}.{op}: used from two threads at once (another call is still inside this object); "
                f"use one {self.what} per thread or serialise the calls with a lock"
            )

    def leave(self) -> None:
        """Release the claim made by :meth:`enter`."""
        self._lock.release()


class ExclusiveVadStream:
    """A body's VAD stream behind a :class:`Busy` claim (process and reset).

    Other attributes are passed through to the wrapped stream.
    """

    __slots__ = ("_busy", "_inner")

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._busy = Busy("VAD")

    def process(self, x: Any) -> Any:
        """The wrapped stream's ``process``, one thread at a time."""
        busy = self._busy
        busy.enter("process")
        try:
            return self._inner.process(x)
        finally:
            busy.leave()

    def run(self, x: Any) -> Any:
        """The wrapped stream's ``run`` (flags and scores), one thread at a time."""
        busy = self._busy
        busy.enter("process_scores")
        try:
            return self._inner.run(x)
        finally:
            busy.leave()

    def scores(self, x: Any) -> Any:
        """The wrapped stream's ``scores``, one thread at a time."""
        busy = self._busy
        busy.enter("scores")
        try:
            return self._inner.scores(x)
        finally:
            busy.leave()

    def reset(self) -> None:
        """The wrapped stream's ``reset``, one thread at a time."""
        busy = self._busy
        busy.enter("reset")
        try:
            self._inner.reset()
        finally:
            busy.leave()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def exclusive_vad(factory: Callable[..., Any]) -> Callable[..., ExclusiveVadStream]:
    """Wrap a body's VAD stream factory so every stream it makes is exclusive (same arguments)."""

    def make(*args: Any) -> ExclusiveVadStream:
        return ExclusiveVadStream(factory(*args))

    return make
