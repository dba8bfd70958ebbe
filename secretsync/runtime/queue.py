"""A keyed work queue for reconcilers, with client-go workqueue semantics (pure, thread-safe).

- ``add(key)`` deduplicates: a key waiting in the queue is held once, however often it is added.
- A key being processed is never handed to a second worker; adding it meanwhile marks it
  dirty and it is queued again when the worker calls ``done(key)``.
- ``add_after(key, delay)`` schedules a key for later; ``add_rate_limited(key)`` does so with
  per-key exponential backoff (``base * 2**failures``, capped), reset by ``forget(key)``.
- ``start(handler, workers=N)`` runs N daemon worker threads: a handler that returns normally
  forgets the key's failures (a float return value requeues the key after that many seconds),
  one that raises is retried with backoff, up to ``max_retries`` then dropped (``on_drop``).
- ``shutdown()`` stops handing out keys, lets running handlers finish and joins the workers.

``stats()`` gives the numbers a metrics collector needs (depth, adds, retries, longest running).
The clock is injectable: with a fake clock, delayed keys become due when the test advances it
and calls ``get(block=False)`` (or ``wake()``).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable

__all__ = ["WorkQueue", "ShutDown"]

log = logging.getLogger(__name__)


class ShutDown(Exception):
    """Raised by ``get`` once the queue is shut down and (for drain) empty."""


class WorkQueue:
    """Keyed queue with dedupe, one-worker-per-key, delayed adds and per-key backoff."""

    def __init__(
        self,
        *,
        name: str = "queue",
        base_delay: float = 0.5,
        max_delay: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.base_delay, self.max_delay = base_delay, max_delay
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: deque[Hashable] = deque()
        self._dirty: set[Hashable] = set()  # queued or to be requeued after processing
        self._processing: set[Hashable] = set()
        self._delayed: list[tuple[float, int, Hashable]] = []
        self._delayed_due: dict[Hashable, float] = {}  # earliest due time per delayed key
        self._seq = itertools.count()
        self._failures: dict[Hashable, int] = {}
        self._shutting_down = False
        self._workers: list[threading.Thread] = []
        self._started: dict[Hashable, float] = {}  # processing key -> when it was handed out
        self.adds_total = 0  # keys that entered the queue (after dedupe)
        self.retries_total = 0  # add_rate_limited calls

    # -- adding -------------------------------------------------------------------------
    def add(self, key: Hashable) -> None:
        """Queue ``key`` now (no-op if already queued; requeued after ``done`` if being processed)."""
        with self._cond:
            self._add_locked(key)

    def _add_locked(self, key: Hashable) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        self.adds_total += 1
        if key not in self._processing:
            self._queue.append(key)
            self._cond.notify()

    def add_after(self, key: Hashable, delay: float) -> None:
        """Queue ``key`` once ``delay`` seconds have passed (an earlier pending schedule wins)."""
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            if self._shutting_down:
                return
            due = self._clock() + delay
            if key in self._delayed_due and self._delayed_due[key] <= due:
                return
            self._delayed_due[key] = due
            heapq.heappush(self._delayed, (due, next(self._seq), key))
            self._cond.notify()

    def add_rate_limited(self, key: Hashable) -> float:
        """Queue ``key`` after its backoff delay (which doubles with each call until ``forget``); return the delay."""
        with self._cond:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
            self.retries_total += 1
        delay: float = min(self.max_delay, self.base_delay * (2**failures))
        self.add_after(key, delay)
        return delay

    def forget(self, key: Hashable) -> None:
        """Reset ``key``'s backoff (call after a success)."""
        with self._cond:
            self._failures.pop(key, None)

    def num_requeues(self, key: Hashable) -> int:
        with self._cond:
            return self._failures.get(key, 0)

    # -- taking -------------------------------------------------------------------------
    def _promote_due_locked(self) -> float | None:
        """Move due delayed keys to the queue; return seconds until the next one is due."""
        now = self._clock()
        while self._delayed:
            due, _, key = self._delayed[0]
            if self._delayed_due.get(key) != due:  # superseded by an earlier schedule
                heapq.heappop(self._delayed)
                continue
            if due > now:
                return due - now
            heapq.heappop(self._delayed)
            del self._delayed_due[key]
            self._add_locked(key)
        return None

    def get(self, block: bool = True, timeout: float | None = None) -> Hashable | None:
        """Next key to process (mark it processing), or None on timeout / nothing ready when not blocking.

        Raises ``ShutDown`` once the queue is shutting down. Call ``done(key)`` when finished.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._shutting_down:
                    raise ShutDown(self.name)
                next_due = self._promote_due_locked()
                if self._queue:
                    key = self._queue.popleft()
                    self._processing.add(key)
                    self._started[key] = self._clock()
                    self._dirty.discard(key)
                    return key
                if not block:
                    return None
                wait = next_due
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    wait = remaining if wait is None else min(wait, remaining)
                self._cond.wait(wait)

    def done(self, key: Hashable) -> None:
        """Finish processing ``key``; if it was added meanwhile, it goes back in the queue."""
        with self._cond:
            self._processing.discard(key)
            self._started.pop(key, None)
            if key in self._dirty and not self._shutting_down:
                self._queue.append(key)
                self._cond.notify()
            self._cond.notify_all()

    def wake(self) -> None:
        """Re-check delayed keys now (for tests that advance an injected clock)."""
        with self._cond:
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue)

    def pending(self) -> int:
        """Keys queued or scheduled for later (not counting those being processed)."""
        with self._cond:
            return len(self._queue) + len(self._delayed_due)

    def stats(self) -> dict[str, float]:
        """Numbers for metrics (controller-runtime's workqueue set): depth, delayed, processing,
        adds_total, retries_total, longest_running_seconds (of the keys being processed now)."""
        with self._cond:
            now = self._clock()
            return {
                "depth": len(self._queue),
                "delayed": len(self._delayed_due),
                "processing": len(self._processing),
                "adds_total": self.adds_total,
                "retries_total": self.retries_total,
                "longest_running_seconds": max((now - t for t in self._started.values()), default=0.0),
            }

    def processing(self) -> frozenset[Hashable]:
        with self._cond:
            return frozenset(self._processing)

    # -- workers ------------------------------------------------------------------------
    def start(
        self,
        handler: Callable[[Hashable], float | None],
        *,
        workers: int = 1,
        max_retries: int | None = None,
        on_drop: Callable[[Hashable, BaseException], None] | None = None,
    ) -> None:
        """Run ``handler(key)`` in ``workers`` daemon threads until ``shutdown``."""
        for i in range(workers):
            t = threading.Thread(
                target=self._work, args=(handler, max_retries, on_drop), name=f"{self.name}-worker-{i}", daemon=True
            )
            t.start()
            self._workers.append(t)

    def _work(
        self,
        handler: Callable[[Hashable], float | None],
        max_retries: int | None,
        on_drop: Callable[[Hashable, BaseException], None] | None,
    ) -> None:
        while True:
            try:
                key = self.get()
            except ShutDown:
                return
            try:
                requeue_after = handler(key)
            except Exception as exc:  # noqa: BLE001 - a handler error is a retry, never a dead worker
                if max_retries is not None and self.num_requeues(key) >= max_retries:
                    self.forget(key)
                    log.warning(
                        "%s: dropping %s after %d retries (%s)", self.name, key, max_retries, type(exc).__name__
                    )
                    if on_drop:
                        try:
                            on_drop(key, exc)
                        except Exception:  # noqa: BLE001
                            log.exception("%s: on_drop failed for %s", self.name, key)
                else:
                    delay = self.add_rate_limited(key)
                    log.info("%s: %s failed (%s), retrying in %.2fs", self.name, key, type(exc).__name__, delay)
            else:
                self.forget(key)
                if requeue_after is not None:
                    self.add_after(key, requeue_after)
            finally:
                self.done(key)

    def shutdown(self, *, wait: bool = True, timeout: float | None = 10.0) -> None:
        """Stop: no more keys are handed out or accepted; running handlers finish; workers are joined."""
        with self._cond:
            self._shutting_down = True
            self._cond.notify_all()
        if wait:
            deadline = None if timeout is None else time.monotonic() + timeout
            for t in self._workers:
                t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down
