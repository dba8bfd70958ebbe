"""Block YAML emitter that writes a sops tree byte for byte as sops 3.11 does (internal).

sops turns the tree into go-yaml v3 nodes (comments before a collection's first entry
become that collection's head comment, comments before an entry that entry's head
comment, trailing comments the last entry's foot comment) and encodes them with
``SetIndent(4)``. This module reproduces the libyaml-derived emitter for those
shapes:

* indentation: a block collection under a map key is indented to the next multiple
  of ``indent``; inside a ``- `` item it is indented by 2 (so ``- key: v`` keeps its
  keys aligned after the dash); literal block text likewise;
* empty maps and lists are ``{}`` / ``[]``; everything else is block style; no line
  wrapping;
* scalars: ``null``, ``true``/``false``, decimal ints, floats as Go's ``%g``
  (``1e+06``, ``.inf``), timestamps as RFC3339Nano; strings: literal ``|``/``|-``/``|+``
  when they contain a newline, double quotes when plain text would read back as
  another type (or a YAML 1.1 bool such as ``yes``, or ``1:20``), else plain, or
  single quotes when libyaml's analysis forbids plain (leading/trailing space,
  indicators, ``: ``, `` #``), or double quotes with escapes (``\\t``, ``\\U0001F600``
  for characters outside the BMP) when single quotes cannot hold it; keys are never
  block scalars, and keys over 128 bytes use ``? ``; non-UTF-8 bytes are ``!!binary``
  base64; the string ``<<`` is written ``!!merge <<``;
* comments are written as ``#text`` lines at the indentation of what they precede
  (a list's or an item map's head comment goes before the ``-``), foot comments at
  the indentation of the entries they follow; libyaml keeps one pending head
  comment, so a list's is replaced by its first item's own, and an empty flow
  list's is written at the next place that writes head comments;
* go-yaml quirks kept on purpose: characters outside the BMP are ``\\U...`` escapes, a
  string starting with U+FEFF is escaped entirely, and a ``|4-`` block in a list item
  (text starting with a space or newline) is unreadable YAML, as sops writes it;
* documents after the first start with ``---``.
"""

from __future__ import annotations

import base64
import datetime as _dt
import re
from typing import Any

from secretsync.crypto.sops.stores import goyaml
from secretsync.crypto.sops.tree import Branch, Comment
from secretsync.secretvalue import SecretBytes

__all__ = ["emit_documents", "emit_value"]

_BREAKS = "\n\r\x85\u2028\u2029"
_HAS_BREAK = re.compile("[\n\r\x85\u2028\u2029]")


def _printable(ch: str) -> bool:
    o = ord(ch)
    return o == 0x0A or 0x20 <= o <= 0x7E or 0xA0 <= o <= 0xD7FF or (0xE000 <= o <= 0xFFFD and o != 0xFEFF)


# Text that libyaml's analysis surely allows plain (the common case, checked quickly).
_SURELY_PLAIN = re.compile(
    r"[A-Za-z0-9_/(](?:[A-Za-z0-9_./=+~$^()<>;@%!&*|,?'\"\[\]{}-]"
    r"| +(?=[^ #])|:(?=[^ ]))*\Z"
)


def _has_block_indicator(value: str) -> bool:
    """libyaml's ``block_indicators`` of ``yaml_emitter_analyze_scalar``: a character that plain
    style cannot start with, or a ``: ``/`` #`` inside."""
    if value.startswith("---") or value.startswith("..."):
        return True
    preceded_ws = True
    n = len(value)
    for i, ch in enumerate(value):
        followed_ws = i + 1 >= n or value[i + 1] in " \t" or value[i + 1] in _BREAKS
        if i == 0:
            if ch in "#,[]{}&*!|>'\"%@`" or (ch in "?:-" and followed_ws):
                return True
        elif (ch == ":" and followed_ws) or (ch == "#" and preceded_ws):
            return True
        preceded_ws = ch in " \t" or ch in _BREAKS or ch == "\0"
    return False


def _spacing(value: str) -> tuple[bool, bool, bool, bool, bool]:
    """The rest of libyaml's scalar analysis: (line breaks, special characters, tabs, a space
    after a break, a break after a space)."""
    line_breaks = special = tabs = break_space = space_break = False
    previous_space = previous_break = False
    for ch in value:
        if ch == "\t":
            tabs = True
        elif not _printable(ch):
            special = True
        if ch == " ":
            break_space = break_space or previous_break
            previous_space, previous_break = True, False
        elif ch in _BREAKS:
            line_breaks = True
            space_break = space_break or previous_space
            previous_space, previous_break = False, True
        else:
            previous_space = previous_break = False
    return line_breaks, special, tabs, break_space, space_break


class _Analysis:
    """libyaml's ``yaml_emitter_analyze_scalar``: which styles may write ``value`` (plain in block
    context, single-quoted, literal/folded block) and whether it spans lines."""

    __slots__ = ("multiline", "block_plain", "single", "block")

    def __init__(self, value: str):
        if _SURELY_PLAIN.match(value) and not value.startswith("..."):
            self.multiline, self.block_plain, self.single, self.block = False, True, True, True
            return
        if not value:
            self.multiline, self.block_plain, self.single, self.block = False, True, True, False
            return
        line_breaks, special, tabs, break_space, space_break = _spacing(value)
        edges = value[0] == " " or value[0] in _BREAKS or value[-1] in _BREAKS
        trailing_space = value[-1] == " "
        single = not (break_space or space_break or tabs or special)
        self.multiline = line_breaks
        self.single = single
        self.block = not (trailing_space or space_break or special)
        self.block_plain = single and not (edges or trailing_space or line_breaks or _has_block_indicator(value))


_ESCAPES = {
    0x00: "0",
    0x07: "a",
    0x08: "b",
    0x09: "t",
    0x0A: "n",
    0x0B: "v",
    0x0C: "f",
    0x0D: "r",
    0x1B: "e",
    0x22: '"',
    0x5C: "\\",
    0x85: "N",
    0xA0: "_",
    0x2028: "L",
    0x2029: "P",
}


class _Writer:
    """libyaml's output state: column, whether we are at an indentation, foot separation."""

    def __init__(self, best_indent: int):
        self.parts: list[str] = []
        self.column = 0
        self.whitespace = True
        self.indention = True
        self.indent = -1
        self.best = best_indent
        self.foot_indent = -1
        self.carry: list[str] = []  # head comment of an empty flow list, not yet written

    def put(self, s: str) -> None:
        self.parts.append(s)
        self.column += len(s)

    def put_break(self) -> None:
        self.parts.append("\n")
        self.column = 0
        self.indention = True

    def write_indent(self, indent: int | None = None) -> None:
        indent = self.indent if indent is None else indent
        indent = max(indent, 0)
        if not self.indention or self.column > indent or (self.column == indent and not self.whitespace):
            self.put_break()
        if self.foot_indent == indent:
            self.put_break()
        if self.column < indent:
            self.put(" " * (indent - self.column))
        self.whitespace = True
        self.foot_indent = -1

    def indicator(self, text: str, need_whitespace: bool, is_whitespace: bool, is_indention: bool) -> None:
        if need_whitespace and not self.whitespace:
            self.put(" ")
        self.put(text)
        self.whitespace = is_whitespace
        self.indention = self.indention and is_indention

    def comment(self, lines: list[str]) -> None:
        for n, text in enumerate(lines):
            if n:
                self.write_indent()
            self.put("#" + text)
            self.indention = False
            self.put_break()
        self.whitespace = True

    def head_comment(self, lines: list[str]) -> None:
        if not lines and not self.carry:
            return
        if not lines and self.carry:
            lines = self.carry
        self.carry = []
        if lines:
            self.write_indent()
            self.comment(lines)

    def foot_comment(self, lines: list[str]) -> None:
        if lines:
            self.write_indent()
            self.comment(lines)
            self.foot_indent = max(self.indent, 0)

    # ---------------------------------------------------------------- scalars
    def scalar(self, value: Any, simple_key: bool, scalar_text: tuple[str, str, str] | None = None) -> None:
        text, style, tag = scalar_text or _scalar_text(value)
        if tag:
            self.indicator(tag, True, False, False)
        if style == "plain":
            self.plain(text, simple_key)
            return
        if style == "literal":
            analysis = _Analysis(text)
            if not analysis.block or simple_key:
                style = "double"
            else:
                self.literal(text)
                return
        if style == "double":
            self.double(text)
            return
        self.single(text)  # pragma: no cover - chosen inside plain()

    def plain(self, text: str, simple_key: bool) -> None:
        analysis = _Analysis(text)
        if simple_key and analysis.multiline:
            self.double(text)
        elif not analysis.block_plain:
            if analysis.single:
                self.single(text)
            else:
                self.double(text)
        else:
            if text and not self.whitespace:
                self.put(" ")
            self.put(text)
            self.whitespace = False
            self.indention = False

    def single(self, text: str) -> None:
        self.indicator("'", True, False, False)
        self._lines(text, single=True)
        self.indicator("'", False, False, False)

    def _lines(self, text: str, single: bool) -> None:
        """Write text whose line breaks restart at the indentation (quoted or block scalar)."""
        breaks = not single
        for ch in text:
            if ch in _BREAKS:
                if single and not breaks and ch == "\n":
                    self.put_break()
                if ch == "\n":
                    self.put_break()
                else:  # other breaks are written as they are and count as a new line
                    self.parts.append(ch)
                    self.column = 0
                    self.indention = True
                breaks = True
            else:
                if breaks:
                    self.write_indent()
                self.put("''" if single and ch == "'" else ch)
                self.indention = False
                breaks = False

    def double(self, text: str) -> None:
        self.indicator('"', True, False, False)
        out = []
        escape_all = text.startswith("\ufeff")  # go-yaml's is_bom looks at the first character only
        for ch in text:
            o = ord(ch)
            if escape_all or not _printable(ch) or ch in _BREAKS or ch == '"' or ch == "\\":
                if o in _ESCAPES:
                    out.append("\\" + _ESCAPES[o])
                elif o <= 0xFF:
                    out.append(f"\\x{o:02X}")
                elif o <= 0xFFFF:
                    out.append(f"\\u{o:04X}")
                else:
                    out.append(f"\\U{o:08X}")
            else:
                out.append(ch)
        self.put("".join(out))
        self.indicator('"', False, False, False)

    def literal(self, text: str) -> None:
        self.indicator("|", True, False, False)
        if text[:1] == " " or text[:1] in _BREAKS and text:
            self.indicator(str(self.best), False, False, False)
        if not text or text[-1] not in _BREAKS:
            self.indicator("-", False, False, False)
        elif len(text) == 1 or text[-2] in _BREAKS:
            self.indicator("+", False, False, False)
        self.put_break()
        self.whitespace = True
        self._lines(text, single=False)


def _base64_lines(data: bytes) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    if len(encoded) < 70:
        return encoded
    return "".join(encoded[i : i + 70] + "\n" for i in range(0, len(encoded), 70))


def _scalar_text(value: Any) -> tuple[str, str, str]:
    """(text, requested style, tag) as go-yaml's encoder produces them for a Go value."""
    if type(value) is str and "\n" not in value and value != "<<":
        return value, "double" if goyaml.needs_quotes(value) else "plain", ""
    if value is None:
        return "null", "plain", ""
    if value is True:
        return "true", "plain", ""
    if value is False:
        return "false", "plain", ""
    if isinstance(value, int):
        return str(value), "plain", ""
    if isinstance(value, float):
        return goyaml.format_float(value), "plain", ""
    if isinstance(value, _dt.datetime):
        return goyaml.format_time(value), "plain", ""
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            text = _base64_lines(bytes(value))
            return text, "literal" if "\n" in text else "plain", "!!binary"
    if isinstance(value, str):
        if "\n" in value:
            return value, "literal", ""
        if value == "<<":
            return value, "plain", "!!merge"
        if goyaml.needs_quotes(value):
            return value, "double", ""
        return value, "plain", ""
    if isinstance(value, SecretBytes):  # plaintext on its way to the user's output
        return _scalar_text(value.reveal())
    raise TypeError(f"cannot emit a value of type {type(value).__name__} as YAML")


class _Emitter:
    def __init__(self, best_indent: int):
        self.w = _Writer(best_indent)
        self.best = best_indent
        self.states: list[str] = []  # "seq-item" / "map-key": the state libyaml pushed

    def increase_indent(self) -> None:
        w = self.w
        self._indents.append(w.indent)
        if w.indent < 0:
            w.indent = 0
        elif self.states and self.states[-1] == "seq-item":
            w.indent += 2
        else:
            w.indent = self.best * ((w.indent + self.best) // self.best)

    def pop_indent(self) -> None:
        self.w.indent = self._indents.pop()

    def document(self, branch: Branch, first: bool) -> None:
        w = self.w
        self._indents: list[int] = []
        if not first:
            w.write_indent()
            w.indicator("---", True, False, False)
            w.write_indent()
        self.pending_head: list[str] = []
        self.node(branch, context="root")
        # document end
        w.foot_indent = 0
        w.foot_indent = -1
        w.write_indent()

    # A node's comments as sops attaches them to go-yaml nodes
    @staticmethod
    def _split_map(branch: Branch) -> tuple[list[str], list[tuple[list[str], str, Any]], list[str]]:
        head: list[str] = []
        entries: list[tuple[list[str], str, Any]] = []  # (head comments, key, value)
        pending: list[str] = []
        for item in branch:
            if isinstance(item.key, Comment):
                pending.append(item.key.value)
            elif not entries and not head and pending is not None and entries == []:
                head, pending = pending, []
                entries.append(([], item.key, item.value))
            else:
                entries.append((pending, item.key, item.value))
                pending = []
        if not entries:
            return pending, [], []
        return head, entries, pending

    @staticmethod
    def _split_seq(items: list[Any]) -> tuple[list[str], list[tuple[list[str], Any]], list[str]]:
        head: list[str] = []
        entries: list[tuple[list[str], Any]] = []
        pending: list[str] = []
        for item in items:
            if isinstance(item, Comment):
                pending.append(item.value)
            elif not entries:
                head, pending = pending, []
                entries.append(([], item))
            else:
                entries.append((pending, item))
                pending = []
        if not entries:
            return pending, [], []
        return head, entries, pending

    def node(self, value: Any, context: str, item_head: list[str] | None = None) -> None:
        """Emit ``value``; ``context`` is root / map-value / seq-item."""
        w = self.w
        if isinstance(value, Branch):
            self._map_node(value, context, item_head)
            return
        if isinstance(value, list):
            self._seq_node(value, context, item_head)
            return
        # scalar (only text with line breaks uses the indentation libyaml pushes for it)
        if item_head:
            w.head_comment(item_head)
        scalar_text = _scalar_text(value)
        if scalar_text[1] != "literal" and not _HAS_BREAK.search(scalar_text[0]):
            w.scalar(value, False, scalar_text)
            return
        self.increase_indent()
        w.scalar(value, False, scalar_text)
        self.pop_indent()

    def _map_node(self, value: Branch, context: str, item_head: list[str] | None) -> None:
        w = self.w
        head, entries, foot = self._split_map(value)
        head = (item_head or []) + head
        if not entries:
            self._empty("{}", head, context, foot)
            return
        if context in ("root", "seq-item"):
            w.head_comment(head)
            head = []
        self.increase_indent()
        for n, (key_head, key, item_value) in enumerate(entries):
            w.head_comment((head if n == 0 else []) + key_head)
            w.write_indent()
            self.key(key)
            self.states.append("map-key")
            self.map_value(item_value)
            self.states.pop()
        self._tail(foot)
        self.pop_indent()

    def _seq_node(self, value: list[Any], context: str, item_head: list[str] | None) -> None:
        w = self.w
        head, entries, foot = self._split_seq(value)
        head = (item_head or []) + head
        if not entries:
            self._empty("[]", head, context, foot)
            return
        if context in ("root", "seq-item"):
            w.head_comment(head)
            head = []
        self.increase_indent()
        for n, (item_head_c, item) in enumerate(entries):
            comments = (head if n == 0 else []) + item_head_c
            if isinstance(item, (Branch, list)):
                # the item's own head comment is written before the dash
                sub_head, sub_entries = (
                    self._split_map(item)[:2] if isinstance(item, Branch) else self._split_seq(item)[:2]
                )
                if sub_head:  # empty collections: all their comments are a head comment
                    if n == 0:
                        # libyaml keeps one pending head comment: the first item's own
                        # replaces the list's when the list's was not written yet
                        comments = []
                    w.head_comment(comments + sub_head)
                    comments = []
                    item = _without_head(item) if sub_entries else type(item)()
            w.head_comment(comments)
            w.write_indent()
            w.indicator("-", True, False, True)
            self.states.append("seq-item")
            self.node(item, "seq-item")
            self.states.pop()
            if n == len(entries) - 1:
                w.foot_comment(foot)
        self.pop_indent()

    def _tail(self, foot: list[str]) -> None:
        w = self.w
        if foot:  # libyaml writes a map's tail comment, then any pending head comment
            w.write_indent()
            w.comment(foot)
            w.foot_indent = max(w.indent, 0)
        if w.carry:
            w.head_comment([])

    def _empty(self, text: str, head: list[str], context: str, foot: list[str]) -> None:
        w = self.w
        comments = head + foot
        if comments and context == "root":
            w.head_comment(comments)
            comments = []
        if text == "[]" and comments:
            # a flow sequence does not write its head comment: the next place that writes
            # head comments does, unless that node brings its own
            w.indicator("[]", True, False, False)
            w.carry = comments
            return
        w.indicator(text[0], True, True, False)
        if comments:
            w.write_indent(max(w.indent, 0) + self.best)
            w.comment(comments)
            w.write_indent()
        w.indicator(text[1], False, False, False)

    def key(self, key: str) -> None:
        w = self.w
        scalar_text = text, style, tag = _scalar_text(key)
        size = len(text) + len(tag) if len(text) <= 32 else len(text.encode("utf-8")) + len(tag)
        if size > 128 or style == "literal" or _Analysis(text).multiline:
            w.indicator("?", True, False, True)
            self.states.append("map-key")
            self.increase_indent()
            w.scalar(key, simple_key=False)
            self.pop_indent()
            self.states.pop()
            w.write_indent()
            w.indicator(":", True, False, True)
            self._complex = True
            return
        self._complex = False
        w.scalar(key, True, scalar_text)
        w.indicator(":", False, False, False)

    def map_value(self, value: Any) -> None:
        self.node(value, "map-value")


def _without_head(item: list[Any]) -> list[Any]:
    """A Branch or list without its leading comment entries (the head comment, written apart)."""
    if isinstance(item, Branch):
        out = Branch()
        started = False
        for entry in item:
            if not started and isinstance(entry.key, Comment):
                continue
            started = True
            out.append(entry)
        return out
    items: list[Any] = []
    started = False
    for value in item:
        if not started and isinstance(value, Comment):
            continue
        started = True
        items.append(value)
    return items


def emit_documents(docs: list[Branch], indent: int = 4) -> bytes:
    """Emit ``docs`` like sops's ``EmitPlainFile`` (go-yaml v3, ``SetIndent(indent)``)."""
    best = indent if 2 <= indent <= 9 else 2
    emitter = _Emitter(best)
    for n, doc in enumerate(docs):
        emitter.document(doc, first=(n == 0))
    return "".join(emitter.w.parts).encode("utf-8")


def emit_value(value: Any) -> bytes:
    """What ``sops -d --extract PATH`` prints for a YAML file: strings (and bytes) raw,
    anything else through go-yaml's ``Marshal`` (indent 4), as sops's ``EmitValue``."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, SecretBytes):
        return value.reveal()
    emitter = _Emitter(4)
    emitter._indents = []
    if isinstance(value, (Branch, list)):
        emitter.node(value, "root")
    else:
        emitter.increase_indent()
        emitter.w.scalar(value, simple_key=False)
    emitter.w.foot_indent = -1
    emitter.w.write_indent()
    return "".join(emitter.w.parts).encode("utf-8")
