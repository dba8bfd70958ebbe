"""Deciding what to send, and proving without a request that it changes nothing.

- ``prepare``: the object as we send it (owner labels, Secret ``stringData`` merged into ``data``,
  no server-set metadata); ``owner_selector`` the label selector of a set's objects.
- **Ignore rules** (JSON pointers per kind/name, ``IgnoreRule``/``apply_ignore_rules``) apply to
  apply and diff alike: on a live object an ignored field is copied from the live object when only
  we own it (no fight, no removal), and left out of what we send when another manager owns it
  (Flux's semantics).
- **No-op proof**: an object is ``provably_unchanged`` when our manager's ``managedFields`` entry
  covers exactly the fields we send and every one of them already holds the desired value (the
  walk over maps, associative and atomic lists and leaves is ``_same_*``). The reverse shortcut:
  a ConfigMap or Secret ``data`` key we own holding another value is a certain change
  (``data_changed``). ``comparable`` strips what a dry-run answer and a live object may differ in
  without a real change.
- ``LiveIndex``: one list per kind (by owner label when set) gives the live objects to compare.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from secretsync.kube.errors import Forbidden, UnknownResource
from secretsync.manifests.tree import copy_tree
from secretsync.objects import ObjectId
from secretsync.secretvalue import SecretBytes

__all__ = [
    "FIELD_MANAGER",
    "LAST_APPLIED",
    "FORCE_ANNOTATION",
    "IgnoreRule",
    "LiveIndex",
    "apply_ignore_rules",
    "prepare",
    "provably_unchanged",
    "data_changed",
    "comparable",
    "owner_selector",
]

FIELD_MANAGER = "secretsync"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
FORCE_ANNOTATION = "secretsync.io/force"

_MISSING = object()
_VOLATILE_META = ("resourceVersion", "generation", "managedFields", "creationTimestamp", "uid", "selfLink")


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


def field_managers(live: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [e for e in ((live.get("metadata") or {}).get("managedFields") or []) if isinstance(e, dict)]


def _apply_entry(live: Mapping[str, Any], manager: str) -> dict[str, Any] | None:
    for entry in field_managers(live):
        if entry.get("manager") == manager and entry.get("operation") == "Apply" and not entry.get("subresource"):
            return entry
    return None


def apply_ignore_rules(
    desired: dict[str, Any], live: Mapping[str, Any] | None, rules: Sequence[IgnoreRule], manager: str = FIELD_MANAGER
) -> dict[str, Any]:
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
                for e in field_managers(live)
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


def prepare(obj: Mapping[str, Any], owner_labels: Mapping[str, str] = {}) -> dict[str, Any]:
    """The object as we send it: owner labels added, Secret ``stringData`` merged into ``data``,
    ``creationTimestamp: null`` and ``status`` of generated manifests dropped."""
    out: dict[str, Any] = copy_tree(dict(obj))
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


def _same_set(desired: list[Any], children: list[str], live: list[Any]) -> bool:
    """A set list (``v:`` children) we own: the same values, present live in the same relative order."""
    owned = [_list_item_key(c) for c in children]
    if len(owned) != len(desired) or not all(d in owned for d in desired) or not all(d in live for d in desired):
        return False
    positions = [live.index(d) for d in desired]
    return positions == sorted(positions)


def _live_position(live: list[Any], key: Mapping[str, Any]) -> int | None:
    """The one live item with ``key`` (exact types first, then as the server compares), or None."""
    found = [i for i, x in enumerate(live) if _matches_key(x, key, strict=True)] or [
        i for i, x in enumerate(live) if _matches_key(x, key, strict=False)
    ]
    return found[0] if len(found) == 1 else None


def _same_associative(desired: list[Any], node: Mapping[str, Any], children: list[str], live: list[Any]) -> bool:
    """An associative list (``k:`` children) we own: each desired item matches one owned key and one
    live item holding the same values, in the same relative order."""
    keys = [(child, _list_item_key(child)) for child in children]
    used: set[str] = set()
    positions = []
    for item in desired:
        matches = [(c, k) for c, k in keys if c not in used and isinstance(k, dict) and _matches_key(item, k, False)]
        if len(matches) != 1:
            return False
        child, key = matches[0]
        used.add(child)
        position = _live_position(live, key)
        if position is None:
            return False
        positions.append(position)
        sub = {k: v for k, v in node[child].items() if k != "."}
        if not _same_map(item, sub, live[position]):
            return False
    return positions == sorted(positions)  # a reordered list is a change


def _same_list(desired: list[Any], node: Mapping[str, Any], live: Any) -> bool:
    """An associative (``k:``) or set (``v:``) list we own: same items, same values, same relative order."""
    if not isinstance(live, list):
        return False
    children = [k for k in node if k != "."]
    if all(c.startswith("v:") for c in children):
        return _same_set(desired, children, live)
    if not all(c.startswith("k:") for c in children) or len(children) != len(desired):
        return False
    return _same_associative(desired, node, children, live)


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
        return type(desired) is type(live) and bool(desired == live)
    return bool(desired == live)


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


def comparable(obj: Mapping[str, Any], manager: str = FIELD_MANAGER) -> dict[str, Any]:
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
        self._lists: dict[tuple[str, str], dict[ObjectId, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.lists = 0

    def kind(self, api_version: str, kind: str, namespaces: Iterable[str] = ()) -> dict[ObjectId, dict[str, Any]]:
        key = (api_version, kind)
        with self._lock:
            if key in self._lists:
                return self._lists[key]
        try:
            info = self.client.resource(api_version, kind)
        except UnknownResource:
            found: dict[ObjectId, dict[str, Any]] = {}
        else:
            found = self._list(api_version, kind, info.namespaced, sorted(set(namespaces)))
        with self._lock:
            self._lists.setdefault(key, found)
            return self._lists[key]

    def _list(
        self, api_version: str, kind: str, namespaced: bool, namespaces: list[str]
    ) -> dict[ObjectId, dict[str, Any]]:
        scopes: list[str | None] = [None]
        if namespaced and (not self.selector) and namespaces:
            scopes = list(namespaces)
        items: list[dict[str, Any]] = []
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

    def get(self, obj: Mapping[str, Any]) -> dict[str, Any] | None:
        oid = ObjectId.of(dict(obj))
        return self.kind(str(obj.get("apiVersion")), oid.kind, [oid.namespace] if oid.namespace else []).get(oid)

    def forget(self, api_version: str, kind: str) -> None:
        with self._lock:
            self._lists.pop((api_version, kind), None)
