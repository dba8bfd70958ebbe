"""Watches: one open stream (``WatchStream``) and the list+watch loop over it (client-go's reflector).

``WatchStream`` is what ``KubeClient.watch`` returns: iterate it for ``(type, object)``;
``close()`` from another thread ends it. Lines that are not JSON events and ``ERROR`` events
raise mapped errors that never hold the line (it may be a Secret).

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
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import urllib3

from secretsync.kube.errors import Gone, KubeAPIError, KubeError, KubeUnavailable, Timeout, error_from_status
from secretsync.kube.wire import from_wire, parse_json
from secretsync.retry import backoff_delay

if TYPE_CHECKING:  # the client imports this module for WatchStream
    from secretsync.kube.client import KubeClient

__all__ = ["Informer", "WatchEvent", "WatchStream", "ADDED", "MODIFIED", "DELETED"]

log = logging.getLogger(__name__)

ADDED, MODIFIED, DELETED, BOOKMARK = "ADDED", "MODIFIED", "DELETED", "BOOKMARK"


class WatchStream:
    """An open watch: iterate for ``(event_type, object)``; ``close()`` from any thread ends it.

    ``BOOKMARK`` events are yielded too (object holds only ``metadata.resourceVersion``). An
    ``ERROR`` event raises the mapped error (``Gone`` for an expired resourceVersion).
    """

    def __init__(self, response: Any, operation: str, lines: Iterator[str]) -> None:
        self._response = response
        self._lines = lines  # the response body split into lines (the client's reader)
        self._operation = operation
        self._closed = False
        self._iterating = False
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        with self._lock:
            if self._closed or self._iterating:
                return
            self._iterating = True
        lines = self._lines
        try:
            while True:
                error: KubeError | None = None
                try:
                    line = next(lines)
                except StopIteration:
                    return
                except (TimeoutError, urllib3.exceptions.ReadTimeoutError):
                    error = Timeout(self._operation, 0, "Timeout", "no data from the watch within the read timeout")
                except (urllib3.exceptions.HTTPError, OSError, ValueError, AttributeError):
                    # AttributeError: close() from another thread raced a read and urllib3 found its file
                    # object gone ("'NoneType' object has no attribute 'read'")
                    error = KubeUnavailable(f"{self._operation}: the watch connection broke")
                if error is not None:  # raised outside ``except``: no library context attached
                    if self._closed:
                        return
                    raise error
                if self._closed:
                    return
                if not line.strip():
                    continue
                event = parse_json(line)  # never an exception holding the line (it may be a Secret)
                if not isinstance(event, dict):
                    raise KubeAPIError(
                        self._operation, 0, "BadWatchEvent", "the watch stream sent a line that is not a JSON event"
                    )
                etype, obj = event.get("type"), event.get("object")
                if etype == "ERROR":
                    code = obj.get("code", 500) if isinstance(obj, dict) else 500
                    raise error_from_status(self._operation, int(code), obj)
                yield str(etype), from_wire(obj)
        finally:
            with self._lock:
                self._closed, self._iterating = True, False
            self._finish()

    def close(self) -> None:
        """End the watch. From another thread this only shuts the socket down; the reading thread
        then leaves its loop and releases the response itself (no two threads inside urllib3)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            iterating = self._iterating
        try:
            sock = getattr(getattr(self._response, "connection", None), "sock", None)
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)  # unblocks a reader stuck in recv()
        except OSError:
            pass
        if not iterating:
            self._finish()

    def _finish(self) -> None:
        try:
            self._response.close()
            self._response.release_conn()
        except Exception:  # noqa: BLE001 - best effort on an already broken connection
            pass

    def __enter__(self) -> WatchStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WatchEvent(tuple[str, dict[str, Any]]):
    """``(type, object)``; ``.old`` is the object as the store held it before (None if new)."""

    old: dict[str, Any] | None

    def __new__(cls, type_: str, obj: dict[str, Any], old: dict[str, Any] | None = None) -> WatchEvent:
        self = tuple.__new__(cls, (type_, obj))
        self.old = old
        return self

    @property
    def type(self) -> str:
        return self[0]

    @property
    def object(self) -> dict[str, Any]:
        return self[1]


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _rv(obj: dict[str, Any]) -> str | None:
    rv = (obj.get("metadata") or {}).get("resourceVersion")
    return None if rv is None else str(rv)


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
        self.store: dict[tuple[str, str], dict[str, Any]] = {}
        self.synced = threading.Event()
        self.resource_version: str | None = None
        self.relists = 0  # how many lists were made (first one included)
        self.watches = 0  # how many watch requests were opened
        self._lock = threading.Lock()
        self._stream: WatchStream | None = None
        self._thread: threading.Thread | None = None

    @property
    def what(self) -> str:
        where = f" in namespace {self.namespace}" if self.namespace else ""
        return f"{self.kind} ({self.api_version}){where}"

    # -- store reads --------------------------------------------------------------------
    def get(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self.store.get((namespace or "", name))

    def items(self) -> list[dict[str, Any]]:
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

    def _apply(self, etype: str, obj: dict[str, Any]) -> WatchEvent | None:
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
        handler = self.handler
        if handler is None:
            raise ValueError("run() needs a handler; iterate events() instead")
        for event in self.events():
            try:
                handler(event)
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
