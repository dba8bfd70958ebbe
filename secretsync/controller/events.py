"""Kubernetes Events for our controllers (core/v1, as client-go's ``record.EventRecorder`` writes them).

``EventRecorder(client, component="sealed-secrets").event(obj, "Normal", "Unsealed", "...")``
creates an Event about ``obj`` in its namespace (``default`` for cluster-scoped objects) with
``involvedObject``, ``source.component``/``host``, first/last timestamps and ``count``.
Repeats of the same (object, type, reason, message) within ``aggregate_window`` seconds bump
``count`` and ``lastTimestamp`` on the existing Event instead of creating a new one, as
client-go's event correlator does, so a retry loop cannot flood the namespace.

Events are best effort: a failure to record is logged (by error class) and never raised.
Messages are clipped to 1024 characters; callers must never put secret values in them.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Mapping

from secretsync.api import EventType, now_rfc3339
from secretsync.kube.client import KubeClient, KubeError, NotFound

__all__ = ["EventRecorder"]

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 1024


class EventRecorder:
    """Records Events for objects on behalf of one component."""

    def __init__(self, client: KubeClient, component: str, *, host: str | None = None,
                 aggregate_window: float = 600.0, cache_size: int = 4096,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client, self.component = client, component
        self.host = host if host is not None else socket.gethostname()
        self.aggregate_window, self.cache_size = aggregate_window, cache_size
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple, dict] = OrderedDict()    # key -> {"name", "namespace", "count", "at"}

    @staticmethod
    def _ref(obj: Mapping[str, Any]) -> dict:
        meta = obj.get("metadata") or {}
        ref = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": meta.get("name"),
               "namespace": meta.get("namespace"), "uid": meta.get("uid"),
               "resourceVersion": meta.get("resourceVersion")}
        return {k: v for k, v in ref.items() if v}

    def event(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> dict | None:
        """Record one event about ``obj``; returns the Event written, or None if recording failed."""
        if type_ not in (EventType.NORMAL, EventType.WARNING):
            raise ValueError("event type must be Normal or Warning")
        message = message if len(message) <= MESSAGE_LIMIT else message[:MESSAGE_LIMIT - 3] + "..."
        ref = self._ref(obj)
        namespace = ref.get("namespace") or "default"
        key = (ref.get("uid") or (ref.get("kind"), namespace, ref.get("name")), type_, reason, message)
        now, stamp = self._clock(), now_rfc3339()
        with self._lock:
            seen = self._seen.get(key)
            if seen and now - seen["at"] > self.aggregate_window:
                seen = None
        try:
            written = self._bump(seen, stamp) if seen else None
            if written is None:
                written = self._create(ref, namespace, type_, reason, message, stamp)
        except KubeError as exc:
            log.warning("could not record event %s for %s %s/%s (%s)", reason, ref.get("kind"), namespace,
                        ref.get("name"), type(exc).__name__)
            return None
        with self._lock:
            self._seen[key] = {"name": written["metadata"]["name"], "namespace": namespace,
                               "count": written.get("count", 1), "at": now}
            self._seen.move_to_end(key)
            while len(self._seen) > self.cache_size:
                self._seen.popitem(last=False)
        return written

    def normal(self, obj: Mapping[str, Any], reason: str, message: str) -> dict | None:
        return self.event(obj, EventType.NORMAL, reason, message)

    def warning(self, obj: Mapping[str, Any], reason: str, message: str) -> dict | None:
        return self.event(obj, EventType.WARNING, reason, message)

    def _create(self, ref: dict, namespace: str, type_: str, reason: str, message: str, stamp: str) -> dict:
        name = f"{ref.get('name', 'object')}.{time.time_ns():x}"
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": ref, "reason": reason, "message": message, "type": type_,
            "source": {"component": self.component, "host": self.host} if self.host else {"component": self.component},
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
            "reportingComponent": self.component, "reportingInstance": self.host,
        }
        return self.client.create(event)

    def _bump(self, seen: dict, stamp: str) -> dict | None:
        try:
            return self.client.patch("v1", "Event", seen["name"], seen["namespace"],
                                     {"count": seen["count"] + 1, "lastTimestamp": stamp})
        except NotFound:                     # expired or deleted meanwhile: start a new one
            return None
