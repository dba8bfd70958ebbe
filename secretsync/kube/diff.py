"""What apply would change, object by object, as unified diffs of the server-side dry-run result
against the live object, with every Secret value masked.

``diff_all(objects, opts, stale=...)`` returns one ``ObjectDiff`` per object: ``create``,
``update``, ``unchanged`` or ``prune``. It plans with the same code as apply
(``secretsync.kube.apply.plan``: ignore rules, the managedFields no-op check, one dry-run where
inconclusive), so diff and apply never disagree about what is a change.

Masking: in a Secret, a key whose value is the same on both sides prints as ``'***'``; a changed
key as ``'*** (before)'`` / ``'*** (after)'``; an added or removed key as ``'*** (added)'`` /
``'*** (removed)'``. So a changed Secret shows which keys changed, never a value (argo-cd#15825
hid Secret changes entirely; #16193 leaked them). A live ``last-applied-configuration``
annotation (it may hold values) is masked on every kind, and any other plaintext value type is
masked too. ``managedFields`` and server bookkeeping (resourceVersion, uid, ...) are left out.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from secretsync.kube.apply import ApplyOptions, plan
from secretsync.kube.changeset import CONFIGURED, CREATED, UNCHANGED
from secretsync.kube.errors import NotFound, UnknownResource
from secretsync.kube.inventory import Entry
from secretsync.kube.plan import LAST_APPLIED, LiveIndex, owner_selector, prepare
from secretsync.manifests.dump import dump_all
from secretsync.objects import ObjectId, sort_for_apply
from secretsync.secretvalue import SecretBytes

__all__ = ["ObjectDiff", "diff_all", "mask_pair", "render_diff"]

_HIDDEN_META = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "selfLink", "generation")
MASK = "***"


@dataclass
class ObjectDiff:
    id: ObjectId
    action: str  # create | update | unchanged | prune
    text: str = ""  # unified diff ("" when unchanged)
    detail: str = ""

    @property
    def changed(self) -> bool:
        return self.action != "unchanged"


def _clean(obj: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if obj is None:
        return None
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _HIDDEN_META}
    annotations = dict(meta.get("annotations") or {})
    if LAST_APPLIED in annotations:
        annotations[LAST_APPLIED] = f"{MASK} (masked: may hold secret values)"
        meta["annotations"] = annotations
    out["metadata"] = meta
    return out


def _mask_any(value: Any) -> Any:
    if isinstance(value, SecretBytes):
        return MASK
    if isinstance(value, dict):
        return {k: _mask_any(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_any(v) for v in value]
    return value


def _mark_keys(mine: Mapping[str, Any], theirs: Mapping[str, Any], changed: str, alone: str) -> dict[str, str]:
    """``mine``'s keys, each a marker: the same value on the other side, another one, or none there."""
    return {
        k: (MASK if k in theirs and theirs[k] == v else f"{MASK} ({changed})" if k in theirs else f"{MASK} ({alone})")
        for k, v in mine.items()
    }


def _mask_secret_fields(before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    """A Secret's ``data``/``stringData`` values replaced, in place, by markers showing which keys changed."""
    for field_name in ("data", "stringData"):
        old = (before or {}).get(field_name) or {}
        new = (after or {}).get(field_name) or {}
        if before is not None and field_name in before:
            before[field_name] = _mark_keys(old, new, "before", "removed")
        if after is not None and field_name in after:
            after[field_name] = _mark_keys(new, old, "after", "added")


def mask_pair(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Both sides with Secret values replaced by markers that show which keys changed."""
    left, right = _clean(before), _clean(after)
    if any(o is not None and o.get("kind") == "Secret" for o in (left, right)):
        _mask_secret_fields(left, right)
    return (_mask_any(left) if left is not None else None, _mask_any(right) if right is not None else None)


def render_diff(oid: ObjectId, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> str:
    """A unified diff (masked) between two versions of one object."""
    left, right = mask_pair(before, after)
    a = dump_all([left]).splitlines(keepends=True)[1:] if left is not None else []
    b = dump_all([right]).splitlines(keepends=True)[1:] if right is not None else []
    return "".join(difflib.unified_diff(a, b, fromfile=f"live/{oid}", tofile=f"desired/{oid}"))


def diff_all(
    objects: Sequence[Mapping[str, Any]],
    opts: ApplyOptions,
    *,
    stale: Sequence[Entry] = (),
    stale_live: Mapping[ObjectId, Mapping[str, Any]] | None = None,
) -> list[ObjectDiff]:
    """Plan every object (no writes) and diff; ``stale`` entries (to be pruned) come last."""
    index = opts.index or LiveIndex(opts.client, owner_selector(opts.owner_labels))
    dry_opts = ApplyOptions(**{**opts.__dict__, "dry_run": True, "index": index})
    out: list[ObjectDiff] = []
    for obj in sort_for_apply(prepare(o, opts.owner_labels) for o in objects):
        oid = ObjectId.of(obj)
        live = index.get(obj)
        planned = plan(obj, live, dry_opts)
        if planned.action == UNCHANGED:
            out.append(ObjectDiff(oid, "unchanged", detail=planned.detail))
            continue
        after = planned.dry
        if after is None and not planned.recreate:
            try:
                after = opts.client.apply(planned.desired, field_manager=opts.field_manager, force=True, dry_run=True)
            except (UnknownResource, NotFound):
                after = planned.desired  # its CRD or namespace is created by this same apply
        if after is None:
            after = planned.desired
        action = "create" if planned.action == CREATED else "update"
        detail = "recreate (immutable field)" if planned.recreate else planned.detail
        if planned.action == CONFIGURED or planned.action == CREATED:
            out.append(ObjectDiff(oid, action, render_diff(oid, live, after), detail))
    for entry in stale:
        gone = (stale_live or {}).get(entry.id)
        out.append(ObjectDiff(entry.id, "prune", render_diff(entry.id, gone, None) if gone else ""))
    return out
