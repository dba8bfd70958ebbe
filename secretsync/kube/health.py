"""Object health by kstatus rules, and waiting for a set of objects to become healthy.

``compute(obj)`` gives one of ``Current``, ``InProgress``, ``Failed``, ``Terminating``,
``NotFound`` (kstatus's vocabulary, sigs.k8s.io/cli-utils) with a message that names no value:

- generic: ``deletionTimestamp`` → Terminating; ``status.observedGeneration`` behind
  ``metadata.generation`` → InProgress; condition ``Stalled=True`` → Failed;
  ``Reconciling=True`` → InProgress; ``Ready=False`` → InProgress;
- Deployment: rolled out (updated, ready and available replicas equal the desired count and no
  old replicas left); ``Progressing`` with reason ``ProgressDeadlineExceeded`` → Failed;
- StatefulSet, DaemonSet, ReplicaSet: the same idea with their own counters;
- Job: ``Complete=True`` → Current, ``Failed=True`` → Failed, else InProgress;
- CustomResourceDefinition: ``Established=True`` → Current, ``NamesAccepted=False`` → Failed;
- Pod: phase Succeeded or Ready=True → Current, phase Failed → Failed;
- PersistentVolumeClaim: phase Bound; Namespace: phase Active;
- anything else (ConfigMap, Secret, Service, custom resources without conditions): Current once
  it exists.

``wait_for(client, objects, timeout)`` polls only the objects not yet Current (one GET each per
round), fails fast on the first Failed object (``HealthCheckFailed``) and gives up at the deadline
(``HealthTimeout``); a ``cancel`` event ends the wait early (``HealthCheckCanceled``). A Job that
disappears while waited on counts as done (its TTL controller removed it after it finished, as
Flux counts it); any other object that disappears is a failure.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from secretsync.errors import SecretsyncError
from secretsync.objects import ObjectId

__all__ = [
    "CURRENT",
    "IN_PROGRESS",
    "FAILED",
    "TERMINATING",
    "NOT_FOUND",
    "Health",
    "compute",
    "wait_for",
    "HealthCheckFailed",
    "HealthTimeout",
    "HealthCheckCanceled",
]

CURRENT = "Current"
IN_PROGRESS = "InProgress"
FAILED = "Failed"
TERMINATING = "Terminating"
NOT_FOUND = "NotFound"


@dataclass(frozen=True)
class Health:
    status: str
    message: str = ""

    @property
    def current(self) -> bool:
        return self.status == CURRENT


class HealthCheckFailed(SecretsyncError):
    """An object reached a terminal failure (kstatus Failed): waiting longer cannot help."""

    reference = "health-check-failed"


class HealthTimeout(SecretsyncError):
    """Objects were still not healthy when the timeout ran out."""

    reference = "health-timeout"


class HealthCheckCanceled(SecretsyncError):
    """The wait was canceled (a newer revision arrived, or shutdown)."""

    reference = "health-check-canceled"


Conditions = dict[str, dict[str, Any]]  # condition type -> the condition


def _conditions(obj: Mapping[str, Any]) -> Conditions:
    status = obj.get("status") or {}
    out = {}
    for cond in status.get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type"):
            out[str(cond["type"])] = cond
    return out


def _is(conds: Conditions, type_: str, status: str) -> bool:
    return conds.get(type_, {}).get("status") == status


def _generic(obj: Mapping[str, Any], conds: Conditions) -> Health | None:
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return Health(TERMINATING, "being deleted")
    status = obj.get("status") or {}
    generation, observed = meta.get("generation"), status.get("observedGeneration")
    if isinstance(generation, int) and isinstance(observed, int) and observed < generation:
        return Health(IN_PROGRESS, f"generation {generation} not yet observed (observed {observed})")
    if _is(conds, "Stalled", "True"):
        return Health(FAILED, f"Stalled: {conds['Stalled'].get('reason', '')}".rstrip(": "))
    if _is(conds, "Reconciling", "True"):
        return Health(IN_PROGRESS, f"Reconciling: {conds['Reconciling'].get('reason', '')}".rstrip(": "))
    if _is(conds, "Ready", "False"):
        return Health(IN_PROGRESS, f"Ready=False: {conds['Ready'].get('reason', '')}".rstrip(": "))
    return None


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _deployment(obj: Mapping[str, Any], conds: Conditions) -> Health:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    progressing = conds.get("Progressing") or {}
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health(FAILED, "progress deadline exceeded")
    if "observedGeneration" not in status:
        return Health(IN_PROGRESS, "rollout not started")
    want = spec.get("replicas", 1) if isinstance(spec.get("replicas", 1), int) else 1
    updated, ready = _int(status.get("updatedReplicas")), _int(status.get("readyReplicas"))
    available, total = _int(status.get("availableReplicas")), _int(status.get("replicas"))
    if updated < want:
        return Health(IN_PROGRESS, f"{updated} of {want} replicas updated")
    if total > updated:
        return Health(IN_PROGRESS, f"{total - updated} old replicas pending termination")
    if available < want or ready < want:
        return Health(IN_PROGRESS, f"{available} of {want} replicas available")
    return Health(CURRENT, "rolled out")


def _statefulset(obj: Mapping[str, Any], conds: Conditions) -> Health:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if "observedGeneration" not in status:
        return Health(IN_PROGRESS, "rollout not started")
    want = spec.get("replicas", 1) if isinstance(spec.get("replicas", 1), int) else 1
    ready = _int(status.get("readyReplicas"))
    if ready < want:
        return Health(IN_PROGRESS, f"{ready} of {want} replicas ready")
    if status.get("updateRevision") and status.get("currentRevision") != status.get("updateRevision"):
        return Health(IN_PROGRESS, "rolling update in progress")
    return Health(CURRENT, "all replicas ready")


def _daemonset(obj: Mapping[str, Any], conds: Conditions) -> Health:
    status = obj.get("status") or {}
    if "observedGeneration" not in status:
        return Health(IN_PROGRESS, "rollout not started")
    want = _int(status.get("desiredNumberScheduled"))
    if _int(status.get("updatedNumberScheduled")) < want or _int(status.get("numberAvailable")) < want:
        return Health(IN_PROGRESS, f"{_int(status.get('numberAvailable'))} of {want} pods available")
    return Health(CURRENT, "all pods available")


def _replicaset(obj: Mapping[str, Any], conds: Conditions) -> Health:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = spec.get("replicas", 1) if isinstance(spec.get("replicas", 1), int) else 1
    if _int(status.get("availableReplicas")) < want:
        return Health(IN_PROGRESS, f"{_int(status.get('availableReplicas'))} of {want} replicas available")
    return Health(CURRENT, "all replicas available")


def _job(obj: Mapping[str, Any], conds: Conditions) -> Health:
    if _is(conds, "Failed", "True"):
        return Health(FAILED, f"job failed: {conds['Failed'].get('reason', '')}".rstrip(": "))
    if _is(conds, "Complete", "True"):
        return Health(CURRENT, "job complete")
    return Health(IN_PROGRESS, "job running")


def _crd(obj: Mapping[str, Any], conds: Conditions) -> Health:
    if _is(conds, "NamesAccepted", "False"):
        return Health(FAILED, f"names not accepted: {conds['NamesAccepted'].get('reason', '')}".rstrip(": "))
    if _is(conds, "Established", "True"):
        return Health(CURRENT, "established")
    return Health(IN_PROGRESS, "not established yet")


def _pod(obj: Mapping[str, Any], conds: Conditions) -> Health:
    phase = (obj.get("status") or {}).get("phase")
    if phase == "Succeeded" or _is(conds, "Ready", "True"):
        return Health(CURRENT, f"pod {phase or 'ready'}".lower())
    if phase == "Failed":
        return Health(FAILED, "pod failed")
    return Health(IN_PROGRESS, f"pod {phase or 'pending'}".lower())


def _phase(wanted: str) -> Callable[[Mapping[str, Any], Conditions], Health]:
    def check(obj: Mapping[str, Any], conds: Conditions) -> Health:
        phase = (obj.get("status") or {}).get("phase")
        if phase == wanted:
            return Health(CURRENT, phase.lower())
        return Health(IN_PROGRESS, f"phase {phase or 'unknown'}, waiting for {wanted}")

    return check


_RULES: dict[tuple[str, str], Callable[[Mapping[str, Any], Conditions], Health]] = {
    ("apps", "Deployment"): _deployment,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "DaemonSet"): _daemonset,
    ("apps", "ReplicaSet"): _replicaset,
    ("batch", "Job"): _job,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
    ("", "Pod"): _pod,
    ("", "PersistentVolumeClaim"): _phase("Bound"),
}


def compute(obj: Mapping[str, Any] | None) -> Health:
    """The kstatus-style health of a live object (None = it does not exist)."""
    if obj is None:
        return Health(NOT_FOUND, "not found")
    oid = ObjectId.of(dict(obj))
    conds = _conditions(obj)
    generic = _generic(obj, conds)
    rule = _RULES.get((oid.group, oid.kind))
    if generic is not None and (
        generic.status in (TERMINATING, FAILED) or rule is None or generic.message.startswith("generation")
    ):
        return generic
    if rule is not None:
        return rule(obj, conds)
    if oid.group == "" and oid.kind == "Namespace":
        phase = (obj.get("status") or {}).get("phase")
        return Health(CURRENT, "active") if phase in (None, "Active") else Health(TERMINATING, "terminating")
    return generic or Health(CURRENT, "exists")


def _api_version(obj: Mapping[str, Any]) -> str:
    return str(obj.get("apiVersion", ""))


def _raise_failed(results: Mapping[ObjectId, Health]) -> None:
    """``HealthCheckFailed`` if any object is Failed or gone: waiting longer will not help."""
    failed = [(oid, h) for oid, h in results.items() if h.status in (FAILED, NOT_FOUND)]
    if failed:
        lines = "; ".join(f"{oid}: {h.status} ({h.message})" for oid, h in sorted(failed))
        raise HealthCheckFailed(
            f"health check failed for {lines}",
            hint="look at the object's status and events (kubectl describe) and fix the "
            "cause; waiting longer will not help",
        )


def _timed_out(timeout: float, pending: Sequence[ObjectId], results: Mapping[ObjectId, Health]) -> HealthTimeout:
    """The timeout, naming (up to 20 of) the objects still waiting and why."""
    lines = "; ".join(f"{oid}: {results[oid].status} ({results[oid].message})" for oid in pending[:20])
    more = f" and {len(pending) - 20} more" if len(pending) > 20 else ""
    return HealthTimeout(
        f"timed out after {timeout:g}s waiting for {lines}{more}",
        hint="raise --timeout, or check why the objects do not become ready",
    )


def _observe(client: Any, api_version: str, oid: ObjectId) -> Health:
    """The object's health as read now (a finished Job removed by its TTL counts as done)."""
    live = client.get_or_none(api_version, oid.kind, oid.name, oid.namespace or None)
    if live is None and (oid.group, oid.kind) == ("batch", "Job"):
        return Health(CURRENT, "gone after finishing (ttlSecondsAfterFinished)")
    return compute(live)


def wait_for(
    client: Any,
    objects: Iterable[Mapping[str, Any]],
    timeout: float,
    *,
    interval: float = 0.5,
    cancel: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] | None = None,
    what: str = "objects",
) -> dict[ObjectId, Health]:
    """Wait until every object is Current; the objects given are the first observation (no GET for them).

    Raises ``HealthCheckFailed`` as soon as one is Failed (or gone), ``HealthTimeout`` at the
    deadline (naming each object still waiting and why), ``HealthCheckCanceled`` on ``cancel``.
    """
    observed: dict[ObjectId, tuple[str, Mapping[str, Any]]] = {}
    for obj in objects:
        observed[ObjectId.of(dict(obj))] = (_api_version(obj), obj)
    results = {oid: compute(obj) for oid, (_, obj) in observed.items()}
    deadline = clock() + timeout
    wait = sleep or (cancel.wait if cancel is not None else time.sleep)

    def check_canceled(pending: Sequence[ObjectId]) -> None:
        if cancel is not None and cancel.is_set():
            raise HealthCheckCanceled(f"health check of {len(pending)} {what} canceled")

    while True:
        _raise_failed(results)
        pending = sorted(oid for oid, h in results.items() if not h.current)
        if not pending:
            return results
        check_canceled(pending)
        if clock() >= deadline:
            raise _timed_out(timeout, pending, results)
        wait(min(interval, max(0.0, deadline - clock())))
        check_canceled(pending)
        for oid in pending:
            results[oid] = _observe(client, observed[oid][0], oid)
