"""Bounded retries with exponential backoff and full jitter, for calls to network peers.

One retry layer per call: the Kubernetes client, Git and Vault edges call ``retry_call``
(or build a ``RetryPolicy``) instead of stacking urllib3 ``Retry`` under it. Sleep and
clock are injectable so tests run without waiting. When attempts or the deadline run
out, ``RetriesExhausted`` names the peer and the operation and chains the last error.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from secretsync.errors import SecretsyncError

__all__ = ["RetryPolicy", "RetriesExhausted", "retry_call", "backoff_delay", "poll_until"]

T = TypeVar("T")


class RetriesExhausted(SecretsyncError):
    """A peer kept failing until the attempts or the deadline ran out (``__cause__`` is the last error)."""

    reference = "retries-exhausted"

    def __init__(self, peer: str, operation: str, attempts: int, last: BaseException) -> None:
        detail = getattr(last, "message", None) or type(last).__name__
        super().__init__(
            f"{peer}: {operation} failed after {attempts} attempt(s): {detail}",
            hint=getattr(last, "hint", None) or f"check that {peer} is reachable and healthy, then retry",
        )
        self.peer, self.operation, self.attempts, self.last = peer, operation, attempts, last


def backoff_delay(attempt: int, base: float, cap: float, rng: Callable[[], float] = random.random) -> float:
    """Full-jitter delay before retry number ``attempt`` (1-based): uniform in [0, min(cap, base*2**(attempt-1))]."""
    return rng() * min(cap, base * 2.0 ** (attempt - 1))


@dataclass
class RetryPolicy:
    """How often and how long to retry; ``retry_on(exc)`` says which errors are worth another try."""

    attempts: int = 5
    deadline: float | None = 30.0  # seconds from the first attempt; None = attempts only
    base: float = 0.2
    cap: float = 5.0
    retry_on: Callable[[BaseException], bool] = lambda exc: bool(getattr(exc, "transient", False))
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: Callable[[], float] = field(default=random.random)

    def call(self, fn: Callable[[], T], *, peer: str, operation: str) -> T:
        """Run ``fn`` until it returns, a non-retryable error escapes, or the budget is spent."""
        start = self.clock()
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - filtered by retry_on right below
                if not self.retry_on(exc):
                    raise
                if attempt == self.attempts:
                    raise RetriesExhausted(peer, operation, attempt, exc) from exc
                delay = backoff_delay(attempt, self.base, self.cap, self.rng)
                hinted = getattr(exc, "retry_after", None)  # a server's Retry-After wins over our guess
                if hinted:
                    delay = max(delay, float(hinted))
                if self.deadline is not None and self.clock() + delay - start > self.deadline:
                    raise RetriesExhausted(peer, operation, attempt, exc) from exc
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


def retry_call(fn: Callable[[], T], *, peer: str, operation: str, policy: RetryPolicy | None = None) -> T:
    """Call ``fn`` under ``policy`` (default: 5 attempts within 30 s, retrying errors marked ``transient``)."""
    return (policy or RetryPolicy()).call(fn, peer=peer, operation=operation)


def poll_until(predicate: Callable[[], T], timeout: float, interval: float = 0.02) -> T | None:
    """Call ``predicate`` every ``interval`` seconds until it returns a truthy value, and return that
    value; ``None`` when ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None
