"""Server-side apply of a rendered set of objects, in order, writing only what changed.

``apply_all(objects, opts) -> ChangeSet`` is shaped like fluxcd/pkg ``ssa.ResourceManager.ApplyAllStaged``:

- **SSA only**, field manager ``secretsync``, ``force`` (conflicting fields are taken over; the
  managers that lost fields are reported on the change). A live
  ``kubectl.kubernetes.io/last-applied-configuration`` annotation (it can hold a Secret's values)
  is removed when we take an object over, and field ownership of human tools (``kubectl``,
  ``kubectl-client-side-apply``, ``kubectl-edit``, ...) moves to us, so that a field removed from
  Git is removed from the cluster (flux2#2099).
- **Order**: CRDs, Namespaces, ClusterRoles and ClusterRoleBindings first (CRDs waited until
  Established), then the rest by wave (``secretsync.io/sync-wave``, Argo's
  ``argocd.argoproj.io/sync-wave``) and kind order (``secretsync.objects.apply_order_key``);
  each wave is healthy (``secretsync.kube.health``) before the next starts.
- **Cheap no-op**: one list per kind (by owner label when owner labels are set) gives the live
  objects. An object is *provably unchanged* when our manager's ``managedFields`` entry covers
  exactly the fields we send and every one of them already holds the desired value; such an object
  costs no request. Only where that comparison is inconclusive (defaulting, normalisation, fields
  we started or stopped sending) does a server-side dry-run decide, and only a real difference
  leads to a write. A reconcile with no change therefore writes nothing. The reverse shortcut:
  a ConfigMap or Secret ``data`` key we own holding another value is a certain change
  (``data_changed``), written without a dry-run first.
- **Ignore rules** (JSON pointers per kind/name) apply to apply and diff alike: on a live object an
  ignored field is copied from the live object when only we own it (no fight, no removal), and left
  out of what we send when another manager owns it (Flux's semantics).
- **Immutable fields**: an apply refused because a field is immutable is retried by deleting and
  recreating the object only when it is annotated ``secretsync.io/force: enabled`` (on the desired
  or the live object), or when ``force_recreate`` is set and the object is not a Secret. Otherwise
  ``ImmutableFieldError`` says how to opt in.
- Secret ``stringData`` is merged into ``data`` before sending (what the API server would store),
  so a Secret compares against its live ``data`` and never churns.

Messages never hold a Secret value: API errors about Secrets keep only reasons and field names.

This module holds the options, the per-object ``plan`` (with its one dry-run), the takeover and
the writes in waves; what to send and the no-op proof are ``secretsync.kube.plan``'s, the result
(``ChangeSet``) and the apply's errors ``secretsync.kube.changeset``'s.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from secretsync.errors import SecretsyncError
from secretsync.kube import health
from secretsync.kube.changeset import (
    CONFIGURED,
    CREATED,
    UNCHANGED,
    ApplyFailed,
    Change,
    ChangeSet,
    ImmutableFieldError,
    is_immutable_error,
    safe_message,
)
from secretsync.kube.errors import Forbidden, KubeAPIError, KubeError, NotFound
from secretsync.kube.plan import (
    FIELD_MANAGER,
    FORCE_ANNOTATION,
    LAST_APPLIED,
    IgnoreRule,
    LiveIndex,
    apply_ignore_rules,
    comparable,
    data_changed,
    field_managers,
    owner_selector,
    prepare,
    provably_unchanged,
)
from secretsync.objects import ObjectId, apply_order_key, group_of

__all__ = ["TAKEOVER_MANAGERS", "ApplyOptions", "apply_all", "plan"]

log = logging.getLogger(__name__)

TAKEOVER_MANAGERS = (
    "kubectl",
    "kubectl-client-side-apply",
    "kubectl-create",
    "kubectl-edit",
    "kubectl-patch",
    "kubectl-replace",
    "kubectl-set",
    "before-first-apply",
)

# ---------------------------------------------------------------------------------------------
# options and the manager


@dataclass
class ApplyOptions:
    """How ``apply_all`` works. ``client`` is a ``secretsync.kube.KubeClient``."""

    client: Any
    field_manager: str = FIELD_MANAGER
    owner_labels: Mapping[str, str] = field(default_factory=dict)
    ignore: Sequence[IgnoreRule] = ()
    dry_run: bool = False
    force_recreate: bool = False
    wait_waves: bool = True
    timeout: float = 300.0
    poll_interval: float = 0.5
    concurrency: int = 4
    takeover_managers: Sequence[str] = TAKEOVER_MANAGERS
    cancel: threading.Event | None = None
    clock: Callable[[], float] = time.monotonic
    index: LiveIndex | None = None


@dataclass
class _Planned:
    desired: dict[str, Any]
    live: dict[str, Any] | None
    action: str  # CREATED / CONFIGURED / UNCHANGED
    detail: str = ""
    dry: dict[str, Any] | None = None
    recreate: bool = False


def _allows_recreate(desired: Mapping[str, Any], live: Mapping[str, Any] | None, opts: ApplyOptions) -> bool:
    def annotated(obj: Mapping[str, Any] | None) -> bool:
        meta = (obj or {}).get("metadata") or {}
        return "enabled" in (
            str((meta.get("annotations") or {}).get(FORCE_ANNOTATION, "")).lower(),
            str((meta.get("labels") or {}).get(FORCE_ANNOTATION, "")).lower(),
        )

    if annotated(desired) or annotated(live):
        return True
    return opts.force_recreate and desired.get("kind") != "Secret"


def _immutable(oid: ObjectId, desired: Mapping[str, Any], exc: KubeAPIError) -> ImmutableFieldError:
    secret = desired.get("kind") == "Secret"
    hint = f"annotate {oid} with '{FORCE_ANNOTATION}: enabled' in Git to let secretsync delete and recreate it" + (
        " (a Secret is never recreated without this annotation: keys not in Git would be lost)"
        if secret
        else " (or pass --force to recreate any non-Secret object)"
    )
    return ImmutableFieldError(f"{oid}: the change touches an immutable field: {safe_message(exc, desired)}", hint=hint)


def _dry_run(desired: dict[str, Any], opts: ApplyOptions) -> dict[str, Any]:
    dry: dict[str, Any] = opts.client.apply(desired, field_manager=opts.field_manager, force=True, dry_run=True)
    return dry


def plan(desired: dict[str, Any], live: dict[str, Any] | None, opts: ApplyOptions) -> _Planned:
    """Decide what applying ``desired`` (already prepared) over ``live`` would do, with at most one dry-run."""
    if live is None:
        return _Planned(desired, None, CREATED)
    desired = apply_ignore_rules(desired, live, opts.ignore, opts.field_manager)
    if provably_unchanged(desired, live, opts.field_manager):
        return _Planned(desired, live, UNCHANGED)
    if _takeover_patch(live, opts) is not None:
        return _Planned(desired, live, CONFIGURED, "takeover")
    if not opts.dry_run and data_changed(desired, live, opts.field_manager):
        return _Planned(desired, live, CONFIGURED)  # a dry-run could only confirm it: write at once
    oid = ObjectId.of(desired)
    try:
        dry = _dry_run(desired, opts)
    except KubeAPIError as exc:
        if is_immutable_error(exc):
            if _allows_recreate(desired, live, opts):
                return _Planned(desired, live, CONFIGURED, "recreate", recreate=True)
            raise _immutable(oid, desired, exc) from None
        raise
    if comparable(dry, opts.field_manager) == comparable(live, opts.field_manager):
        return _Planned(desired, live, UNCHANGED, "via dry-run", dry=dry)
    return _Planned(desired, live, CONFIGURED, dry=dry)


def _merge_fields(a: Any, b: Any) -> Any:
    if not isinstance(a, dict) or not isinstance(b, dict):
        return a if isinstance(a, dict) else b
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge_fields(out[k], v) if k in out else v
    return out


def _takeover_patch(live: Mapping[str, Any], opts: ApplyOptions) -> tuple[list[Any], tuple[str, ...]] | None:
    """A JSON patch removing last-applied and moving human tools' field ownership to us, or None if not needed."""
    meta = live.get("metadata") or {}
    ops: list[dict[str, Any]] = []
    taken: list[str] = []
    if LAST_APPLIED in (meta.get("annotations") or {}):
        ops.append(
            {"op": "remove", "path": "/metadata/annotations/" + LAST_APPLIED.replace("~", "~0").replace("/", "~1")}
        )
    entries = [dict(e) for e in field_managers(live)]  # copies: the live object is not changed here
    keep, merged = [], None
    for entry in entries:
        name, operation = entry.get("manager"), entry.get("operation")
        if entry.get("subresource"):
            keep.append(entry)
        elif name in opts.takeover_managers or (name == opts.field_manager and operation == "Update"):
            merged = _merge_fields(merged or {}, entry.get("fieldsV1") or {})
            if name != opts.field_manager:
                taken.append(str(name))
        else:
            keep.append(entry)
    if merged is not None:
        ours = None
        for entry in keep:
            if entry.get("manager") == opts.field_manager and entry.get("operation") == "Apply":
                ours = entry
        if ours is None:
            ours = {
                "manager": opts.field_manager,
                "operation": "Apply",
                "apiVersion": live.get("apiVersion"),
                "fieldsType": "FieldsV1",
                "fieldsV1": {},
            }
            keep.append(ours)
        ours["fieldsV1"] = _merge_fields(ours.get("fieldsV1") or {}, merged)
        ops.append({"op": "replace", "path": "/metadata/managedFields", "value": keep})
    if not ops:
        return None
    ops.insert(0, {"op": "test", "path": "/metadata/resourceVersion", "value": meta.get("resourceVersion")})
    return ops, tuple(sorted(set(taken)))


def _lost_fields(before: Mapping[str, Any] | None, after: Mapping[str, Any], manager: str) -> tuple[str, ...]:
    """Managers (other than ours) whose owned fields shrank: what force took from them."""
    if before is None:
        return ()
    after_by = {
        (e.get("manager"), e.get("operation"), e.get("subresource")): e.get("fieldsV1") for e in field_managers(after)
    }
    lost = []
    for entry in field_managers(before):
        key = (entry.get("manager"), entry.get("operation"), entry.get("subresource"))
        if key[0] == manager:
            continue
        if after_by.get(key) != entry.get("fieldsV1"):
            lost.append(str(key[0]))
    return tuple(sorted(set(lost)))


class _Applier:
    def __init__(self, opts: ApplyOptions, changes: ChangeSet) -> None:
        self.opts = opts
        self.client = opts.client
        self.changes = changes
        self.index = opts.index or LiveIndex(opts.client, owner_selector(opts.owner_labels))
        self.results: dict[ObjectId, dict[str, Any]] = changes.results

    # -- one object ------------------------------------------------------------------------
    def one(self, desired: dict[str, Any]) -> Change:
        opts = self.opts
        oid = ObjectId.of(desired)
        live = self.index.get(desired)
        planned = plan(desired, live, opts)
        desired = planned.desired
        api_version = str(desired.get("apiVersion"))
        if planned.action == UNCHANGED:
            self.results[oid] = live or desired
            return Change(oid, UNCHANGED, planned.detail, api_version=api_version)
        if opts.dry_run:
            detail = "would be recreated" if planned.recreate else planned.detail
            self.results[oid] = planned.dry or desired
            return Change(oid, planned.action, detail if detail != "via dry-run" else "", api_version=api_version)
        taken: tuple[str, ...] = ()
        if live is not None and planned.detail == "takeover":
            live, taken = self._take_over(live)
        if planned.recreate:
            result = self._recreate(desired, live)
            self.results[oid] = result
            return Change(oid, CONFIGURED, "recreated", api_version=api_version)
        try:
            result = self.client.apply(desired, field_manager=opts.field_manager, force=True)
        except KubeAPIError as exc:
            if not is_immutable_error(exc):
                raise
            if not _allows_recreate(desired, live, opts):
                raise _immutable(oid, desired, exc) from None
            result = self._recreate(desired, live)
            self.results[oid] = result
            return Change(oid, CONFIGURED, "recreated", api_version=api_version)
        action = planned.action
        if live is None:
            others = [e for e in field_managers(result) if e.get("manager") != opts.field_manager]
            if others:  # it existed without our owner labels: a takeover
                action = CONFIGURED
                cleanup = _takeover_patch(result, opts)
                if cleanup is not None:
                    # now that their fields are ours, apply again so fields we do not send are removed
                    _, more = self._take_over(result)
                    taken += more
                    result = self.client.apply(desired, field_manager=opts.field_manager, force=True)
                taken += tuple(str(e.get("manager")) for e in others if e.get("manager") not in taken)
        taken = tuple(sorted(set(taken) | set(_lost_fields(live, result, opts.field_manager))))
        self.results[oid] = result
        return Change(oid, action, "", taken, api_version)

    def _take_over(self, live: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
        patch = _takeover_patch(live, self.opts)
        if patch is None:
            return live, ()
        ops, taken = patch
        oid = ObjectId.of(live)
        log.info("taking over %s from %s", oid, ", ".join(taken) or "last-applied-configuration")
        out = self.client.patch(
            str(live.get("apiVersion")),
            oid.kind,
            oid.name,
            oid.namespace or None,
            ops,
            patch_type="json",
            field_manager=self.opts.field_manager,
        )
        return out, taken or ("last-applied-configuration",)

    def _recreate(self, desired: dict[str, Any], live: dict[str, Any] | None) -> dict[str, Any]:
        oid = ObjectId.of(desired)
        api_version = str(desired.get("apiVersion"))
        log.warning("recreating %s: an immutable field changed and recreation is allowed", oid)
        uid = ((live or {}).get("metadata") or {}).get("uid")
        try:
            self.client.delete(
                api_version, oid.kind, oid.name, oid.namespace or None, propagation_policy="Background", uid=uid
            )
        except NotFound:
            pass
        deadline = self.opts.clock() + self.opts.timeout
        while self.client.get_or_none(api_version, oid.kind, oid.name, oid.namespace or None) is not None:
            if self.opts.clock() > deadline:
                raise ApplyFailed(
                    f"{oid}: deleted for recreation but still present after {self.opts.timeout:g}s",
                    hint="check its finalizers",
                    changeset=self.changes,
                )
            time.sleep(min(self.opts.poll_interval, 0.2))
        created: dict[str, Any] = self.client.apply(desired, field_manager=self.opts.field_manager, force=True)
        return created

    # -- groups ----------------------------------------------------------------------------
    def _list_kinds(self, objects: list[dict[str, Any]]) -> None:
        """One list per kind (in the namespaces the objects name) into the live index."""
        kinds: dict[tuple[str, str], set[str | None]] = {}
        for obj in objects:
            oid = ObjectId.of(obj)
            kinds.setdefault((str(obj.get("apiVersion")), oid.kind), set()).add(oid.namespace)
        for (api_version, kind), namespaces in kinds.items():
            self.index.kind(api_version, kind, [n for n in namespaces if n])

    def _quick_unchanged(self, objects: list[dict[str, Any]]) -> dict[int, Change]:
        """The common no-op, decided without a thread hop: position → its UNCHANGED change."""
        quick: dict[int, Change] = {}
        for position, obj in enumerate(objects):
            live = self.index.get(obj)
            if live is not None and provably_unchanged(
                apply_ignore_rules(obj, live, self.opts.ignore, self.opts.field_manager), live, self.opts.field_manager
            ):
                self.results[ObjectId.of(obj)] = live
                quick[position] = Change(ObjectId.of(obj), UNCHANGED, api_version=str(obj.get("apiVersion")))
        return quick

    def group(self, objects: list[dict[str, Any]]) -> None:
        """Apply objects that may go in parallel (same stage, wave and kind); raise after all were tried."""
        self._list_kinds(objects)
        quick = self._quick_unchanged(objects)
        rest = [obj for position, obj in enumerate(objects) if position not in quick]
        failures = _Failures()

        def run(obj: dict[str, Any]) -> Change | None:
            return failures.collect(obj, lambda: self.one(obj))

        workers = max(1, min(self.opts.concurrency, len(rest)))
        if workers == 1:
            done = iter([run(obj) for obj in rest])
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="apply") as pool:
                done = iter(list(pool.map(run, rest)))
        for position in range(len(objects)):  # recorded in apply order, whatever order the workers finished in
            change = quick[position] if position in quick else next(done)
            if change is not None:
                log.debug("%s", self.changes.add(change))
        failures.raise_any(self.changes)


class _Failures:
    """What went wrong in one group, collected from the workers and raised once all were tried."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.hints: set[str] = set()
        self.immutable: list[ImmutableFieldError] = []
        self.forbidden: list[Forbidden] = []

    def collect(self, obj: dict[str, Any], apply_one: Callable[[], Change]) -> Change | None:
        """``apply_one()``, or None with its failure recorded."""
        try:
            return apply_one()
        except ImmutableFieldError as exc:
            self.immutable.append(exc)
        except (KubeError, SecretsyncError) as exc:
            self.errors.append(f"{ObjectId.of(obj)}: {safe_message(exc, obj)}")
            if isinstance(exc, Forbidden):
                self.forbidden.append(exc)
            if exc.hint:
                self.hints.add(exc.hint)
        except ValueError as exc:  # the client's own checks, e.g. a namespaced object without a namespace
            self.errors.append(f"{ObjectId.of(obj)}: {exc}")
            self.hints.add("set metadata.namespace in the manifest, or render with --target-namespace")
        return None

    def raise_any(self, changes: ChangeSet) -> None:
        """Immutable-field refusals alone raise ``ImmutableFieldError``; anything else ``ApplyFailed``."""
        immutable, errors = self.immutable, self.errors
        if immutable and not errors:
            if len(immutable) == 1:
                raise immutable[0]
            raise ImmutableFieldError("\n".join(e.message for e in immutable), hint=immutable[0].hint)
        errors = errors + [e.message for e in immutable]
        if errors:
            failure = ApplyFailed(
                f"{len(errors)} object(s) failed to apply:\n  " + "\n  ".join(sorted(errors)),
                changeset=changes,
                hint="; ".join(sorted(self.hints)) or None,
            )
            failure.access_denied = len(self.forbidden) == len(errors)
            raise failure


def _steps(objects: Sequence[dict[str, Any]]) -> list[tuple[tuple[int, int], list[list[dict[str, Any]]]]]:
    """(stage, wave) steps in order, each a list of kind groups in kind order."""
    steps: dict[tuple[int, int], dict[tuple[Any, ...], list[dict[str, Any]]]] = {}
    for obj in sorted(objects, key=apply_order_key):
        key = apply_order_key(obj)
        steps.setdefault(key[:2], {}).setdefault(key[2:5], []).append(obj)
    return [(k, list(groups.values())) for k, groups in steps.items()]


def apply_all(objects: Sequence[Mapping[str, Any]], opts: ApplyOptions) -> ChangeSet:
    """Apply ``objects`` in order (see the module docstring); return what happened.

    Raises ``ApplyFailed`` (with ``.changeset``), ``ImmutableFieldError`` or a health error from
    ``secretsync.kube.health`` when a wave does not become healthy.
    """
    changes = ChangeSet()
    applier = _Applier(opts, changes)
    prepared = [prepare(o, opts.owner_labels) for o in objects]
    steps = _steps(prepared)
    for position, ((stage, wave), groups) in enumerate(steps):
        for group in groups:
            applier.group(group)
        applied = [applier.results[ObjectId.of(o)] for g in groups for o in g if ObjectId.of(o) in applier.results]
        if stage == 0:
            crds = [r for r in applied if r.get("kind") == "CustomResourceDefinition"]
            if any(
                c.id.kind == "CustomResourceDefinition" and c.action in (CREATED, CONFIGURED) for c in changes.entries
            ):
                if not opts.dry_run:
                    health.wait_for(
                        opts.client, crds, opts.timeout, interval=opts.poll_interval, cancel=opts.cancel, what="CRDs"
                    )
                opts.client.invalidate_discovery()
        elif opts.wait_waves and not opts.dry_run and position < len(steps) - 1:
            health.wait_for(
                opts.client,
                applied,
                opts.timeout,
                interval=opts.poll_interval,
                cancel=opts.cancel,
                what=f"objects of wave {wave}",
            )
    return changes


def group_version(api_version: str) -> tuple[str, str]:
    group = group_of(api_version)
    return group, api_version.rsplit("/", 1)[-1]
