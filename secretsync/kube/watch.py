"""List+watch for one resource kind, the event source of both controllers (client-go's reflector).

``Informer`` lists the objects (remembering the list's resourceVersion), then watches from
there, following every event's and ``BOOKMARK``'s resourceVersion so a reconnect resumes
where it stopped. When the server says the version is too old (410 ``Gone``, as a status
or as an ``ERROR`` event) it lists again and emits the difference against its store:
``ADDED`` for new objects, ``MODIFIED`` for changed ones (by resourceVersion), ``DELETED``
for vanished ones, so a consumer never misses a delete across a relist. Other failures
reconnect with capped exponential backoff and full jitter. A ``threading.Event`` stops it;
``stop()`` also closes the open watch connection so a blocked read ends at once.

Consume it as an iterator (``for ev in informer.events(): ...``, each event a
``(type, object)`` tuple with ``.old`` holding the previous version, or None) or with a
callback in a thread (``Informer(..., handler=fn).start()``). ``store`` keeps the latest
object per ``(namespace, name)``; ``synced`` is set once the first list is in the store.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import traceback
from collections.abc import Callable, Iterator

from secretsync.kube.client import Gone, KubeClient, KubeError
from secretsync.retry import backoff_delay

__all__ = ["Informer", "WatchEvent", "ADDED", "MODIFIED", "DELETED"]

log = logging.getLogger(__name__)

ADDED, MODIFIED, DELETED, BOOKMARK = "ADDED", "MODIFIED", "DELETED", "BOOKMARK"


class WatchEvent(tuple):
    """``(type, object)``; ``.old`` is the object as the store held it before (None if new)."""

    def __new__(cls, type_: str, obj: dict, old: dict | None = None) -> WatchEvent:
        self = tuple.__new__(cls, (type_, obj))
        self.old = old
        return self

    @property
    def type(self) -> str:
        return self[0]

    @property
    def object(self) -> dict:
        return self[1]


def _key(obj: dict) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


def _rv(obj: dict) -> str | None:
    return (obj.get("metadata") or {}).get("resourceVersion")


class Informer:
    """Keeps a store of one kind in sync with the API server and reports every change."""

    def __init__(
        self,
        client: KubeClient,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        handler: Callable[[WatchEvent], None] | None = None,
        stop_event: threading.Event | None = None,
        watch_timeout: int = 300,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.client = client
        self.api_version, self.kind, self.namespace = api_version, kind, namespace
        self.label_selector, self.field_selector = label_selector, field_selector
        self.handler = handler
        self.stop_event = stop_event or threading.Event()
        self.watch_timeout = watch_timeout
        self.backoff_base, self.backoff_cap, self._rng = backoff_base, backoff_cap, rng
        self.store: dict[tuple[str, str], dict] = {}
        self.synced = threading.Event()
        self.resource_version: str | None = None
        self.relists = 0  # how many lists were made (first one included)
        self.watches = 0  # how many watch requests were opened
        self._lock = threading.Lock()
        self._stream = None
        self._thread: threading.Thread | None = None

    @property
    def what(self) -> str:
        where = f" in namespace {self.namespace}" if self.namespace else ""
        return f"{self.kind} ({self.api_version}){where}"

    # -- store reads --------------------------------------------------------------------
    def get(self, namespace: str | None, name: str) -> dict | None:
        with self._lock:
            return self.store.get((namespace or "", name))

    def items(self) -> list[dict]:
        with self._lock:
            return list(self.store.values())

    # -- the loop -----------------------------------------------------------------------
    def _relist(self) -> Iterator[WatchEvent]:
        listed = self.client.list(
            self.api_version,
            self.kind,
            self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
        )
        self.relists += 1
        fresh = {_key(o): o for o in listed["items"]}
        events: list[WatchEvent] = []
        with self._lock:
            for key, obj in fresh.items():
                old = self.store.get(key)
                if old is None:
                    events.append(WatchEvent(ADDED, obj))
                elif _rv(old) != _rv(obj):
                    events.append(WatchEvent(MODIFIED, obj, old))
            for key, old in self.store.items():
                if key not in fresh:
                    events.append(WatchEvent(DELETED, old, old))
            self.store = fresh
            self.resource_version = listed["metadata"].get("resourceVersion") or None
        self.synced.set()
        yield from events

    def _apply(self, etype: str, obj: dict) -> WatchEvent | None:
        key = _key(obj)
        with self._lock:
            old = self.store.get(key)
            if etype == DELETED:
                self.store.pop(key, None)
                return WatchEvent(DELETED, obj, old)
            self.store[key] = obj
            if old is None:
                return WatchEvent(ADDED, obj)
            return WatchEvent(MODIFIED, obj, old)

    def events(self) -> Iterator[WatchEvent]:
        """Yield changes until the stop event is set (first the initial list, as ``ADDED``)."""
        failures = 0
        need_list = True
        while not self.stop_event.is_set():
            try:
                if need_list:
                    yield from self._relist()
                    need_list = False
                timeout = int(self.watch_timeout * (1 + self._rng()))  # spread reconnects, as client-go
                stream = self.client.watch(
                    self.api_version,
                    self.kind,
                    self.namespace,
                    resource_version=self.resource_version,
                    label_selector=self.label_selector,
                    field_selector=self.field_selector,
                    timeout_seconds=max(1, timeout),
                )
                self._stream = stream
                self.watches += 1
                if self.stop_event.is_set():
                    stream.close()
                    break
                opened_at, received = time.monotonic(), 0
                for etype, obj in stream:
                    failures, received = 0, received + 1
                    rv = _rv(obj) if isinstance(obj, dict) else None
                    if rv:
                        self.resource_version = rv
                    if etype == BOOKMARK or etype not in (ADDED, MODIFIED, DELETED):
                        continue
                    event = self._apply(etype, obj)
                    if event is not None:
                        yield event
                    if self.stop_event.is_set():
                        break
                if not received and time.monotonic() - opened_at < 1.0 and not self.stop_event.is_set():
                    # a watch that ends at once with nothing in it: back off (client-go's "very short watch")
                    failures += 1
                    self.stop_event.wait(backoff_delay(failures, self.backoff_base, self.backoff_cap, self._rng))
            except Gone:
                log.info("watch %s: resourceVersion %s expired, listing again", self.what, self.resource_version)
                need_list = True
                continue
            except KubeError as exc:
                failures += 1
                delay = backoff_delay(failures, self.backoff_base, self.backoff_cap, self._rng)
                log.warning(
                    "watch %s failed (%s: %s); retrying in %.1fs", self.what, type(exc).__name__, exc.message, delay
                )
                self.stop_event.wait(delay)
            finally:
                if self._stream is not None:
                    self._stream.close()
                    self._stream = None

    def run(self) -> None:
        """Feed every event to ``handler`` until stopped (a failing handler is logged, not fatal)."""
        for event in self.events():
            try:
                self.handler(event)
            except Exception as exc:  # noqa: BLE001
                # type and frames only: the text of a handler's exception could quote a Secret value
                log.error("watch %s: event handler failed with %s", self.what, type(exc).__name__)
                if log.isEnabledFor(logging.DEBUG):
                    log.debug(
                        "watch %s: handler traceback:\n%s",
                        self.what,
                        "\n".join(
                            f"  {f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(exc.__traceback__)
                        ),
                    )

    def start(self) -> Informer:
        """Run ``run()`` in a daemon thread."""
        if self.handler is None:
            raise ValueError("start() needs a handler; iterate events() instead")
        self._thread = threading.Thread(target=self.run, name=f"watch-{self.kind}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Set the stop event, close the open watch and join the thread (if started)."""
        self.stop_event.set()
        stream = self._stream
        if stream is not None:
            stream.close()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            try:
                thread.join(timeout)
            except RuntimeError:  # stop() raced start(): not started yet, and it will see the stop event
                pass

    def wait_synced(self, timeout: float | None = None) -> bool:
        return self.synced.wait(timeout)
