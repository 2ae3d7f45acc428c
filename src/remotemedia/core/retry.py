"""Retry policy and circuit breaker.

Only :class:`~remotemedia.TransientError` (and subclasses) are retried;
every other exception is permanent. A circuit breaker per node counts
consecutive failed calls (a call fails once its retries are used up;
input errors, ``ValueError``/``TypeError``, are the caller's fault and do
not count), opens after
``failure_threshold`` of them, makes calls fail fast with
:class:`~remotemedia.core.errors.CircuitOpenError` while open, and after
``reset_timeout_s`` lets one trial call through (half-open): success
closes it, failure opens it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from remotemedia.core.errors import CircuitOpenError, TransientError


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for transient errors.

    Parameters
    ----------
    max_retries : int
        Retries after the first attempt (0 disables retrying).
    initial_delay_ms : float
        Delay before the first retry (ms).
    multiplier : float
        Each further delay is the previous one times this.
    max_delay_ms : float
        Cap on any single delay (ms).

    The default retries 3 times, after 100, 200 and 400 ms.
    """

    max_retries: int = 3
    initial_delay_ms: float = 100.0
    multiplier: float = 2.0
    max_delay_ms: float = 30_000.0

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ValueError(f"RetryPolicy.max_retries must be an integer >= 0, got {self.max_retries!r}")
        for name in ("initial_delay_ms", "multiplier", "max_delay_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"RetryPolicy.{name} must be a number >= 0, got {value!r}")

    def delay_s(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        ms = self.initial_delay_ms * self.multiplier ** (retry - 1)
        return min(ms, self.max_delay_ms) / 1000.0

    @staticmethod
    def is_transient(exc: BaseException) -> bool:
        """True if ``exc`` asks for a retry."""
        return isinstance(exc, TransientError)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (manifest ``retry`` entries)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RetryPolicy:
        """Inverse of :meth:`to_dict` (unknown keys raise TypeError)."""
        return cls(**d)


@dataclass(frozen=True)
class CircuitBreakerConfig:
    """Circuit breaker settings.

    Parameters
    ----------
    failure_threshold : int
        Consecutive failed attempts that open the circuit.
    reset_timeout_s : float
        Seconds the circuit stays open before a trial call is let through.
    """

    failure_threshold: int = 5
    reset_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        t = self.failure_threshold
        if isinstance(t, bool) or not isinstance(t, int) or t < 1:
            raise ValueError(f"CircuitBreakerConfig.failure_threshold must be an integer >= 1, got {t!r}")
        r = self.reset_timeout_s
        if isinstance(r, bool) or not isinstance(r, (int, float)) or r < 0:
            raise ValueError(f"CircuitBreakerConfig.reset_timeout_s must be a number >= 0, got {r!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (manifest ``config.circuit_breaker``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CircuitBreakerConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(**d)


class CircuitBreaker:
    """One node's breaker: closed -> open -> half-open -> closed (see module doc)."""

    def __init__(self, config: CircuitBreakerConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.state = "closed"
        self.failures = 0
        self.opened_at = 0.0
        self._clock = clock

    def before_call(self) -> None:
        """Raise CircuitOpenError if the circuit is open and still cooling down."""
        if self.state == "open":
            waited = self._clock() - self.opened_at
            if waited < self.config.reset_timeout_s:
                raise CircuitOpenError(
                    f"circuit open after {self.failures} consecutive failures; failing fast for another "
                    f"{self.config.reset_timeout_s - waited:.3g} s (fix the cause, or wait for the half-open trial)"
                )
            self.state = "half_open"

    def record_success(self) -> None:
        """A call succeeded: close the circuit."""
        self.state = "closed"
        self.failures = 0

    def record_failure(self, exc: BaseException) -> None:
        """A call failed; input errors (ValueError, TypeError) do not count."""
        if isinstance(exc, (ValueError, TypeError)):
            return
        self.failures += 1
        if self.state == "half_open" or self.failures >= self.config.failure_threshold:
            self.state = "open"
            self.opened_at = self._clock()
