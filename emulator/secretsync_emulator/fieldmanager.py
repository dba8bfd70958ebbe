"""Server-side apply and ``metadata.managedFields`` bookkeeping for the API emulator.

Follows the real API server (k8s.io/apiserver managedfields on top of
sigs.k8s.io/structured-merge-diff, "SMD"), written from their documented semantics:

- A field set is a set of paths; a path is a tuple of elements ``("f", name)`` (a field
  or map key), ``("k", ((key, json), ...))`` (an item of an associative list, by its key
  fields) or ``("v", json)`` (an item of a set list). ``fields_to_set`` / ``set_to_fields``
  convert to and from the ``FieldsV1`` JSON the server stores (``f:``, ``k:``, ``v:``
  and ``.`` for "this node itself").
- ``apply(live, config, manager, force, schema)`` merges ``config`` into ``live``
  (associative lists by key, sets by value, atomic lists/maps replaced), then prunes:
  fields the manager applied last time and omits now are removed unless another manager
  (applier or updater) also owns them, in which case only the ownership goes. A field
  another manager owns that this apply changes is a conflict (``ApplyConflict``, the
  server's 409) unless ``force``, which moves ownership. Fields applied with the value
  they already have become shared. Applying to ``None`` creates.
- ``record_update(old, new, manager, operation, schema)`` is the bookkeeping of every
  other write: fields the write added or changed move to ``manager``; fields it removed
  leave every manager; managers left with nothing disappear.
- What a configuration owns (SMD ToFieldSet): its scalars, atomic lists/maps as a whole,
  each item of an associative or set list, null and empty values, and every key of a map
  that is not a struct field (``labels.app``, keys of untyped custom-resource data); an
  empty granular list owns nothing. Struct fields of built-in kinds that the schema does
  not declare are still struct fields (see schemas.OPEN).
- Server-owned metadata (apiVersion, kind, metadata.name/namespace/uid/resourceVersion/
  generation/creationTimestamp/managedFields, ...) is never tracked, as in the server's
  strip-meta layer. With a ``status`` subresource, main-resource writes neither own nor
  change ``status`` and ``subresource="status"`` writes own only ``status``.
- Entries carry ``manager``, ``operation`` (Apply|Update), ``apiVersion``, ``time``,
  ``fieldsType: FieldsV1``, ``fieldsV1`` and ``subresource``; they are sorted like the
  server's (operation, time, manager). An object without managedFields that is applied
  to first gets a ``before-first-apply`` Update entry owning what was there.

Checked against structured-merge-diff's own table-driven cases (tests/emulator/algorithms/
test_smd_cases.py). Not modelled: version conversion of managed fields across API
versions, the cap of 10 Update managers, kubectl's client-side-apply annotation upgrade,
server-side defaulting (done by defaults.py around these calls).
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from .schemas import Node, Schema, schema_for

__all__ = [
    "ApplyConflict",
    "ApplyInvalid",
    "apply",
    "record_update",
    "fields_to_set",
    "set_to_fields",
    "path_string",
    "managed_set",
]

_MISSING: Any = object()
_DEDUCED = schema_for("", "", "")  # used when a caller has no schema: maps granular, lists atomic

PathElement = tuple
Path = tuple
FieldSet = frozenset


class ApplyInvalid(ValueError):
    """The applied configuration cannot be typed (a list item without its key, duplicate keys).

    str() is the server's text (``failed to create typed patch object (apps/v1,
    Kind=Deployment): .spec...: element 0: associative list with keys has an element that
    omits key field "name" ...``); ``code`` is the HTTP status the real server answers
    (500: the error reaches the client untyped).
    """

    code = 500


class ApplyConflict(Exception):
    """Apply would change fields other managers own; the server answers 409 Conflict.

    ``conflicts`` is a list of ``(manager, path)`` (path like ``.spec.replicas``);
    ``message()`` is the server's Status message and ``causes()`` its details.causes.
    """

    def __init__(self, conflicts: list[tuple[str, str, str]]) -> None:
        # internal triples: (manager name, printed manager, path string)
        self._triples = conflicts
        self.conflicts = [(name, path) for name, _printed, path in conflicts]
        super().__init__(self.message())

    def message(self) -> str:
        triples = self._triples
        if len(triples) == 1:
            _name, printed, path = triples[0]
            return f"Apply failed with 1 conflict: conflict with {printed}: {path}"
        by_manager: dict[str, list[str]] = {}
        for _name, printed, path in triples:
            by_manager.setdefault(printed, []).append(path)
        lines = []
        for printed in sorted(by_manager):
            lines.append(f"conflicts with {printed}:")
            lines.extend(f"- {path}" for path in by_manager[printed])
        return f"Apply failed with {len(triples)} conflicts: " + "\n".join(lines)

    def causes(self) -> list[dict[str, str]]:
        return [
            {"type": "FieldManagerConflict", "message": f"conflict with {printed}", "field": path}
            for _name, printed, path in self._triples
        ]


# --- canonical values and path elements ---------------------------------------------------------

_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def _go_json(value: Any) -> str:
    return _ENCODE(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_canon_str = functools.lru_cache(maxsize=65536)(_go_json)


def _canon(value: Any) -> str:
    """Go's JSON encoding of a scalar/key value (as in fieldsV1 ``k:``/``v:`` elements)."""
    if type(value) is str:
        return _canon_str(value)
    if type(value) is int:
        return str(value)
    if value is None:
        return "null"
    if type(value) is bool:
        return "true" if value else "false"
    return _go_json(value)


@functools.lru_cache(maxsize=65536)
def _pe_key(pe: PathElement) -> str:
    kind, data = pe
    if kind == "f":
        return "f:" + data
    if kind == "k":
        return "k:{" + ",".join(f"{_canon(name)}:{value}" for name, value in data) + "}"
    return "v:" + data


def _pe_display(pe: PathElement) -> str:
    kind, data = pe
    if kind == "f":
        return "." + data
    if kind == "k":
        return "[" + ",".join(f"{name}={value}" for name, value in data) + "]"
    return f"[={data}]"


def path_string(path: Iterable[PathElement]) -> str:
    """A path as the server prints it: ``.spec.containers[name="web"].image``."""
    return "".join(_pe_display(pe) for pe in path)


@functools.lru_cache(maxsize=65536)
def _pe_sort(pe: PathElement) -> tuple:
    """SMD's PathElement order: fields by name, then keyed items, then set values, values typed."""
    kind, data = pe
    if kind == "f":
        return (0, data)
    if kind == "k":
        return (1, tuple((name, _value_sort(json.loads(value))) for name, value in data))
    return (2, _value_sort(json.loads(data)))


def _value_sort(value: Any) -> tuple:
    # value.Compare: null < bool < numbers (numerically) < strings < lists < maps
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, (int, float)):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    return (4, json.dumps(value, sort_keys=True))


def _path_sort(path: Path) -> tuple:
    return tuple(_pe_sort(pe) for pe in path)


@functools.lru_cache(maxsize=65536)
def _parse_pe(text: str) -> PathElement:
    kind, _, data = text.partition(":")
    if kind == "f":
        return ("f", data)
    if kind == "k":
        keys = json.loads(data)
        if not isinstance(keys, dict):
            raise ValueError(f"invalid key element {text!r}")
        return ("k", tuple(sorted((name, _canon(value)) for name, value in keys.items())))
    if kind == "v":
        return ("v", _canon(json.loads(data)))
    raise ValueError(f"unsupported path element {text!r}")


def fields_to_set(fields: Mapping[str, Any] | None) -> FieldSet:
    """A ``fieldsV1`` document as a set of paths."""
    out: set[Path] = set()

    def walk(node: Mapping[str, Any], prefix: Path) -> None:
        for key, child in node.items():
            if key == ".":
                out.add(prefix)
                continue
            path = prefix + (_parse_pe(key),)
            if isinstance(child, Mapping) and child:
                walk(child, path)
            else:
                out.add(path)

    walk(fields or {}, ())
    out.discard(())
    return frozenset(out)


def set_to_fields(paths: Iterable[Path]) -> dict[str, Any]:
    """A set of paths as the ``fieldsV1`` document the server stores."""
    tree: dict = {}
    members: set[Path] = set()
    for path in paths:
        members.add(path)
        node = tree
        for pe in path:
            node = node.setdefault(pe, {})

    def render(node: dict, prefix: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if node and prefix in members and prefix:
            out["."] = {}
        for pe in sorted(node, key=_pe_sort):
            out[_pe_key(pe)] = render(node[pe], prefix + (pe,))
        return out

    return render(tree, ())


# --- walking objects with the schema ----------------------------------------------------------


def _list_atomic(node: Node) -> bool:
    return node.type != "list" or node.list_type == "atomic" or (node.list_type == "map" and not node.list_keys)


def _item_pe(item: Any, node: Node, strict: bool, where: str = "") -> PathElement:
    if node.list_type == "map":
        keys = []
        for key in node.list_keys:
            if isinstance(item, dict) and item.get(key) is not None:
                value = item[key]
            elif key in node.key_defaults:
                value = node.key_defaults[key]
            elif strict:
                raise ApplyInvalid(
                    f'{where}associative list with keys has an element that omits key field "{key}" '
                    f"(and doesn't have default value)"
                )
            else:
                value = None
            keys.append((key, _canon(value)))
        return ("k", tuple(sorted(keys)))
    if strict and isinstance(item, (dict, list)):
        raise ApplyInvalid(f"{where}expected scalar, got {'map' if isinstance(item, dict) else 'list'}")
    return ("v", _canon(item))


def _to_set(value: Any, node: Node, path: Path, out: set, strict: bool) -> None:
    kind = node.resolve(value)
    if kind == "list":
        if _list_atomic(node) or not isinstance(value, list):
            if node.type == "unknown" or node.list_type == "atomic" or value is not None:
                out.add(path)
            return
        seen = set()
        for index, item in enumerate(value):
            pe = _item_pe(item, node, strict, f"{path_string(path)}: element {index}: ")
            if pe in seen and strict:
                raise ApplyInvalid(f"{path_string(path)}: duplicate entries for key {_pe_display(pe)}")
            seen.add(pe)
            _to_set(item, node.item(), path + (pe,), out, strict)
            out.add(path + (pe,))
    elif kind == "map":
        if node.map_type == "atomic":
            out.add(path)
            return
        if not isinstance(value, dict):
            if value is not None:
                out.add(path)
            return
        for key, child in value.items():
            child_path = path + (("f", key),)
            _to_set(child, node.child(key), child_path, out, strict)
            # SMD: null and empty values are owned themselves, and so is every key of a
            # map that is not a named struct field (labels.app, data.key, untyped data)
            if child is None or child == {} or not node.has_field(key):
                out.add(child_path)
    else:
        out.add(path)


def _field_set(value: Any, root: Node, strict: bool = False) -> set:
    out: set = set()
    _to_set(value, root, (), out, strict)
    out.discard(())
    return out


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b


def _index_items(items: list, node: Node) -> tuple[list, dict, bool]:
    pes, observed, duplicates = [], {}, False
    for item in items:
        pe = _item_pe(item, node, strict=False)
        if pe in observed:
            duplicates = True
        else:
            observed[pe] = item
        pes.append(pe)
    return pes, observed, duplicates


class _Comparison:
    def __init__(self) -> None:
        self.added: set = set()
        self.modified: set = set()
        self.removed: set = set()


def _added(value: Any, node: Node, path: Path, acc: _Comparison) -> None:
    """``_compare(_MISSING, value, ...)``: every path of ``value`` is added (a create's whole object)."""
    acc.added.add(path)
    if value is None:
        return
    kind = node.resolve(value)
    if kind == "map":
        if node.map_type == "atomic" or not value or not isinstance(value, dict):
            return
        for key, child in value.items():
            _added(child, node.child(key), path + (("f", key),), acc)
    elif kind == "list":
        if _list_atomic(node) or not value or not isinstance(value, list):
            return
        _, observed, duplicates = _index_items(value, node)
        if not duplicates:
            item = node.item()
            for pe, child in observed.items():
                _added(child, item, path + (pe,), acc)


def _compare(left: Any, right: Any, node: Node, path: Path, acc: _Comparison) -> None:
    if left is _MISSING and right is not _MISSING:
        _added(right, node, path, acc)
        return
    if type(left) is dict and left == right and _equal(left, right):
        return  # an unchanged map adds, modifies and removes nothing (the common case on updates)
    # a null takes the shape of the other side (SMD handles it with the other side's atom)
    kinds = {node.resolve(v) for v in (left, right) if v is not _MISSING and v is not None}
    kind = kinds.pop() if len(kinds) == 1 else "scalar"
    leaf = bool(kinds) or kind == "scalar"
    if not leaf and kind == "list":
        empty = all(v is _MISSING or not v for v in (left, right))
        leaf = (
            _list_atomic(node)
            or empty
            or not all(isinstance(v, list) or v is None for v in (left, right) if v is not _MISSING)
        )
    elif not leaf and kind == "map":
        empty = all(v is _MISSING or not v for v in (left, right))
        leaf = (
            node.map_type == "atomic"
            or empty
            or not all(isinstance(v, dict) or v is None for v in (left, right) if v is not _MISSING)
        )
    if not leaf and kind == "list":
        lpes, lobs, ldup = _index_items(left if isinstance(left, list) else [], node)
        rpes, robs, rdup = _index_items(right if isinstance(right, list) else [], node)
        leaf = ldup or rdup
    if leaf:
        if left is _MISSING:
            acc.added.add(path)
        elif right is _MISSING:
            acc.removed.add(path)
        elif not _equal(left, right):
            acc.modified.add(path)
        return
    if kind == "map":
        lmap = left if isinstance(left, dict) else {}
        rmap = right if isinstance(right, dict) else {}
        for key in list(lmap) + [k for k in rmap if k not in lmap]:
            _compare(lmap.get(key, _MISSING), rmap.get(key, _MISSING), node.child(key), path + (("f", key),), acc)
    else:
        for pe in list(lobs) + [p for p in robs if p not in lobs]:
            _compare(lobs.get(pe, _MISSING), robs.get(pe, _MISSING), node.item(), path + (pe,), acc)
    if left is _MISSING:
        acc.added.add(path)
    elif right is _MISSING:
        acc.removed.add(path)


def _merge(left: Any, right: Any, node: Node) -> Any:
    if right is _MISSING:
        return left
    if left is _MISSING or left is None:
        return copy.deepcopy(right)
    if right is None:
        # SMD: a null in the configuration does not clear a non-empty granular map or list
        if isinstance(left, (dict, list)) and left and not node.is_atomic(left):
            return left
        return None
    kind = node.resolve(right)
    if kind != node.resolve(left) or kind == "scalar":
        return copy.deepcopy(right)
    if kind == "map":
        if node.map_type == "atomic" or not isinstance(left, dict) or not isinstance(right, dict):
            return copy.deepcopy(right)
        out = dict(left)
        for key, value in right.items():
            out[key] = _merge(left.get(key, _MISSING), value, node.child(key))
        return out
    if _list_atomic(node) or not isinstance(left, list) or not isinstance(right, list):
        return copy.deepcopy(right)
    return _merge_list(left, right, node)


def _merge_list(left: list, right: list, node: Node) -> list:
    """SMD's list merge: shared items keep the config's order, live-only items stay in place."""
    rpes = []
    robs: dict = {}
    for item in right:
        pe = _item_pe(item, node, strict=True)
        if pe in robs:
            raise ApplyInvalid(f"duplicate entries for key {_pe_display(pe)}")
        robs[pe] = item
        rpes.append(pe)
    lpes, lobs, _dup = _index_items(left, node)
    shared = [pe for pe in rpes if pe in lobs]
    next_shared = shared.pop(0) if shared else None
    merged_right: set = set()
    out: list = []
    li = ri = 0
    item_node = node.item()
    while li < len(lpes) or ri < len(rpes):
        if li < len(lpes) and ri < len(rpes):
            pe = lpes[li]
            if pe == rpes[ri]:
                merged_right.add(pe)
                out.append(_merge(lobs[pe], robs[pe], item_node))
                li += 1
                ri += 1
                next_shared = shared.pop(0) if shared else None
                continue
            if pe in robs and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < len(lpes):
            pe = lpes[li]
            if pe not in robs:
                out.append(left[li])
                li += 1
                continue
            if pe in merged_right:
                li += 1
                continue
        if ri < len(rpes):
            pe = rpes[ri]
            merged_right.add(pe)
            out.append(_merge(lobs.get(pe, _MISSING), robs[pe], item_node))
            ri += 1
            if next_shared is not None and next_shared == pe:
                next_shared = shared.pop(0) if shared else None
    return out


def _subset(paths: Iterable[Path], pe: PathElement) -> set:
    return {p[1:] for p in paths if len(p) > 1 and p[0] == pe}


def _remove(value: Any, to_remove: set, node: Node) -> Any:
    """SMD RemoveItems: drop the member paths (whole subtrees) of ``to_remove`` from ``value``."""
    kind = node.resolve(value)
    if kind == "list":
        if not isinstance(value, list) or not value or _list_atomic(node):
            return value
        items = []
        for item in value:
            pe = _item_pe(item, node, strict=False)
            if (pe,) in to_remove:
                continue
            sub = _subset(to_remove, pe)
            items.append(_remove(item, sub, node.item()) if sub else item)
        return items if items else None
    if kind == "map":
        if not isinstance(value, dict) or not value or node.map_type == "atomic":
            return value
        out = {}
        for key, child in value.items():
            pe = ("f", key)
            if (pe,) in to_remove:
                continue
            sub = _subset(to_remove, pe)
            if sub:
                child = _remove(child, sub, node.child(key))
            out[key] = child
        return out if out else None
    return value


def _remove_items(obj: dict, to_remove: set, root: Node) -> dict:
    if not to_remove:
        return obj
    result = _remove(obj, to_remove, root)
    return {} if result is None else result


def _ensure_named(paths: set, root: Node) -> set:
    """SMD EnsureNamedFieldsAreMembers: struct fields with owned children count as owned."""
    out = set(paths)
    nodes: dict[Path, Node] = {(): root}
    for path in paths:
        for i in range(len(path) - 1):
            prefix = path[: i + 1]
            if prefix in nodes:
                continue
            parent = nodes[path[:i]]
            pe = path[i]
            if pe[0] == "f":
                if parent.has_field(pe[1]):
                    out.add(prefix)
                nodes[prefix] = parent.child(pe[1])
            else:
                nodes[prefix] = parent.item()
    return out


# --- managers ------------------------------------------------------------------------------------

_STRIPPED = frozenset(
    {
        (("f", "apiVersion"),),
        (("f", "kind"),),
        (("f", "metadata"),),
        *(
            (("f", "metadata"), ("f", name))
            for name in (
                "name",
                "namespace",
                "creationTimestamp",
                "selfLink",
                "uid",
                "clusterName",
                "generation",
                "managedFields",
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            )
        ),
    }
)


class _Manager:
    __slots__ = ("name", "operation", "subresource", "api_version", "time", "paths", "stored")

    def __init__(
        self,
        name: str,
        operation: str,
        subresource: str,
        api_version: str,
        time: str | None,
        paths: set,
        stored: tuple[frozenset, dict] | None = None,
    ) -> None:
        self.name, self.operation, self.subresource = name, operation, subresource
        self.api_version, self.time, self.paths = api_version, time, set(paths)
        # (paths, fieldsV1) as read from a stored object, which this server wrote in canonical form:
        # while the paths stay the same, entry() hands that fieldsV1 back instead of rendering it anew
        self.stored = stored

    @property
    def key(self) -> tuple:
        return _manager_key(self.name, self.operation, self.subresource, self.api_version)

    def printed(self) -> str:
        text = json.dumps(self.name)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text

    def entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"manager": self.name, "operation": self.operation, "apiVersion": self.api_version}
        if self.time:
            entry["time"] = self.time
        entry["fieldsType"] = "FieldsV1"
        stored = self.stored
        same = stored is not None and self.paths == stored[0]
        entry["fieldsV1"] = stored[1] if same else set_to_fields(self.paths)
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


def _manager_key(name: str, operation: str, subresource: str, api_version: str) -> tuple:
    return (name, operation, subresource or "", api_version if operation != "Apply" else "")


def _decode(entries: Any, stored: bool = False) -> dict[tuple, _Manager]:
    """Managers from managedFields entries; ``stored``: the entries of an object this server stored
    (canonical fieldsV1, reusable as they are), not ones a client sent."""
    managers: dict[tuple, _Manager] = {}
    if not isinstance(entries, list):
        return managers
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("manager") and not entry.get("fieldsV1"):
            continue
        try:
            paths = fields_to_set(entry.get("fieldsV1"))
        except (ValueError, TypeError):
            continue
        manager = _Manager(
            str(entry.get("manager", "")),
            str(entry.get("operation", "Update")),
            str(entry.get("subresource") or ""),
            str(entry.get("apiVersion", "")),
            entry.get("time"),
            paths,
            (paths, entry["fieldsV1"]) if stored and isinstance(entry.get("fieldsV1"), dict) else None,
        )
        existing = managers.get(manager.key)
        if existing:
            existing.paths |= manager.paths
            existing.stored = None
        else:
            managers[manager.key] = manager
    return managers


def _encode(managers: dict[tuple, _Manager]) -> list[dict[str, Any]]:
    ordered = sorted(
        managers.values(), key=lambda m: (m.operation, _epoch(m.time), m.name, m.api_version, m.subresource)
    )
    return [m.entry() for m in ordered]


def _epoch(time: str | None) -> float:
    if not time:
        return 0.0
    try:
        return datetime.fromisoformat(time.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _without_managed_fields(obj: Mapping[str, Any] | None) -> dict:
    if obj is None:
        return {}
    out = copy.copy(dict(obj))
    meta = out.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        meta = dict(meta)
        del meta["managedFields"]
        out["metadata"] = meta
    return out


def _ignored(path: Path, schema: Schema, subresource: str | None) -> bool:
    """Reset fields: paths a write through this endpoint neither owns nor changes."""
    in_status = bool(path) and path[0] == ("f", "status")
    if subresource == "status":
        return not in_status
    return schema.status_subresource and in_status


def _filter(paths: Iterable[Path], schema: Schema, subresource: str | None) -> set:
    return {p for p in paths if not _ignored(p, schema, subresource)}


def _endpoint_view(config: Mapping[str, Any], schema: Schema, subresource: str | None) -> dict:
    """The part of an applied configuration this endpoint takes (status only, or all but status)."""
    config = dict(config)
    meta = config.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        meta = {k: v for k, v in meta.items() if k != "managedFields"}
        config["metadata"] = meta
    if subresource == "status":
        view = {k: config[k] for k in ("apiVersion", "kind", "status") if k in config}
        if isinstance(meta, dict):
            view["metadata"] = {k: meta[k] for k in ("name", "namespace") if k in meta}
        return view
    if schema.status_subresource:
        config.pop("status", None)
    return config


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


# --- the two operations ----------------------------------------------------------------------


def apply(
    live: dict | None,
    config: dict,
    manager: str,
    force: bool,
    schema: Schema,
    *,
    subresource: str | None = None,
    now: str | None = None,
) -> dict:
    """Server-side apply of ``config`` by ``manager`` to ``live`` (None: create); returns the new object.

    Raises ApplyConflict (409) when fields owned by other managers would change and
    ``force`` is false, ApplyInvalid (its ``code``, 500 like the real server) when
    ``config`` breaks the schema's list keys. ``subresource="status"`` is an apply to
    the status subresource: only ``status`` is taken from ``config``.
    """
    schema = schema or _DEDUCED
    root = schema.root
    time = now or _now()
    live_obj = _without_managed_fields(live)
    managers = _decode(((live or {}).get("metadata") or {}).get("managedFields"), stored=True)
    if live is not None and not managers:
        managers = _record(
            schema.zero_object(),
            live_obj,
            "before-first-apply",
            "Update",
            schema,
            None,
            {},
            time,
            str(live_obj.get("apiVersion", "")),
        )
    view = _endpoint_view(config, schema, subresource)
    api_version = str(config.get("apiVersion") or live_obj.get("apiVersion", ""))
    key = _manager_key(manager, "Apply", subresource or "", "")
    previous = managers.get(key)
    last_set = previous.paths if previous else set()

    try:
        config_set = _filter(_field_set(view, root, strict=True), schema, subresource)
    except ApplyInvalid as exc:
        group_version = str(config.get("apiVersion") or f"{schema.group}/{schema.version}".lstrip("/"))
        gvk = (group_version if "/" in group_version else "/" + group_version) + f", Kind={schema.kind}"
        meta = config.get("metadata") if isinstance(config.get("metadata"), dict) else {}
        nn = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"  # apimachinery's objectGVKNN
        raise ApplyInvalid(f"failed to create typed patch object ({nn}; {gvk}): {exc}") from None
    merged = _merge(live_obj, view, root)
    applier_sets = {k: m.paths for k, m in managers.items() if k != key}
    all_owned = set(config_set).union(*applier_sets.values()) if applier_sets else set(config_set)
    new_obj = _prune(merged, all_owned, last_set, root)
    if schema.builtin:
        new_obj = _drop_nulls(new_obj)  # typed objects do not keep nulls (Go's omitempty round trip)

    comparison = _Comparison()
    _compare(live_obj, new_obj, root, (), comparison)
    changed = _filter(comparison.modified | comparison.added, schema, subresource)
    removed = _filter(comparison.removed, schema, subresource)
    conflicts = []
    for other_key, other in managers.items():
        if other_key == key:
            continue
        for path in sorted(other.paths & changed, key=_path_sort):
            conflicts.append((other.name, other.printed(), path_string(path), other_key, path))
    if conflicts and not force:
        conflicts.sort(key=lambda c: (c[1], _path_sort(c[4])))
        raise ApplyConflict([(name, printed, text) for name, printed, text, _k, _p in conflicts])
    for other_key, other in list(managers.items()):
        if other_key == key:
            continue
        other.paths -= changed
        other.paths -= removed
        other.paths -= _STRIPPED
        if not other.paths:
            del managers[other_key]

    unchanged = _equal(live_obj, new_obj) and live is not None
    if config_set:
        managers[key] = _Manager(
            manager,
            "Apply",
            subresource or "",
            api_version,
            previous.time if (previous and unchanged) else time,
            config_set - _STRIPPED,
        )
    else:
        managers.pop(key, None)  # SMD drops a manager whose set is empty
    result = copy.deepcopy(new_obj)
    entries = _encode(managers)
    if entries:
        result.setdefault("metadata", {})["managedFields"] = entries
    elif isinstance(result.get("metadata"), dict):
        result["metadata"].pop("managedFields", None)  # the server omits an empty list
    return result


def _prune(merged: dict, all_owned: set, last_set: set, root: Node) -> dict:
    """SMD Updater.prune: drop what this applier owned last time, owns no longer, and nobody else owns."""
    if not last_set:
        return merged
    last = _ensure_named(set(last_set), root)
    owned = _ensure_named(all_owned, root)
    if last <= owned:
        return merged  # nothing this applier dropped: the common re-apply
    pruned = _remove_items(merged, last, root)
    merged_set = _ensure_named(_field_set(merged, root), root)
    pruned_set = _ensure_named(_field_set(pruned, root), root)
    pruned = _remove_items(merged, merged_set - (pruned_set | owned), root)
    pruned_set = _ensure_named(_field_set(pruned, root), root)
    return _remove_items(merged, (merged_set - pruned_set) & last, root)


def _record(
    old: dict,
    new: dict,
    manager: str,
    operation: str,
    schema: Schema,
    subresource: str | None,
    managers: dict[tuple, _Manager],
    time: str,
    api_version: str,
) -> dict[tuple, _Manager]:
    comparison = _Comparison()
    _compare(old, new, schema.root, (), comparison)
    changed = _filter(comparison.modified | comparison.added, schema, subresource)
    removed = _filter(comparison.removed, schema, subresource)
    for key, other in list(managers.items()):
        other.paths -= changed
        other.paths -= removed
        if not other.paths:
            del managers[key]
    key = _manager_key(manager, operation, subresource or "", api_version)
    taken = changed - _STRIPPED
    if changed:
        existing = managers.get(key)
        if existing:
            existing.paths |= taken
            existing.time = time
        elif taken:
            managers[key] = _Manager(manager, operation, subresource or "", api_version, time, taken)
    return managers


def record_update(
    old: dict | None,
    new: dict,
    manager: str,
    operation: str,
    schema: Schema,
    subresource: str | None = None,
    *,
    now: str | None = None,
) -> list:
    """The managedFields list after a non-apply write (create/update/patch) of ``new`` over ``old``.

    ``old`` is the live object (None on create). If ``new`` carries managedFields of its
    own they are taken as the starting point, as the server does; an empty list keeps the
    live ones and ``[{}]`` clears them.
    """
    schema = schema or _DEDUCED
    old_obj = _without_managed_fields(old) if old is not None else schema.zero_object()
    new_obj = _without_managed_fields(new)
    live_entries = ((old or {}).get("metadata") or {}).get("managedFields")
    sent = (new.get("metadata") or {}).get("managedFields", _MISSING) if isinstance(new, dict) else _MISSING
    if isinstance(sent, list) and sent and sent != live_entries:
        managers = _decode(sent)
    else:
        managers = _decode(live_entries, stored=True)
    api_version = str(new_obj.get("apiVersion") or old_obj.get("apiVersion", ""))
    managers = _record(old_obj, new_obj, manager, operation, schema, subresource, managers, now or _now(), api_version)
    return _encode(managers)


def managed_set(obj: Mapping[str, Any], manager: str, operation: str = "Apply", subresource: str | None = None) -> set:
    """The paths ``manager`` owns in ``obj`` through ``operation`` (for tests and diagnostics)."""
    out: set = set()
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if (
            entry.get("manager") == manager
            and entry.get("operation") == operation
            and (entry.get("subresource") or None) == subresource
        ):
            out |= fields_to_set(entry.get("fieldsV1"))
    return out
