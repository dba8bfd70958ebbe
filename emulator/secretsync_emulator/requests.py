"""A count of the resource requests the emulator received, for tests and benches.

``server.requests`` records every request on a resource endpoint once it is
authenticated (so the user is the impersonated one when impersonation is
used), before fault injection and authorization: a request answered with an
injected fault or a 403 is counted too. Each record is a ``Request`` tuple
(verb, group, resource — ``plural/subresource`` for subresources —,
namespace, user, dry_run); ``count(...)`` filters on any of them,
``snapshot()`` copies the counter, ``since(snapshot)`` gives what came after,
``reset()`` starts over.

    before = server.requests.snapshot()
    reconcile()
    writes = server.requests.count(verb=WRITE_VERBS, dry_run=False, since=before)
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterable
from typing import NamedTuple

__all__ = ["Request", "RequestCounter", "WRITE_VERBS"]

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


class Request(NamedTuple):
    verb: str
    group: str
    resource: str
    namespace: str
    user: str
    dry_run: bool


def _matches(value, wanted) -> bool:
    if wanted is None:
        return True
    if isinstance(wanted, (set, frozenset, list, tuple)):
        return value in wanted
    return value == wanted


class RequestCounter:
    """Thread-safe counts of ``Request`` records."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: collections.Counter = collections.Counter()

    def record(self, req) -> None:
        """Count one parsed ``server.Request`` (non-resource requests are not counted)."""
        if not req.is_resource:
            return
        resource = f"{req.resource}/{req.subresource}" if req.subresource else req.resource
        dry_run = req.query.get("dryRun") == "All" or (
            req.verb in ("delete", "deletecollection") and b'"dryRun"' in (req.body or b"")
        )
        key = Request(req.verb, req.group, resource, req.namespace, req.user.name if req.user else "", dry_run)
        with self._lock:
            self._counts[key] += 1

    def snapshot(self) -> collections.Counter:
        """A copy of the counts so far."""
        with self._lock:
            return collections.Counter(self._counts)

    def since(self, earlier: collections.Counter) -> collections.Counter:
        """The counts added after ``earlier`` (a ``snapshot()``)."""
        return self.snapshot() - earlier

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def count(
        self,
        *,
        verb: str | Iterable[str] | None = None,
        group: str | None = None,
        resource: str | Iterable[str] | None = None,
        namespace: str | None = None,
        user: str | None = None,
        dry_run: bool | None = None,
        since: collections.Counter | None = None,
    ) -> int:
        """How many requests matched every given filter (a filter may be a value or a set of values)."""
        counts = self.snapshot() if since is None else self.since(since)
        return sum(
            n
            for key, n in counts.items()
            if _matches(key.verb, verb)
            and _matches(key.group, group)
            and _matches(key.resource, resource)
            and _matches(key.namespace, namespace)
            and _matches(key.user, user)
            and _matches(key.dry_run, dry_run)
        )

    def by(self, field: str, **filters) -> collections.Counter:
        """Counts grouped by one field of ``Request`` (e.g. ``by("verb", dry_run=False)``)."""
        since = filters.pop("since", None)
        counts = self.snapshot() if since is None else self.since(since)
        out: collections.Counter = collections.Counter()
        for key, n in counts.items():
            if all(_matches(getattr(key, name), wanted) for name, wanted in filters.items()):
                out[getattr(key, field)] += n
        return out
