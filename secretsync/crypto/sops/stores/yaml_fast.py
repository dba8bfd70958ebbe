"""A restricted fast path for the YAML store's loader: the common shape only, else ``None``.

Most sops YAML files (and every file sops itself writes without comments) are block
mappings and lists of one-line scalars plus the ``enc: |`` literal blocks of the
metadata. For those, building PyYAML's event objects costs more than the rest of the
decryption; ``load_fast`` reads that shape straight from the lines and returns the same
``Branch`` documents as ``stores.yaml.load`` (typing by the same ``goyaml.resolve_plain``).

It accepts only, and declines (returns ``None``) on anything else, so the full loader
handles it and raises its usual errors: one document of printable ASCII ending in a
newline; no ``#``, tab, CR, blank line, trailing space, ``---``/``...``/``%`` line;
block maps whose keys are plain strings (``[A-Za-z0-9_.][A-Za-z0-9_./-]*``, typed as a
string, not repeated); block lists (also indentless under a key) of such maps or of
scalars; values that are one-line plain scalars (not starting with an indicator, no
``": "``, not ending in ``:``), quotes without escapes or the quote inside, or ``|`` /
``|-`` literal blocks whose lines are all indented past the map. Values the full
loader refuses (uint64, zone offsets of 24 h) are declined too. Equivalence with the
full loader is tested differentially (tests/sops/yaml/test_fast_path.py).
"""

from __future__ import annotations

import re
from typing import Any

from secretsync.crypto.sops.stores import goyaml
from secretsync.crypto.sops.tree import Branch, Item

__all__ = ["load_fast"]

_MAX_DEPTH = 64
_MAX_KEY = 512  # libyaml refuses a simple key longer than 1024 characters
_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\n"  # deleted by translate: what remains is outside the grammar
# "key:" or "key: value"; a value never ends in a space (YAML would drop it: left to the full loader)
_KEY = r"([A-Za-z0-9_.][A-Za-z0-9_./-]*):(?: (.*[^ ]))?\Z"
_KEY_LINE = re.compile(_KEY)  # a "key: value" from a given column
_LINE = re.compile(r"( *)(- )?" + _KEY)  # the same from the line start, with indent and "- "
_PLAIN_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./+=~$(<;^")
# First characters after which go-yaml's resolve keeps a plain scalar a string without looking further.
_STR_FIRST = _PLAIN_FIRST - frozenset("yYnNtTfFoO~+-0123456789.")
_DOUBLE = re.compile(r'"[^"\\]*"\Z')
_SINGLE = re.compile(r"'[^']*'\Z")
_STR = goyaml.STR
_UINT64, _BAD_TIME = goyaml.UINT64, goyaml.UNENCODABLE_TIME
_resolve_plain = goyaml.resolve_plain


class _Decline(Exception):
    """The text is outside the fast path's grammar."""


def load_fast(data: bytes) -> list[Branch] | None:
    """The documents of ``data`` as ``stores.yaml.load`` gives them, or ``None`` (use the full loader).

    The caller applies the size limit first."""
    if data.__class__ is not bytes or not data or not data.isascii() or data.translate(None, _PRINTABLE):
        return None
    text = data.decode("ascii")
    if text[-1] != "\n" or text[0] in " \n-" or "#" in text:
        return None
    lines = text.split("\n")
    lines.pop()
    if "" in lines:  # a blank line (lines of spaces, '---' and '...' are declined by _parse)
        return None
    try:
        return [_parse(lines)]
    except _Decline:
        return None


def _scalar(text: str) -> Any:
    """The typed value of a one-line scalar, or ``_Decline``."""
    first = text[0]
    if text[-1] == " ":
        raise _Decline
    if first in _PLAIN_FIRST or (first == "-" and text[1:2] not in ("", " ")):
        if ": " in text or text[-1] == ":":
            raise _Decline
        if first in _STR_FIRST:
            return text
        value = _resolve_plain(text)[1]
        if value is _UINT64 or value is _BAD_TIME:
            raise _Decline
        return value
    if first == '"':
        if _DOUBLE.match(text) is None:
            raise _Decline
        return text[1:-1]
    if first == "'":
        if _SINGLE.match(text) is None:
            raise _Decline
        return text[1:-1]
    raise _Decline


def _literal(lines: list[str], i: int, column: int, text: str) -> tuple[str, int]:
    """A ``|`` or ``|-`` block scalar whose body starts at line ``i``, for a key at ``column``:
    (its value, the index of the line after it)."""
    if text == "|":
        clip = True
    elif text == "|-":
        clip = False
    else:
        raise _Decline
    n = len(lines)
    if i == n:
        raise _Decline
    body = lines[i]
    width = len(body) - len(body.lstrip(" "))
    if width <= column:
        raise _Decline  # an empty block: rare, left to the full loader
    start = i
    while i < n:
        body = lines[i]
        indent = len(body) - len(body.lstrip(" "))
        if indent < width:
            if indent > column:
                raise _Decline
            break
        if body[-1] == " ":
            raise _Decline  # trailing or whitespace-only lines in a block: left to the full loader
        i += 1
    value = "\n".join([body[width:] for body in lines[start:i]])
    return (value + "\n" if clip else value), i


# Rated F by radon, kept in one piece on purpose: this loop is the YAML fast path that
# bench/sops.py measures (the decrypt of a small file is ~2x the crypto floor, and this parse is
# most of the rest). Its state (column, top, seen, indentless, pending, owner, i) lives in
# locals; splitting the per-line steps into functions would pass and return that state on every
# line, which costs more than the split is worth. Only the rare ``|`` block is a function.
def _parse(lines: list[str]) -> Branch:
    """One pass over the lines with a stack of open blocks (no recursion, one match per line).

    A stack entry is (column, container, keys seen — ``None`` for a list —, whether the list is
    indentless, i.e. at its parent map's column)."""
    n = len(lines)
    line_match = _LINE.match
    root = Branch()
    stack: list[tuple[int, Any, set[str] | None, bool]] = [(0, root, set(), False)]
    column, top, seen, indentless = stack[0]
    pending = None  # a key whose value (a nested block, or null) starts on a later line
    owner = root  # ... and the map it belongs to
    i = 0
    while i < n:
        line = lines[i]
        m = line_match(line)
        if m is not None:
            spaces, dash, key, text = m.groups()
            at = len(spaces)
        else:  # not a key line: a "- scalar" list entry, or outside the grammar
            at = len(line) - len(line.lstrip(" "))
            dash = line.startswith("- ", at)
            if not dash:
                raise _Decline
        if pending is not None:
            if at > column or (at == column and dash):
                block: list[Any] = [] if dash else Branch()
                owner.append(Item(pending, block))
                stack.append((at, block, None if dash else set(), at == column))
                if len(stack) > _MAX_DEPTH:
                    raise _Decline
                column, top, seen, indentless = stack[-1]
            else:
                owner.append(Item(pending, None))
            pending = None
        while at < column or (indentless and at == column and not dash):
            stack.pop()
            column, top, seen, indentless = stack[-1]
        if at != column:
            raise _Decline  # deeper than the open block: a continuation or an error
        if seen is None:  # a list entry
            if not dash:
                raise _Decline
            if m is None:
                rest = line[at + 2 :]
                if not rest or (rest[0] == "-" and rest[1:2] in ("", " ")):
                    raise _Decline  # '- ' with nothing after it, or a nested '- - x'
                top.append(_scalar(rest))
                i += 1
                continue
            block = Branch()  # a map entry: its first key is on this line
            top.append(block)
            column, top, seen, indentless = at + 2, block, set(), False
            stack.append((column, top, seen, indentless))
            if len(stack) > _MAX_DEPTH:
                raise _Decline
        elif dash:
            raise _Decline  # "- " where a map key belongs
        if (
            key in seen
            or len(key) > _MAX_KEY
            or (key[0] not in _STR_FIRST and (_resolve_plain(key)[0] != _STR or key.startswith("...")))
        ):
            raise _Decline  # a repeated or long key, one go-yaml types as a number, bool, null or time, '...'

        seen.add(key)
        i += 1
        if text is None:
            pending, owner = key, top
            continue
        first = text[0]
        if first in _STR_FIRST:  # a plain string (the common case, inlined from _scalar)
            if ": " in text or text[-1] == ":":
                raise _Decline
            value = text
        elif first == "|":
            value, i = _literal(lines, i, column, text)
        else:
            value = _scalar(text)
        top.append(Item(key, value))
    if pending is not None:
        owner.append(Item(pending, None))
    return root
