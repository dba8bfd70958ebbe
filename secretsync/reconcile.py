"""One reconcile: render a revision, run its hooks, apply, prune, wait for health. Atomic per revision.

``reconcile(source, renderer, client, inventory, opts) -> ReconcileResult`` (or
``reconcile_rendered`` for a render already made) is shared by ``secretsync apply`` and the agent:

1. **render** (``secretsync.render.pipeline``): if any object fails to fetch, build, decrypt, unseal or
   resolve, the result is a failure with nothing applied and nothing pruned, and the inventory
   is left as it was;
2. the previous inventory is read (``InventoryStore.load``); a store that finds members by label
   (the ApplySet) records the new kinds and namespaces before anything is written
   (``InventoryStore.widen``), so a crash mid-apply leaves nothing untracked. Object entries enter
   the inventory only once the server accepted them (or they already existed): an object the server
   refuses (e.g. an invalid name) never does;
3. **PreSync hooks**; a failure stops the sync here (SyncFail hooks run);
4. **apply** (``secretsync.kube.apply.apply_all``: staged, waves each healthy before the next),
   then **Sync hooks**; a failure stops before prune (SyncFail hooks run);
5. **prune** (only with ``opts.prune``; ``secretsync.kube.prune`` guards); objects whose delete
   failed, or that a guard kept, stay in the inventory;
6. **health** with ``opts.wait`` (or when PostSync hooks need it), then **PostSync hooks**.

The result says which step failed and gives a Flux-like condition reason (``secretsync.api.conditions.Reason``)
so the agent can write it into a status condition unchanged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from secretsync.api.conditions import Reason
from secretsync.errors import SecretsyncError
from secretsync.kube import health
from secretsync.kube.apply import ApplyOptions, apply_all
from secretsync.kube.changeset import ApplyFailed, ChangeSet, ImmutableFieldError
from secretsync.kube.errors import KubeError
from secretsync.kube.health import Health
from secretsync.kube.hooks import (
    POST_SYNC,
    PRE_SYNC,
    SYNC,
    SYNC_FAIL,
    HookError,
    HookFailed,
    HookOptions,
    run_hooks,
    split_hooks,
)
from secretsync.kube.inventory import ApplySet, Inventory
from secretsync.kube.plan import FIELD_MANAGER, IgnoreRule, LiveIndex, owner_selector
from secretsync.kube.prune import MaxPrune, PruneBlocked, PruneFailed, PruneOptions, PruneResult, prune
from secretsync.objects import ObjectId
from secretsync.render.pipeline import RenderResult

__all__ = [
    "ReconcileOptions",
    "ReconcileResult",
    "InventoryStore",
    "ApplySetStore",
    "reconcile",
    "reconcile_rendered",
    "render_reason",
]

log = logging.getLogger(__name__)


@dataclass
class ReconcileOptions:
    prune: bool = False
    wait: bool = False
    timeout: float = 300.0
    dry_run: bool = False
    allow_empty: bool = False
    max_prune: MaxPrune | None = None
    ignore: Sequence[IgnoreRule] = ()
    force_recreate: bool = False
    field_manager: str = FIELD_MANAGER
    poll_interval: float = 0.5
    concurrency: int = 4
    cancel: threading.Event | None = None


class InventoryStore(Protocol):
    """Where the inventory lives: an ApplySet for the CLI, the Sync status for the agent."""

    @property
    def owner_labels(self) -> Mapping[str, str]:
        """The labels that mark an object as a member of this inventory."""
        ...

    def load(
        self, index: LiveIndex, versions: Mapping[tuple[str, str], str]
    ) -> tuple[Inventory, dict[ObjectId, dict[str, Any]]]: ...

    def save(self, inventory: Inventory, *, dry_run: bool = False) -> None: ...

    def widen(self, previous: Inventory, new: Inventory) -> None:
        """Before applying: record what lets a crash mid-apply be recovered (never unaccepted entries)."""


class ApplySetStore:
    """``InventoryStore`` over a ``secretsync.kube.inventory.ApplySet``."""

    def __init__(self, applyset: ApplySet) -> None:
        self.applyset = applyset
        self.owner_labels = applyset.member_labels

    def load(
        self, index: LiveIndex, versions: Mapping[tuple[str, str], str]
    ) -> tuple[Inventory, dict[ObjectId, dict[str, Any]]]:
        return self.applyset.members(index, versions)

    def save(self, inventory: Inventory, *, dry_run: bool = False) -> None:
        self.applyset.save(inventory, dry_run=dry_run)

    def widen(self, previous: Inventory, new: Inventory) -> None:
        """The parent records kinds and namespaces only; members are found by label, so a refused
        object never becomes a member."""
        self.applyset.widen(new, previous)


@dataclass
class ReconcileResult:
    """What one reconcile did. ``error`` is None on success; ``stage`` is where it stopped."""

    revision: str | None
    stage: str = "render"
    reason: str = Reason.RECONCILIATION_SUCCEEDED
    error: SecretsyncError | None = None
    render: RenderResult | None = field(default=None, repr=False)
    changes: ChangeSet = field(default_factory=ChangeSet)
    prune: PruneResult | None = None
    inventory: Inventory | None = None
    health: dict[ObjectId, Health] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def message(self) -> str:
        if self.error is not None:
            return self.error.message
        return f"applied revision {self.revision}: {self.changes.summary()}"


_STAGE_REASONS = {
    "sops": Reason.DECRYPTION_FAILED,
    "unseal": Reason.UNSEAL_FAILED,
    "vault": Reason.VAULT_UNAVAILABLE,
    "substitute": Reason.SUBSTITUTION_FAILED,
}


def render_reason(result: RenderResult) -> str:
    """The condition reason of a failed render: the first failing step's (decryption, unseal, ...)."""
    for outcome in result.errors:
        if outcome.stage in _STAGE_REASONS:
            return _STAGE_REASONS[outcome.stage]
    return Reason.BUILD_FAILED


def reconcile(
    source: Any, renderer: Any, client: Any, store: InventoryStore, opts: ReconcileOptions = ReconcileOptions()
) -> ReconcileResult:
    """Fetch and render ``source`` with ``renderer`` (a ``pipeline.Renderer``), then ``reconcile_rendered``."""
    try:
        rendered = renderer.render(source)
    except SecretsyncError as exc:
        return ReconcileResult(None, "fetch", Reason.ARTIFACT_FAILED, exc)
    return reconcile_rendered(rendered, client, store, opts)


def _apply_options(client: Any, store: InventoryStore, opts: ReconcileOptions, index: LiveIndex) -> ApplyOptions:
    return ApplyOptions(
        client=client,
        field_manager=opts.field_manager,
        owner_labels=dict(store.owner_labels),
        ignore=tuple(opts.ignore),
        dry_run=opts.dry_run,
        force_recreate=opts.force_recreate,
        timeout=opts.timeout,
        poll_interval=opts.poll_interval,
        concurrency=opts.concurrency,
        cancel=opts.cancel,
        index=index,
    )


_APPLY_FAILURES = (
    HookFailed,
    ApplyFailed,
    ImmutableFieldError,
    health.HealthCheckFailed,
    health.HealthTimeout,
    health.HealthCheckCanceled,
    KubeError,
    SecretsyncError,
)


def reconcile_rendered(
    rendered: RenderResult, client: Any, store: InventoryStore, opts: ReconcileOptions = ReconcileOptions()
) -> ReconcileResult:
    """Apply a render (see the module docstring). Never raises for a reconcile failure: see ``.error``.

    The steps (each records its failure and reason on the result): split the hooks, inventory +
    PreSync + apply + Sync (``_apply``), prune or keep (``_prune``), save the inventory, then
    health + PostSync (``_check_health``)."""
    revision = rendered.revision.id if rendered.revision else None
    result = ReconcileResult(revision, render=rendered)
    if not rendered.ok:
        result.error, result.reason = rendered.failure(), render_reason(rendered)
        return result  # nothing applied, nothing pruned, inventory untouched
    try:
        regular, hooks = split_hooks(rendered.objects())
    except HookError as exc:
        result.error, result.reason = exc, Reason.INVALID_SPEC
        return result
    hook_opts = HookOptions(
        field_manager=opts.field_manager, timeout=opts.timeout, poll_interval=opts.poll_interval, dry_run=opts.dry_run
    )
    new = Inventory.of_objects(regular)
    previous = _apply(client, store, opts, regular, hooks, hook_opts, new, result)
    if previous is None:
        return result
    final = _prune(client, store, opts, rendered, previous, new, result) if opts.prune else None
    if final is None:
        final = previous.with_survivors(new.entries)
    if not opts.dry_run:
        _save(store, final, result)
    result.inventory = final
    if result.error is not None:
        return result
    if (
        (opts.wait or hooks[POST_SYNC])
        and not opts.dry_run
        and not _check_health(client, opts, hooks, hook_opts, new, result)
    ):
        return result
    result.stage = "done"
    log.info("reconciled %s: %s", revision, result.changes.summary())
    return result


def _apply(
    client: Any,
    store: InventoryStore,
    opts: ReconcileOptions,
    regular: list[dict[str, Any]],
    hooks: Mapping[str, list[dict[str, Any]]],
    hook_opts: HookOptions,
    new: Inventory,
    result: ReconcileResult,
) -> Inventory | None:
    """Load (and widen) the inventory, run PreSync hooks, apply, run Sync hooks: the previous
    inventory, or None after a failure (recorded on ``result``, the accepted objects saved)."""
    index = LiveIndex(client, owner_selector(store.owner_labels))
    versions = {(e.id.group, e.id.kind): e.api_version for e in new}
    try:
        result.stage = "inventory"
        previous, _ = store.load(index, versions)
        result.inventory = previous
        if not opts.dry_run:
            store.widen(previous, new)
        result.stage = "hooks"
        result.changes.extend(run_hooks(client, hooks[PRE_SYNC], PRE_SYNC, hook_opts))
        result.stage = "apply"
        result.changes.extend(apply_all(regular, _apply_options(client, store, opts, index)))
        result.stage = "hooks"
        result.changes.extend(run_hooks(client, hooks[SYNC], SYNC, hook_opts))
    except _APPLY_FAILURES as exc:
        if isinstance(exc, (ApplyFailed, HookFailed)):
            result.changes.extend(getattr(exc, "changeset", None) or getattr(exc, "changes", None) or ChangeSet())
        result.error = exc
        result.reason = _failure_reason(result.stage, exc)
        if result.stage != "inventory" and not opts.dry_run:
            _save_accepted(store, previous, new, result, client)
        _sync_fail(client, hooks, hook_opts, result)
        return None
    return previous


def _prune(
    client: Any,
    store: InventoryStore,
    opts: ReconcileOptions,
    rendered: RenderResult,
    previous: Inventory,
    new: Inventory,
    result: ReconcileResult,
) -> Inventory:
    """Delete what left the render; the inventory to save (the new one plus what survived or was
    kept, or the previous one widened when the prune was blocked or failed before deleting)."""
    result.stage = "prune"
    pruned: PruneResult | None
    try:
        pruned = prune(
            client,
            previous.stale(new),
            PruneOptions(
                owner_labels=dict(store.owner_labels),
                allow_empty=opts.allow_empty,
                max_prune=opts.max_prune,
                dry_run=opts.dry_run,
            ),
            render_complete=rendered.may_prune,
            new_count=len(new),
            previous_count=len(previous),
        )
    except PruneFailed as exc:
        pruned = exc.result
        result.error, result.reason = exc, Reason.PRUNE_FAILED
    except PruneBlocked as exc:
        result.error, result.reason = exc, Reason.PRUNE_BLOCKED
        pruned = None
    except KubeError as exc:
        result.error, result.reason = exc, Reason.PRUNE_FAILED
        pruned = None
    result.prune = pruned
    if pruned is None:
        return previous.with_survivors(new.entries)
    result.changes.extend(pruned.changes)
    return new.with_survivors([*pruned.survivors, *pruned.kept])


def _save(store: InventoryStore, final: Inventory, result: ReconcileResult) -> None:
    try:
        store.save(final)
    except KubeError as exc:
        result.error = result.error or exc
        result.reason = (
            Reason.RECONCILIATION_FAILED if result.reason == Reason.RECONCILIATION_SUCCEEDED else result.reason
        )


def _check_health(
    client: Any,
    opts: ReconcileOptions,
    hooks: Mapping[str, list[dict[str, Any]]],
    hook_opts: HookOptions,
    new: Inventory,
    result: ReconcileResult,
) -> bool:
    """Wait for the applied objects to be healthy, then run PostSync hooks; False after a failure."""
    result.stage = "health"
    applied = [result.changes.results[e.id] for e in new if e.id in result.changes.results]
    try:
        result.health = health.wait_for(client, applied, opts.timeout, interval=opts.poll_interval, cancel=opts.cancel)
        result.stage = "hooks"
        result.changes.extend(run_hooks(client, hooks[POST_SYNC], POST_SYNC, hook_opts))
    except (health.HealthCheckFailed, health.HealthTimeout, health.HealthCheckCanceled, HookFailed) as exc:
        if isinstance(exc, HookFailed):
            result.changes.extend(exc.changes)
        result.error, result.reason = exc, _failure_reason(result.stage, exc)
        _sync_fail(client, hooks, hook_opts, result)
        return False
    return True


def _save_accepted(
    store: InventoryStore, previous: Inventory, new: Inventory, result: ReconcileResult, client: Any
) -> None:
    """After a failed apply: keep the previous inventory plus the new objects the server accepted (or that
    already existed); an object it refused never enters the inventory."""
    accepted = [e for e in new.entries if e.id not in previous and _accepted(e, result.changes, client)]
    result.inventory = previous.with_survivors(accepted)
    try:
        store.save(result.inventory)
    except KubeError as exc:
        log.warning("cannot save the inventory after a failed apply: %s", exc.message)


def _accepted(entry: Any, changes: ChangeSet, client: Any) -> bool:
    if entry.id in changes.results:
        return True
    oid = entry.id
    try:
        return client.get_or_none(entry.api_version, oid.kind, oid.name, oid.namespace or None) is not None
    except (KubeError, ValueError):
        return False


def _failure_reason(stage: str, exc: BaseException) -> str:
    if isinstance(exc, health.HealthCheckCanceled):
        return Reason.HEALTH_CHECK_CANCELED
    if isinstance(exc, (health.HealthCheckFailed, health.HealthTimeout)) and stage == "health":
        return Reason.HEALTH_CHECK_FAILED
    if getattr(exc, "status", None) == 403 or getattr(exc, "access_denied", False):
        return Reason.ACCESS_DENIED
    return Reason.APPLY_FAILED if stage in ("apply", "inventory") else Reason.RECONCILIATION_FAILED


def _sync_fail(client: Any, hooks: Mapping[str, list[Any]], hook_opts: HookOptions, result: ReconcileResult) -> None:
    if not hooks.get(SYNC_FAIL) or hook_opts.dry_run:
        return
    try:
        result.changes.extend(run_hooks(client, hooks[SYNC_FAIL], SYNC_FAIL, hook_opts))
    except HookFailed as exc:
        result.changes.extend(exc.changes)
        log.warning("SyncFail hook failed: %s", exc.message)
