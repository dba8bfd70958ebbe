"""sops's flattened metadata for the flat formats (dotenv, INI): nested keys ⇄ one level.

Nested map keys are joined with ``__map_`` and list indices with ``__list_<i>``
(``age__list_0__map_enc``); newlines in values are written as the two characters
``\\n``; booleans become ``true``/``false`` and numbers their decimal text; nulls and
empty lists are omitted (spec §8). Used by the dotenv and INI stores only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from secretsync.crypto.sops.tree import Branch, Item, to_plain

__all__ = ["flatten", "unflatten"]

_TOKEN = re.compile(r"__(list|map)_")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _walk(prefix: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(f"{prefix}__map_{k}" if prefix else str(k), v)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(f"{prefix}__list_{i}", v)
    elif value is None:
        return
    else:
        yield prefix, _text(value)


def flatten(block: Any) -> list[tuple[str, str]]:
    """(key, value) pairs of a metadata block, sorted by key, newlines as ``\\n``."""
    plain = to_plain(block) if isinstance(block, Branch) else block
    pairs = [(k, v.replace("\n", "\\n")) for k, v in _walk("", plain)]
    return sorted(pairs)


def unflatten(pairs: list[tuple[str, str]]) -> Branch:
    """The nested metadata block from flattened pairs (values already have real newlines)."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = _TOKEN.split(key)
        node: Any = root
        steps: list[tuple[str, Any]] = [("map", parts[0])]
        for kind, name in zip(parts[1::2], parts[2::2]):
            steps.append((kind, int(name) if kind == "list" and name.isdigit() else name))
        for i, (_kind, name) in enumerate(steps):
            last = i == len(steps) - 1
            next_kind = None if last else steps[i + 1][0]
            if last:
                node[name] = value
            else:
                if name not in node:
                    node[name] = {} if next_kind == "map" else {"__list__": True}
                node = node[name]
    branch: Branch = _to_branch(root)
    return branch


def _to_branch(node: Any) -> Any:
    if isinstance(node, dict):
        if node.get("__list__") is True:
            indices = sorted(k for k in node if k != "__list__")
            return [_to_branch(node[i]) for i in indices]
        return Branch(Item(k, _to_branch(v)) for k, v in node.items())
    return node
