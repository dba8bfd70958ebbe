"""The three patch formats of the Kubernetes API, applied to plain JSON-like objects.

- ``json_merge_patch(obj, patch)``: RFC 7386 (``application/merge-patch+json``), as the
  server's evanphx/json-patch ``MergePatch`` does it: ``null`` deletes, objects merge
  recursively, anything else replaces; nulls inside newly added values are dropped.
- ``json_patch(obj, ops)``: RFC 6902 (``application/json-patch+json``) with the
  behaviour and error texts of gopkg.in/evanphx/json-patch.v4, the library the API
  server uses: ``add``/``remove``/``replace``/``move``/``copy``/``test``, JSON pointers
  with ``~0``/``~1``, ``-`` to append, negative indexes; its known leniencies are kept
  (``replace`` of a missing object member adds it, ``copy`` from a missing member
  copies null) because clients meet them on a real server.
- ``strategic_merge_patch(obj, patch, schema)``: k8s.io/apimachinery ``strategicpatch``
  as the server applies it (``StrategicMergeMapPatch``): lists whose field has
  ``patchStrategy: merge`` are merged by ``patchMergeKey`` (primitive lists as sets),
  other lists replaced; directives ``$patch: replace|delete|merge``, ``$retainKeys``,
  ``$setElementOrder/<list>``, ``$deleteFromPrimitiveList/<list>``; ``null`` deletes.
  Fields the schema does not tag (custom resources, unknown fields) behave like a
  merge patch: maps merge, lists are replaced.

Every function returns a new object and leaves its arguments untouched. Failures raise
``PatchError`` whose ``code`` is the HTTP status the server answers (400 for a patch that
does not decode, 422 when it does not apply, 500 where the real server also gives an
internal error) and whose message is the server's text.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from .schemas import UNKNOWN, Node, Schema

__all__ = ["PatchError", "json_merge_patch", "json_patch", "strategic_merge_patch", "go_format"]


class PatchError(ValueError):
    """A patch the server refuses; ``code`` is the HTTP status, str() the server's message."""

    def __init__(self, message: str, code: int = 422) -> None:
        super().__init__(message)
        self.code = code


def _go_format_s(value: Any) -> str:
    """``fmt.Sprintf("%s", value)``: strings as they are, other types as Go's %!s(type=value)."""
    if isinstance(value, str):
        return value
    if value is None:
        return "%!s(<nil>)"
    if isinstance(value, bool):
        return f"%!s(bool={'true' if value else 'false'})"
    if isinstance(value, int):
        return f"%!s(int64={value})"
    if isinstance(value, float):
        return f"%!s(float64={go_format(value)})"
    if isinstance(value, list):
        return "[" + " ".join(_go_format_s(v) for v in value) + "]"
    return "map[" + " ".join(f"{k}:{_go_format_s(value[k])}" for k in sorted(value)) + "]"


def go_format(value: Any) -> str:
    """``fmt.Sprintf("%v", value)`` for decoded JSON, as Go error messages print it."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_format(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_format(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value) if not value.is_integer() or abs(value) >= 1e21 else str(int(value))
    return str(value)


def _scalar_key(value: Any) -> Any:
    """A hashable key with Go's interface equality: 1 != 1.0 != True != "1"."""
    if isinstance(value, (dict, list)):
        return ("json", json.dumps(value, sort_keys=True))
    return (type(value).__name__, value)


def _strict_equal(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_strict_equal(x, y) for x, y in zip(a, b))
    return a == b


# --- RFC 7386 -------------------------------------------------------------------------------


def _prune_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune_nulls(v) for v in value]
    return value


def json_merge_patch(obj: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON merge patch to ``obj`` and return the result."""
    if not isinstance(patch, dict):
        return _prune_nulls(copy.deepcopy(patch))
    result = copy.deepcopy(obj) if isinstance(obj, dict) else {}
    for key, value in patch.items():
        current = result.get(key)
        if value is None:
            result.pop(key, None)
        elif isinstance(current, dict) and isinstance(value, dict):
            result[key] = json_merge_patch(current, value)
        elif isinstance(current, dict):
            result[key] = copy.deepcopy(value)  # evanphx v4 returns a non-object patch unpruned here
        else:
            result[key] = _prune_nulls(copy.deepcopy(value))
    return result


# --- RFC 6902 (evanphx/json-patch v4) ---------------------------------------------------------

_MISSING = object()


def _decode_pointer_part(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def _go_atoi(text: str) -> int:
    if not text or not all(c.isdigit() for c in text.lstrip("+-")) or text in ("+", "-"):
        raise PatchError(f'strconv.Atoi: parsing "{text}": invalid syntax')
    return int(text)


class _Container:
    """The object or array holding the last element of a pointer (findObject)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def get(self, key: str) -> Any:
        if isinstance(self.value, dict):
            return self.value.get(key, _MISSING)
        idx = _go_atoi(key)
        n = len(self.value)
        if idx < 0:
            if idx < -n:
                raise PatchError(f"Unable to access invalid index: {idx}: invalid index referenced")
            idx += n
        if idx >= n:
            raise PatchError(f"Unable to access invalid index: {idx}: invalid index referenced")
        return self.value[idx]

    def set(self, key: str, val: Any) -> None:
        if isinstance(self.value, dict):
            self.value[key] = val
            return
        idx = _go_atoi(key)
        if idx < 0:
            if idx < -len(self.value):
                raise PatchError(f"Unable to access invalid index: {idx}: invalid index referenced")
            idx += len(self.value)
        self.value[idx] = val

    def add(self, key: str, val: Any) -> None:
        if isinstance(self.value, dict):
            self.value[key] = val
            return
        if key == "-":
            self.value.append(val)
            return
        try:
            idx = _go_atoi(key)
        except PatchError as exc:
            raise PatchError(f"value was not a proper array index: '{key}': {exc}") from None
        size = len(self.value) + 1
        if idx >= size or idx < -size:
            raise PatchError(f"Unable to access invalid index: {idx}: invalid index referenced")
        if idx < 0:
            idx += size
        self.value.insert(idx, val)

    def remove(self, key: str) -> None:
        if isinstance(self.value, dict):
            if key not in self.value:
                raise PatchError(f"Unable to remove nonexistent key: {key}: missing value")
            del self.value[key]
            return
        idx = _go_atoi(key)
        n = len(self.value)
        if idx >= n or idx < -n:
            raise PatchError(f"Unable to access invalid index: {idx}: invalid index referenced")
        if idx < 0:
            idx += n
        del self.value[idx]


def _find(doc: Any, path: str) -> tuple[_Container | None, str]:
    parts = path.split("/")
    if len(parts) < 2:
        return None, ""
    node = doc
    for raw in parts[1:-1]:
        part = _decode_pointer_part(raw)
        if isinstance(node, dict):
            nxt = node.get(part)
        elif isinstance(node, list):
            try:
                nxt = _Container(node).get(part)
            except PatchError:
                return None, ""
        else:
            return None, ""
        if not isinstance(nxt, (dict, list)):
            return None, ""
        node = nxt
    if not isinstance(node, (dict, list)):
        return None, ""
    return _Container(node), _decode_pointer_part(parts[-1])


def _op_string(op: dict, name: str) -> str | None:
    value = op.get(name)
    return value if isinstance(value, str) else None


def _wrap(message: str, exc: PatchError) -> PatchError:
    return PatchError(f"{message}: {exc}", exc.code)


def json_patch(obj: Any, ops: Any) -> Any:
    """Apply an RFC 6902 JSON patch (a list of operations) to ``obj``; raise PatchError."""
    if not isinstance(ops, list):
        raise PatchError(f"json: cannot unmarshal {_json_kind(ops)} into Go value of type jsonpatch.Patch", 400)
    for op in ops:
        if not isinstance(op, dict):
            raise PatchError(f"json: cannot unmarshal {_json_kind(op)} into Go value of type jsonpatch.Operation", 400)
    doc = copy.deepcopy(obj)
    for op in ops:
        kind = op.get("op") if isinstance(op.get("op"), str) else "unknown"
        handler = _OPS.get(kind)
        if handler is None:
            raise PatchError(f"Unexpected kind: {kind}")
        if op.get("path") == "" and kind in ("replace", "test"):
            doc = _whole_document(doc, op, kind)
            continue
        handler(doc, op)
    return doc


def _whole_document(doc: Any, op: dict, kind: str) -> Any:
    """v4's special case for the empty pointer: replace swaps the document, test compares it."""
    value = op.get("value", _MISSING)
    if kind == "test":
        if value is not _MISSING and _strict_equal(doc, value):
            return doc
        raise PatchError("testing value  failed: test failed")
    if isinstance(value, (dict, list)):
        return copy.deepcopy(value)
    return doc  # v4 wraps a nil error here, so a scalar silently changes nothing


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if value is None:
        return "null"
    return "number"


def _value(op: dict) -> Any:
    return copy.deepcopy(op.get("value"))


def _op_add(doc: Any, op: dict) -> None:
    path = _op_string(op, "path")
    if path is None:
        raise PatchError("add operation failed to decode path: missing value")
    con, key = _find(doc, path)
    if con is None:
        raise PatchError(f'add operation does not apply: doc is missing path: "{path}": missing value')
    try:
        con.add(key, _value(op))
    except PatchError as exc:
        raise _wrap(f"error in add for path: '{path}'", exc) from None


def _op_remove(doc: Any, op: dict) -> None:
    path = _op_string(op, "path")
    if path is None:
        raise PatchError("remove operation failed to decode path: missing value")
    con, key = _find(doc, path)
    if con is None:
        raise PatchError(f'remove operation does not apply: doc is missing path: "{path}": missing value')
    try:
        con.remove(key)
    except PatchError as exc:
        raise _wrap(f"error in remove for path: '{path}'", exc) from None


def _op_replace(doc: Any, op: dict) -> None:
    path = _op_string(op, "path")
    if path is None:
        raise PatchError("replace operation failed to decode path: missing value")
    con, key = _find(doc, path)
    if con is None:
        raise PatchError(f"replace operation does not apply: doc is missing path: {path}: missing value")
    try:
        con.get(key)
    except PatchError:
        raise PatchError(f"replace operation does not apply: doc is missing key: {path}: missing value") from None
    try:
        con.set(key, _value(op))
    except PatchError as exc:
        raise _wrap(f"error in remove for path: '{path}'", exc) from None


def _op_move(doc: Any, op: dict) -> None:
    source = _op_string(op, "from")
    if source is None:
        raise PatchError("move operation failed to decode from: operation, missing from field: missing value")
    con, key = _find(doc, source)
    if con is None:
        raise PatchError(f"move operation does not apply: doc is missing from path: {source}: missing value")
    try:
        val = con.get(key)
        con.remove(key)
    except PatchError as exc:
        raise _wrap(f"error in move for path: '{key}'", exc) from None
    path = _op_string(op, "path")
    if path is None:
        raise PatchError("move operation failed to decode path: operation missing path field: missing value")
    con, key = _find(doc, path)
    if con is None:
        raise PatchError(f"move operation does not apply: doc is missing destination path: {path}: missing value")
    try:
        con.add(key, None if val is _MISSING else val)
    except PatchError as exc:
        raise _wrap(f"error in move for path: '{path}'", exc) from None


def _op_copy(doc: Any, op: dict) -> None:
    source = _op_string(op, "from")
    if source is None:
        raise PatchError("copy operation failed to decode from: operation, missing from field: missing value")
    con, key = _find(doc, source)
    if con is None:
        raise PatchError(f"copy operation does not apply: doc is missing from path: {source}: missing value")
    try:
        val = con.get(key)
    except PatchError as exc:
        raise _wrap(f"error in copy for from: '{source}'", exc) from None
    path = _op_string(op, "path")
    if path is None:
        raise PatchError("copy operation failed to decode path: missing value")
    con, key = _find(doc, path)
    if con is None:
        raise PatchError(f"copy operation does not apply: doc is missing destination path: {path}: missing value")
    try:
        con.add(key, None if val is _MISSING else copy.deepcopy(val))
    except PatchError as exc:
        raise _wrap("error while adding value during copy", exc) from None


def _op_test(doc: Any, op: dict) -> None:
    path = _op_string(op, "path")
    if path is None:
        raise PatchError("test operation failed to decode path: operation missing path field: missing value")
    con, key = _find(doc, path)
    if con is None:
        raise PatchError(f"test operation does not apply: is missing path: {path}: missing value")
    try:
        val = con.get(key)
    except PatchError as exc:
        raise _wrap(f"error in test for path: '{path}'", exc) from None
    expected = op.get("value", _MISSING)
    if val is _MISSING or val is None:
        if expected is _MISSING or expected is None:
            return
        raise PatchError(f"testing value {path} failed: test failed")
    if expected is _MISSING or not _strict_equal(val, expected):
        raise PatchError(f"testing value {path} failed: test failed")


_OPS = {
    "add": _op_add,
    "remove": _op_remove,
    "replace": _op_replace,
    "move": _op_move,
    "copy": _op_copy,
    "test": _op_test,
}


# --- strategic merge patch -------------------------------------------------------------------

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_PREFIX = "$deleteFromPrimitiveList"
_ORDER_PREFIX = "$setElementOrder"

_ERR_PRIMITIVE_LIST = "invalid patch format of primitive list"
_ERR_RETAIN_KEYS = "invalid patch format of retainKeys"
_ERR_ORDER_LIST = "invalid patch format of setElementOrder list"


def strategic_merge_patch(obj: dict, patch: Any, schema: Schema | Node | None) -> dict:
    """Apply a strategic merge patch to ``obj`` using the tags of ``schema``; raise PatchError."""
    if not isinstance(patch, dict):
        raise PatchError("invalid JSON document", 400)
    root = schema.root if isinstance(schema, Schema) else (schema or UNKNOWN)
    return _merge_map(copy.deepcopy(obj) if isinstance(obj, dict) else {}, copy.deepcopy(patch), root)


def _merge_map(original: dict | None, patch: dict, node: Node) -> dict:
    if _DIRECTIVE in patch:
        directive = patch[_DIRECTIVE]
        if directive == "replace":
            del patch[_DIRECTIVE]
            return patch  # taken as it is, nulls and nested directives included (as Go does)
        if directive == "delete":
            return {}
        raise PatchError(f"unknown patch type: {_go_format_s(directive)} in map: {go_format(patch)}", 500)
    if original is None:
        original = {}
    _apply_retain_keys(original, patch)
    _merge_ordered_lists(original, patch, node)
    # deletions from primitive lists first, then the other keys in patch order
    keys = sorted(patch, key=lambda k: 0 if k.startswith(_DELETE_PREFIX) else 1)
    for key in keys:
        value = patch[key]
        is_delete_list = False
        if key.startswith(_DELETE_PREFIX):
            key = _extract_key(key, _DELETE_PREFIX, _ERR_PRIMITIVE_LIST)
            is_delete_list = True
            if not isinstance(value, list):
                continue
        if value is None:
            original.pop(key, None)
            continue
        if key not in original:
            if not is_delete_list:
                cleaned = _clean_new_value(value)
                if cleaned is not _MISSING:
                    original[key] = cleaned
            continue
        current = original[key]
        child = node.child(key)
        if isinstance(current, dict) and isinstance(value, dict):
            original[key] = value if "replace" in child.strategies() else _merge_map(current, value, child)
        elif isinstance(current, list) and isinstance(value, list):
            original[key] = _merge_list_field(current, value, child, is_delete_list)
        elif not is_delete_list:
            original[key] = value
    return original


def _clean_new_value(value: Any) -> Any:
    """A patch value for a key the original lacks: directives and nulls removed."""
    if isinstance(value, dict):
        if _DIRECTIVE in value:
            return _MISSING
        return _clean_new(value)
    if isinstance(value, list):
        out = []
        for item in value:
            cleaned = _clean_new_value(item)
            if cleaned is not _MISSING:
                out.append(cleaned)
        return out
    return value


def _clean_new(value: dict) -> dict:
    out = {}
    for key, item in value.items():
        if item is None or key.startswith("$"):
            continue
        cleaned = _clean_new_value(item)
        if cleaned is not _MISSING:
            out[key] = cleaned
    return out


def _extract_key(key: str, prefix: str, error: str) -> str:
    parts = key.split("/", 1)
    if len(parts) <= 1 or parts[0] != prefix:
        raise PatchError(error, 400)
    return parts[1]


def _apply_retain_keys(original: dict, patch: dict) -> None:
    if _RETAIN_KEYS not in patch:
        return
    retain = patch.pop(_RETAIN_KEYS)
    if not isinstance(retain, list):
        raise PatchError(_ERR_RETAIN_KEYS, 400)
    allowed = {_scalar_key(v) for v in retain}
    for key, value in patch.items():
        if value is None or key.startswith(_DELETE_PREFIX) or key.startswith(_ORDER_PREFIX):
            continue
        if _scalar_key(key) not in allowed:
            raise PatchError(_ERR_RETAIN_KEYS, 400)
    for key in list(original):
        if _scalar_key(key) not in allowed:
            del original[key]


def _merge_list_field(current: list, value: list, node: Node, is_delete_list: bool) -> list:
    if "merge" in node.strategies():
        return _merge_slice(current, value, node.patch_merge_key or "", is_delete_list, node.item())
    return value


def _element_kind(*lists: list) -> str | None:
    kind = None
    for lst in lists:
        for item in lst:
            if kind is None and isinstance(item, list):
                raise PatchError("lists of lists are not supported", 422)
            current = "map" if isinstance(item, dict) else type(item).__name__
            if kind is None:
                kind = current
            elif kind != current:
                raise PatchError("list element types are not identical: " + go_format(list(lists)), 500)
    return kind


def _no_merge_key(item: dict, key: str) -> PatchError:
    return PatchError(f"map: {go_format(item)} does not contain declared merge key: {key}", 500)


def _merge_slice(original: list, patch: list, merge_key: str, is_delete_list: bool, item_node: Node) -> list:
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    if kind != "map":
        if is_delete_list:
            doomed = {_scalar_key(v) for v in patch}
            return [v for v in original if _scalar_key(v) not in doomed]
        merged: list = []
        seen = set()
        for item in original + patch:
            if _scalar_key(item) not in seen:
                seen.add(_scalar_key(item))
                merged.append(item)
        patch_keys = {_scalar_key(v) for v in patch}
        patch_items = [v for v in merged if _scalar_key(v) in patch_keys]
        server_only = [v for v in merged if _scalar_key(v) not in patch_keys]
        return _normalize_order(patch_items, server_only, patch, original, "")
    if not merge_key:
        raise PatchError("cannot merge lists without merge key for type struct", 500)
    original, patch = _merge_special_elements(original, patch, merge_key)
    original_after_special = list(original)
    merged = list(original)
    for item in patch:
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        index = _find_by_key(merged, merge_key, item[merge_key])
        if index is None:
            merged.append(item)
        else:
            merged[index] = _merge_map(merged[index], item, item_node)
    patch_items, server_only = _partition_maps(merged, patch, merge_key)
    return _normalize_order(patch_items, server_only, patch, original_after_special, merge_key)


def _merge_special_elements(original: list, patch: list, merge_key: str) -> tuple[list, list]:
    plain: list = []
    replace_all = False
    original = list(original)
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"expected a map[string]interface {{}}, but received a {type(item).__name__}", 500)
        if _DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[_DIRECTIVE]
        if directive == "delete":
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            original = [
                o
                for o in original
                if not (isinstance(o, dict) and merge_key in o and _strict_equal(o[merge_key], item[merge_key]))
            ]
        elif directive == "replace":
            replace_all = True
        elif directive == "merge":
            raise PatchError("merging lists cannot yet be specified in the patch", 500)
        else:
            raise PatchError(f"unknown patch type: {_go_format_s(directive)} in map: {go_format(item)}", 500)
    if replace_all:
        return plain, []
    return original, plain


def _find_by_key(items: list, key: str, value: Any) -> int | None:
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise PatchError(f"value for key {i} is not a map.", 500)
        if key in item and _strict_equal(item[key], value):
            return i
    return None


def _partition_maps(merged: list, by: list, key: str) -> tuple[list, list]:
    patch_items, server_only = [], []
    for item in merged:
        if not isinstance(item, dict):
            raise PatchError(f"expected a map[string]interface {{}}, but received a {type(item).__name__}", 500)
        if key not in item:
            raise _no_merge_key(item, key)
        (patch_items if _find_by_key(by, key, item[key]) is not None else server_only).append(item)
    return patch_items, server_only


def _position(order: list, item: Any, key: str) -> int:
    for i, candidate in enumerate(order):
        if key:
            a = candidate.get(key, _MISSING) if isinstance(candidate, dict) else _MISSING
            b = item.get(key, _MISSING) if isinstance(item, dict) else _MISSING
            if a is not _MISSING and b is not _MISSING and _strict_equal(a, b):
                return i
            if a is _MISSING and b is _MISSING:
                return i
        elif _strict_equal(candidate, item):
            return i
    return -1


def _sort_by(items: list, order: list, key: str) -> list:
    """normalizeSliceOrder: stable order by position in ``order`` (deletions last)."""
    if key:
        for item in items + order:
            if not isinstance(item, dict) or key not in item:
                raise _no_merge_key(item if isinstance(item, dict) else {}, key)
        keep = [i for i in items if i.get(_DIRECTIVE) != "delete"]
        doomed = [i for i in items if i.get(_DIRECTIVE) == "delete"]
    else:
        keep, doomed = list(items), []
    # Go's sort.SliceStable (an insertion sort for lists up to 20 items) with its comparator,
    # which calls an item missing from ``order`` "less" than anything: kept as is on purpose.
    items = list(keep)
    positions = [_position(order, i, key) for i in items]
    for i in range(1, len(items)):
        j = i
        while j > 0 and (positions[j] < 0 or positions[j - 1] < 0 or positions[j] < positions[j - 1]):
            items[j], items[j - 1] = items[j - 1], items[j]
            positions[j], positions[j - 1] = positions[j - 1], positions[j]
            j -= 1
    return items + doomed


def _normalize_order(patch_items: list, server_only: list, patch_order: list, server_order: list, key: str) -> list:
    """normalizeElementOrder + mergeSortedSlice: patch order for patch items, live order otherwise."""
    right = _sort_by(patch_items, patch_order, key)
    left = _sort_by(server_only, server_order, key)
    out: list = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li, ri = _position(server_order, left[i], key), _position(server_order, right[j], key)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _merge_ordered_lists(original: dict, patch: dict, node: Node) -> None:
    """mergePatchIntoOriginal: lists with a ``$setElementOrder/<list>`` directive."""
    for directive_key in [k for k in patch if k.startswith(_ORDER_PREFIX)]:
        order = patch.pop(directive_key)
        if not isinstance(order, list):
            raise PatchError(f"expected a []interface {{}}, but received a {type(order).__name__}", 500)
        key = _extract_key(directive_key, _ORDER_PREFIX, _ERR_ORDER_LIST)
        child = node.child(key)
        merge_key = child.patch_merge_key or ""
        found_original = key in original
        found_patch = key in patch and patch[key] is not None
        original_list = original.get(key) if found_original else []
        patch_list = patch.get(key) if found_patch else []
        if found_original and not isinstance(original_list, list):
            raise PatchError(f"expected a []interface {{}}, but received a {type(original_list).__name__}", 500)
        if found_patch and not isinstance(patch_list, list):
            raise PatchError(f"expected a []interface {{}}, but received a {type(patch_list).__name__}", 500)
        _validate_order(patch_list, order, merge_key)
        if found_original and not found_patch:
            merged = original_list
        elif found_patch and not found_original:
            merged = patch_list
        elif found_original and found_patch:
            merged = _merge_list_field(original_list, patch_list, child, False)
        else:
            continue
        server_order = original_list
        if merge_key:
            patch_items, server_only = _partition_maps(merged, order, merge_key)
            if found_original and found_patch and "merge" in child.strategies():
                server_order = _aliased_original(original_list, patch_list, merge_key)
        else:
            order_keys = {_scalar_key(v) for v in order}
            patch_items = [v for v in merged if _scalar_key(v) in order_keys]
            server_only = [v for v in merged if _scalar_key(v) not in order_keys]
        _element_kind(original_list, patch_list)
        original[key] = _normalize_order(patch_items, server_only, order, server_order, merge_key)
        patch.pop(key, None)


def _aliased_original(original: list, patch: list, merge_key: str) -> list:
    """What Go's ``originalFieldValue`` holds after merging ``patch`` into it.

    mergeSlice deletes ``$patch: delete`` items by shifting the rest left inside the same
    backing array and then appends new items into the room that frees, so the slice
    mergePatchIntoOriginal kept (same array, old length) sees those changes when it orders
    the server-only items. Reproduced because kubectl and the server both show it.
    """
    view = list(original)
    size = len(view)
    replaced = False
    for item in patch:
        if not isinstance(item, dict) or _DIRECTIVE not in item:
            continue
        if item[_DIRECTIVE] == "replace":
            replaced = True
        elif item[_DIRECTIVE] == "delete" and merge_key in item:
            while True:
                index = next(
                    (
                        i
                        for i in range(size)
                        if isinstance(view[i], dict)
                        and _strict_equal(view[i].get(merge_key, _MISSING), item[merge_key])
                    ),
                    None,
                )
                if index is None:
                    break
                view[index : size - 1] = view[index + 1 : size]
                size -= 1
    if replaced:
        return view
    for item in patch:
        if not isinstance(item, dict) or _DIRECTIVE in item or merge_key not in item:
            continue
        if any(isinstance(v, dict) and _strict_equal(v.get(merge_key, _MISSING), item[merge_key]) for v in view[:size]):
            continue
        if size >= len(view):
            break  # append reallocates: later items land in another array
        view[size] = item
        size += 1
    return view


def _validate_order(patch_list: list, order: list, merge_key: str) -> None:
    if not order or not patch_list:
        return
    if merge_key:
        plain = [i for i in patch_list if not (isinstance(i, dict) and i.get(_DIRECTIVE) == "delete")]
    else:
        plain = list(patch_list)
    pi = oi = 0
    while pi < len(plain) and oi < len(order):
        item = plain[pi]
        if isinstance(item, dict) and _DIRECTIVE in item:
            pi += 1
            continue
        if merge_key:
            if not isinstance(item, dict) or merge_key not in item:
                raise _no_merge_key(item if isinstance(item, dict) else {}, merge_key)
            other = order[oi]
            if not isinstance(other, dict) or merge_key not in other:
                raise _no_merge_key(other if isinstance(other, dict) else {}, merge_key)
            equal = _strict_equal(item[merge_key], other[merge_key])
        else:
            equal = _strict_equal(item, order[oi])
        if equal:
            pi += 1
        oi += 1
    if pi < len(plain) and oi >= len(order):
        raise PatchError(
            f"The order in patch list:\n{go_format(patch_list)}\n doesn't match "
            f"{_ORDER_PREFIX} list:\n{go_format(order)}\n",
            500,
        )
