"""The INI store: sections → keys → string values, as sops reads and writes INI with go-ini (spec §8).

The document is one ``Branch`` of sections (keys before the first header are in
section ``DEFAULT``, which is always present, as go-ini has it). Comments
(``;``/``#`` lines, stripped of leading ``;``/``#``/spaces) are attached to the
key that follows them and stored *after* that key; a comment before a section
header becomes the section's first entry. Values are trimmed and unquoted
(``"…"``, ``'…'``, ```…```, ``\"\"\"…\"\"\"`` over several lines); an unquoted value
ends at an inline ``;``/``#``. Output: ``key = value`` aligned within a section,
``; comment`` lines, a blank line between sections. The metadata is a final
``[sops]`` section of flattened keys (without the ``sops_`` prefix).
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

from secretsync.crypto.sops.errors import StoreError
from secretsync.crypto.sops.stores._flat import flatten, unflatten
from secretsync.crypto.sops.tree import Branch, Comment, Item
from secretsync.gocompat.gotime import format_time

__all__ = ["load", "dump"]

_SECTION = re.compile(r"^\[(.*)\]\s*$")


def _strip_comment(text: str) -> str:
    if text.startswith(";"):
        return text.lstrip("; ")
    if text.startswith("#"):
        return text.lstrip("# ")
    return text


def _value(raw: str, lines: list[str], index: int, comments: list[str]) -> tuple[str, int]:
    """Parse a value starting at ``raw`` (already left-trimmed); returns (value, next line index).

    An inline comment (unquoted value) is appended to ``comments``: go-ini makes it the key's comment.
    """
    if raw.startswith('"""'):
        rest = raw[3:]
        if '"""' in rest:
            return rest[: rest.index('"""')], index
        parts = [rest]
        while index < len(lines):
            line = lines[index]
            index += 1
            if '"""' in line:
                parts.append(line[: line.index('"""')])
                return "\n".join(parts), index
            parts.append(line)
        raise StoreError('unterminated """ value in INI file', exit_code=2)
    for quote in ('"', "'", "`"):
        if raw.startswith(quote) and quote in raw[1:]:
            return raw[1 : raw.index(quote, 1)], index
    cut = min([p for p in (raw.find(";"), raw.find("#")) if p >= 0], default=-1)
    if cut >= 0:
        comments.append(_strip_comment(raw[cut:].strip()))
        raw = raw[:cut]
    return raw.strip(), index


def load(data: bytes) -> list[Branch]:
    """An INI file as go-ini reads it for sops: a ``DEFAULT`` section, then the file's sections;
    the ``sops`` section's flattened keys become the nested metadata block."""
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, (bytes, bytearray)) else data
    lines = text.replace("\r\n", "\n").split("\n")
    doc = Branch([Item("DEFAULT", Branch())])
    current: Branch = doc.get("DEFAULT")
    pending: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line:
            continue
        if line[0] in ";#":
            pending.append(_strip_comment(line))
            continue
        m = _SECTION.match(line)
        if m:
            current = _section_of(doc, m.group(1).strip())
            if pending:
                current.insert(0, Item(Comment("\n".join(pending))))
                pending = []
            continue
        i = _key_line(line, lines, i, current, pending)
        if pending:
            current.append(Item(Comment("\n".join(pending))))
            pending = []
    meta = doc.get("sops")
    if isinstance(meta, Branch):
        doc.remove("sops")
        pairs = [
            (str(item.key), str(item.value).replace("\\n", "\n")) for item in meta if not isinstance(item.key, Comment)
        ]
        doc.append(Item("sops", unflatten(pairs)))
    return [doc]


def _section_of(doc: Branch, name: str) -> Branch:
    """The section ``name`` of ``doc``, appended when new (a repeated header continues it)."""
    existing = doc.get(name)
    if isinstance(existing, Branch):
        return existing
    section = Branch()
    doc.append(Item(name, section))
    return section


def _key_line(line: str, lines: list[str], i: int, current: Branch, pending: list[str]) -> int:
    """Read ``key = value`` (``line``, line ``i`` of ``lines``, continuing for a triple-quoted value) into
    ``current``; the index of the next line. An inline comment goes to ``pending``."""
    positions = [p for p in (line.find("="), line.find(":")) if p >= 0]
    if not positions:
        raise StoreError(f"invalid INI line {i}: expected key = value or [section]", exit_code=2)
    pos = min(positions)
    key = line[:pos].strip()
    if len(key) >= 2 and key[0] == key[-1] and key[0] in '"`':
        key = key[1:-1]
    value, i = _value(line[pos + 1 :].lstrip(), lines, i, pending)
    existing = [n for n, item in enumerate(current) if item.key == key and not isinstance(item.key, Comment)]
    if existing:  # go-ini: a repeated key keeps the last value in place
        current[existing[0]].value = value
    else:
        current.append(Item(key, value))
    return i


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6f}"
    if isinstance(value, _dt.datetime):
        return format_time(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "surrogateescape")
    if value is None:
        return ""
    if isinstance(value, (Branch, list)):
        raise StoreError("INI values cannot be nested maps or lists", hint="use YAML or JSON for nested data")
    return str(value)


def _quote(value: str) -> str:
    if "\n" in value:
        return f'"""{value}"""'
    if value != value.strip() or ";" in value or "#" in value or value.startswith(('"', "'")):
        return f"`{value}`" if "`" not in value else f'"""{value}"""'
    return value


def _comment_lines(text: str) -> list[str]:
    return [line if line.startswith((";", "#")) else "; " + line for line in text.split("\n")]


def _section(name: str, entries: list[tuple[str, str, str]], comment: str, out: list[str]) -> None:
    block: list[str] = []
    if comment:
        block.extend(_comment_lines(comment))
    if name != "DEFAULT":
        block.append(f"[{name}]")
    width = max((len(k) for k, _, _ in entries), default=0)
    for key, value, key_comment in entries:
        if key_comment:
            block.extend(_comment_lines(key_comment))
        shown_key = key if "=" not in key and ":" not in key else f"`{key}`"
        block.append(f"{shown_key}{' ' * (width - len(key))} = {_quote(value)}")
    if name == "DEFAULT" and not block:
        return
    out.append("\n".join(block) + "\n")


def dump(docs: list[Branch]) -> bytes:
    if len(docs) != 1:
        raise StoreError(f"INI holds exactly one document, got {len(docs)}")
    out: list[str] = []
    for item in docs[0]:
        if isinstance(item.key, Comment):
            continue
        if item.key == "sops" and isinstance(item.value, Branch):
            _section("sops", [(k, v, "") for k, v in flatten(item.value)], "", out)
            continue
        if not isinstance(item.value, Branch):
            raise StoreError(
                f"INI top-level entry {item.key!r} must be a section",
                hint="INI files hold [section] blocks of key = value pairs",
            )
        section_comment = ""
        entries: list[tuple[str, str, str]] = []
        for n, entry in enumerate(item.value):
            if isinstance(entry.key, Comment):
                if n == 0:
                    section_comment = entry.key.value
                elif entries:
                    key, value, _ = entries[-1]
                    entries[-1] = (key, value, entry.key.value)
                continue
            entries.append((str(entry.key), _text(entry.value), ""))
        _section(str(item.key), entries, section_comment, out)
    return "\n".join(out).encode("utf-8", "surrogateescape")
