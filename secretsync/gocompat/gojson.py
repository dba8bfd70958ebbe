"""Go's ``encoding/json`` writer (``json.Marshal``/``json.MarshalIndent``, Go >= 1.22): the one
Go-compatible JSON writer in secretsync (no I/O).

``dumps(value, indent=None, sort_keys=True)`` is ``json.Marshal`` (compact) or
``json.MarshalIndent`` (``indent``): kubeseal's output (``sealing.objects``), Sprig's ``toJson``
(``sealing.template``), the sops JSON store and kubectl JSONPath's printing (``vault.jsonpath``,
with ``number_text=True``: a ``Number`` is written as the text it was read with, as Go writes a
``json.Number``) are written by it; it uses the two pieces below.

``quote(text)`` escapes as ``json.Marshal`` does with HTML escaping on (Go's ``appendString``):
``\\"``, ``\\\\``, ``\\n``, ``\\r``, ``\\t``, ``\\b``, ``\\f`` (the short forms since Go 1.22, which sops
3.11 and current kubectl print), other control characters as ``\\u00XX``, ``<``, ``>``, ``&``,
U+2028 and U+2029 as ``\\u003c``...; any lone surrogate (an unpaired ``\\ud800`` escape, which Go's
decoder turns into U+FFFD) as the character U+FFFD. With ``surrogateescape=True`` the text is a Go
string's bytes decoded with that handler, and each invalid byte (U+DC80..U+DCFF) is written as the
escape ``\\ufffd``, one per byte, as Go's encoder writes it (checked against sops).

``format_float(value)`` is Go's ``floatEncoder``: shortest digits (``gostrconv.shortest_digits``),
plain for 1e-6 <= |v| < 1e21, else exponents without a leading zero (``1e-7``, ``1e+21``). JSON
cannot hold NaN or infinities: ``ValueError`` with Go's message. ``bits=32`` as for a ``float32``.
(``fmt``'s ``%v`` of a float is ``gostrconv.format_float(v, "g")``.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from secretsync.gocompat import gostrconv

__all__ = ["Number", "quote", "format_float", "dumps"]


class Number(float):
    """A JSON number that keeps the text it was written with (Go's ``json.Number``): read JSON with
    ``json.loads(text, parse_float=Number)``; ``dumps(..., number_text=True)`` writes that text."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> Number:
        self = super().__new__(cls, text)
        self.text = text
        return self

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__


_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_ESCAPES.update({chr(c): f"\\u{c:04x}" for c in range(0x20) if chr(c) not in _ESCAPES})
_ESCAPES.update({chr(c): "\ufffd" for c in range(0xD800, 0xE000)})
_TABLE = str.maketrans(_ESCAPES)
# A Go string's invalid bytes, held as surrogateescape's U+DC80..U+DCFF: Go writes each as the escape.
_BYTES_TABLE = str.maketrans({**_ESCAPES, **{chr(c): "\\ufffd" for c in range(0xDC80, 0xDD00)}})


def quote(text: str, surrogateescape: bool = False) -> str:
    """``text`` as a Go JSON string literal, quotes included. With ``surrogateescape``, ``text`` is
    a Go string's bytes decoded with that error handler, and each invalid byte is written as the
    six characters ``\\ufffd``, as Go's encoder writes it (any other lone surrogate, which Go's
    decoder would have turned into U+FFFD already, is that character either way)."""
    return '"' + text.translate(_BYTES_TABLE if surrogateescape else _TABLE) + '"'


def _key(key: object) -> str:
    """A map key as text (``json.dumps``'s coercions: bools, ints, floats, None)."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or key is None:
        return {True: "true", False: "false", None: "null"}[key]
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return format_float(key)
    raise TypeError(f"json: unsupported map key type: {type(key).__name__}")


def dumps(
    value: Any,
    indent: int | str | None = None,
    sort_keys: bool = True,
    *,
    surrogateescape: bool = False,
    default: Callable[[Any], Any] | None = None,
    number_text: bool = False,
) -> str:
    """``value`` (dicts, lists/tuples, str, int, float, bool, None) as Go's ``json.Marshal`` writes it
    (compact), or ``json.MarshalIndent(value, "", indent)`` with ``indent`` (spaces, or the string
    itself); maps sorted by key as Go sorts them unless ``sort_keys`` is False (a Go struct's field
    order: the dict's own order). Strings go through ``quote`` (``surrogateescape`` as there), floats
    through ``format_float`` (a ``Number`` as its own text with ``number_text``). ``default`` turns any
    other value into one of these (TypeError without)."""
    step = " " * indent if isinstance(indent, int) else indent
    table = _BYTES_TABLE if surrogateescape else _TABLE
    out: list[str] = []

    def write(item: Any, level: int) -> None:
        if isinstance(item, str):
            out.append('"' + item.translate(table) + '"')
        elif item is None:
            out.append("null")
        elif isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, int):
            out.append(str(item))
        elif isinstance(item, float):
            out.append(item.text if number_text and isinstance(item, Number) else format_float(item))
        elif isinstance(item, dict):
            pairs = [(_key(k), v) for k, v in item.items()]
            if sort_keys:
                pairs.sort(key=lambda pair: pair[0])
            container("{", "}", list(pairs), level)
        elif isinstance(item, (list, tuple)):
            container("[", "]", [(None, v) for v in item], level)
        elif default is not None:
            write(default(item), level)
        else:
            raise TypeError(f"json: unsupported type: {type(item).__name__}")

    def container(open_: str, close: str, entries: list[tuple[str | None, Any]], level: int) -> None:
        if not entries:
            out.append(open_ + close)
            return
        out.append(open_)
        inner = None if step is None else "\n" + step * (level + 1)
        for i, (key, item) in enumerate(entries):
            if i:
                out.append(",")
            if inner is not None:
                out.append(inner)
            if key is not None:
                out.append('"' + key.translate(table) + ('": ' if inner is not None else '":'))
            write(item, level + 1)
        if step is not None:
            out.append("\n" + step * level)
        out.append(close)

    write(value, 0)
    return "".join(out)


def format_float(value: float, bits: int = 64) -> str:
    """Go ``encoding/json``'s float text (``floatEncoder``): the shortest digits, plain for
    1e-6 <= |v| < 1e21, else ``1e-7``/``1e+21`` (no leading exponent zero); NaN and infinities
    raise ``ValueError`` with Go's message. ``bits=32`` as Go encodes a ``float32``."""
    if bits == 32 and math.isfinite(value):
        value, digits, point = gostrconv.shortest_digits(value, 32)
    else:
        digits, point = "", 0
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"json: unsupported value: {gostrconv.format_float(value)}")
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    if not digits:
        value, digits, point = gostrconv.shortest_digits(value)
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    if magnitude < 1e-6 or magnitude >= 1e21:
        return gostrconv.exponent(sign, digits, point - 1, min_width=1)
    return gostrconv.fixed(sign, digits, point)
