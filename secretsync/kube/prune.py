"""Deleting what left Git, with the safety rules a secrets tool needs.

``prune(client, stale, live, opts, render_complete=..., new_count=...)`` deletes the stale
entries (previous inventory minus new) and returns a ``PruneResult``. The rules, each checked
before anything is deleted:

- never after an incomplete render (``render_complete=False`` raises ``PruneRefused``);
- never when the new render is empty and the previous inventory is not, unless ``allow_empty``
  (Argo CD's allowEmpty; Flux has no such guard);
- an object is deleted only while it still carries every owner label (the live object is read
  again right before; a foreign or re-labelled object is *skipped*);
- ``secretsync.io/prune: disabled`` (annotation or label) skips an object;
- Namespaces, CustomResourceDefinitions and PersistentVolumeClaims are deleted only when they
  carry their own opt-in ``secretsync.io/prune: enabled`` (flux2#3949, #1366);
- ``max_prune`` (a count, or a percentage of the previous inventory) caps one run: over the cap,
  nothing is deleted and ``PruneBlocked`` says by how much (its own error, reason PruneBlocked).

Deletes use background propagation with the uid as precondition. An entry whose delete failed
stays in ``PruneResult.survivors`` so the caller keeps it in the inventory
(kustomize-controller#1664); ``PruneFailed`` is raised after every delete was tried.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from secretsync.api.conditions import Reason
from secretsync.errors import SecretsyncError
from secretsync.kube.changeset import DELETED, SKIPPED, Change, ChangeSet, safe_message
from secretsync.kube.errors import Conflict, KubeError, NotFound
from secretsync.kube.inventory import Entry
from secretsync.objects import ObjectId

__all__ = [
    "PRUNE_ANNOTATION",
    "GUARDED_KINDS",
    "MaxPrune",
    "PruneOptions",
    "PruneResult",
    "PruneBlocked",
    "PruneRefused",
    "PruneFailed",
    "prune",
]

log = logging.getLogger(__name__)

PRUNE_ANNOTATION = "secretsync.io/prune"
GUARDED_KINDS = {("", "Namespace"), ("apiextensions.k8s.io", "CustomResourceDefinition"), ("", "PersistentVolumeClaim")}


class PruneBlocked(SecretsyncError):
    """A safety guard stopped the prune: nothing was deleted."""

    reference = "prune-blocked"
    reason = Reason.PRUNE_BLOCKED


class PruneRefused(PruneBlocked):
    """Pruning was asked for after an incomplete render (a programming error upstream, never allowed)."""

    reference = "prune-refused"


class PruneFailed(SecretsyncError):
    """Some deletes failed; the objects stay in the inventory and are retried next time."""

    reference = "prune-failed"
    reason = Reason.PRUNE_FAILED

    def __init__(self, message: str, *, result: PruneResult, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.result = result


@dataclass(frozen=True)
class MaxPrune:
    """A cap on deletions per run: ``count`` objects, or ``percent`` of the previous inventory."""

    count: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, text: str) -> MaxPrune:
        text = text.strip()
        try:
            if text.endswith("%"):
                value = float(text[:-1])
                if not 0 <= value <= 100:
                    raise ValueError
                return cls(percent=value)
            value = int(text)
            if value < 0:
                raise ValueError
            return cls(count=value)
        except ValueError:
            raise ValueError(f"max-prune {text!r}: expected a count (e.g. 10) or a percentage (e.g. 25%)") from None

    def limit(self, previous: int) -> int:
        if self.count is not None:
            return self.count
        return math.floor(previous * (self.percent or 0.0) / 100.0)

    def __str__(self) -> str:
        return str(self.count) if self.count is not None else f"{self.percent:g}%"


@dataclass
class PruneOptions:
    owner_labels: Mapping[str, str]
    allow_empty: bool = False
    max_prune: MaxPrune | None = None
    dry_run: bool = False
    propagation_policy: str = "Background"


@dataclass
class PruneResult:
    changes: ChangeSet = field(default_factory=ChangeSet)
    survivors: list[Entry] = field(default_factory=list)  # delete failed: keep in the inventory
    kept: list[Entry] = field(default_factory=list)  # skipped but still ours (opt-out, guarded kind)

    @property
    def deleted(self) -> list[Change]:
        return self.changes.of(DELETED)


def _flag(obj: Mapping[str, Any], name: str) -> str:
    meta = obj.get("metadata") or {}
    value = (meta.get("annotations") or {}).get(name) or (meta.get("labels") or {}).get(name) or ""
    return str(value).strip().lower()


def _owned(obj: Mapping[str, Any], owner_labels: Mapping[str, str]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return bool(owner_labels) and all(labels.get(k) == v for k, v in owner_labels.items())


def _refuse_unsafe(opts: PruneOptions, *, render_complete: bool) -> None:
    """The guards before anything else: a complete render and owner labels."""
    if not render_complete:
        raise PruneRefused(
            "refusing to prune: the render of this revision was incomplete",
            hint="fix the failing objects; nothing is pruned until a render succeeds",
        )
    if not opts.owner_labels:
        raise PruneRefused("refusing to prune without owner labels", hint="this is a bug: report it")


def _block_empty(opts: PruneOptions, *, new_count: int, previous_count: int) -> None:
    """No prune of everything because the new render came out empty, unless asked for."""
    if new_count == 0 and previous_count > 0 and not opts.allow_empty:
        raise PruneBlocked(
            f"refusing to prune all {previous_count} object(s): the new render is empty",
            hint="if removing everything is intended, pass --allow-empty",
        )


def _skip_reason(oid: ObjectId, obj: Mapping[str, Any], opts: PruneOptions) -> tuple[str, bool] | None:
    """Why a live stale object stays (and whether it stays in the inventory), or None to delete it."""
    if not _owned(obj, opts.owner_labels):
        return "no longer carries our owner labels", False
    if _flag(obj, PRUNE_ANNOTATION) == "disabled":
        return f"{PRUNE_ANNOTATION}: disabled", True
    if (oid.group, oid.kind) in GUARDED_KINDS and _flag(obj, PRUNE_ANNOTATION) != "enabled":
        return f"{oid.kind} is pruned only with {PRUNE_ANNOTATION}: enabled", True
    return None


def _candidates(
    client: Any, stale: Sequence[Entry], opts: PruneOptions, result: PruneResult
) -> list[tuple[Entry, dict[str, Any]]]:
    """The stale entries to delete, each with its live object; the others recorded as skipped."""
    candidates: list[tuple[Entry, dict[str, Any]]] = []
    for entry in stale:
        oid = entry.id
        obj = client.get_or_none(entry.api_version, oid.kind, oid.name, oid.namespace or None)
        if obj is None:
            result.changes.add(Change(oid, SKIPPED, "already gone", api_version=entry.api_version))
            continue
        skip = _skip_reason(oid, obj, opts)
        if skip is not None:
            reason, kept = skip
            result.changes.add(Change(oid, SKIPPED, reason, api_version=entry.api_version))
            if kept:
                result.kept.append(entry)
            continue
        candidates.append((entry, obj))
    return candidates


def _delete(client: Any, entry: Entry, obj: Mapping[str, Any], opts: PruneOptions, result: PruneResult) -> str | None:
    """Delete one object (its uid as precondition); the error text when it failed, else None."""
    oid = entry.id
    if opts.dry_run:
        result.changes.add(Change(oid, DELETED, "dry run", api_version=entry.api_version))
        return None
    try:
        client.delete(
            entry.api_version,
            oid.kind,
            oid.name,
            oid.namespace or None,
            propagation_policy=opts.propagation_policy,
            uid=(obj.get("metadata") or {}).get("uid"),
        )
    except NotFound:
        result.changes.add(Change(oid, SKIPPED, "already gone", api_version=entry.api_version))
        return None
    except (Conflict, KubeError) as exc:
        log.warning("delete of %s failed: %s", oid, safe_message(exc, obj))
        result.survivors.append(entry)
        return f"{oid}: {safe_message(exc, obj)}"
    result.changes.add(Change(oid, DELETED, api_version=entry.api_version))
    return None


def prune(
    client: Any,
    stale: Sequence[Entry],
    opts: PruneOptions,
    *,
    render_complete: bool,
    new_count: int,
    previous_count: int,
    live: Mapping[ObjectId, Mapping[str, Any]] | None = None,
) -> PruneResult:
    """Delete ``stale`` entries that are still ours; see the module docstring for the rules.

    ``live`` may hold the objects as just listed (they are read again before each delete anyway).
    """
    _refuse_unsafe(opts, render_complete=render_complete)
    result = PruneResult()
    if not stale:
        return result
    _block_empty(opts, new_count=new_count, previous_count=previous_count)
    candidates = _candidates(client, stale, opts, result)
    if opts.max_prune is not None:
        limit = opts.max_prune.limit(previous_count)
        if len(candidates) > limit:
            raise PruneBlocked(
                f"prune blocked: {len(candidates)} object(s) would be deleted, more than the limit of "
                f"{limit} (--max-prune {opts.max_prune} of {previous_count})",
                hint="check that the removal is intended, then raise --max-prune for this run",
            )
    errors = [error for entry, obj in candidates if (error := _delete(client, entry, obj, opts, result))]
    if errors:
        raise PruneFailed(
            f"{len(errors)} object(s) could not be deleted (kept in the inventory, retried next "
            f"time):\n  " + "\n  ".join(errors),
            result=result,
            hint="check admission webhooks, finalizers and RBAC for delete",
        )
    return result
