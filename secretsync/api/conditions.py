"""Condition and event vocabulary shared by our controllers, the CLI and tests (stdlib only).

This module is the API surface for status: condition types with their polarity, the
reasons that may appear in them, event types and reasons, and helpers that write a
condition into ``status.conditions`` of a plain-dict object keeping
``lastTransitionTime`` honest: it changes only when the condition's *status* changes
(the Kubernetes API conventions' definition of a transition); reason, message and
``observedGeneration`` are updated in place. Conditions are kept in a stable order
(``Ready`` first, then by type) so ``kubectl`` columns reading ``conditions[0]`` stay put.

Polarity (kstatus): ``Ready``, ``Synced`` and ``Healthy`` are "normal-true" (True is good);
``Reconciling`` and ``Stalled`` are "abnormal-true" (present and True only while that is so,
removed otherwise).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from secretsync.gocompat import gotime

__all__ = [
    "ConditionType",
    "ConditionStatus",
    "Reason",
    "EventType",
    "EventReason",
    "now_rfc3339",
    "get_condition",
    "is_condition_true",
    "set_condition",
    "remove_condition",
    "mark_ready",
    "mark_reconciling",
    "mark_stalled",
    "mark_failed",
]

Condition = dict[str, Any]  # one entry of status.conditions, as JSON


class ConditionType:
    """Condition types. Normal-true: READY, SYNCED, HEALTHY. Abnormal-true: RECONCILING, STALLED."""

    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"
    SYNCED = "Synced"  # SealedSecret (upstream-compatible: the only type it sets)
    HEALTHY = "Healthy"

    NORMAL_TRUE = frozenset({READY, SYNCED, HEALTHY})
    ABNORMAL_TRUE = frozenset({RECONCILING, STALLED})


class ConditionStatus:
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Reason:
    """Condition reasons (CamelCase, Flux-like). Failure reasons go with Ready=False / Stalled=True."""

    # success / progress
    RECONCILIATION_SUCCEEDED = "ReconciliationSucceeded"
    PROGRESSING = "Progressing"
    PROGRESSING_WITH_RETRY = "ProgressingWithRetry"
    SUSPENDED = "Suspended"
    # failures of a step (transient unless the controller decides it is Stalled)
    RECONCILIATION_FAILED = "ReconciliationFailed"
    ARTIFACT_FAILED = "ArtifactFailed"
    FETCH_FAILED = "FetchFailed"
    VERIFICATION_FAILED = "VerificationFailed"
    BUILD_FAILED = "BuildFailed"
    DECRYPTION_FAILED = "DecryptionFailed"
    UNSEAL_FAILED = "UnsealFailed"
    VAULT_UNAVAILABLE = "VaultUnavailable"
    SUBSTITUTION_FAILED = "SubstitutionFailed"
    APPLY_FAILED = "ApplyFailed"
    PRUNE_FAILED = "PruneFailed"
    PRUNE_BLOCKED = "PruneBlocked"
    HEALTH_CHECK_FAILED = "HealthCheckFailed"
    HEALTH_CHECK_CANCELED = "HealthCheckCanceled"
    DEPENDENCY_NOT_READY = "DependencyNotReady"
    ACCESS_DENIED = "AccessDenied"
    INVALID_SPEC = "InvalidSpec"
    DRIFT_LOOP_DETECTED = "DriftLoopDetected"


class EventType:
    NORMAL = "Normal"
    WARNING = "Warning"


class EventReason:
    """Kubernetes Event reasons. Sync events use the current Ready reason (``Reason.*``), as Flux does."""

    # SealedSecret controller: upstream texts (sealed-secrets spec §4), component "sealed-secrets"
    UNSEALED = "Unsealed"
    ERR_UNSEAL_FAILED = "ErrUnsealFailed"
    ERR_UPDATE_FAILED = "ErrUpdateFailed"
    # ours
    KEY_SKIPPED = "KeySkipped"
    KEY_GENERATED = "KeyGenerated"
    DRIFT_CORRECTED = "DriftCorrected"
    LEADER_ELECTED = "LeaderElection"


def now_rfc3339(clock: Callable[[], _dt.datetime] | None = None) -> str:
    """UTC time in the Kubernetes ``metav1.Time`` format (seconds, ``Z``)."""
    now = clock() if clock else _dt.datetime.now(_dt.UTC)
    return gotime.format_time_seconds(now.astimezone(_dt.UTC))


def _conditions(obj: MutableMapping[str, Any]) -> list[Condition]:
    status = obj.setdefault("status", {})
    if status is None:
        status = obj["status"] = {}
    conditions: list[Condition] | None = status.get("conditions")
    if conditions is None:
        conditions = status["conditions"] = []
    return conditions


def get_condition(obj: Mapping[str, Any], type_: str) -> Condition | None:
    """The condition of ``type_`` in ``obj['status']['conditions']``, or None."""
    cond: Condition
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return cond
    return None


def is_condition_true(obj: Mapping[str, Any], type_: str) -> bool:
    cond = get_condition(obj, type_)
    return cond is not None and cond.get("status") == ConditionStatus.TRUE


def _sort_key(cond: Condition) -> tuple[int, str]:
    return (0 if cond.get("type") == ConditionType.READY else 1, cond.get("type", ""))


def set_condition(
    obj: MutableMapping[str, Any],
    type_: str,
    status: str,
    reason: str = "",
    message: str = "",
    *,
    observed_generation: int | None = None,
    now: str | None = None,
    update_time_field: str | None = None,
) -> bool:
    """Set a condition on ``obj`` (a plain dict); return True if anything changed.

    ``lastTransitionTime`` is set to ``now`` only when the condition is new or its status
    differs from the stored one. ``observed_generation`` defaults to ``metadata.generation``.
    ``update_time_field`` (e.g. ``"lastUpdateTime"`` for SealedSecret) is refreshed on any change.
    """
    if status not in (ConditionStatus.TRUE, ConditionStatus.FALSE, ConditionStatus.UNKNOWN):
        raise ValueError("condition status must be True, False or Unknown")
    now = now or now_rfc3339()
    if observed_generation is None:
        observed_generation = (obj.get("metadata") or {}).get("generation")
    conditions = _conditions(obj)
    new: Condition = {"type": type_, "status": status, "reason": reason, "message": message}
    if observed_generation is not None:
        new["observedGeneration"] = observed_generation
    for i, old in enumerate(conditions):
        if old.get("type") != type_:
            continue
        same = all(old.get(k) == v for k, v in new.items())
        if same:
            return False
        new["lastTransitionTime"] = old.get("lastTransitionTime") if old.get("status") == status else now
        if new["lastTransitionTime"] is None:
            new["lastTransitionTime"] = now
        if update_time_field:
            new[update_time_field] = now
        conditions[i] = new
        break
    else:
        new["lastTransitionTime"] = now
        if update_time_field:
            new[update_time_field] = now
        conditions.append(new)
    conditions.sort(key=_sort_key)
    return True


def remove_condition(obj: MutableMapping[str, Any], type_: str) -> bool:
    """Drop the condition of ``type_``; return True if one was there."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    kept = [c for c in conditions if c.get("type") != type_]
    if len(kept) == len(conditions):
        return False
    obj["status"]["conditions"] = kept
    return True


def mark_ready(
    obj: MutableMapping[str, Any],
    reason: str = Reason.RECONCILIATION_SUCCEEDED,
    message: str = "",
    *,
    now: str | None = None,
) -> bool:
    """Ready=True and no Reconciling/Stalled (kstatus "Current")."""
    changed = set_condition(obj, ConditionType.READY, ConditionStatus.TRUE, reason, message, now=now)
    changed |= remove_condition(obj, ConditionType.RECONCILING)
    changed |= remove_condition(obj, ConditionType.STALLED)
    return changed


def mark_reconciling(
    obj: MutableMapping[str, Any], reason: str = Reason.PROGRESSING, message: str = "", *, now: str | None = None
) -> bool:
    """Reconciling=True, Ready=Unknown unless it is already False (a failure stays visible), no Stalled."""
    changed = set_condition(obj, ConditionType.RECONCILING, ConditionStatus.TRUE, reason, message, now=now)
    ready = get_condition(obj, ConditionType.READY)
    if ready is None or ready.get("status") != ConditionStatus.FALSE:
        changed |= set_condition(obj, ConditionType.READY, ConditionStatus.UNKNOWN, reason, message, now=now)
    changed |= remove_condition(obj, ConditionType.STALLED)
    return changed


def mark_failed(obj: MutableMapping[str, Any], reason: str, message: str, *, now: str | None = None) -> bool:
    """A failure that will be retried: Ready=False with ``reason``; Reconciling stays as it is."""
    return set_condition(obj, ConditionType.READY, ConditionStatus.FALSE, reason, message, now=now)


def mark_stalled(obj: MutableMapping[str, Any], reason: str, message: str, *, now: str | None = None) -> bool:
    """A failure that needs a human: Stalled=True and Ready=False with ``reason``, no Reconciling."""
    changed = set_condition(obj, ConditionType.STALLED, ConditionStatus.TRUE, reason, message, now=now)
    changed |= set_condition(obj, ConditionType.READY, ConditionStatus.FALSE, reason, message, now=now)
    changed |= remove_condition(obj, ConditionType.RECONCILING)
    return changed
