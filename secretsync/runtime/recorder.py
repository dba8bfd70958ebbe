"""Kubernetes Events for the SealedSecret controller, as client-go's event recorder writes them.

``EventRecorder.event(obj, type, reason, message)`` queues a ``core/v1`` Event about
``obj`` (involvedObject with kind, namespace, name, uid, apiVersion, resourceVersion;
``source.component`` and ``reportingComponent`` set to the component, ``sealed-secrets``
for upstream compatibility) and returns at once; a daemon thread writes it. Like
client-go's correlator, a repeat of the same event (same object, type, reason, message)
becomes a PATCH of ``count`` and ``lastTimestamp`` on the Event already written. Like
client-go's broadcaster, the queue is bounded and a full queue drops the event with a log
line: events are best effort and never fail or slow down a reconcile. Messages must never
hold secret values (callers pass error texts that name objects and items only).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from secretsync.api.conditions import now_rfc3339
from secretsync.kube.client import KubeClient
from secretsync.kube.errors import KubeError, NotFound

__all__ = ["EventRecorder", "COMPONENT"]

log = logging.getLogger(__name__)

COMPONENT = "sealed-secrets"
_MAX_MESSAGE = 1024  # the API server rejects longer event notes
_CACHE_SIZE = 4096  # correlated events remembered (client-go's LRU is 4096 too)


class EventRecorder:
    """Asynchronous, correlating writer of Events about objects."""

    def __init__(
        self,
        client: KubeClient,
        component: str = COMPONENT,
        *,
        max_queue: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.component = component
        self._clock = clock
        self._queue: queue.Queue[tuple[dict[str, Any], str, str, str]] = queue.Queue(max_queue)
        self._seen: OrderedDict[tuple[Any, ...], tuple[str, str, int]] = OrderedDict()  # key -> (ns, name, count)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._pending = 0
        self.dropped = 0

    # -- producer -----------------------------------------------------------------------
    def event(self, obj: Mapping[str, Any], event_type: str, reason: str, message: str) -> None:
        """Queue an Event about ``obj`` (a dict with apiVersion, kind and metadata)."""
        meta = obj.get("metadata") or {}
        involved = {
            "kind": obj.get("kind", ""),
            "namespace": meta.get("namespace", ""),
            "name": meta.get("name", ""),
            "uid": meta.get("uid", ""),
            "apiVersion": obj.get("apiVersion", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        with self._idle:
            self._pending += 1
        try:
            self._queue.put_nowait((involved, event_type, reason, message[:_MAX_MESSAGE]))
        except queue.Full:
            with self._idle:
                self._pending -= 1
            self.dropped += 1
            log.warning(
                "event queue full: dropped %s event %s for %s/%s",
                event_type,
                reason,
                involved["namespace"],
                involved["name"],
            )
            return
        if self._thread is None:
            self.start()

    # -- sink ---------------------------------------------------------------------------
    def start(self) -> EventRecorder:
        with self._idle:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="event-recorder", daemon=True)
                self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self._write(*item)
            except KubeError as exc:
                log.info(
                    "could not record event %s for %s/%s: %s",
                    item[2],
                    item[0]["namespace"],
                    item[0]["name"],
                    exc.message,
                )
            except Exception:  # noqa: BLE001 - the recorder thread must survive anything
                log.exception("event recorder failed")
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _write(self, involved: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        now = now_rfc3339()
        key = (involved["namespace"], involved["name"], involved["uid"], involved["kind"], event_type, reason, message)
        seen = self._seen.get(key)
        if seen is not None:
            ns, name, count = seen
            try:
                self.client.patch("v1", "Event", name, ns, {"count": count + 1, "lastTimestamp": now})
                self._remember(key, (ns, name, count + 1))
                return
            except NotFound:
                pass
        ns = involved["namespace"] or "default"
        name = f"{involved['name'] or 'object'}.{time.time_ns():x}"
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {k: v for k, v in involved.items() if v},
            "reason": reason,
            "message": message,
            "type": event_type,
            "source": {"component": self.component},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "reportingComponent": self.component,
            "reportingInstance": "",
        }
        self.client.create(body, answer=False)
        self._remember(key, (ns, name, 1))

    def _remember(self, key: tuple[Any, ...], value: tuple[str, str, int]) -> None:
        self._seen[key] = value
        self._seen.move_to_end(key)
        while len(self._seen) > _CACHE_SIZE:
            self._seen.popitem(last=False)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event was written (or failed); True if the queue drained."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued (up to ``timeout``), then end the writer thread."""
        self.flush(timeout)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
