"""Object storage: one resourceVersion counter for the server, and the watch event log.

Objects are kept per group/resource under (namespace, name), as the wire-format
JSON dicts the API returns. Every write takes the next resourceVersion (one
counter for the whole server, like an etcd revision) and appends one event to
a bounded log; a watch from a resourceVersion older than the log's window is
answered with 410 Gone, as after an etcd compaction.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass

__all__ = ["Store", "Event", "Compacted"]


@dataclass(frozen=True)
class Event:
    rv: int
    group_resource: tuple[str, str]
    namespace: str
    type: str  # ADDED, MODIFIED, DELETED
    object: dict
    old: dict | None  # the object before a MODIFIED/DELETED event (for selector transitions)


class Compacted(Exception):
    """The requested resourceVersion is older than the event window."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


class Store:
    """Thread-safe object map, resourceVersion counter and event log.

    All mutation goes through ``put``/``remove`` under ``lock`` (an RLock the
    request handlers also hold for read-modify-write sequences); watchers wait on
    ``changed``.
    """

    def __init__(self, event_window: int = 10000, first_rv: int = 1) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)  # every change (and wake_all)
        self._changed_by_gr: dict[tuple[str, str], threading.Condition] = {}
        self.rv = first_rv
        # Each object is kept twice: parsed (read-only, for scans) and as JSON text (readers get fresh copies
        # from json.loads, several times faster than copy.deepcopy).
        self._objects: dict[tuple[str, str], dict[tuple[str, str], dict]] = {}
        self._texts: dict[tuple[str, str], dict[tuple[str, str], str]] = {}
        self._events: list[Event] = []
        self._events_base = first_rv + 1  # rv of self._events[0]
        self.event_window = max(1, event_window)
        self.listeners: list = []  # called with each Event under the lock (persistence)

    # --- reads (callers get copies) ---
    def get(self, gr: tuple[str, str], namespace: str, name: str) -> dict | None:
        with self.lock:
            text = self._texts.get(gr, {}).get((namespace, name))
        return json.loads(text) if text is not None else None

    def peek(self, gr: tuple[str, str], namespace: str, name: str) -> dict | None:
        """The stored object itself, for callers that only read it (existence, uid, schema, namespace
        phase): no copy, so it must never be modified."""
        with self.lock:
            return self._objects.get(gr, {}).get((namespace, name))

    def list(
        self, gr: tuple[str, str], namespace: str | None = None, *, shared: bool = False
    ) -> tuple[list[dict], int]:
        """Objects of one group/resource (in one namespace or all), sorted by namespace/name, and the list rv.

        ``shared=True`` returns the stored objects themselves (no copy) for callers that only read them
        (serialising a list answer); they must never be modified.
        """
        with self.lock:
            source = self._objects if shared else self._texts
            items = source.get(gr, {})
            keys = sorted(k for k in items if namespace is None or k[0] == namespace)
            selected = [items[k] for k in keys]
            rv = self.rv
        return (selected if shared else [json.loads(t) for t in selected]), rv

    def keys(self, gr: tuple[str, str]) -> list[tuple[str, str]]:
        with self.lock:
            return sorted(self._objects.get(gr, {}))

    def group_resources(self) -> list[tuple[str, str]]:
        with self.lock:
            return [gr for gr, items in self._objects.items() if items]

    def owned_by(self, uid: str) -> list[tuple[tuple[str, str], str, str]]:
        """(group/resource, namespace, name) of objects with an ownerReference to ``uid``."""
        with self.lock:
            return [
                (gr, key[0], key[1])
                for gr, items in self._objects.items()
                for key, obj in items.items()
                if any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or ())
            ]

    def count(self) -> int:
        with self.lock:
            return sum(len(v) for v in self._objects.values())

    # --- writes ---
    def next_rv(self) -> int:
        return self.rv + 1

    def put(self, gr: tuple[str, str], obj: dict) -> dict:
        """Store ``obj`` (ADDED or MODIFIED) with the next resourceVersion; returns a copy of what is stored."""
        with self.lock:
            meta = obj["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            bucket = self._objects.setdefault(gr, {})
            old = bucket.get(key)
            self.rv += 1
            obj["metadata"]["resourceVersion"] = str(self.rv)
            text = json.dumps(obj, separators=(",", ":"))
            stored = json.loads(text)
            bucket[key] = stored
            self._texts.setdefault(gr, {})[key] = text
            self._append(Event(self.rv, gr, key[0], "MODIFIED" if old is not None else "ADDED", stored, old))
            return json.loads(text)

    def remove(self, gr: tuple[str, str], namespace: str, name: str) -> dict | None:
        """Delete an object; the DELETED event carries it with the deletion's resourceVersion."""
        with self.lock:
            old = self._objects.get(gr, {}).pop((namespace, name), None)
            if old is None:
                return None
            self._texts[gr].pop((namespace, name), None)
            self.rv += 1
            gone = copy.deepcopy(old)
            gone["metadata"]["resourceVersion"] = str(self.rv)
            self._append(Event(self.rv, gr, namespace, "DELETED", gone, old))
            return copy.deepcopy(gone)

    def load(self, gr: tuple[str, str], obj: dict) -> None:
        """Insert an object as-is (restoring persisted state); no event, no new resourceVersion."""
        with self.lock:
            meta = obj["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            self._objects.setdefault(gr, {})[key] = obj
            self._texts.setdefault(gr, {})[key] = json.dumps(obj, separators=(",", ":"))
            self.rv = max(self.rv, int(meta.get("resourceVersion") or 0))
            self.load_done()

    def load_done(self) -> None:
        """After loading persisted objects: history starts now (older watches get 410)."""
        with self.lock:
            self._events_base = self.rv + 1
            self._events.clear()

    def _append(self, event: Event) -> None:
        self._events.append(event)
        for listener in self.listeners:
            listener(event)
        excess = len(self._events) - self.event_window
        if excess > 0:
            del self._events[:excess]
            self._events_base += excess
        self.changed.notify_all()
        waiting = self._changed_by_gr.get(event.group_resource)
        if waiting is not None:
            waiting.notify_all()

    # --- watch support ---
    def changed_for(self, gr: tuple[str, str]) -> threading.Condition:
        """A condition (on ``lock``) notified on changes of one group/resource only: a watch waits
        on it, so a write wakes the watches of its own resource, not every watch of the server."""
        with self.lock:
            cond = self._changed_by_gr.get(gr)
            if cond is None:
                cond = self._changed_by_gr[gr] = threading.Condition(self.lock)
            return cond

    def wake_all(self) -> None:
        """Wake every waiting watch (the server is stopping)."""
        with self.lock:
            self.changed.notify_all()
            for cond in self._changed_by_gr.values():
                cond.notify_all()

    @property
    def oldest_watchable(self) -> int:
        """The oldest resourceVersion a watch may start from (events after it are all still in the log)."""
        return self._events_base - 1

    def events_after(self, rv: int) -> list[Event]:
        """Events with resourceVersion > rv (caller holds ``lock``); raises ``Compacted`` if some were dropped."""
        if rv < self._events_base - 1:
            raise Compacted(rv, self._events_base - 1)
        start = rv + 1 - self._events_base
        return self._events[max(0, start) :]

    # --- persistence support ---
    def snapshot(self) -> tuple[int, list[tuple[tuple[str, str], dict]]]:
        with self.lock:
            return self.rv, [(gr, json.loads(t)) for gr, items in self._texts.items() for t in items.values()]
