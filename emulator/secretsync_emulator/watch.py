"""Watch streams: the events of one resource type from a resourceVersion on.

``watch_events`` yields batches (lists) of the event objects a ``?watch=true`` request streams:
the current objects as ADDED when no resourceVersion (or "0") is given, then
every later change in order; an ERROR event with a 410 ``Expired`` Status when
the start is older than the event window; BOOKMARK events when asked
(``allowWatchBookmarks``); and the ``k8s.io/initial-events-end`` bookmark for
``sendInitialEvents=true``. Selector transitions follow the real watch cache:
an object that stops matching is sent as DELETED, one that starts as ADDED.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from secretsync_emulator import status as st
from secretsync_emulator.registry import ResourceType
from secretsync_emulator.storage import Compacted, Event

__all__ = ["watch_events"]


def _bookmark(rt: ResourceType, rv: int, initial_end: bool = False) -> dict:
    meta: dict = {"resourceVersion": str(rv), "creationTimestamp": None}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"type": "BOOKMARK", "object": {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}}


def watch_events(
    api,
    rt: ResourceType,
    namespace: str | None,
    since: str | None,
    label_selector,
    field_selector,
    *,
    bookmarks: bool,
    send_initial: bool | None,
    timeout: float,
    stopping,
    closing,
    bookmark_interval: float = 60.0,
) -> Iterator[list[dict]]:
    """Batches of event objects for one watch request (each batch is what was ready at once, so the
    server writes it in one chunk); ends on timeout, server stop or ``closing`` (fault injection)."""
    store = api.store
    gr = rt.group_resource
    changed = store.changed_for(gr)
    ns_filter = namespace if rt.namespaced else None

    def matches(obj: dict | None) -> bool:
        if obj is None:
            return False
        if ns_filter is not None and obj["metadata"].get("namespace") != ns_filter:
            return False
        if label_selector is not None and not label_selector.matches(obj["metadata"].get("labels") or {}):
            return False
        if field_selector is not None and not field_selector.matches(obj):
            return False
        return True

    initial_state = send_initial if send_initial is not None else since in (None, "", "0")
    with store.lock:
        if initial_state:
            items, cursor = api.list(rt, ns_filter, label_selector, field_selector)
        else:
            items = []
            try:
                cursor = int(since)
            except (TypeError, ValueError):
                yield [{"type": "ERROR", "object": st.bad_request(f'invalid resource version "{since}"').body()}]
                return
            if cursor < store.oldest_watchable:
                yield [
                    {
                        "type": "ERROR",
                        "object": st.gone(f"too old resource version: {cursor} ({store.oldest_watchable + 1})").body(),
                    }
                ]
                return
    for start in range(0, len(items), 500):
        yield [{"type": "ADDED", "object": obj} for obj in items[start : start + 500]]
    if send_initial:
        yield [_bookmark(rt, cursor, initial_end=True)]

    deadline = time.monotonic() + timeout
    next_bookmark = time.monotonic() + bookmark_interval
    while not stopping.is_set() and not closing.is_set():
        now = time.monotonic()
        if now >= deadline:
            return
        with store.lock:
            try:
                events = store.events_after(cursor)
            except Compacted as exc:
                yield [
                    {
                        "type": "ERROR",
                        "object": st.gone(f"too old resource version: {exc.requested} ({exc.oldest + 1})").body(),
                    }
                ]
                return
            if not events:
                changed.wait(min(0.25, max(0.0, deadline - now), max(0.01, next_bookmark - now)))
                events = store.events_after(cursor) if cursor >= store.oldest_watchable else []
            events = list(events)
        batch = []
        for event in events:
            cursor = event.rv
            out = _translate(api, rt, event, gr, matches)
            if out is not None:
                batch.append(out)
        if bookmarks and time.monotonic() >= next_bookmark:
            next_bookmark = time.monotonic() + bookmark_interval
            batch.append(_bookmark(rt, cursor))
        if batch:
            yield batch


def _translate(api, rt: ResourceType, event: Event, gr, matches) -> dict | None:
    if event.group_resource != gr:
        return None
    new_ok = matches(event.object)
    old_ok = matches(event.old) if event.type != "ADDED" else False
    if event.type == "DELETED":
        kind = "DELETED" if old_ok or new_ok else None
    elif event.type == "ADDED":
        kind = "ADDED" if new_ok else None
    elif new_ok and old_ok:
        kind = "MODIFIED"
    elif new_ok:
        kind = "ADDED"
    elif old_ok:
        kind = "DELETED"
    else:
        kind = None
    if kind is None:
        return None
    obj = dict(event.object)
    obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
    return {"type": kind, "object": obj}
