"""Nested dict/list values as the loader returns them: unshared copies, leaves, depth."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["copy_tree", "iter_leaves", "depth_ok"]


def copy_tree(value: Any) -> Any:
    """A copy of nested dicts/lists with no shared sub-objects (leaves such as SecretBytes are kept)."""
    if isinstance(value, dict):
        return {k: copy_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_tree(v) for v in value]
    return value


def iter_leaves(value: Any) -> Iterator[Any]:
    """Every value inside nested dicts/lists that is neither (without recursion, any depth)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            yield item


def depth_ok(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True
