"""The in-memory sops tree shared by every store, the cipher walk and the MAC.

A document is a ``Branch``: an ordered list of ``Item(key, value)`` where ``key``
is a ``str`` or a ``Comment`` (a comment entry, whose ``value`` is ``None``).
Values are ``Branch`` (a map), ``list`` (a sequence; items may be ``Comment``),
or a scalar: ``str``, ``bytes`` (non-UTF-8 strings, binary store), ``bool``,
``int``, ``float``, ``datetime.datetime`` (YAML timestamps, type ``time``), or
``None`` (null). This mirrors ``sops.TreeBranch`` / ``sops.TreeItem``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["Comment", "Item", "Branch", "get", "to_plain"]


@dataclass(frozen=True)
class Comment:
    """A comment entry (text after the comment character, leading space kept)."""

    value: str


@dataclass(slots=True)  # slots: created for every map entry of every file, so kept small and quick
class Item:
    """One map entry; ``key`` is a string or a ``Comment`` (then ``value`` is ``None``)."""

    key: str | Comment
    value: Any = None


class Branch(list[Item]):
    """An ordered map with comment entries: a list of ``Item``."""

    def keys(self) -> Iterator[str]:
        return (item.key for item in self if not isinstance(item.key, Comment))

    def index_of(self, key: str) -> int:
        """The position of ``key``'s entry (the first one), or -1."""
        for i, item in enumerate(self):
            if item.key == key and not isinstance(item.key, Comment):
                return i
        return -1

    def get(self, key: str, default: Any = None) -> Any:
        for item in self:
            if item.key == key and not isinstance(item.key, Comment):
                return item.value
        return default

    def set(self, key: str, value: Any) -> None:
        """Replace the value of ``key``, or append the entry if it is missing."""
        for item in self:
            if item.key == key and not isinstance(item.key, Comment):
                item.value = value
                return
        self.append(Item(key, value))

    def remove(self, key: str) -> Any:  # type: ignore[override]
        """Remove ``key``'s entry and return its value (``KeyError`` if absent)."""
        for i, item in enumerate(self):
            if item.key == key and not isinstance(item.key, Comment):
                del self[i]
                return item.value
        raise KeyError(key)

    def __repr__(self) -> str:
        return f"Branch({list.__repr__(self)})"


def get(tree: Branch, *path: str, default: Any = None) -> Any:
    """Follow map keys ``path`` from ``tree``; ``default`` when a step is missing."""
    node: Any = tree
    for key in path:
        if not isinstance(node, Branch):
            return default
        node = node.get(key, _missing)
        if node is _missing:
            return default
    return node


_missing = object()


def to_plain(node: Any) -> Any:
    """Branches → dicts and lists without comment entries (for Kubernetes objects, JSON)."""
    if isinstance(node, Branch):
        out = {}
        for item in node:
            key, value = item.key, item.value
            if key.__class__ is str or not isinstance(key, Comment):  # str first: the common key
                out[key] = value if value.__class__ is str else to_plain(value)
        return out
    if isinstance(node, list):
        return [to_plain(v) for v in node if not isinstance(v, Comment)]
    return node


def from_plain(node: Any) -> Any:
    """dicts → Branches (key order kept), recursively; lists and scalars as they are."""
    if isinstance(node, dict):
        return Branch(Item(k, from_plain(v)) for k, v in node.items())
    if isinstance(node, list):
        return [from_plain(v) for v in node]
    return node
