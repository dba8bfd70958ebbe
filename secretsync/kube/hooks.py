"""Sync hooks: objects (usually Jobs) run at a phase of the sync instead of being applied with the rest.

An object annotated ``secretsync.io/hook`` (Argo CD's ``argocd.argoproj.io/hook`` is read too,
for migration) with ``PreSync``, ``Sync``, ``PostSync`` or ``SyncFail`` (comma-separated for more
than one) is a hook; ``Skip`` means "never apply". Hooks are not part of the inventory and are
never pruned. In a phase, hooks run one after the other in apply order (wave, kind, name):

1. delete policy ``BeforeHookCreation`` (the default when none is given, as in Argo CD): an
   existing object of the same name is deleted first, and its deletion awaited;
2. the hook is applied (server-side apply, our field manager) and waited on with the health
   rules of ``secretsync.kube.health`` (a Job until Complete or Failed) up to the timeout: a hook
   that never finishes fails at the timeout instead of blocking forever (argo-cd#4979, #9018);
3. ``HookSucceeded`` deletes it after success, ``HookFailed`` after failure.

A failed hook raises ``HookFailed``; the caller (``secretsync.reconcile``) stops the sync there
(a failed PreSync hook means nothing else is applied) and runs the SyncFail hooks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from secretsync.errors import SecretsyncError
from secretsync.kube import health
from secretsync.kube.changeset import CONFIGURED, CREATED, DELETED, Change, ChangeSet, safe_message
from secretsync.kube.errors import KubeError, NotFound
from secretsync.kube.plan import prepare
from secretsync.objects import ObjectId, sort_for_apply

__all__ = [
    "HOOK_ANNOTATIONS",
    "DELETE_POLICY_ANNOTATIONS",
    "PHASES",
    "PRE_SYNC",
    "SYNC",
    "POST_SYNC",
    "SYNC_FAIL",
    "HookError",
    "HookFailed",
    "hook_phases",
    "split_hooks",
    "run_hooks",
    "HookOptions",
]

log = logging.getLogger(__name__)

HOOK_ANNOTATIONS = ("secretsync.io/hook", "argocd.argoproj.io/hook")
DELETE_POLICY_ANNOTATIONS = ("secretsync.io/hook-delete-policy", "argocd.argoproj.io/hook-delete-policy")
PRE_SYNC, SYNC, POST_SYNC, SYNC_FAIL, SKIP = "PreSync", "Sync", "PostSync", "SyncFail", "Skip"
PHASES = (PRE_SYNC, SYNC, POST_SYNC, SYNC_FAIL)
POLICIES = ("HookSucceeded", "HookFailed", "BeforeHookCreation")


class HookError(SecretsyncError):
    """A hook annotation is invalid (unknown phase or delete policy)."""

    reference = "hook-invalid"


class HookFailed(SecretsyncError):
    """A hook failed or did not finish in time; the sync stops."""

    reference = "hook-failed"

    def __init__(self, message: str, *, phase: str, changes: ChangeSet, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.phase = phase
        self.changes = changes


def _annotation(obj: Mapping[str, Any], names: Sequence[str]) -> str | None:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    for name in names:
        if name in annotations:
            return str(annotations[name])
    return None


def hook_phases(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """The phases ``obj`` is a hook of (empty: not a hook; ``("Skip",)``: never applied)."""
    value = _annotation(obj, HOOK_ANNOTATIONS)
    if value is None:
        return ()
    phases = tuple(p.strip() for p in value.split(",") if p.strip())
    for p in phases:
        if p not in PHASES and p != SKIP:
            raise HookError(
                f"{ObjectId.of(dict(obj))}: unknown hook phase {p!r}", hint=f"use one of {', '.join(PHASES)} or Skip"
            )
    return phases


def delete_policies(obj: Mapping[str, Any]) -> tuple[str, ...]:
    value = _annotation(obj, DELETE_POLICY_ANNOTATIONS)
    if value is None:
        return ("BeforeHookCreation",)
    policies = tuple(p.strip() for p in value.split(",") if p.strip())
    for p in policies:
        if p not in POLICIES:
            raise HookError(
                f"{ObjectId.of(dict(obj))}: unknown hook delete policy {p!r}", hint=f"use {', '.join(POLICIES)}"
            )
    return policies


def split_hooks(objects: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """(regular objects, hooks by phase); Skip objects are dropped. Invalid annotations raise ``HookError``."""
    regular: list[dict[str, Any]] = []
    hooks: dict[str, list[dict[str, Any]]] = {p: [] for p in PHASES}
    for obj in objects:
        phases = hook_phases(obj)
        if not phases:
            regular.append(dict(obj))
            continue
        delete_policies(obj)
        for phase in phases:
            if phase != SKIP:
                hooks[phase].append(dict(obj))
    return regular, hooks


@dataclass
class HookOptions:
    field_manager: str = "secretsync"
    timeout: float = 300.0
    poll_interval: float = 0.5
    dry_run: bool = False
    clock: Callable[[], float] = time.monotonic


def _delete_and_wait(client: Any, obj: Mapping[str, Any], opts: HookOptions) -> bool:
    oid = ObjectId.of(dict(obj))
    api_version = str(obj.get("apiVersion"))
    try:
        client.delete(api_version, oid.kind, oid.name, oid.namespace or None, propagation_policy="Background")
    except NotFound:
        return False
    deadline = opts.clock() + opts.timeout
    while client.get_or_none(api_version, oid.kind, oid.name, oid.namespace or None) is not None:
        if opts.clock() > deadline:
            raise HookFailed(
                f"hook {oid}: the previous run was deleted but is still present after {opts.timeout:g}s",
                phase="",
                changes=ChangeSet(),
                hint="check its finalizers",
            )
        time.sleep(min(opts.poll_interval, 0.2))
    return True


def run_hooks(client: Any, hooks: Sequence[Mapping[str, Any]], phase: str, opts: HookOptions) -> ChangeSet:
    """Run the hooks of one phase in order; raise ``HookFailed`` at the first failure (after its delete policy)."""
    changes = ChangeSet()
    for hook in sort_for_apply([dict(h) for h in hooks]):
        oid = ObjectId.of(dict(hook))
        policies = delete_policies(hook)
        api_version = str(hook.get("apiVersion"))
        if opts.dry_run:
            changes.add(Change(oid, CREATED, f"{phase} hook (dry run)", api_version=api_version))
            continue
        try:
            replaced = "BeforeHookCreation" in policies and _delete_and_wait(client, hook, opts)
            result = client.apply(prepare(hook), field_manager=opts.field_manager, force=True)
        except KubeError as exc:
            raise HookFailed(
                f"{phase} hook {oid} could not be created: {safe_message(exc, hook)}",
                phase=phase,
                changes=changes,
                hint=exc.hint,
            ) from None
        changes.add(Change(oid, CONFIGURED if replaced else CREATED, f"{phase} hook", api_version=api_version))
        failure: SecretsyncError | None = None
        try:
            health.wait_for(client, [result], opts.timeout, interval=opts.poll_interval, what=f"{phase} hooks")
        except (health.HealthCheckFailed, health.HealthTimeout) as exc:
            failure = exc
        if failure is None and "HookSucceeded" in policies or failure is not None and "HookFailed" in policies:
            try:
                _delete_and_wait(client, hook, opts)
                changes.add(Change(oid, DELETED, f"{phase} hook delete policy", api_version=api_version))
            except KubeError as exc:
                log.warning("could not delete hook %s: %s", oid, safe_message(exc, hook))
        if failure is not None:
            timed_out = isinstance(failure, health.HealthTimeout)
            raise HookFailed(
                f"{phase} hook {oid} {'did not finish in time' if timed_out else 'failed'}: {failure.message}",
                phase=phase,
                changes=changes,
                hint="look at the hook's logs and status; the sync stopped here",
            )
        log.info("%s hook %s succeeded", phase, oid)
    return changes
