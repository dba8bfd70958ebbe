"""The dotenv store: ``KEY=value`` lines ⇄ one ``Branch`` of strings and comments (spec §8).

Lines are split on ``\\n``; empty lines are dropped; ``#…`` lines are comments
(text after ``#``); other lines split at the first ``=`` — the key is everything
before it (spaces and ``export `` kept), the value everything after, verbatim,
with each two-character ``\\n`` turned into a newline (and back when writing).
``sops_``-prefixed lines are the flattened metadata: they come back as one
``sops`` entry, and a ``sops`` entry is written as sorted ``sops_…`` lines.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from secretsync.crypto.sops.errors import StoreError
from secretsync.crypto.sops.stores._flat import flatten, unflatten
from secretsync.crypto.sops.tree import Branch, Comment, Item
from secretsync.gocompat.gostrconv import format_float
from secretsync.gocompat.gotime import format_time

__all__ = ["load", "dump"]

_PREFIX = "sops_"


def load(data: bytes) -> list[Branch]:
    """Parse dotenv bytes (invalid UTF-8 is kept byte for byte)."""
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, (bytes, bytearray)) else data
    branch = Branch()
    metadata: list[tuple[str, str]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line:
            continue
        if line.startswith("#"):
            branch.append(Item(Comment(line[1:])))
            continue
        pos = line.find("=")
        if pos < 0:
            raise StoreError(f"invalid dotenv input at line {number}: expected KEY=value", exit_code=2)
        key, value = line[:pos], line[pos + 1 :].replace("\\n", "\n")
        if key.startswith(_PREFIX):
            metadata.append((key[len(_PREFIX) :], value))
        else:
            branch.append(Item(key, value))
    if metadata:
        branch.append(Item("sops", unflatten(metadata)))
    return [branch]


def _value_text(value: Any, key: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "surrogateescape")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value, "f")
    if isinstance(value, _dt.datetime):
        return format_time(value)
    if value is None:
        return ""
    raise StoreError(
        f"cannot write the nested value of {key!r} to a dotenv file",
        hint="dotenv holds flat KEY=value pairs; use --output-type yaml or json",
    )


def dump(docs: list[Branch]) -> bytes:
    """One document as dotenv lines, metadata last as sorted ``sops_…`` lines."""
    if len(docs) != 1:
        raise StoreError(f"dotenv holds exactly one document, got {len(docs)}")
    lines = []
    metadata = None
    for item in docs[0]:
        if isinstance(item.key, Comment):
            lines.append("#" + item.key.value)
        elif item.key == "sops" and isinstance(item.value, Branch):
            metadata = item.value
        else:
            lines.append(f"{item.key}={_value_text(item.value, item.key).replace(chr(10), chr(92) + 'n')}")
    if metadata is not None:
        lines.extend(f"{_PREFIX}{k}={v}" for k, v in flatten(metadata))
    return ("".join(line + "\n" for line in lines)).encode("utf-8", "surrogateescape")
