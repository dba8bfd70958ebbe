"""Server-side apply cases of structured-merge-diff (the Go library the API server uses).

Each case below is transcribed from the table-driven tests of
kubernetes-sigs/structured-merge-diff (merge/leaf_test.go, set_test.go, key_test.go,
nested_test.go, multiple_appliers_test.go): the same schema, the same sequence of
Apply / ForceApply / Update operations, and the object and per-manager field sets that
library asserts. They are the reference behaviour our fieldmanager must reproduce:
ownership, conflicts, pruning of dropped fields, dangling sub-items, nulls, untyped
("deduced") maps. Cases that depend on converting managed fields between API versions
are left out (not modelled); the versions those cases use are the same schema here,
and the one case that renamed keys between versions is kept with the renaming removed.
"""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from secretsync_emulator.fieldmanager import ApplyConflict, apply, fields_to_set, path_string, record_update
from secretsync_emulator.schemas import UNKNOWN, Node, Schema

_S = Node(type="scalar")


def _struct(**fields):
    return Node(type="map", fields=fields, values=None)


def _set_of_strings():
    return Node(type="list", items=_S, list_type="set")


def _assoc(items, *keys):
    return Node(type="list", items=items, list_type="map", list_keys=keys)


def _map_of(values):
    return Node(type="map", values=values)


def _recursive_map(depth=8):
    node = _map_of(_S)
    for _ in range(depth):
        node = _map_of(node)
    return node


LEAF = _struct(numeric=_S, string=_S, bool=_S)
SETS = _struct(list=_set_of_strings())
ASSOC = _struct(list=_assoc(_struct(name=_S, value=_S), "name"))
STRUCT = _struct(struct=_struct(name=_S, scalarField_v1=_S, complexField_v1=_struct(name=_S)), version=_S)
NESTED = _struct(
    listOfLists=_assoc(_struct(name=_S, value=_set_of_strings()), "name"),
    listOfMaps=_assoc(_struct(name=_S, value=_map_of(_S)), "name"),
    mapOfLists=_map_of(_set_of_strings()),
    mapOfMaps=_map_of(_map_of(_S)),
    mapOfMapsRecursive=_recursive_map(),
    struct=_struct(name=_S, value=_S),
)
DEDUCED = UNKNOWN


def _schema(root: Node) -> Schema:
    return Schema("", "v1", "Test", root, builtin=False)


def P(*elements):
    """A path in the test's notation: "name" a field, ("k", {...}) a keyed item, ("v", x) a set value."""
    out = []
    for element in elements:
        if isinstance(element, str):
            out.append(("f", element))
        elif element[0] == "k":
            out.append(("k", tuple(sorted((k, json.dumps(v)) for k, v in element[1].items()))))
        else:
            out.append(("v", json.dumps(element[1])))
    return tuple(out)


def K(name):
    return ("k", {"name": name})


def V(value):
    return ("v", value)


def _load(text: str) -> dict:
    return yaml.safe_load(text) or {}


def _strip(obj: dict) -> dict:
    obj = copy.deepcopy(obj)
    meta = obj.pop("metadata", None) or {}
    meta.pop("managedFields", None)
    if meta:
        obj["metadata"] = meta
    return obj


def _canonical(value):
    """Associative and set lists compare without order, as SMD's typed comparison does."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((_canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def _managed(obj: dict) -> dict:
    out: dict = {}
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        out.setdefault(entry["manager"], set()).update(fields_to_set(entry["fieldsV1"]))
    return out


def run(root, ops, expected_object, expected_managed=None, ordered=False):
    schema = _schema(root)
    live = None
    for op in ops:
        kind, manager, text = op[0], op[1], op[2]
        obj = _load(text)
        if kind in ("apply", "force"):
            if len(op) > 3:
                with pytest.raises(ApplyConflict) as caught:
                    apply(live, obj, manager, False, schema, now="2026-01-01T00:00:00Z")
                assert sorted(caught.value.conflicts) == sorted((m, path_string(p)) for m, p in op[3])
                continue
            live = apply(live, obj, manager, kind == "force", schema, now="2026-01-01T00:00:00Z")
        else:
            new = copy.deepcopy(obj)
            new["metadata"] = {"managedFields": ((live or {}).get("metadata") or {}).get("managedFields", [])}
            new["metadata"]["managedFields"] = record_update(
                live, new, manager, "Update", schema, now="2026-01-01T00:00:00Z"
            )
            live = new
    result = _strip(live)
    expected = _load(expected_object)
    if ordered:
        assert result == expected
    else:
        assert _canonical(result) == _canonical(expected)
    if expected_managed is not None:
        assert _managed(live) == {m: set(paths) for m, paths in expected_managed.items()}


# --- merge/leaf_test.go ------------------------------------------------------------------------------


def test_leaf_apply_twice():
    run(
        LEAF,
        [
            ("apply", "default", "numeric: 1\nstring: string"),
            ("apply", "default", "numeric: 2\nstring: string\nbool: false"),
        ],
        "numeric: 2\nstring: string\nbool: false",
        {"default": {P("numeric"), P("string"), P("bool")}},
    )


def test_leaf_apply_update_apply_no_conflict():
    run(
        LEAF,
        [
            ("apply", "default", "numeric: 1\nstring: string"),
            ("update", "controller", "numeric: 1\nstring: string\nbool: true"),
            ("apply", "default", "numeric: 2\nstring: string"),
        ],
        "numeric: 2\nstring: string\nbool: true",
        {"default": {P("numeric"), P("string")}, "controller": {P("bool")}},
    )


def test_leaf_apply_update_apply_with_conflict_then_force():
    run(
        LEAF,
        [
            ("apply", "default", "numeric: 1\nstring: string"),
            ("update", "controller", "numeric: 1\nstring: controller string\nbool: true"),
            ("apply", "default", "numeric: 2\nstring: user string", [("controller", P("string"))]),
            ("force", "default", "numeric: 2\nstring: user string"),
        ],
        "numeric: 2\nstring: user string\nbool: true",
        {"default": {P("numeric"), P("string")}, "controller": {P("bool")}},
    )


def test_leaf_apply_twice_remove():
    run(
        LEAF,
        [("apply", "default", "numeric: 1\nstring: string\nbool: false"), ("apply", "default", "string: new string")],
        "string: new string",
        {"default": {P("string")}},
    )


def test_leaf_update_apply_omits():
    run(
        LEAF,
        [("apply", "default", "numeric: 2"), ("update", "controller", "numeric: 1"), ("apply", "default", "")],
        "numeric: 1",
        {"controller": {P("numeric")}},
    )


def test_leaf_update_remove_empty_set():
    run(
        LEAF,
        [("apply", "default", "string: string"), ("update", "controller", "string: new string")],
        "string: new string",
        {"controller": {P("string")}},
    )


def test_leaf_apply_remove_empty_set():
    run(LEAF, [("apply", "default", "string: string"), ("apply", "default", "")], "", {})


# --- merge/set_test.go ---------------------------------------------------------------------------------


def test_set_apply_twice():
    run(
        SETS,
        [("apply", "default", "list: [a, c]"), ("apply", "default", "list: [a, b, c, d]")],
        "list: [a, b, c, d]",
        {"default": {P("list", V(x)) for x in "abcd"}},
    )


def test_set_apply_update_apply_no_overlap():
    run(
        SETS,
        [
            ("apply", "default", "list: [a, c]"),
            ("update", "controller", "list: [a, b, c, d]"),
            ("apply", "default", "list: [a, aprime, c, cprime]"),
        ],
        "list: [a, aprime, b, c, cprime, d]",
        {
            "default": {P("list", V(x)) for x in ("a", "aprime", "c", "cprime")},
            "controller": {P("list", V("b")), P("list", V("d"))},
        },
    )


def test_set_apply_update_apply_with_overlap():
    run(
        SETS,
        [
            ("apply", "default", "list: [a, c]"),
            ("update", "controller", "list: [a, b, c, d]"),
            ("apply", "default", "list: [a, b, c]"),
        ],
        "list: [a, b, c, d]",
        {"default": {P("list", V(x)) for x in "abc"}, "controller": {P("list", V("b")), P("list", V("d"))}},
    )


def test_set_apply_twice_reorder_keeps_applied_order():
    run(
        SETS,
        [("apply", "default", "list: [a, b, c, d]"), ("apply", "default", "list: [a, d, c, b]")],
        "list: [a, d, c, b]",
        {"default": {P("list", V(x)) for x in "abcd"}},
        ordered=True,
    )


def test_set_apply_update_apply_reorder():
    run(
        SETS,
        [
            ("apply", "default", "list: [a, b, c, d]"),
            ("update", "controller", "list: [a, d, c, b]"),
            ("apply", "default", "list: [a, b, c, d]"),
        ],
        "list: [a, b, c, d]",
        {"default": {P("list", V(x)) for x in "abcd"}},
        ordered=True,
    )


def test_set_apply_twice_remove():
    run(
        SETS,
        [("apply", "default", "list: [a, b, c, d]"), ("apply", "default", "list: [a, c]")],
        "list: [a, c]",
        {"default": {P("list", V("a")), P("list", V("c"))}},
    )


# --- merge/key_test.go and the associative cases of multiple_appliers_test.go ----------------------------


def _item_paths(name, *fields):
    return {P("list", K(name))} | {P("list", K(name), f) for f in fields}


def test_assoc_removing_obsolete_applied_structs():
    run(
        ASSOC,
        [("apply", "default", "list: [{name: a, value: 1}]"), ("apply", "default", "list: [{name: b, value: 2}]")],
        "list: [{name: b, value: 2}]",
        {"default": _item_paths("b", "name", "value")},
    )


def test_multiple_appliers_remove_one():
    run(
        ASSOC,
        [
            ("apply", "apply-one", "list: [{name: a}, {name: b}]"),
            ("apply", "apply-two", "list: [{name: c}]"),
            ("apply", "apply-one", "list: [{name: a}]"),
        ],
        "list: [{name: a}, {name: c}]",
        {"apply-one": _item_paths("a", "name"), "apply-two": _item_paths("c", "name")},
    )


def test_multiple_appliers_same_value_no_conflict():
    run(
        ASSOC,
        [("apply", "apply-one", "list: [{name: a, value: 0}]"), ("apply", "apply-two", "list: [{name: a, value: 0}]")],
        "list: [{name: a, value: 0}]",
        {"apply-one": _item_paths("a", "name", "value"), "apply-two": _item_paths("a", "name", "value")},
    )


def test_multiple_appliers_change_value_yes_conflict():
    run(
        ASSOC,
        [
            ("apply", "apply-one", "list: [{name: a, value: 0}]"),
            ("apply", "apply-two", "list: [{name: a, value: 1}]", [("apply-one", P("list", K("a"), "value"))]),
        ],
        "list: [{name: a, value: 0}]",
        {"apply-one": _item_paths("a", "name", "value")},
    )


def test_multiple_appliers_remove_one_keep_one():
    run(
        ASSOC,
        [
            ("apply", "apply-one", "list: [{name: a}, {name: b}, {name: c}]"),
            ("apply", "apply-two", "list: [{name: c}, {name: d}]"),
            ("apply", "apply-one", "list: [{name: a}]"),
        ],
        "list: [{name: a}, {name: c}, {name: d}]",
        {"apply-one": _item_paths("a", "name"), "apply-two": _item_paths("c", "name") | _item_paths("d", "name")},
    )


# --- multiple_appliers_test.go: field unsetting (one API version) ---------------------------------------


def test_unset_scalar_sole_owner():
    run(
        STRUCT,
        [("apply", "apply-one", "struct: {name: a, scalarField_v1: a}"), ("apply", "apply-one", "struct: {name: a}")],
        "struct: {name: a}",
        {"apply-one": {P("struct", "name")}},
    )


def test_unset_scalar_shared_with_applier():
    run(
        STRUCT,
        [
            ("apply", "apply-one", "struct: {name: a, scalarField_v1: a}"),
            ("apply", "apply-two", "struct: {scalarField_v1: a}"),
            ("apply", "apply-one", "struct: {name: a}"),
        ],
        "struct: {name: a, scalarField_v1: a}",
        {"apply-one": {P("struct", "name")}, "apply-two": {P("struct", "scalarField_v1")}},
    )


def test_unset_scalar_shared_with_updater():
    run(
        STRUCT,
        [
            ("update", "updater", "struct: {name: a, scalarField_v1: a}"),
            ("apply", "applier", "struct: {name: a, scalarField_v1: a}"),
            ("apply", "applier", "struct: {name: a}"),
        ],
        "struct: {name: a, scalarField_v1: a}",
        {
            "updater": {P("struct"), P("struct", "name"), P("struct", "scalarField_v1")},
            "applier": {P("struct", "name")},
        },
    )


def test_updater_claims_field():
    run(
        STRUCT,
        [
            ("apply", "applier", "struct: {name: a, scalarField_v1: a}"),
            ("update", "updater", "struct: {name: a, scalarField_v1: b}"),
        ],
        "struct: {name: a, scalarField_v1: b}",
        {"updater": {P("struct", "scalarField_v1")}, "applier": {P("struct", "name")}},
    )


def test_unset_complex_sole_owner():
    run(
        STRUCT,
        [
            ("apply", "apply-one", "struct: {name: a, complexField_v1: {name: b}}"),
            ("apply", "apply-one", "struct: {name: a}"),
        ],
        "struct: {name: a}",
        {"apply-one": {P("struct", "name")}},
    )


def test_unset_complex_shared_with_applier():
    run(
        STRUCT,
        [
            ("apply", "apply-one", "struct: {name: a, complexField_v1: {name: b}}"),
            ("apply", "apply-two", "struct: {complexField_v1: {name: b}}"),
            ("apply", "apply-one", "struct: {name: a}"),
        ],
        "struct: {name: a, complexField_v1: {name: b}}",
        {"apply-one": {P("struct", "name")}, "apply-two": {P("struct", "complexField_v1", "name")}},
    )


# --- nested_test.go and the nested cases of multiple_appliers_test.go -----------------------------------


def _lol(name, *values):
    paths = {P("listOfLists", K(name)), P("listOfLists", K(name), "name")}
    return paths | {P("listOfLists", K(name), "value", V(v)) for v in values}


def test_list_of_lists_change_value():
    run(
        NESTED,
        [
            ("apply", "default", "listOfLists: [{name: a, value: [b, c]}]"),
            ("apply", "default", "listOfLists: [{name: a, value: [a, c]}]"),
        ],
        "listOfLists: [{name: a, value: [a, c]}]",
        {"default": _lol("a", "a", "c")},
    )


def test_map_of_maps_change_key_and_value():
    run(
        NESTED,
        [("apply", "default", "mapOfMaps: {a: {b: x, c: y}}"), ("apply", "default", "mapOfMaps: {b: {a: x, c: z}}")],
        "mapOfMaps: {b: {a: x, c: z}}",
        {"default": {P("mapOfMaps", "b"), P("mapOfMaps", "b", "a"), P("mapOfMaps", "b", "c")}},
    )


def test_struct_apply_remove_dangling_keeps_null():
    run(
        NESTED,
        [("apply", "default", "struct: {name: a}"), ("apply", "default", "struct:")],
        "struct:",
        {"default": {P("struct")}},
    )


def test_struct_apply_update_took_over():
    run(
        NESTED,
        [
            ("apply", "default", "struct: {name: a}"),
            ("update", "controller", "struct: {name: b, value: 1}"),
            ("apply", "default", "struct:"),
        ],
        "struct: {name: b, value: 1}",
    )


def test_remove_one_keep_one_with_two_sub_items():
    run(
        NESTED,
        [
            ("apply", "apply-one", "listOfLists: [{name: a}, {name: b, value: [c]}]"),
            ("apply", "apply-two", "listOfLists: [{name: b, value: [d]}]"),
            ("apply", "apply-one", "listOfLists: [{name: a}]"),
        ],
        "listOfLists: [{name: a}, {name: b, value: [d]}]",
        {"apply-one": _lol("a"), "apply-two": _lol("b", "d")},
    )


def test_remove_one_keep_one_with_dangling_subitem():
    run(
        NESTED,
        [
            ("apply", "apply-one", "listOfLists: [{name: a}, {name: b, value: [c]}]"),
            ("apply", "apply-two", "listOfLists: [{name: b, value: [d]}]"),
            ("update", "controller", "listOfLists: [{name: a}, {name: b, value: [c, d, e]}]"),
            ("apply", "apply-one", "listOfLists: [{name: a}]"),
        ],
        "listOfLists: [{name: a}, {name: b, value: [d, e]}]",
        {
            "apply-one": _lol("a"),
            "apply-two": _lol("b", "d"),
            "controller": {P("listOfLists", K("b"), "value", V("e"))},
        },
    )


def test_remove_one_with_managed_subitem_keep_one():
    run(
        NESTED,
        [
            ("apply", "apply-one", "listOfLists: [{name: a}, {name: b, value: [c]}]"),
            ("apply", "apply-two", "listOfLists: [{name: a, value: [b]}]"),
            ("update", "controller", "listOfLists: [{name: a, value: [b]}, {name: b, value: [c, d]}]"),
            ("apply", "apply-one", "listOfLists: [{name: a}]"),
        ],
        "listOfLists: [{name: a, value: [b]}]",
        {"apply-one": _lol("a"), "apply-two": _lol("a", "b")},
    )


_RECURSIVE_OPS = [
    ("apply", "apply-one", "{a: {b: }, c: {d: }}"),
    ("apply", "apply-two", "{a: , c: {d: }}"),
    ("update", "controller-one", "{a: {b: {c: }}, c: {d: {e: }}}"),
    ("update", "controller-two", "{a: {b: {c: {d: }}}, c: {d: {e: {f: }}}}"),
    ("update", "controller-one", "{a: {b: {c: {d: {e: }}}}, c: {d: {e: {f: {g: }}}}}"),
]


def test_multiple_appliers_recursive_map():
    def nest(text):
        return "mapOfMapsRecursive: " + text

    ops = [(kind, manager, nest(text)) for kind, manager, text in _RECURSIVE_OPS]
    ops.append(("apply", "apply-one", "mapOfMapsRecursive:"))
    root = ("mapOfMapsRecursive",)
    run(
        NESTED,
        ops,
        nest("{a: , c: {d: {e: {f: {g: }}}}}"),
        {
            "apply-one": {P(*root)},
            "apply-two": {P(*root, "a"), P(*root, "c"), P(*root, "c", "d")},
            "controller-one": {P(*root, "c", "d", "e"), P(*root, "c", "d", "e", "f", "g")},
            "controller-two": {P(*root, "c", "d", "e", "f")},
        },
    )


def test_multiple_appliers_recursive_map_deduced():
    ops = list(_RECURSIVE_OPS) + [("apply", "apply-one", "")]
    run(
        DEDUCED,
        ops,
        "{a: , c: {d: {e: {f: {g: }}}}}",
        {
            "apply-two": {P("a"), P("c"), P("c", "d")},
            "controller-one": {P("c", "d", "e"), P("c", "d", "e", "f", "g")},
            "controller-two": {P("c", "d", "e", "f")},
        },
    )


def test_applier_updater_shared_ownership():
    # applier_updater_shared_ownership_real_conversion with its key-renaming converter taken out
    # (one version): maps an updater created survive an applier dropping its own ones.
    run(
        NESTED,
        [
            ("update", "updater", "mapOfMapsRecursive: {a: {b: {c: }}}"),
            ("apply", "apply", "mapOfMapsRecursive: {aa: {bb: }, cc: {dd: }}"),
            ("apply", "apply", "mapOfMapsRecursive: {aaa: , ccc: }"),
        ],
        "mapOfMapsRecursive: {a: {b: {c: }}, aaa: , ccc: }",
        {
            "updater": {
                P("mapOfMapsRecursive"),
                P("mapOfMapsRecursive", "a"),
                P("mapOfMapsRecursive", "a", "b"),
                P("mapOfMapsRecursive", "a", "b", "c"),
            },
            "apply": {P("mapOfMapsRecursive", "aaa"), P("mapOfMapsRecursive", "ccc")},
        },
    )


ATOMIC_MAP = _struct(atomicMap=Node(type="map", fields={"field1": _S, "field2": _S}, map_type="atomic"))


def test_multiple_appliers_atomic_map_force():
    run(
        ATOMIC_MAP,
        [
            ("apply", "apply-one", "atomicMap: {field1: a}"),
            ("apply", "apply-two", "atomicMap: {field2: b}", [("apply-one", P("atomicMap"))]),
            ("force", "apply-two", "atomicMap: {field2: b}"),
        ],
        "atomicMap: {field2: b}",
        {"apply-two": {P("atomicMap")}},
    )
