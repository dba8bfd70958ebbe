"""The dependencies step of a reconcile: every ``dependsOn`` Sync exists, observed its generation and is Ready.

Otherwise the step fails with ``DependencyNotReady`` and a short requeue: waiting for another Sync
is not an error, so it neither counts as a failure nor backs off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from secretsync.agent.state import StepFailed
from secretsync.api.conditions import ConditionType, Reason, is_condition_true
from secretsync.api.syncspec import Ref, SyncSpec

__all__ = ["check_dependencies", "not_ready_because"]


def not_ready_because(other: dict[str, Any] | None) -> str | None:
    """Why the dependency ``other`` (a Sync object, None if missing) is not ready, or None when it is."""
    if other is None:
        return "not found"
    meta, status = other.get("metadata") or {}, other.get("status") or {}
    if status.get("observedGeneration") != meta.get("generation"):
        return "not reconciled yet"
    if not is_condition_true(other, ConditionType.READY):
        return "not ready"
    return None


def check_dependencies(
    spec: SyncSpec, get_sync: Callable[[tuple[str, str]], dict[str, Any] | None], requeue: float
) -> None:
    dep: Ref
    for dep in spec.depends_on:
        why = not_ready_because(get_sync((dep.namespace, dep.name)))
        if why:
            raise StepFailed(
                Reason.DEPENDENCY_NOT_READY, f"dependency {dep.namespace}/{dep.name} is {why}", requeue=requeue
            )
