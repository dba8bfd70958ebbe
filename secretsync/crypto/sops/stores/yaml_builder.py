"""The YAML store's builder: the libyaml event stream of one text → ``Branch`` documents, with
go-yaml v3's scalar typing (``goyaml``) and sops's comment placement (``yaml_comments``).
Internal to ``stores.yaml``, which parses and calls ``Builder(text).run(parser.get_event)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml as _pyyaml

from secretsync.crypto.sops.errors import StoreError
from secretsync.crypto.sops.stores import goyaml
from secretsync.crypto.sops.stores.yaml_comments import (
    Container,
    FoundComment,
    find_comments,
    merge_comments,
    split_run,
)
from secretsync.crypto.sops.tree import Branch, Comment, Item

__all__ = ["Builder", "MAX_DEPTH", "MAX_ALIAS_NODES", "error", "UNMARSHAL"]

MAX_DEPTH = 256
MAX_ALIAS_NODES = 200_000

# A PyYAML parser event (its attributes depend on the event class) and a parser mark.
_Event = Any
_Mark = Any

UNMARSHAL = 2  # sops: "Error unmarshalling file"
_WALK = 23  # sops: "Error walking tree" (non-string keys, uint64)


def error(message: str, mark: _Mark = None, exit_code: int = UNMARSHAL) -> StoreError:
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return StoreError(
        f"YAML: {where}{message}",
        exit_code=exit_code,
        hint="fix the YAML (sops accepts only documents that are mappings with string keys)",
    )


def _line_starts(text: str) -> list[int]:
    starts = [0]
    i, n = 0, len(text)
    find = text.find
    # go-yaml counts \n, \r\n, \r, NEL, LS and PS as line breaks; only \n is common.
    if not any(c in text for c in "\r\x85\u2028\u2029"):
        while True:
            i = find("\n", i)
            if i < 0:
                return starts
            i += 1
            starts.append(i)
    while i < n:
        c = text[i]
        if c == "\r":
            i += 2 if text[i + 1 : i + 2] == "\n" else 1
            starts.append(i)
        elif c in "\n\x85\u2028\u2029":
            i += 1
            starts.append(i)
        else:
            i += 1
    return starts


def _scalar_value(event: _Event) -> Any:
    tag = event.tag
    if tag in (None, "!"):
        if event.style in (None, ""):
            return goyaml.resolve_plain(event.value)[1]
        return event.value
    try:
        return goyaml.resolve_tagged(tag, event.value)
    except goyaml.ResolveError as exc:
        raise error(str(exc), event.start_mark) from None


class Builder:
    """Turns the libyaml event stream into Branch documents with comments."""

    def __init__(self, text: str):
        self.text = text
        self.has_comments = "#" in text
        # line starts serve comment placement only: text without '#' skips the scan
        self.line_starts = _line_starts(text) if self.has_comments else []
        self.docs: list[Branch] = []
        self.stack: list[Container] = []
        self.keys: list[Any] = []  # per open map: pending key (or None) ...
        self.seen: list[set[str] | None] = []  # ... and keys seen (duplicate check)
        self.anchors: dict[str, Any] = {}
        self.alias_budget = MAX_ALIAS_NODES
        self.cursor = 0
        self.prev: _Event = None  # previous event
        self.prev_closed: Container | None = None
        self.last_content_end = -1  # source index after the last content
        self.pending_heads: list[tuple[int, str]] = []
        self.root: Container | None = None
        self.open_anchor: list[str | None] = []
        self._last_fallback: Container | None = None
        self.pending_feet: list[str] = []  # feet waiting for the next scalar

    # -------------------------------------------------------------- comments
    def _line_of(self, index: int) -> int:
        import bisect

        return bisect.bisect_right(self.line_starts, index) - 1

    def _last_content_line(self, index: int) -> int:
        j = index - 1
        text = self.text
        while j >= 0 and text[j] in " \t\r\n\x85\u2028\u2029":
            j -= 1
        return self._line_of(j) if j >= 0 else -1

    def comments_before(self, event: _Event) -> None:
        if not self.has_comments:
            return
        start = event.start_mark.index
        if start <= self.cursor or "#" not in self.text[self.cursor : start]:
            return
        found = find_comments(self.text, self.cursor, start, self.line_starts)
        run: list[FoundComment] = []
        for comment in found:
            if comment.inline:
                if run:
                    self._run(run, event)
                    run = []
                self._inline(comment)
            else:
                if run and self._content_between(run[-1], comment):
                    self._run(run, event)
                    run = []
                run.append(comment)
        if run:
            self._run(run, event)

    def _next_content(self, comment: FoundComment, limit: int) -> int | None:
        """Index of the first indicator after ``comment``'s line and before ``limit``, if any."""
        text = self.text
        i = comment.index
        while i < limit and text[i] not in "\r\n\x85\u2028\u2029":
            i += 1
        while i < limit:
            c = text[i]
            if c == "#":
                while i < limit and text[i] not in "\r\n\x85\u2028\u2029":
                    i += 1
            elif c in " \t\r\n\x85\u2028\u2029":
                i += 1
            else:
                return i
        return None

    def _content_between(self, first: FoundComment, second: FoundComment) -> bool:
        found = self._next_content(first, second.index)
        return found is not None

    def _inline(self, comment: FoundComment) -> None:
        before = self.text[self.line_starts[comment.line] : comment.index].rstrip(" \t")
        last = before[-1:]
        prev = self.prev
        entry = (comment.index, comment.text)
        if isinstance(prev, _pyyaml.DocumentStartEvent) or before.strip(" -") == "" and last == "-":
            self.pending_heads.append(entry)
        elif (
            isinstance(prev, (_pyyaml.SequenceEndEvent, _pyyaml.MappingEndEvent))
            and last in "]}"
            and self.prev_closed is not None
        ):
            closed = self.prev_closed.value  # already merged: the comment opens it
            closed.insert(0, Item(Comment(comment.text)) if isinstance(closed, Branch) else Comment(comment.text))
        elif self.stack:
            top = self.stack[-1]
            position = top.positions[-1] if top.positions else -1
            top.comments.append((position, comment.text))
        else:
            self.pending_heads.append(entry)

    def _run(self, run: list[FoundComment], event: _Event) -> None:
        """Place a run of whole-line comments that ends before ``event``."""
        if self.stack and not self.stack[-1].block:
            # inside a flow collection: go-yaml keeps the comments in it, in order,
            # except in an empty one, where they are lost
            self.flush_heads(self.stack[-1])
            self.stack[-1].flow_comments.extend((c.index, c.text) for c in run)
            return
        top_block = next((c for c in reversed(self.stack) if c.block and not c.indentless), None)
        indent = top_block.column if top_block is not None else 0
        prev_line = self._last_content_line(run[0].index)
        prev_is_key = bool(self.keys) and self.keys[-1] is not None
        indicator, next_line, next_column = self._after_run(run, event)
        dash = indicator if indicator is not None else event.start_mark.index
        before_dash = self.text[dash : dash + 1] == "-"
        entry_list = self._dash_list(next_column) if before_dash and next_column is not None else None
        if isinstance(self.prev, (_pyyaml.DocumentStartEvent, _pyyaml.StreamStartEvent)) or not self.stack:
            parts = [("head", run)]
        else:
            parts = split_run(run, prev_line, prev_is_key, indent, next_line, next_column)
        for kind, segment in parts:
            self._place(kind, segment, run, next_column, entry_list, before_dash)

    def _after_run(self, run: list[FoundComment], event: _Event) -> tuple[int | None, int | None, int | None]:
        """Where the content after a comment run starts: (the index of its first indicator when that
        comes before ``event``, its line, its column); line and column are None at the stream's end."""
        indicator = self._next_content(run[-1], event.start_mark.index)
        if indicator is not None:
            next_line = self._line_of(indicator)
            return indicator, next_line, indicator - self.line_starts[next_line]
        if (
            isinstance(event, (_pyyaml.DocumentEndEvent, _pyyaml.StreamEndEvent, _pyyaml.DocumentStartEvent))
            or not self.text[run[-1].index + 1 + len(run[-1].text) :].strip()
        ):
            return None, None, None  # the run ends the stream (go-yaml sees the terminator)
        return None, event.start_mark.line, event.start_mark.column

    def _dash_list(self, next_column: int) -> Container | None:
        """The open block list whose ``- `` entry starts at ``next_column``: heads right before a
        ``- `` entry belong to the list that entry is in."""
        return next(
            (
                c
                for c in reversed(self.stack)
                if c.block and not isinstance(c.value, Branch) and c.column == next_column
            ),
            None,
        )

    def _place(
        self,
        kind: str,
        segment: list[FoundComment],
        run: list[FoundComment],
        next_column: int | None,
        entry_list: Container | None,
        before_dash: bool,
    ) -> None:
        """Put one part of a split run (``split_run``'s head / prior / next) where go-yaml puts it."""
        entries = [(c.index, c.text) for c in segment]
        if kind == "head":
            if entry_list is not None:
                entry_list.comments.extend(entries)
            else:
                self.pending_heads.extend(entries)
        elif kind == "prior":
            self.stack[-1].comments.extend(entries)
        else:
            target = self._foot_next(segment, run, next_column)
            if target is self._last_fallback and not isinstance(target.value, Branch) and before_dash:
                # a foot handed to the next '- ' item becomes the foot of the first
                # scalar in it (lost when a flow collection comes first)
                self.pending_feet.extend(text for _, text in entries)
                return
            target.comments.extend(entries)

    def _foot_next(self, segment: list[FoundComment], run: list[FoundComment], next_column: int | None) -> Container:
        """The container a foot handed to the following token ends up in.

        go-yaml ends a block right before the first comment of the run at the block's
        own column; a foot at or after that point goes to the block's end. A map's end
        keeps it (foot of its last key); a list's end does not take comments, so it
        waits for the next map end or the next key, whose map keeps it.
        """
        start = segment[0].index
        remaining = list(self.stack)
        deferred = False
        self._last_fallback = None
        for container in reversed(self.stack):
            if next_column is not None and container.column <= next_column:
                break
            remaining.pop()
            if not container.block or container.indentless:
                continue
            is_map = isinstance(container.value, Branch)
            if deferred and is_map:
                return container
            marks = [c.index for c in run if c.column == container.column]
            if marks and min(marks) >= start:
                if is_map:
                    return container
                deferred = True
        self._last_fallback = remaining[-1] if remaining else self.stack[0]
        return self._last_fallback

    def _next_non_blank(self, index: int) -> int:
        text, n = self.text, len(self.text)
        while index < n and text[index] in " \t\r\n\x85\u2028\u2029":
            index += 1
        return index

    def _place_feet(self) -> None:
        top = self.stack[-1] if self.stack else None
        if top is not None and top.positions:
            top.comments.extend((top.positions[-1] + 0.5, text) for text in self.pending_feet)
        self.pending_feet = []

    def flush_heads(self, container: Container) -> None:
        if self.pending_heads:
            container.comments.extend(self.pending_heads)
            self.pending_heads = []

    # -------------------------------------------------------------- structure
    def add_value(self, value: Any, event: _Event) -> None:
        """Add a finished value (scalar, or a closed collection) to the open container."""
        if not self.stack:
            self._set_root(value, event)
            return
        top = self.stack[-1]
        if isinstance(top.value, Branch):
            key = self.keys[-1]
            if key is None:
                if not isinstance(value, str):
                    kind = type(value).__name__ if not isinstance(value, (Branch, list)) else "collection"
                    raise error(f"map key of type {kind}: sops accepts only string keys", event.start_mark, _WALK)
                seen = self.seen[-1]
                assert seen is not None  # an open map always has its key set
                if value in seen:
                    raise error(f"mapping key {value!r} already defined", event.start_mark)
                seen.add(value)
                self.keys[-1] = (value, event.start_mark.index)
                top.positions.append(event.start_mark.index)
            else:
                top.value.append(Item(key[0], value))
                self.keys[-1] = None
        else:
            top.value.append(value)
            top.positions.append(event.start_mark.index)

    def _set_root(self, value: Any, event: _Event) -> None:
        if value is None:
            self.docs.append(Branch())
            return
        raise error(
            "a YAML document must be a mapping; sops does not support documents that are lists or values",
            event.start_mark,
        )

    def open(self, value: list[Any], event: _Event, block: bool) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise error(f"more than {MAX_DEPTH} nested collections", event.start_mark)
        if self.stack and isinstance(self.stack[-1].value, Branch) and self.keys[-1] is None:
            raise error("map key of type collection: sops accepts only string keys", event.start_mark, _WALK)
        container = Container(value, event.start_mark.column, block)
        if self.stack and block and not isinstance(value, Branch):
            parent = self.stack[-1]
            container.indentless = (
                parent.block and isinstance(parent.value, Branch) and parent.column == container.column
            )
        if self.stack:
            top = self.stack[-1]
            if not isinstance(top.value, Branch):
                top.positions.append(event.start_mark.index)
        elif not isinstance(value, Branch):
            raise error(
                "a YAML document must be a mapping; sops does not support documents that are lists", event.start_mark
            )
        else:
            self.root = container
        self.stack.append(container)
        self.keys.append(None)
        self.seen.append(set() if isinstance(value, Branch) else None)
        self.open_anchor.append(event.anchor)

    def close(self, event: _Event) -> None:
        container = self.stack.pop()
        if container.flow_comments and container.positions:
            container.comments.extend(container.flow_comments)
        self.keys.pop()
        self.seen.pop()
        anchor = self.open_anchor.pop()
        merge_comments(container)
        self.prev_closed = container
        if anchor:
            self.anchors[anchor] = container.value
        if not self.stack:
            assert isinstance(container.value, Branch)  # open() refuses a root that is not a map
            self.docs.append(container.value)
            return
        top = self.stack[-1]
        if isinstance(top.value, Branch):
            key = self.keys[-1]
            top.value.append(Item(key[0], container.value))
            self.keys[-1] = None
        else:
            top.value.append(container.value)

    def copy_alias(self, event: _Event) -> Any:
        name = event.anchor
        if name not in self.anchors:
            if name in self.open_anchor:
                raise error(f"alias *{name} refers to a collection that contains it", event.start_mark)
            raise error(f"unknown anchor {name!r} referenced", event.start_mark)
        return self._copy(self.anchors[name], event)

    def _copy(self, value: Any, event: _Event) -> Any:
        self.alias_budget -= 1
        if self.alias_budget < 0:
            raise error(f"aliases expand to more than {MAX_ALIAS_NODES} nodes (a YAML bomb?)", event.start_mark)
        if isinstance(value, Branch):
            return Branch(Item(item.key, self._copy(item.value, event)) for item in value)
        if isinstance(value, list):
            return [v if isinstance(v, Comment) else self._copy(v, event) for v in value]
        return value

    def _scalar(self, event: _Event) -> Any:
        """The typed value of a scalar event (anchored if it has an anchor); refuses what sops cannot encrypt."""
        if event.tag is None and not event.style:
            value = goyaml.resolve_plain(event.value)[1]
        else:
            value = _scalar_value(event)
        if value is goyaml.UINT64:
            raise error(
                "integer does not fit in int64 (sops cannot encrypt uint64 values); quote it to keep it as a string",
                event.start_mark,
                _WALK,
            )
        if value is goyaml.UNENCODABLE_TIME:
            raise error(
                "timestamp with a zone offset of 24 hours or more (sops cannot "
                "encrypt it); quote it to keep it as a string",
                event.start_mark,
                _WALK,
            )
        if event.anchor:
            self.anchors[event.anchor] = value
        return value

    def run(self, get_event: Callable[[], _Event]) -> list[Branch]:
        """Build the documents from ``get_event`` (called until it returns None)."""
        if not self.has_comments:
            return self._run_plain(get_event)
        scalar_event = _pyyaml.ScalarEvent
        for event in iter(get_event, None):
            self.comments_before(event)
            end = event.end_mark.index
            if end > self.cursor:
                self.cursor = end
            if type(event) is scalar_event:
                if self.pending_heads and self.stack:
                    self.flush_heads(self.stack[-1])
                self.add_value(self._scalar(event), event)
                if self.pending_feet:
                    self._place_feet()
            else:
                self._structure(event)
            self.prev = event
        return self._finish()

    def _structure(self, event: _Event) -> None:
        """``run``'s step for any event but a scalar."""
        E = _pyyaml
        if isinstance(event, E.MappingStartEvent):
            self._start(event, Branch())  # block: heads go to its first key
        elif isinstance(event, E.SequenceStartEvent):
            self._start(event, [])
        elif isinstance(event, (E.MappingEndEvent, E.SequenceEndEvent)):
            if len(self.stack) == 1 and self.pending_heads:
                self.flush_heads(self.stack[0])
            self.close(event)
        elif isinstance(event, E.AliasEvent):
            if self.stack:
                self.flush_heads(self.stack[-1])
            self.add_value(self.copy_alias(event), event)
            if self.pending_feet:
                self._place_feet()
        elif isinstance(event, E.DocumentStartEvent):
            self.anchors = {}
        elif isinstance(event, E.DocumentEndEvent) and self.pending_heads and self.docs:
            root = self.docs[-1]
            for _, text in self.pending_heads:
                root.append(Item(Comment(text)))
            self.pending_heads = []

    def _start(self, event: _Event, value: list[Any]) -> None:
        """A collection opens: a flow one drops pending feet and takes pending heads."""
        flow = bool(event.flow_style)
        if flow:
            self.pending_feet = []
            if self.stack:
                self.flush_heads(self.stack[-1])
        self.open(value, event, not flow)
        if not flow and not isinstance(value, Branch):
            self.flush_heads(self.stack[-1])  # heads before '-' belong to the list

    def _run_plain(self, get_event: Callable[[], _Event]) -> list[Branch]:
        """``run`` for text without a '#': no comment can be pending, so only the structure is built."""
        E = _pyyaml
        ScalarEvent, MappingStartEvent, SequenceStartEvent = E.ScalarEvent, E.MappingStartEvent, E.SequenceStartEvent
        ends = (E.MappingEndEvent, E.SequenceEndEvent)
        scalar, add_value, keys, stack, seen = self._scalar, self.add_value, self.keys, self.stack, self.seen
        resolve_plain, uint64, bad_time = goyaml.resolve_plain, goyaml.UINT64, goyaml.UNENCODABLE_TIME
        for event in iter(get_event, None):
            kind = type(event)
            if kind is ScalarEvent:
                if event.tag is None and not event.style and not event.anchor:
                    value = resolve_plain(event.value)[1]
                    if value is uint64 or value is bad_time:
                        value = scalar(event)  # raises the error
                else:
                    value = scalar(event)
                key = keys[-1] if keys else None
                if key is not None:  # the value of a map's pending key (add_value's common case)
                    stack[-1].value.append(Item(key[0], value))
                    keys[-1] = None
                elif value.__class__ is str and stack and seen[-1] is not None and value not in seen[-1]:
                    # a new string key of a map (add_value's other common case; no positions:
                    # they serve comment placement only)
                    seen[-1].add(value)
                    keys[-1] = (value, event.start_mark.index)
                else:
                    add_value(value, event)
            elif kind is MappingStartEvent:
                self.open(Branch(), event, not event.flow_style)
            elif kind is SequenceStartEvent:
                self.open([], event, not event.flow_style)
            elif kind in ends:
                self.close(event)
            elif kind is E.AliasEvent:
                add_value(self.copy_alias(event), event)
            elif kind is E.DocumentStartEvent:
                self.anchors = {}
        return self._finish()

    def _finish(self) -> list[Branch]:
        if not self.docs:
            raise error("the file holds no YAML document")
        return self.docs
