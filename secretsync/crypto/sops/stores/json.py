"""The JSON store: bytes ⇄ one ``Branch`` document, emitted as sops 3.11 (Go) does.

Reading follows sops ≤3.12: the top level must be an object, key order and
duplicate keys are kept, every number is a float64 (``8080`` → ``8080.0``; big
integers lose precision as in Go). Writing follows Go's ``encoding/json`` plus
``json.Indent`` with a tab (or N spaces): ``": "`` separators, strings and floats as
``secretsync.gocompat.gojson`` writes them (``<``, ``>``, ``&``, U+2028/U+2029 escaped,
``\\b``/``\\f`` short, floats in Go's shortest form), a trailing newline.
Comments have no JSON form and are dropped. The ``sops`` entry is an ordinary key.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from secretsync.crypto.sops.errors import StoreError
from secretsync.crypto.sops.tree import Branch, Comment, Item
from secretsync.gocompat import gojson
from secretsync.gocompat.gotime import format_time

__all__ = ["load", "dump", "dumps_value", "go_json_float"]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON literal {name}")


def load(data: bytes) -> list[Branch]:
    """Parse a JSON document (an object) into one ``Branch``."""
    text = data.decode("utf-8", "replace") if isinstance(data, (bytes, bytearray)) else data
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        value = json.loads(
            text,
            object_pairs_hook=lambda pairs: Branch(Item(k, v) for k, v in pairs),
            parse_int=float,
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError) as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "nesting too deep or invalid literal"
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise StoreError(f"invalid JSON{where}: {msg}", exit_code=1) from None
    if not isinstance(value, Branch):
        raise StoreError("the top level of a JSON sops file must be an object", exit_code=1)
    return [value]


def go_json_float(value: float) -> str:
    """Go ``encoding/json``'s float64 text: 'f' for 1e-6 ≤ |v| < 1e21, else 'e' with a short exponent."""
    try:
        return gojson.format_float(value)
    except ValueError:
        raise StoreError("JSON cannot hold NaN or infinite numbers") from None


_string = gojson.quote


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_json_float(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (bytes, bytearray)):  # not UTF-8: Go writes each invalid byte as the escape \ufffd
        return _string(bytes(value).decode("utf-8", "surrogateescape"), surrogateescape=True)
    if isinstance(value, _dt.datetime):
        return _string(format_time(value))
    if isinstance(value, Comment):
        raise StoreError("a comment cannot be a JSON value")
    raise StoreError(f"cannot write a value of type {type(value).__name__} as JSON")


def _emit(value: Any, indent: str, level: int, out: list[str]) -> None:
    if isinstance(value, Branch):
        entries = [(_string(str(item.key)) + ": ", item.value) for item in value if not isinstance(item.key, Comment)]
        _container("{", "}", entries, indent, level, out)
    elif isinstance(value, list):
        _container("[", "]", [("", v) for v in value if not isinstance(v, Comment)], indent, level, out)
    else:
        out.append(_scalar(value))


def _container(open_: str, close: str, entries: list[Any], indent: str, level: int, out: list[str]) -> None:
    """An object or array as Go's ``json.Indent`` lays it out (empty ones stay ``{}``/``[]``)."""
    if not entries:
        out.append(open_ + close)
        return
    out.append(open_)
    inner = "\n" + indent * (level + 1)
    for i, (prefix, v) in enumerate(entries):
        out.append(inner + prefix)
        _emit(v, indent, level + 1, out)
        if i < len(entries) - 1:
            out.append(",")
    out.append("\n" + indent * level + close)


def dumps_value(value: Any, indent: int | None = None) -> str:
    """One value (a branch, a list or a scalar) as Go-style indented JSON text, no newline."""
    out: list[str] = []
    _emit(value, "\t" if indent is None else " " * indent, 0, out)
    return "".join(out)


def dump(docs: list[Branch], indent: int | None = None) -> bytes:
    """Exactly one document as JSON text with a trailing newline (tab indent unless ``indent`` spaces)."""
    if len(docs) != 1:
        raise StoreError(
            f"JSON holds exactly one document, got {len(docs)}", hint="use --output-type yaml for multi-document files"
        )
    return (dumps_value(docs[0], indent) + "\n").encode("utf-8", "surrogateescape")
