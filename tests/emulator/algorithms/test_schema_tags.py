"""Every strategic-merge tag the schemas declare, checked against the real kubectl.

Walks the built-in schemas (secretsync_emulator.schemas) and, for every list they
declare, builds a minimal object with a one-item list there and patches in a second
item: lists tagged ``patchStrategy: merge`` must merge by their ``patchMergeKey`` and
the others must be replaced, exactly as ``kubectl patch --local --type strategic`` (the
Go struct tags of k8s.io/api) does. A wrong or missing tag in our table fails here.
Not covered: listType/listMapKey markers (server-side apply only; no offline oracle).
"""

from __future__ import annotations

import pytest

from secretsync_emulator.patch_formats import strategic_merge_patch
from secretsync_emulator.schemas import BUILTIN_KINDS, Node, schema_for
from tests.emulator.algorithms.kubectl_oracle import kubectl_patch

pytestmark = [pytest.mark.peer, pytest.mark.slow]

# kubectl has no strategic-merge support for CRD objects offline, so apiextensions is not checked here.
_VERSIONS = {
    "": "v1",
    "apps": "v1",
    "batch": "v1",
    "coordination.k8s.io": "v1",
    "events.k8s.io": "v1",
    "rbac.authorization.k8s.io": "v1",
}
_INT_KEYS = {"containerPort", "port"}


class _Item:
    """A step into the single item of a list whose items are keyed by ``key`` (None: untagged)."""

    def __init__(self, key: str | None) -> None:
        self.key = key

    def __repr__(self) -> str:
        return "[]"


def _key_value(key: str, n: int):
    return 8000 + n if key in _INT_KEYS else f"v{n}"


def _lists(node: Node, path: tuple) -> list[tuple[tuple, Node]]:
    """(path, node) for every declared list below ``node``."""
    found = []
    for name, child in (node.fields or {}).items():
        if name == "managedFields":
            continue
        here = path + (name,)
        if child.type == "list":
            found.append((here, child))
            if child.item().fields:
                found.extend(_lists(child.item(), here + (_Item(child.patch_merge_key),)))
        elif child.type == "map" and child.fields:
            found.extend(_lists(child, here))
    return found


def _item(node: Node, n: int):
    if node.patch_merge_key:
        return {node.patch_merge_key: _key_value(node.patch_merge_key, n)}
    if node.item().type == "scalar" or node.list_type == "set":
        return f"s{n}"
    return {"x": f"v{n}"}


def _build(path: tuple, leaf):
    if not path:
        return leaf
    head, rest = path[0], path[1:]
    if rest and isinstance(rest[0], _Item):
        key = rest[0].key
        item = {key: _key_value(key, 0)} if key else {}
        item.update(_build(rest[1:], leaf))
        return {head: [item]}
    return {head: _build(rest, leaf)}


def _dig(obj, path):
    for part in path:
        obj = obj[0] if isinstance(part, _Item) else obj[part]
    return obj


def _cases():
    """One case per distinct list declaration (shared ones, like ObjectMeta's, are checked once)."""
    cases, seen = [], set()
    for (group, kind), (root, _status) in sorted(BUILTIN_KINDS.items()):
        if group not in _VERSIONS:
            continue
        for path, node in _lists(root, ()):
            if id(node) in seen:
                continue
            seen.add(id(node))
            label = ".".join("[]" if isinstance(p, _Item) else p for p in path)
            cases.append(pytest.param(group, kind, path, node, id=f"{group or 'core'}/{kind}:{label}"))
    return cases


@pytest.mark.parametrize("group,kind,path,node", _cases())
def test_declared_list_strategy_matches_kubectl(tmp_path, group, kind, path, node):
    version = _VERSIONS[group]
    original = {"apiVersion": f"{group}/{version}" if group else version, "kind": kind, "metadata": {"name": "probe"}}
    original.update(_build(path, [_item(node, 1)]))
    patch = _build(path, [_item(node, 2)])
    ours = strategic_merge_patch(original, patch, schema_for(group, version, kind))
    assert ours == kubectl_patch(tmp_path, original, patch, "strategic")
    if "merge" in node.strategies():
        assert len(_dig(ours, path)) == 2, "a merge list keeps the existing item"
    else:
        assert _dig(ours, path) == [_item(node, 2)], "a list without merge strategy is replaced"
