"""The loader's fast path: libyaml composes, one pass (``_Builder``) builds the common shapes.

Only a fast path: ``_load_yaml_fast`` answers None whenever it cannot vouch for the result
(no libyaml, tabs, explicit tags, any refusal or error), and the caller reruns the reference
loader (``secretsync.manifests.goyaml.ReferenceLoader``), whose values and messages it matches.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from secretsync.manifests.goyaml import (
    BOOL_TAG,
    FLOAT_TAG,
    INT_TAG,
    MERGE_TAG,
    NULL_TAG,
    STR_TAG,
    GoConstructor,
    GoResolver,
    PlainStr,
    expanded_size,
    retype_plain,
)
from secretsync.manifests.tree import copy_tree

if TYPE_CHECKING:
    from secretsync.manifests.loader import Limits

__all__ = ["load_yaml_fast"]


_FastLoader: type[Any] | None = None  # None when PyYAML is built without libyaml

if yaml.__with_libyaml__:
    _CParser: type[Any] = yaml.cyaml.CParser  # type: ignore[attr-defined]  # a C type the stubs do not export

    class _LibyamlLoader(_CParser, GoConstructor, GoResolver):  # type: ignore[misc]  # subclassing the Any-typed CParser
        """libyaml composes the nodes (about 10x faster than PyYAML's pure scanner); construction
        is ``ReferenceLoader``'s. It is only a fast path: any refusal or error reruns ``ReferenceLoader``."""

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            GoConstructor.__init__(self)
            GoResolver.__init__(self)

    _FastLoader = _LibyamlLoader


def _depth_exceeds(node: Node, limit: int) -> bool:
    """Whether ``node`` nests deeper than ``limit`` as written (an alias counts as one level, as in
    ``ReferenceLoader.compose_node``: a node met again in document order is an alias)."""
    seen: set[int] = set()
    stack = [(node, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, SequenceNode):
            stack.extend((child, depth + 1) for child in reversed(item.value))
        elif isinstance(item, MappingNode):
            stack.extend((child, depth + 1) for pair in reversed(item.value) for child in reversed(pair))
    return False


_TAG_START = re.compile(r"(?:^|[\s\[{,])!")


class _Decline(Exception):
    """Internal: ``_Builder`` leaves this document to PyYAML's constructor (or the pure loader)."""


_PLAIN_TYPED = frozenset((NULL_TAG, BOOL_TAG, INT_TAG, FLOAT_TAG))
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


class _Builder:
    """One pass over a composed document doing what ``_load_yaml_stream`` does in four (depth cap as
    written, alias-expansion budget, construction by ``GoConstructor``'s rules, unshared copies).

    It handles the common shapes only and raises ``_Decline`` for anything else: merge keys,
    non-string keys, duplicates, non-finite numbers, unknown tags, and every refusal (whose
    wording is left to the reference loader)."""

    def __init__(self, max_depth: int, budget: int) -> None:
        self.max_depth = max_depth
        self.left = budget  # nodes still allowed once aliases are expanded
        self.seen: set[int] = set()  # nodes met as written (a node met again is an alias)
        self.active: set[int] = set()  # collections being built (an alias to one is recursive)

    def build(self, node: Node, depth: int, written: bool) -> Any:
        self.left -= 1
        if self.left < 0:
            raise _Decline
        if written:
            if depth > self.max_depth:
                raise _Decline
            if id(node) in self.seen:
                written = False  # an alias: one level as written, however deep its target
            else:
                self.seen.add(id(node))
        if type(node) is ScalarNode:
            return self._scalar(node)
        key = id(node)
        if key in self.active:
            raise _Decline
        self.active.add(key)
        if type(node) is SequenceNode and node.tag == _SEQ:
            result: Any = [self.build(child, depth + 1, written) for child in node.value]
        elif type(node) is MappingNode and node.tag == _MAP:
            result = self._mapping(node, depth + 1, written)
        else:
            raise _Decline
        self.active.discard(key)
        return result

    @staticmethod
    def _scalar(node: ScalarNode) -> Any:
        value = node.value
        if node.tag == STR_TAG:
            return PlainStr(value) if node.style in (None, "") and "${" in value else value
        if node.tag not in _PLAIN_TYPED:  # the resolver gave these tags to a plain scalar: retype it
            raise _Decline
        typed = retype_plain(value)
        if isinstance(typed, float) and not math.isfinite(typed):
            raise _Decline
        return typed

    def _mapping(self, node: MappingNode, depth: int, written: bool) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if type(key_node) is not ScalarNode or key_node.tag == MERGE_TAG:
                raise _Decline
            name = self.build(key_node, depth, written)
            if not isinstance(name, str) or name in result:
                raise _Decline
            result[name] = self.build(value_node, depth, written)
        return result


def _load_yaml_fast(text: str, limits: Limits) -> list[tuple[int, Any]] | None:
    """All documents of ``text`` composed by libyaml, or None when the fast path cannot vouch for
    the result: no libyaml, a tab (libyaml accepts tabs PyYAML's scanner refuses), or any refusal
    or error (the caller reruns the pure loader, whose message is the one we report). Explicit tags
    (rare in manifests) also take the pure path: libyaml types a scalar tagged ``!`` differently.
    Documents ``_Builder`` declines are built as ``_load_yaml_stream`` builds them."""
    if _FastLoader is None or "\t" in text or _TAG_START.search(text):
        return None
    loader = _FastLoader(text)
    docs: list[tuple[int, Any]] = []
    budget = limits.max_nodes
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                builder = _Builder(limits.max_depth, budget)
                try:
                    value = builder.build(node, 1, True)
                    budget = builder.left
                except _Decline:
                    if _depth_exceeds(node, limits.max_depth):
                        return None
                    budget -= expanded_size(node, {}, set(), budget)
                    value = copy_tree(loader.construct_document(node))  # aliases unshared
                docs.append((index, value))
            index += 1
    except Exception:  # noqa: BLE001 - whatever it is, the reference loader decides and words it
        return None
    finally:
        loader.dispose()
    return docs


load_yaml_fast = _load_yaml_fast  # the name the loader calls
