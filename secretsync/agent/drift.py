"""Drift repair: watch the kinds in the Syncs' inventories and re-apply a managed object someone changed.

``DriftRepairer.track(key, state)`` is called after each successful reconcile with the desired
objects kept in memory (``SyncState.desired``); it makes sure one ``Informer`` per kind in any
inventory is running, selecting only objects that carry our owner label (so the agent never
watches or caches the rest of the cluster). Remote clusters (``kubeConfig.secretRef``) get their
own watcher set, one per target cluster (the reconciler's shared client for that kubeconfig
Secret version), stopped by ``forget_cluster`` when the last Sync lets go of it. On a change to
a managed object:

1. status-only and metadata-only churn (resourceVersion, managedFields, status) is ignored;
2. if the object is *provably unchanged* for our field manager after the Sync's ignore rules
   (``apply_ignore_rules``, as the apply itself uses them) - every field we own still holds
   our value: ``secretsync.kube.plan.provably_unchanged``, no request - nothing happens;
   this covers our own writes and changes to fields we do not manage (those are not drift);
3. otherwise the object alone is re-applied with ``apply_all`` (no re-render, the Sync's own
   identity), a ``DriftCorrected`` event is written and the metric counted. A deleted managed
   object is recreated.

**Loop detection**: when the same object has to be corrected ``loop_threshold`` times within
``loop_window`` seconds with the same desired state (e.g. a mutating webhook or another
controller fighting us), the repairer stops correcting it and reports it: the Sync goes
Ready=False with reason ``DriftLoopDetected`` naming the object and the other field managers.
The next reconcile with a different desired state (a new revision or spec) clears the report.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from secretsync.api.conditions import EventReason, EventType
from secretsync.api.syncspec import API_VERSION, KIND
from secretsync.kube.watch import Informer, WatchEvent
from secretsync.objects import ObjectId

__all__ = ["DriftRepairer"]

log = logging.getLogger(__name__)

_VOLATILE = ("resourceVersion", "managedFields", "generation")


SyncKey = tuple[str, str]
ClusterKind = tuple[Any, str, str]  # (target cluster key or None, apiVersion, kind)


def _unchanged(
    desired: dict[str, Any], live: dict[str, Any], labels: dict[str, str], ignore: tuple[Any, ...], manager: str
) -> bool:
    """Whether every field ``manager`` owns on ``live`` still holds the desired value (after the ignore rules)."""
    from secretsync.kube.plan import apply_ignore_rules, prepare, provably_unchanged

    result: bool = provably_unchanged(
        apply_ignore_rules(prepare(desired, labels), live, ignore, manager), live, manager
    )
    return result


def _essence(obj: dict[str, Any] | None) -> Any:
    if obj is None:
        return None
    out = {k: v for k, v in obj.items() if k != "status"}
    out["metadata"] = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _VOLATILE}
    return out


class DriftRepairer:
    def __init__(
        self,
        client: Any,
        reconciler: Any,
        *,
        loop_threshold: int = 5,
        loop_window: float = 60.0,
        label: str = "secretsync.io/name",
        metrics: Any = None,
        recorder: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.reconciler = reconciler
        self.loop_threshold, self.loop_window = loop_threshold, loop_window
        self.label = label
        self.metrics, self.recorder = metrics, recorder
        self._clock = clock
        self._informers: dict[ClusterKind, Informer] = {}
        self._lock = threading.Lock()
        self._corrections: dict[tuple[SyncKey, ObjectId], deque[float]] = {}
        # Sync key -> object -> (report, the desired object it was about)
        self.loops: dict[SyncKey, dict[ObjectId, tuple[str, dict[str, Any]]]] = {}
        self._queue: queue.Queue[tuple[SyncKey, ObjectId, str, dict[str, Any]] | None] = queue.Queue()
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work, name="drift-repair", daemon=True)
        self._worker.start()
        self.corrections = 0

    # -- what to watch -------------------------------------------------------------------------
    def track(self, key: tuple[str, str], state: Any) -> None:
        """After a successful reconcile: watch every kind of this Sync; forget loops whose desired changed."""
        with self._lock:
            loops = self.loops.get(key)
            if loops:
                for oid in list(loops):
                    if state.desired.get(oid) is not loops[oid][1]:
                        del loops[oid]
                        self._corrections.pop((key, oid), None)
            cluster, client = None, self.client
            if state.spec is not None and state.spec.kubeconfig_secret is not None:
                cluster, client = getattr(state, "remote_key", None), getattr(state, "remote", None)
                if cluster is None or client is None:
                    return
            kinds = {(cluster, str(o.get("apiVersion")), str(o.get("kind"))) for o in state.desired.values()}
            for kind in kinds - set(self._informers):
                informer = Informer(
                    client, kind[1], kind[2], label_selector=self.label, handler=self._on_event, watch_timeout=300
                )
                self._informers[kind] = informer.start()

    def forget_cluster(self, cluster: tuple[Any, ...]) -> None:
        """Stop the watchers of a target cluster no Sync applies to any more (its client is being closed)."""
        with self._lock:
            gone = [k for k in self._informers if k[0] == cluster]
            informers = [self._informers.pop(k) for k in gone]
        for informer in informers:
            informer.stop(timeout=2)

    def loop_report(self, key: tuple[str, str]) -> str | None:
        with self._lock:
            loops = self.loops.get(key)
            return "; ".join(report for report, _ in loops.values()) if loops else None

    def wait_synced(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        return all(i.wait_synced(max(0.0, deadline - time.monotonic())) for i in list(self._informers.values()))

    @property
    def watched_kinds(self) -> set[tuple[str, str]]:
        """(apiVersion, kind) watched on the agent's own cluster."""
        return {(v, k) for c, v, k in self._informers if c is None}

    def watched_clusters(self) -> dict[Any, set[tuple[str, str]]]:
        """Target cluster key (None: the agent's own) -> the (apiVersion, kind) watched there."""
        out: dict[Any, set[tuple[str, str]]] = {}
        for c, v, k in list(self._informers):
            out.setdefault(c, set()).add((v, k))
        return out

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)
        for informer in list(self._informers.values()):
            informer.stop(timeout=2)
        self._worker.join(5)

    # -- events --------------------------------------------------------------------------------
    def _on_event(self, event: WatchEvent) -> None:
        obj = event.object
        informer_synced = all(i.synced.is_set() for i in self._informers.values())
        if event.type == "ADDED" and (not informer_synced or event.old is None):
            return
        if event.type == "MODIFIED" and _essence(obj) == _essence(event.old):
            return
        labels = (obj.get("metadata") or {}).get("labels") or {}
        sync_key = (labels.get("secretsync.io/namespace", ""), labels.get(self.label, ""))
        self._queue.put((sync_key, ObjectId.of(obj), event.type, obj))

    def _work(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            if item is None:
                return
            try:
                self._repair(*item)
            except Exception:  # noqa: BLE001 - one failed repair must not end the worker
                log.exception("drift repair failed")

    def _repair(self, key: SyncKey, oid: ObjectId, etype: str, live: dict[str, Any]) -> None:
        from secretsync.agent.state import owner_labels

        state = self.reconciler.states.get(key)
        if state is None or state.client is None or (state.spec is not None and state.spec.suspend):
            return
        desired = state.desired.get(oid)
        if desired is None:
            return
        manager = self.reconciler.options.field_manager
        labels = getattr(state, "owner_labels", None) or owner_labels(*key)
        ignore = tuple(getattr(state, "ignore", ()) or ())
        if etype != "DELETED" and _unchanged(desired, live, labels, ignore, manager):
            return  # nothing we own moved (ignored fields as the apply treats them): no dry-run
        with self._lock:
            if oid in self.loops.get(key, {}):
                return
        if not self._reapply(state, oid, desired, manager, labels, ignore):
            return
        self.corrections += 1
        others = sorted(
            {
                str(e.get("manager"))
                for e in (live.get("metadata") or {}).get("managedFields") or []
                if e.get("manager") != manager
            }
        )
        self._report(key, oid, etype, others, state.revision)
        self._count(key, oid, desired, others)

    def _reapply(
        self,
        state: Any,
        oid: ObjectId,
        desired: dict[str, Any],
        manager: str,
        labels: dict[str, str],
        ignore: tuple[Any, ...],
    ) -> bool:
        """Apply ``desired`` alone under the Sync's lock; whether the server changed anything."""
        from secretsync.kube.apply import ApplyOptions, apply_all
        from secretsync.kube.changeset import UNCHANGED

        if not state.lock.acquire(timeout=30):
            return False  # a reconcile is running; it applies this object anyway
        try:
            if state.desired.get(oid) is not desired:
                return False
            opts = ApplyOptions(
                client=state.client, field_manager=manager, owner_labels=labels, ignore=ignore, wait_waves=False
            )
            changes = apply_all([desired], opts)
        finally:
            state.lock.release()
        return not all(c.action == UNCHANGED for c in changes)

    def _report(self, key: SyncKey, oid: ObjectId, etype: str, others: list[str], revision: str | None) -> None:
        """Log, count and record a ``DriftCorrected`` event on the Sync."""
        if self.metrics is not None:
            self.metrics.drift_corrections.labels(key[0], key[1], oid.kind).inc()
        log.info(
            "Sync %s/%s: drift of %s corrected (changed by %s)", key[0], key[1], oid, ", ".join(others) or "deletion"
        )
        if self.recorder is not None:
            sync_obj = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"namespace": key[0], "name": key[1]}}
            self.recorder.event(
                sync_obj,
                EventType.NORMAL,
                EventReason.DRIFT_CORRECTED,
                f"{oid} re-applied after it was {'deleted' if etype == 'DELETED' else 'changed'} (revision {revision})",
            )

    def _count(self, key: SyncKey, oid: ObjectId, desired: dict[str, Any], others: list[str]) -> None:
        now = self._clock()
        with self._lock:
            times = self._corrections.setdefault((key, oid), deque())
            times.append(now)
            while times and now - times[0] > self.loop_window:
                times.popleft()
            if len(times) < self.loop_threshold:
                return
            report = (
                f"{oid} was changed back {len(times)} times in {self.loop_window:g}s with the same desired "
                f"state (other field managers: {', '.join(others) or 'none'}); stopped re-applying it: "
                "a mutating webhook or another controller may be fighting this Sync"
            )
            self.loops.setdefault(key, {})[oid] = (report, desired)
        log.warning("Sync %s/%s: %s", key[0], key[1], report)
        self.reconciler.report_drift_loop(key, report)
