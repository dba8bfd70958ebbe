"""Fault injection for reliability tests: failing, throttled, conflicting and hanging requests.

``server.faults.fail_next(2, verb="patch", resource="secrets", code=500)`` makes
the next two matching requests fail with a real ``Status`` body before they
reach the resource logic; ``code=429`` adds ``Retry-After``; ``hang=5`` holds
the request for 5 seconds and then drops the connection without an answer
(a client timeout); ``close_watches()`` ends every open watch stream by
dropping its connection, as a load balancer or API server restart would.
Every fault is counted in ``.injected`` so tests can assert it happened.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from secretsync_emulator import status as st

__all__ = ["Faults", "Fault"]

_MESSAGES = {
    500: ("InternalError", 'an error on the server ("injected fault") has prevented the request from succeeding'),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: (
        "Timeout",
        "the server was unable to return a response in the time allotted, but may still be processing the request",
    ),
    429: ("TooManyRequests", "Too many requests, please try again later."),
}


@dataclass
class Fault:
    remaining: int
    verb: str | None
    resource: str | None
    namespace: str | None
    name: str | None
    code: int
    retry_after: int
    hang: float | None

    def matches(self, req) -> bool:
        if self.verb not in (None, "*") and self.verb != req.verb:
            return False
        if self.resource not in (None, "*"):
            combined = f"{req.resource}/{req.subresource}" if req.subresource else req.resource
            if self.resource not in (req.resource, combined):
                return False
        if self.namespace is not None and self.namespace != req.namespace:
            return False
        if self.name is not None and self.name != req.name:
            return False
        return req.is_resource


class Faults:
    """The fault plan of one server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._watches: set[threading.Event] = set()
        self.injected = 0

    def fail_next(
        self,
        count: int = 1,
        *,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        code: int = 500,
        retry_after: int = 1,
        hang: float | None = None,
    ) -> Fault:
        """Fail the next ``count`` requests matching verb/resource (``plural`` or ``plural/subresource``)."""
        if hang is None and code not in (409, 429, 500, 503, 504):
            raise ValueError("code must be one of 409, 429, 500, 503, 504")
        fault = Fault(count, verb, resource, namespace, name, code, retry_after, hang)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> int:
        with self._lock:
            return sum(f.remaining for f in self._faults)

    def _take(self, req) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(req):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    self.injected += 1
                    return fault
        return None

    def intercept(self, handler, req) -> bool:
        """Answer ``req`` with a planned fault; True if it did."""
        fault = self._take(req)
        if fault is None:
            return False
        if fault.hang is not None:
            stop = handler.server.stopping
            stop.wait(fault.hang)
            handler.abort_connection()
            return True
        if fault.code == 409:
            err = st.conflict(req.group, req.resource, req.name or "", st.STALE)
        else:
            reason, message = _MESSAGES[fault.code]
            details = {"retryAfterSeconds": fault.retry_after} if fault.code in (429, 503, 504) else None
            headers = {"Retry-After": str(fault.retry_after)} if fault.code in (429, 503) else None
            err = st.APIError(fault.code, reason, message, details, headers)
        handler.send_json(err.code, err.body(), err.headers)
        return True

    # --- watch streams ---
    def watch_closer(self) -> threading.Event:
        event = threading.Event()
        with self._lock:
            self._watches.add(event)
        return event

    def watch_ended(self, event: threading.Event) -> None:
        with self._lock:
            self._watches.discard(event)

    def open_watches(self) -> int:
        with self._lock:
            return len(self._watches)

    def close_watches(self) -> int:
        """Drop the connection of every open watch; returns how many were closed."""
        with self._lock:
            events = list(self._watches)
        for event in events:
            event.set()
        return len(events)

    def wait_for_watches(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Wait until at least ``count`` watches are open (so a test can close them at a known point)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.open_watches() >= count:
                return True
            time.sleep(0.01)
        return False
