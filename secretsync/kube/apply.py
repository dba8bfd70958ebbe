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
  ``argocd.argoproj.io/sync-wave``) and kind order (``secretsync.manifests.loader.apply_order_key``);
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
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from secretsync.errors import SecretsyncError
from secretsync.kube import health
from secretsync.kube.client import Forbidden, Invalid, KubeAPIError, KubeError, NotFound, UnknownResource
from secretsync.manifests.loader import ObjectId, apply_order_key, copy_tree, group_of, iter_leaves
from secretsync.secretvalue import SecretBytes

__all__ = [
    "FIELD_MANAGER",
    "LAST_APPLIED",
    "FORCE_ANNOTATION",
    "CREATED",
    "CONFIGURED",
    "UNCHANGED",
    "DELETED",
    "SKIPPED",
    "Change",
    "ChangeSet",
    "IgnoreRule",
    "ApplyOptions",
    "ApplyFailed",
    "ImmutableFieldError",
    "LiveIndex",
    "apply_all",
    "prepare",
    "plan",
    "provably_unchanged",
    "data_changed",
    "comparable",
    "owner_selector",
    "safe_message",
    "is_immutable_error",
]

log = logging.getLogger(__name__)

FIELD_MANAGER = "secretsync"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
FORCE_ANNOTATION = "secretsync.io/force"
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

CREATED = "created"
CONFIGURED = "configured"
UNCHANGED = "unchanged"
DELETED = "deleted"
SKIPPED = "skipped"

_MISSING = object()
_VOLATILE_META = ("resourceVersion", "generation", "managedFields", "creationTimestamp", "uid", "selfLink")


# ---------------------------------------------------------------------------------------------
# change set


@dataclass
class Change:
    """What happened to one object. ``detail`` says how (``via dry-run``, ``recreated``, a reason to skip)."""

    id: ObjectId
    action: str
    detail: str = ""
    takeover: tuple[str, ...] = ()
    api_version: str = ""

    def __str__(self) -> str:
        text = f"{self.id} {self.action}"
        if self.detail:
            text += f" ({self.detail})"
        if self.takeover:
            text += f" [took over fields from {', '.join(self.takeover)}]"
        return text


@dataclass
class ChangeSet:
    """Entries in the order they happened (fluxcd/pkg ssa's ChangeSet)."""

    entries: list[Change] = field(default_factory=list)
    results: dict = field(default_factory=dict, repr=False)  # ObjectId -> live object after apply (or as found)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, change: Change) -> Change:
        with self._lock:
            self.entries.append(change)
        return change

    def extend(self, other: ChangeSet) -> None:
        for change in other.entries:
            self.add(change)
        self.results.update(other.results)

    def of(self, action: str) -> list[Change]:
        return [c for c in self.entries if c.action == action]

    @property
    def changed(self) -> bool:
        return any(c.action in (CREATED, CONFIGURED, DELETED) for c in self.entries)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.entries:
            out[c.action] = out.get(c.action, 0) + 1
        return out

    def summary(self) -> str:
        counts = self.counts()
        return ", ".join(f"{counts.get(a, 0)} {a}" for a in (CREATED, CONFIGURED, UNCHANGED, DELETED, SKIPPED))

    def lines(self, include_unchanged: bool = False) -> list[str]:
        return [str(c) for c in self.entries if include_unchanged or c.action != UNCHANGED]

    def __iter__(self):
        return iter(list(self.entries))

    def __len__(self) -> int:
        return len(self.entries)


# ---------------------------------------------------------------------------------------------
# errors


class ApplyFailed(SecretsyncError):
    """Applying failed for one or more objects; ``changeset`` holds what was done before."""

    reference = "apply-failed"
    access_denied = False  # every failure was a 403: the identity lacks RBAC permissions

    def __init__(self, message: str, *, changeset: ChangeSet | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.changeset = changeset or ChangeSet()


class ImmutableFieldError(SecretsyncError):
    """The API server refused a change to an immutable field and recreating is not allowed."""

    reference = "immutable-field"


_SECRET_VALUE_TEXT = re.compile(r'(Invalid value: )("(?:[^"\\]|\\.)*"|\S+)')


def _secret_texts(obj: Any) -> list[str]:
    out: list[str] = []
    for item in iter_leaves(obj):
        if isinstance(item, SecretBytes) and len(item) >= 3:
            out += (item.reveal().decode("utf-8", "replace"), item.to_base64())
    return out


def safe_message(exc: BaseException, obj: Mapping[str, Any] | None = None) -> str:
    """An API error's text with no value of ``obj``'s Secret data (and no 'Invalid value' echo for Secrets)."""
    if isinstance(exc, KubeAPIError):
        text = exc.api_message or exc.reason or f"HTTP {exc.status}"
        fields = [c.get("field") for c in (exc.details.get("causes") or []) if c.get("field")]
    else:
        text, fields = getattr(exc, "message", None) or type(exc).__name__, []
    if obj is not None and obj.get("kind") == "Secret":
        text = _SECRET_VALUE_TEXT.sub(r"\1<redacted>", text)
        if fields:
            text = f"{getattr(exc, 'reason', '') or 'rejected'} (fields: {', '.join(sorted(set(fields)))}): {text}"
    for secret in _secret_texts(obj or {}):
        if secret and secret in text:
            text = text.replace(secret, "<redacted>")
    return text


def is_immutable_error(exc: BaseException) -> bool:
    """An apply refused because it changes a field that cannot change (Flux's rule, plus StatefulSet's Forbidden)."""
    if not isinstance(exc, (Invalid, Forbidden, KubeAPIError)) or getattr(exc, "status", 0) not in (409, 422):
        return False
    texts = [exc.api_message] + [c.get("message", "") for c in (exc.details.get("causes") or [])]
    joined = " ".join(t for t in texts if t).lower()
    return (
        "immutable" in joined
        or "updates to statefulset spec for fields other than" in joined
        or "may not change once set" in joined
    )


# ---------------------------------------------------------------------------------------------
# ignore rules and JSON pointers


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"JSON pointer {pointer!r} must start with '/'")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _get(obj: Any, tokens: Sequence[str]) -> Any:
    cur = obj
    for t in tokens:
        if isinstance(cur, dict):
            if t not in cur:
                return _MISSING
            cur = cur[t]
        elif isinstance(cur, list):
            if not t.isdigit() or int(t) >= len(cur):
                return _MISSING
            cur = cur[int(t)]
        else:
            return _MISSING
    return cur


def _set(obj: Any, tokens: Sequence[str], value: Any) -> None:
    cur = obj
    for t in tokens[:-1]:
        if isinstance(cur, dict):
            cur = cur.setdefault(t, {})
        elif isinstance(cur, list) and t.isdigit() and int(t) < len(cur):
            cur = cur[int(t)]
        else:
            return
    last = tokens[-1]
    if isinstance(cur, dict):
        cur[last] = value
    elif isinstance(cur, list) and last.isdigit() and int(last) < len(cur):
        cur[int(last)] = value


def _remove(obj: Any, tokens: Sequence[str]) -> None:
    parent = _get(obj, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        parent.pop(last, None)
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        del parent[int(last)]


@dataclass(frozen=True)
class IgnoreRule:
    """Fields (JSON pointers) neither diffed nor applied for objects matching kind/group/namespace/name.

    ``None`` (or ``*``) matches anything. Text form (``--ignore-differences``):
    ``KIND[.GROUP][/NAME | /NAMESPACE/NAME]=/pointer[,/pointer...]``, e.g.
    ``Deployment.apps/demo/web=/spec/replicas`` or ``*=/metadata/annotations/injected``.
    """

    pointers: tuple[str, ...]
    kind: str | None = None
    group: str | None = None
    namespace: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        for p in self.pointers:
            _tokens(p)

    def matches(self, oid: ObjectId) -> bool:
        def ok(want: str | None, have: str) -> bool:
            return want in (None, "*") or want == have

        return (
            ok(self.kind, oid.kind)
            and ok(self.group, oid.group)
            and ok(self.namespace, oid.namespace)
            and ok(self.name, oid.name)
        )

    @classmethod
    def parse(cls, text: str) -> IgnoreRule:
        selector, sep, pointers = text.partition("=")
        if not sep or not pointers:
            raise ValueError(f"ignore rule {text!r}: expected KIND[.GROUP][/NAMESPACE/NAME]=/json/pointer")
        parts = selector.strip().split("/")
        if len(parts) > 3 or not parts[0]:
            raise ValueError(f"ignore rule {text!r}: expected KIND[.GROUP][/NAMESPACE/NAME] before '='")
        kind, _, group = parts[0].partition(".")
        namespace = parts[1] if len(parts) == 3 else None
        name = parts[-1] if len(parts) >= 2 else None
        items = tuple(p.strip() for p in pointers.split(",") if p.strip())
        try:
            return cls(
                items,
                kind=None if kind == "*" else kind,
                group=group if group else (None if kind == "*" else ""),
                namespace=namespace,
                name=name,
            )
        except ValueError as exc:
            raise ValueError(f"ignore rule {text!r}: {exc}") from None


def _list_item_key(child: str) -> Any:
    try:
        return json.loads(child[2:])
    except ValueError:
        return _MISSING


def _matches_key(item: Any, key: Mapping[str, Any], strict: bool) -> bool:
    if not isinstance(item, dict):
        return False
    for k, v in key.items():
        if k in item:
            if item[k] != v:
                return False
        elif strict:
            return False
    return True


def _child_for(node: Mapping[str, Any], item: Any, index: int) -> Any:
    for child, sub in node.items():
        if child.startswith("k:"):
            key = _list_item_key(child)
            if isinstance(key, dict) and _matches_key(item, key, strict=True):
                return sub
        elif child.startswith("v:"):
            if _list_item_key(child) == item:
                return sub
        elif child == f"i:{index}":
            return sub
    return None


def _owns(fields: Any, obj: Any, tokens: Sequence[str]) -> bool:
    """Whether a fieldsV1 set covers the path ``tokens`` of ``obj``."""
    node, cur = fields, obj
    for t in tokens:
        if not isinstance(node, dict):
            return False
        if not node:
            return True  # an atomic ancestor is owned whole
        if isinstance(cur, dict):
            node, cur = node.get("f:" + t), cur.get(t)
        elif isinstance(cur, list) and t.isdigit() and int(t) < len(cur):
            node, cur = _child_for(node, cur[int(t)], int(t)), cur[int(t)]
        else:
            return False
        if node is None:
            return False
    return True


def _managers(live: Mapping[str, Any]) -> list[dict]:
    return [e for e in ((live.get("metadata") or {}).get("managedFields") or []) if isinstance(e, dict)]


def _apply_entry(live: Mapping[str, Any], manager: str) -> dict | None:
    for entry in _managers(live):
        if entry.get("manager") == manager and entry.get("operation") == "Apply" and not entry.get("subresource"):
            return entry
    return None


def apply_ignore_rules(
    desired: dict, live: Mapping[str, Any] | None, rules: Sequence[IgnoreRule], manager: str = FIELD_MANAGER
) -> dict:
    """``desired`` with ignored fields taken from ``live`` (only we own them) or left out (someone else does)."""
    if live is None or not rules:
        return desired
    oid = ObjectId.of(desired)
    for rule in rules:
        if not rule.matches(oid):
            continue
        for pointer in rule.pointers:
            tokens = _tokens(pointer)
            if not tokens:
                continue
            live_value = _get(live, tokens)
            others = [
                e
                for e in _managers(live)
                if e.get("manager") != manager and _owns(e.get("fieldsV1") or {}, live, tokens)
            ]
            if live_value is not _MISSING and not others and _get(desired, tokens[:-1]) is not _MISSING:
                _set(desired, tokens, copy_tree(live_value))
            else:
                _remove(desired, tokens)
    return desired


# ---------------------------------------------------------------------------------------------
# desired state


def owner_selector(labels: Mapping[str, str]) -> str | None:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or None


def prepare(obj: Mapping[str, Any], owner_labels: Mapping[str, str] = {}) -> dict:
    """The object as we send it: owner labels added, Secret ``stringData`` merged into ``data``,
    ``creationTimestamp: null`` and ``status`` of generated manifests dropped."""
    out = copy_tree(dict(obj))
    meta = out.setdefault("metadata", {})
    if meta.get("creationTimestamp", _MISSING) is None:
        del meta["creationTimestamp"]
    if owner_labels:
        meta["labels"] = {**(meta.get("labels") or {}), **owner_labels}
    if out.get("kind") == "Secret" and out.get("apiVersion") == "v1" and isinstance(out.get("stringData"), dict):
        data = dict(out.get("data") or {})
        for key, value in out.pop("stringData").items():
            data[key] = value if isinstance(value, SecretBytes) else SecretBytes(str(value))
        out["data"] = data
    if out.get("status") in ({}, None):
        out.pop("status", None)
    return out


# ---------------------------------------------------------------------------------------------
# no-op detection


def _same_map(desired: Mapping[str, Any], node: Mapping[str, Any], live: Any) -> bool:
    if not isinstance(live, dict):
        return False
    owned = {k[2:] for k in node if k.startswith("f:")}
    if set(desired) != owned:
        return False  # we add or stop sending a field
    return all(_same_value(v, node["f:" + k], live.get(k, _MISSING)) for k, v in desired.items())


def _same_list(desired: list, node: Mapping[str, Any], live: Any) -> bool:
    """An associative (``k:``) or set (``v:``) list we own: same items, same values, same relative order."""
    if not isinstance(live, list):
        return False
    children = [k for k in node if k != "."]
    if all(c.startswith("v:") for c in children):
        owned = [_list_item_key(c) for c in children]
        if len(owned) != len(desired) or not all(d in owned for d in desired) or not all(d in live for d in desired):
            return False
        positions = [live.index(d) for d in desired]
        return positions == sorted(positions)
    if not all(c.startswith("k:") for c in children) or len(children) != len(desired):
        return False
    keys = [(child, _list_item_key(child)) for child in children]
    used: set[str] = set()
    positions = []
    for item in desired:
        matches = [(c, k) for c, k in keys if c not in used and isinstance(k, dict) and _matches_key(item, k, False)]
        if len(matches) != 1:
            return False
        child, key = matches[0]
        used.add(child)
        found = [i for i, x in enumerate(live) if _matches_key(x, key, strict=True)] or [
            i for i, x in enumerate(live) if _matches_key(x, key, strict=False)
        ]
        if len(found) != 1:
            return False
        positions.append(found[0])
        sub = {k: v for k, v in node[child].items() if k != "."}
        if not _same_map(item, sub, live[found[0]]):
            return False
    return positions == sorted(positions)  # a reordered list is a change


def _same_value(desired: Any, node: Any, live: Any) -> bool:
    if live is _MISSING:
        return False
    if isinstance(desired, dict):
        sub = {k: v for k, v in (node or {}).items() if k != "."}
        return _same_map(desired, sub, live) if sub else desired == live
    if isinstance(desired, list):
        sub = {k: v for k, v in (node or {}).items() if k != "."}
        return _same_list(desired, sub, live) if sub else desired == live
    if isinstance(desired, bool) or isinstance(live, bool):
        return type(desired) is type(live) and desired == live
    return desired == live


def provably_unchanged(desired: Mapping[str, Any], live: Mapping[str, Any], manager: str = FIELD_MANAGER) -> bool:
    """True when applying ``desired`` could not change ``live``: our Apply entry owns exactly the fields we send
    and each holds the desired value. False means "not proven" (a dry-run decides), not "changed"."""
    entry = _apply_entry(live, manager)
    if entry is None:
        return False
    fields = entry.get("fieldsV1") or {}
    body = {k: v for k, v in desired.items() if k not in ("apiVersion", "kind")}
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k not in ("name", "namespace")}
    if meta:
        body["metadata"] = meta
    else:
        body.pop("metadata", None)
    if LAST_APPLIED in ((live.get("metadata") or {}).get("annotations") or {}):
        return False
    if str(live.get("apiVersion", "")) != str(desired.get("apiVersion", "")):
        return False
    return _same_map(body, fields, live)


def data_changed(desired: Mapping[str, Any], live: Mapping[str, Any], manager: str = FIELD_MANAGER) -> bool:
    """True when applying ``desired`` certainly changes ``live``: a core ConfigMap or Secret ``data`` /
    ``binaryData`` key that our Apply entry owns holds another value (the server never normalises these
    values, unlike e.g. quantities, so no dry-run is needed to know)."""
    if desired.get("apiVersion") != "v1" or desired.get("kind") not in ("ConfigMap", "Secret"):
        return False
    entry = _apply_entry(live, manager)
    if entry is None or live.get("apiVersion") != "v1":
        return False
    fields = entry.get("fieldsV1") or {}
    for section in ("data", "binaryData"):
        wanted, have = desired.get(section), live.get(section)
        owned = fields.get(f"f:{section}")
        if not isinstance(wanted, dict) or not isinstance(have, dict) or not isinstance(owned, dict):
            continue
        for key, value in wanted.items():
            if f"f:{key}" in owned and key in have and type(have[key]) is type(value) and have[key] != value:
                return True
    return False


def comparable(obj: Mapping[str, Any], manager: str = FIELD_MANAGER) -> dict:
    """What counts when comparing a dry-run result with the live object: the object minus server-set
    metadata and status, plus the fields our manager owns."""
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _VOLATILE_META}
    entry = _apply_entry(obj, manager)
    meta["__owned__"] = (entry or {}).get("fieldsV1")
    out["metadata"] = meta
    return out


# ---------------------------------------------------------------------------------------------
# live state


class LiveIndex:
    """Live objects, one list per kind (cluster-wide by owner label; per namespace without one or when a
    cluster-wide list is forbidden). Thread-safe; each kind is listed at most once."""

    def __init__(self, client: Any, selector: str | None) -> None:
        self.client = client
        self.selector = selector
        self._lists: dict[tuple[str, str], dict[ObjectId, dict]] = {}
        self._lock = threading.Lock()
        self.lists = 0

    def kind(self, api_version: str, kind: str, namespaces: Iterable[str] = ()) -> dict[ObjectId, dict]:
        key = (api_version, kind)
        with self._lock:
            if key in self._lists:
                return self._lists[key]
        try:
            info = self.client.resource(api_version, kind)
        except UnknownResource:
            found: dict[ObjectId, dict] = {}
        else:
            found = self._list(api_version, kind, info.namespaced, sorted(set(namespaces)))
        with self._lock:
            self._lists.setdefault(key, found)
            return self._lists[key]

    def _list(self, api_version: str, kind: str, namespaced: bool, namespaces: list[str]) -> dict[ObjectId, dict]:
        scopes: list[str | None] = [None]
        if namespaced and (not self.selector) and namespaces:
            scopes = list(namespaces)
        items: list[dict] = []
        try:
            for scope in scopes:
                self.lists += 1
                items += self.client.list(api_version, kind, scope, label_selector=self.selector)["items"]
        except Forbidden:
            if not namespaced or scopes != [None] or not namespaces:
                raise
            items = []
            for scope in namespaces:
                self.lists += 1
                items += self.client.list(api_version, kind, scope, label_selector=self.selector)["items"]
        return {ObjectId.of(i): i for i in items}

    def get(self, obj: Mapping[str, Any]) -> dict | None:
        oid = ObjectId.of(dict(obj))
        return self.kind(str(obj.get("apiVersion")), oid.kind, [oid.namespace] if oid.namespace else []).get(oid)

    def forget(self, api_version: str, kind: str) -> None:
        with self._lock:
            self._lists.pop((api_version, kind), None)


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
    desired: dict
    live: dict | None
    action: str  # CREATED / CONFIGURED / UNCHANGED
    detail: str = ""
    dry: dict | None = None
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


def _dry_run(desired: dict, opts: ApplyOptions) -> dict:
    return opts.client.apply(desired, field_manager=opts.field_manager, force=True, dry_run=True)


def plan(desired: dict, live: dict | None, opts: ApplyOptions) -> _Planned:
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


def _takeover_patch(live: Mapping[str, Any], opts: ApplyOptions) -> tuple[list, tuple[str, ...]] | None:
    """A JSON patch removing last-applied and moving human tools' field ownership to us, or None if not needed."""
    meta = live.get("metadata") or {}
    ops: list[dict] = []
    taken: list[str] = []
    if LAST_APPLIED in (meta.get("annotations") or {}):
        ops.append(
            {"op": "remove", "path": "/metadata/annotations/" + LAST_APPLIED.replace("~", "~0").replace("/", "~1")}
        )
    entries = [dict(e) for e in _managers(live)]  # copies: the live object is not changed here
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
        (e.get("manager"), e.get("operation"), e.get("subresource")): e.get("fieldsV1") for e in _managers(after)
    }
    lost = []
    for entry in _managers(before):
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
        self.results: dict[ObjectId, dict] = changes.results

    # -- one object ------------------------------------------------------------------------
    def one(self, desired: dict) -> Change:
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
            others = [e for e in _managers(result) if e.get("manager") != opts.field_manager]
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

    def _take_over(self, live: dict) -> tuple[dict, tuple[str, ...]]:
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

    def _recreate(self, desired: dict, live: dict | None) -> dict:
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
        return self.client.apply(desired, field_manager=self.opts.field_manager, force=True)

    # -- groups ----------------------------------------------------------------------------
    def group(self, objects: list[dict]) -> None:
        """Apply objects that may go in parallel (same stage, wave and kind); raise after all were tried."""
        kinds = {}
        for obj in objects:
            oid = ObjectId.of(obj)
            kinds.setdefault((str(obj.get("apiVersion")), oid.kind), set()).add(oid.namespace)
        for (api_version, kind), namespaces in kinds.items():
            self.index.kind(api_version, kind, [n for n in namespaces if n])
        errors: list[str] = []
        hints: set[str] = set()
        immutable: list[ImmutableFieldError] = []
        forbidden: list[Forbidden] = []
        quick: dict[int, Change] = {}
        for position, obj in enumerate(objects):  # the common no-op, decided here without a thread hop
            live = self.index.get(obj)
            if live is not None and provably_unchanged(
                apply_ignore_rules(obj, live, self.opts.ignore, self.opts.field_manager), live, self.opts.field_manager
            ):
                self.results[ObjectId.of(obj)] = live
                quick[position] = Change(ObjectId.of(obj), UNCHANGED, api_version=str(obj.get("apiVersion")))
        rest = [obj for position, obj in enumerate(objects) if position not in quick]

        def run(obj: dict) -> Change | None:
            try:
                return self.one(obj)
            except ImmutableFieldError as exc:
                immutable.append(exc)
            except (KubeError, SecretsyncError) as exc:
                errors.append(f"{ObjectId.of(obj)}: {safe_message(exc, obj)}")
                if isinstance(exc, Forbidden):
                    forbidden.append(exc)
                if exc.hint:
                    hints.add(exc.hint)
            except ValueError as exc:  # the client's own checks, e.g. a namespaced object without a namespace
                errors.append(f"{ObjectId.of(obj)}: {exc}")
                hints.add("set metadata.namespace in the manifest, or render with --target-namespace")
            return None

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
        if immutable and not errors:
            if len(immutable) == 1:
                raise immutable[0]
            raise ImmutableFieldError("\n".join(e.message for e in immutable), hint=immutable[0].hint)
        errors += [e.message for e in immutable]
        if errors:
            failure = ApplyFailed(
                f"{len(errors)} object(s) failed to apply:\n  " + "\n  ".join(sorted(errors)),
                changeset=self.changes,
                hint="; ".join(sorted(hints)) or None,
            )
            failure.access_denied = len(forbidden) == len(errors)
            raise failure


def _steps(objects: Sequence[dict]) -> list[tuple[tuple[int, int], list[list[dict]]]]:
    """(stage, wave) steps in order, each a list of kind groups in kind order."""
    steps: dict[tuple[int, int], dict[tuple, list[dict]]] = {}
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
