"""Where go-yaml v3 + sops's YAML store put a comment in the tree (internal to ``stores.yaml``).

The loader finds comments in the text between two consecutive parser events and asks
this module which container (map or list) a comment belongs to and where in it. The
rules are a model of go-yaml v3's scanner (``scan_comments``, ``unroll_indent``) and
sops's ``nodeToTreeValue``, checked against ``sops -e`` (the AAD of each encrypted
comment names the container sops chose):

* A run of whole-line comments after content is split into parts like go-yaml does:
  a first part directly below the content and followed by a blank line, or a part
  followed by a line less indented than the innermost open block (and not at the
  part's own column), is a **foot**; the rest is a **head** of what follows.
* The first foot part belongs to the content just before it (its container, after
  it), unless it was split off by a blank line while less indented than the open
  block. Other foot parts go to the innermost closing block that has a comment of
  the run at its own column at or after them (go-yaml moves block ends before such
  comments; a closing list passes the comment on to the next closing map or key),
  else to the map the next key belongs to, or, before a ``- `` item, after the first
  scalar of that item (lost when the item is a flow collection).
* A head goes to the container of the next scalar (the next key or item, or the
  first key/item of a collection that starts there), before it; right before a
  ``- `` to that list; at the end of a document to the document root.
* Inside a flow collection comments stay in it, in order (lost if it is empty).
* A comment at the end of a line goes before the entry the line's content belongs
  to (``key: v # c`` → before ``key``; 3.11 then writes it as a head comment),
  except after a lone ``-`` (head of what follows), after a flow collection's
  closing bracket (first entry inside that collection), or after ``---`` (root).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from secretsync.crypto.sops.tree import Branch, Comment, Item

__all__ = ["Container", "FoundComment", "find_comments", "split_run"]

_LINE_BREAKS = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")


@dataclass(eq=False)
class Container:
    """An open collection while loading: the tree object plus what comment placement needs."""

    value: list[Any]  # the Branch or list being filled
    column: int  # column of its first entry (block) or of its bracket (flow)
    block: bool
    indentless: bool = False  # a block list at its parent key's column (no indent level)
    positions: list[Any] = field(default_factory=list)  # source index of each entry, in order
    comments: list[Any] = field(default_factory=list)  # (sort position, text)
    flow_comments: list[Any] = field(default_factory=list)  # whole-line comments inside a flow collection


@dataclass
class FoundComment:
    index: int  # source index of '#'
    line: int
    column: int
    text: str  # text after '#'
    inline: bool  # content precedes it on its line


def find_comments(text: str, start: int, end: int, line_starts: list[int]) -> list[FoundComment]:
    """Comments in ``text[start:end]`` (a gap between two parser events: no scalar text)."""
    found: list[FoundComment] = []
    gap = text[start:end]
    offset = 0
    while True:
        hit = gap.find("#", offset)
        if hit < 0:
            return found
        index = start + hit
        if (
            hit > 0
            and gap[hit - 1] not in " \t\r\n\x85\u2028\u2029"
            and index > 0
            and text[index - 1] not in " \t\r\n\x85\u2028\u2029"
        ):
            offset = hit + 1  # not a comment start ('#' glued to an indicator)
            continue
        m = _LINE_BREAKS.search(gap, hit)
        stop = m.start() if m else len(gap)
        line = _line_of(line_starts, index)
        column = index - line_starts[line]
        before = text[line_starts[line] : index]
        found.append(FoundComment(index, line, column, gap[hit + 1 : stop], before.strip(" \t") != ""))
        offset = stop


def _line_of(line_starts: list[int], index: int) -> int:
    import bisect

    return bisect.bisect_right(line_starts, index) - 1


def _is_foot(first: FoundComment, foot_line: int, prev_is_key: bool, indent: int) -> bool:
    """go-yaml's test for a run that closes the content above it: it starts on the line right after
    that content (which is not a key awaiting its value), or left of the current block's indent."""
    return (first.line == foot_line and not prev_is_key) or first.column < indent


def split_run(
    comments: list[FoundComment],
    prev_line: int,
    prev_is_key: bool,
    indent: int,
    next_line: int | None,
    next_column: int | None,
) -> list[tuple[str, list[FoundComment]]]:
    """Split a run of whole-line comments into ``(kind, [comments])`` parts, as go-yaml does.

    ``kind`` is ``"prior"`` (foot of the content just before the run), ``"next"`` (a
    foot handed to whatever token follows: a closing block or the next key) or
    ``"head"`` (head of the next node). ``prev_line`` is the last line holding
    content, ``indent`` libyaml's current block indentation, ``next_line`` /
    ``next_column`` where the following content starts (None at the end).
    """
    parts: list[tuple[str, list[FoundComment]]] = []
    segment: list[FoundComment] = []
    first_empty = prev_line >= 0 and comments[0].line == prev_line + 1
    foot_line = prev_line + 1

    def flush(dedented: bool) -> None:
        nonlocal segment
        kind = "prior" if not parts and not dedented else "next"
        parts.append((kind, segment))
        segment = []

    previous_line = -1  # read only once ``segment`` holds a comment
    for comment in comments:
        if segment and comment.line > previous_line + 1:
            if first_empty and _is_foot(segment[0], foot_line, prev_is_key, indent):
                flush(segment[0].column < indent)
            first_empty = False
        if segment and comment.column < indent and comment.column != segment[0].column:
            flush(False)
        segment.append(comment)
        previous_line = comment.line
    if segment:
        blank_after = next_line is None or next_line > previous_line + 1
        if blank_after and first_empty and _is_foot(segment[0], foot_line, prev_is_key, indent):
            flush(segment[0].column < indent)
        elif next_column is not None and next_column < indent and next_column != segment[0].column:
            flush(False)
        else:
            parts.append(("head", segment))
    return parts


def merge_comments(container: Container) -> None:
    """Insert the container's collected comments among its entries by source position."""
    if not container.comments:
        return
    value = container.value
    is_map = isinstance(value, Branch)
    comments = sorted(container.comments, key=lambda c: c[0])
    entries = list(value)
    value.clear()
    ci = 0
    for position, entry in zip(container.positions, entries):
        while ci < len(comments) and comments[ci][0] <= position:
            value.append(Item(Comment(comments[ci][1])) if is_map else Comment(comments[ci][1]))
            ci += 1
        value.append(entry)
    for _, text in comments[ci:]:
        value.append(Item(Comment(text)) if is_map else Comment(text))
