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
full loader is tested differentially (tests/sops_yaml/test_fast_path.py).
"""

from __future__ import annotations

import re

from secretsync.crypto.sops.stores import goyaml
from secretsync.crypto.sops.tree import Branch, Item

__all__ = ["load_fast"]

_MAX_DEPTH = 64
_MAX_KEY = 512   # libyaml refuses a simple key longer than 1024 characters
_PRINTABLE = bytes(range(0x20, 0x7f)) + b"\n"   # deleted by translate: what remains is outside the grammar
_KEY_LINE = re.compile(r"([A-Za-z0-9_.][A-Za-z0-9_./-]*):(?: (.+))?\Z")
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
    if (text[-1] != "\n" or text[0] in " \n-" or "#" in text or " \n" in text or "\n\n" in text
            or "\n---" in text or "\n..." in text or text.startswith(("---", "..."))):
        return None
    lines = text.split("\n")
    lines.pop()
    try:
        doc, end = _map(lines, 0, 0, 0, 0)
    except _Decline:
        return None
    if end != len(lines):
        return None
    return [doc]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _scalar(text: str):
    """The typed value of a one-line scalar, or ``_Decline``."""
    first = text[0]
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


def _map(lines: list[str], i: int, col: int, indent: int, depth: int):
    """A block map at column ``indent``; its first key is on line ``i`` from column ``col``.

    Returns (Branch, index of the first line after it)."""
    if depth > _MAX_DEPTH:
        raise _Decline
    n = len(lines)
    match = _KEY_LINE.match
    pad = " " * indent
    out = Branch()
    seen = set()
    append = out.append
    while True:
        m = match(lines[i], col)
        if m is None:
            raise _Decline
        key, text = m.groups()
        if key in seen or len(key) > _MAX_KEY or (key[0] not in _STR_FIRST and _resolve_plain(key)[0] != _STR):
            raise _Decline
        seen.add(key)
        i += 1
        if text is None:
            value, i = _block_value(lines, i, indent, depth)
        elif text[0] in _STR_FIRST:  # a plain string (the common case, inlined from _scalar)
            if ": " in text or text[-1] == ":":
                raise _Decline
            value = text
        elif text[0] == "|":
            if text == "|":
                value, i = _literal(lines, i, indent, True)
            elif text == "|-":
                value, i = _literal(lines, i, indent, False)
            else:
                raise _Decline
        else:
            value = _scalar(text)
        append(Item(key, value))
        if i == n:
            return out, i
        line = lines[i]
        if line[indent:indent + 1] == " " or not line.startswith(pad):   # not at this map's column
            if _indent(line) < indent:
                return out, i
            raise _Decline
        col = indent


def _block_value(lines: list[str], i: int, indent: int, depth: int):
    """The value of a key with nothing after its ``:`` (a nested block, or null)."""
    if i == len(lines):
        return None, i
    line = lines[i]
    at = _indent(line)
    if at > indent:
        if line.startswith("- ", at):
            return _seq(lines, i, at, depth + 1)
        return _map(lines, i, at, at, depth + 1)
    if at == indent and line.startswith("- ", at):
        return _seq(lines, i, at, depth + 1)   # indentless list under a key
    return None, i


def _seq(lines: list[str], i: int, indent: int, depth: int):
    """A block list whose ``- `` entries sit at column ``indent``."""
    if depth > _MAX_DEPTH:
        raise _Decline
    n = len(lines)
    out: list = []
    col = indent + 2
    while True:
        line = lines[i]
        if line[col] == "-" and line[col + 1:col + 2] in ("", " "):
            raise _Decline   # nested '- - x'
        if _KEY_LINE.match(line, col) is not None:
            value, i = _map(lines, i, col, col, depth + 1)
        else:
            value = _scalar(line[col:])
            i += 1
        out.append(value)
        if i == n:
            return out, i
        line = lines[i]
        at = _indent(line)
        if at != indent:
            if at < indent:
                return out, i
            raise _Decline
        if not line.startswith("- ", at):
            return out, i   # only valid after an indentless list; the map checks the key


def _literal(lines: list[str], i: int, indent: int, clip: bool):
    """A ``|`` (clip) or ``|-`` (strip) block whose lines are all indented past ``indent``."""
    n = len(lines)
    if i == n:
        raise _Decline
    width = _indent(lines[i])
    if width <= indent:
        raise _Decline   # empty block: rare, left to the full loader
    start = i
    while i < n:
        at = _indent(lines[i])
        if at < width:
            if at > indent:
                raise _Decline
            break
        i += 1
    body = "\n".join([line[width:] for line in lines[start:i]])
    return (body + "\n" if clip else body), i
