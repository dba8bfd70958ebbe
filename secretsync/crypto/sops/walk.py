"""The tree walk shared by encryption, decryption and the MAC, and the leaf selectors.

``walk(docs, on_leaf)`` visits every leaf depth-first in document order, as sops's
``walkBranch``/``walkSlice`` do, and replaces each leaf with what ``on_leaf``
returns. It keeps sops's comment stack (one list of comment texts per open
map/list level, cleared after each non-comment entry) for the comment-regex
selectors. ``Selectors.should_encrypt`` is sops's ``shouldBeEncrypted``; ``aad``
turns a key path into the AES-GCM additional data (``a:b:c:``; list indices are
not part of it).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from secretsync.crypto.sops.errors import ConflictingParameters, EncryptError
from secretsync.crypto.sops.tree import Branch, Comment, Item

__all__ = ["Selectors", "walk", "aad", "DEFAULT_UNENCRYPTED_SUFFIX", "SELECTOR_FIELDS"]

DEFAULT_UNENCRYPTED_SUFFIX = "_unencrypted"
SELECTOR_FIELDS = (
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
)

OnLeaf = Callable[[Any, Sequence[str], list[Any], bool], Any]


def aad(path: Sequence[str]) -> str:
    """The AAD of a leaf at ``path``: keys joined with ``:`` plus a trailing ``:``."""
    return ":".join(path) + ":"


@dataclass(frozen=True)
class Selectors:
    """Which leaves get encrypted: at most one of sops's six selectors (spec §3)."""

    unencrypted_suffix: str = ""
    encrypted_suffix: str = ""
    unencrypted_regex: str = ""
    encrypted_regex: str = ""
    unencrypted_comment_regex: str = ""
    encrypted_comment_regex: str = ""
    # Compiled in __post_init__ (not arguments, not compared):
    _unencrypted_regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _encrypted_regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _unencrypted_comment_regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _encrypted_comment_regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _key_matches: dict[str, Any] = field(init=False, repr=False, compare=False)
    _key_test: Callable[[str], bool] = field(init=False, repr=False, compare=False)
    _encrypt_if_matched: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = [name for name in SELECTOR_FIELDS if getattr(self, name)]
        if len(set_) > 1:
            raise ConflictingParameters(
                f"only one of {', '.join(SELECTOR_FIELDS)} may be set; found {', '.join(set_)}",
                hint="keep one selector (on the command line or in the .sops.yaml creation rule)",
            )
        for name in ("unencrypted_regex", "encrypted_regex", "unencrypted_comment_regex", "encrypted_comment_regex"):
            pattern = getattr(self, name)
            if pattern:
                try:
                    object.__setattr__(self, "_" + name, re.compile(pattern))
                except re.error as exc:
                    raise ConflictingParameters(f"{name} is not a valid regular expression: {exc.msg}") from None
            else:
                object.__setattr__(self, "_" + name, None)
        self._init_key_rule()

    def key_rule(self) -> tuple[dict[str, Any], Callable[[str], bool], bool] | None:
        """The selector as a rule on key names, for the walks that decide per path level.

        Returns ``(known, test, encrypt_if_matched)``: a leaf is encrypted when some key
        on its path matches (``encrypted_suffix``/``encrypted_regex``) or when none does
        (the ``unencrypted_*`` ones, and no selector at all) — what ``should_encrypt``
        computes per leaf. ``test(key)`` says whether a key name matches; ``known`` maps
        names already tested to the answer (callers fill it; the instance, and so the
        dict, is shared by every file with the same selector). ``None`` with a comment
        selector, which needs the comment stack: use ``should_encrypt``.
        """
        if self.uses_comments:
            return None
        known: dict[str, Any] = self._key_matches
        if len(known) > 4096:
            known.clear()
        return known, self._key_test, self._encrypt_if_matched

    def _init_key_rule(self) -> None:
        if self.unencrypted_suffix:
            suffix = self.unencrypted_suffix
            test, encrypt_if_matched = (lambda k: k.endswith(suffix)), False
        elif self.encrypted_suffix:
            suffix = self.encrypted_suffix
            test, encrypt_if_matched = (lambda k: k.endswith(suffix)), True
        elif self._unencrypted_regex is not None:
            search = self._unencrypted_regex.search
            test, encrypt_if_matched = (lambda k: search(k) is not None), False
        elif self._encrypted_regex is not None:
            search = self._encrypted_regex.search
            test, encrypt_if_matched = (lambda k: search(k) is not None), True
        else:
            test, encrypt_if_matched = (lambda k: False), False
        object.__setattr__(self, "_key_matches", {})
        object.__setattr__(self, "_key_test", test)
        object.__setattr__(self, "_encrypt_if_matched", encrypt_if_matched)

    @classmethod
    def default(cls) -> Selectors:
        return cls(unencrypted_suffix=DEFAULT_UNENCRYPTED_SUFFIX)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Selectors:
        """From metadata or config; none set → the default ``_unencrypted`` suffix."""
        chosen = tuple((name, str(values[name])) for name in SELECTOR_FIELDS if values.get(name))
        return _selectors(chosen)

    def as_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in SELECTOR_FIELDS if getattr(self, name)}

    @property
    def uses_comments(self) -> bool:
        return bool(self.unencrypted_comment_regex or self.encrypted_comment_regex)

    def should_encrypt(self, path: Sequence[str], stack: list[Any], is_comment: bool) -> bool:
        """sops's ``shouldBeEncrypted`` for a leaf at ``path`` with comment ``stack`` (the walks
        use ``key_rule`` instead when no comment selector is set)."""
        encrypted = self._by_path(path)
        if self._unencrypted_comment_regex is not None:
            rx = self._unencrypted_comment_regex
            if any(rx.search(c) for level in stack for c in level):
                encrypted = False
        if self._encrypted_comment_regex is not None:
            return self._marked_by_comment(stack, is_comment)
        return encrypted

    def _by_path(self, path: Sequence[str]) -> bool:
        """``shouldBeEncrypted``'s key selectors (suffixes and key regexes) on the leaf's path."""
        encrypted = True
        if self.unencrypted_suffix:
            if any(k.endswith(self.unencrypted_suffix) for k in path):
                encrypted = False
        if self.encrypted_suffix:
            encrypted = any(k.endswith(self.encrypted_suffix) for k in path)
        if self._unencrypted_regex is not None:
            if any(self._unencrypted_regex.search(k) for k in path):
                encrypted = False
        if self._encrypted_regex is not None:
            search = self._encrypted_regex.search
            encrypted = any(search(k) for k in path)
        return encrypted

    def _marked_by_comment(self, stack: list[Any], is_comment: bool) -> bool:
        """``encrypted_comment_regex``: a comment above the leaf, at any level, matches (the
        marker comment itself stays clear)."""
        rx = self._encrypted_comment_regex
        if rx is None:
            return False
        last_level = len(stack) - 1
        last_index = len(stack[-1]) - 1 if stack else -1
        for i, level in enumerate(stack):
            for j, c in enumerate(level):
                if is_comment and i == last_level and j == last_index:
                    continue
                if rx.search(c):
                    return True
        return False


@functools.lru_cache(maxsize=64)
def _selectors(chosen: tuple[Any, ...]) -> Selectors:
    """Selectors are immutable: files with the same selector share one (compiled) instance."""
    return Selectors(**dict(chosen)) if chosen else Selectors.default()


def walk(docs: list[Branch], on_leaf: OnLeaf) -> None:
    """Visit every leaf of every document in order; ``on_leaf(value, path, stack, is_comment)``
    returns the replacement. Nulls are skipped (never encrypted, never in the MAC)."""
    for doc in docs:
        _walk_branch(doc, [], [], on_leaf)


def _walk_value(value: Any, path: list[str], stack: list[Any], on_leaf: OnLeaf) -> Any:
    if isinstance(value, Branch):
        _walk_branch(value, path, stack, on_leaf)
        return value
    if isinstance(value, list):
        _walk_list(value, path, stack, on_leaf)
        return value
    if value is None:
        return None
    return on_leaf(value, path, stack, isinstance(value, Comment))


def _walk_list(items: list[Any], path: list[str], stack: list[Any], on_leaf: OnLeaf) -> None:
    stack = stack + [[]]
    for i, v in enumerate(items):
        is_comment = isinstance(v, Comment)
        if is_comment:
            stack[-1].append(v.value)
        items[i] = _walk_value(v, path, stack, on_leaf)
        if not is_comment:
            stack[-1] = []


def _walk_branch(branch: Branch, path: list[str], stack: list[Any], on_leaf: OnLeaf) -> None:
    stack = stack + [[]]
    for item in branch:
        key = item.key
        if isinstance(key, Comment):
            stack[-1].append(key.value)
            new = on_leaf(key, path, stack, True)
            item.key = new if isinstance(new, Comment) else Comment(str(new))
            continue
        value_is_comment = isinstance(item.value, Comment)
        if value_is_comment:
            stack[-1].append(item.value.value)
        if not isinstance(key, str):
            raise EncryptError(
                f"the tree contains a non-string key at {aad(path)!r}: only string keys are supported",
                hint="quote the key in the file",
            )
        item.value = _walk_value(item.value, path + [key], stack, on_leaf)
        if not value_is_comment:
            stack[-1] = []


def copy_tree(node: Any) -> Any:
    """A deep copy of a tree (branches, lists, items); scalars are shared (immutable)."""
    if isinstance(node, Branch):
        return Branch(Item(item.key, copy_tree(item.value)) for item in node)
    if isinstance(node, list):
        return [copy_tree(v) for v in node]
    return node
