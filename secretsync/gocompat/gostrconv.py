"""Go's ``strconv`` text rules: ``Quote``, ``Unquote`` (and client-go's single-quote extension)
and ``FormatFloat(v, 'f'|'g', -1, 64|32)``. Standard library only; no I/O.

A Go string is bytes, a Python ``str`` is code points: here a Go string's invalid UTF-8 bytes are
held as the ``surrogateescape`` code points U+DC80..U+DCFF, in and out.

- ``quote(text)`` is ``strconv.Quote`` (``%q``, Go templates' ``printf "%q"``): ``\\a \\b \\f \\n
  \\r \\t \\v \\\\ \\"``, other ASCII controls and DEL as ``\\xNN``, an invalid byte as ``\\xNN``,
  non-printable non-ASCII as ``\\uNNNN``/``\\UNNNNNNNN``, everything else as is.
- ``unquote(text)`` is ``strconv.Unquote`` for ``"..."``, ``'...'`` (one character, a rune literal)
  and ```...``` (raw, carriage returns dropped); ``single_quoted_strings=True`` is client-go's
  ``jsonpath.UnquoteExtend`` (``'...'`` holds a whole string, as in kubectl's JSONPath). Errors
  raise ``ValueError("invalid syntax")`` (Go's ``strconv.ErrSyntax``).
- ``parse_bool(text)`` is ``strconv.ParseBool``: ``1 t T TRUE true True`` / ``0 f F FALSE false
  False``; anything else raises ``ValueError`` (whose message leaves the text out: it can be a
  decrypted value).
- ``format_float(value, fmt, bits)`` is ``strconv.FormatFloat(value, fmt, -1, bits)``: the shortest
  digits that read back as the value (Python's ``repr`` finds the same digits as Go for float64);
  ``fmt="g"`` uses an exponent when the decimal exponent is < -4 or >= 6 (strconv's ``eprec = 6``
  for the shortest form): ``1e-05``, ``1.0000005e+06``; ``fmt="f"`` never does;
  ``NaN``, ``+Inf``, ``-Inf``. ``bits=32`` rounds to float32 first and gives its shortest digits.
  ``shortest_digits`` is the shared step (``encoding/json`` in ``gojson`` builds on it).
"""

from __future__ import annotations

import math
import struct
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext

__all__ = ["quote", "unquote", "parse_bool", "format_float", "shortest_digits"]

_QUOTE_ESCAPES = {
    "\a": r"\a",
    "\b": r"\b",
    "\f": r"\f",
    "\n": r"\n",
    "\r": r"\r",
    "\t": r"\t",
    "\v": r"\v",
    "\\": "\\\\",
    '"': '\\"',
}


def quote(text: str) -> str:
    """Go ``strconv.Quote(text)`` (``%q``); invalid bytes held as surrogateescape print as ``\\xNN``."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[ch])
        elif 0xDC80 <= code <= 0xDCFF:  # an invalid UTF-8 byte (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code > 0x7F and not ch.isprintable():
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
_HEX = frozenset("0123456789abcdefABCDEF")
_SYNTAX = "invalid syntax"


def _unquote_char(body: str, i: int, quote_char: str) -> tuple[str, int]:
    """Go ``strconv.UnquoteChar``: the character at ``body[i]`` (an escape decoded) and the next index.
    ``\\xNN`` and octal ``\\NNN`` give a byte: ASCII, or the surrogateescape code point of a high byte."""
    ch = body[i]
    if ch == quote_char and quote_char in "'\"":
        raise ValueError(_SYNTAX)
    if ch != "\\":
        return ch, i + 1
    if i + 1 >= len(body):
        raise ValueError(_SYNTAX)
    esc = body[i + 1]
    if esc in _SIMPLE:
        return _SIMPLE[esc], i + 2
    if esc in "'\"":
        if esc != quote_char:
            raise ValueError(_SYNTAX)
        return esc, i + 2
    if esc in "xuU":
        width = {"x": 2, "u": 4, "U": 8}[esc]
        digits = body[i + 2 : i + 2 + width]
        if len(digits) != width or not _HEX.issuperset(digits):
            raise ValueError(_SYNTAX)
        value = int(digits, 16)
        if esc == "x":
            return _byte(value), i + 2 + width
        if value > 0x10FFFF or 0xD800 <= value < 0xE000:  # !utf8.ValidRune
            raise ValueError(_SYNTAX)
        return chr(value), i + 2 + width
    if esc in "01234567":
        digits = body[i + 1 : i + 4]
        if len(digits) != 3 or not set(digits) <= set("01234567"):
            raise ValueError(_SYNTAX)
        value = int(digits, 8)
        if value > 255:
            raise ValueError(_SYNTAX)
        return _byte(value), i + 4
    raise ValueError(_SYNTAX)


def _byte(value: int) -> str:
    return chr(value) if value < 0x80 else chr(0xDC00 + value)


def unquote(text: str, *, single_quoted_strings: bool = False) -> str:
    """Go ``strconv.Unquote(text)``; with ``single_quoted_strings``, client-go's ``UnquoteExtend``
    (``'...'`` is a string like ``"..."``, with ``\\'`` instead of ``\\"``). ``ValueError`` on bad syntax."""
    if len(text) < 2 or text[0] != text[-1]:
        raise ValueError(_SYNTAX)
    quote_char, body = text[0], text[1:-1]
    if quote_char == "`":
        if "`" in body:
            raise ValueError(_SYNTAX)
        return body.replace("\r", "")
    if quote_char not in "'\"":
        raise ValueError(_SYNTAX)
    if "\n" in body and not single_quoted_strings:
        raise ValueError(_SYNTAX)
    if "\\" not in body and quote_char not in body and (quote_char == '"' or single_quoted_strings):
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        ch, i = _unquote_char(body, i, quote_char)
        out.append(ch)
        if quote_char == "'" and not single_quoted_strings and i < len(body):
            raise ValueError(_SYNTAX)  # a rune literal holds one character
    if quote_char == "'" and not single_quoted_strings and len(out) != 1:
        raise ValueError(_SYNTAX)
    return "".join(out)


_TRUE = frozenset(("1", "t", "T", "TRUE", "true", "True"))
_FALSE = frozenset(("0", "f", "F", "FALSE", "false", "False"))


def parse_bool(text: str) -> bool:
    """Go ``strconv.ParseBool(text)``; ``ValueError`` (without the text) for anything else."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("strconv.ParseBool: invalid syntax")


def _round32(value: float) -> tuple[float, tuple[str, int] | None]:
    """``value`` rounded to float32 (±inf past its range, as Go's conversion) and the shortest digits
    with their decimal point position that read back as it, as strconv finds them for bitSize 32."""
    try:
        bits: int = struct.unpack("<I", struct.pack("<f", abs(value)))[0]
    except OverflowError:
        return math.copysign(math.inf, value), None
    if bits == 0 or bits >= 0x7F800000:
        return math.copysign(0.0 if bits == 0 else math.inf, value), None

    def as32(b: int) -> Decimal:
        return Decimal(struct.unpack("<f", struct.pack("<I", b))[0])

    exact = as32(bits)
    with localcontext() as ctx:
        ctx.prec = 200  # exact for every float32 and every midpoint between two of them
        below = as32(bits - 1)
        above = as32(bits + 1) if bits + 1 < 0x7F800000 else exact + (exact - below)
        low, high = (below + exact) / 2, (exact + above) / 2
        inclusive = bits % 2 == 0  # a tie reads back as the even mantissa
        for precision in range(1, 10):
            ctx.prec = precision
            for rounding in (ROUND_HALF_EVEN, ROUND_FLOOR, ROUND_CEILING):
                ctx.rounding = rounding
                candidate = +exact
                if low < candidate < high or (inclusive and candidate in (low, high)):
                    _, digit_tuple, exponent = candidate.as_tuple()
                    text = "".join(map(str, digit_tuple))
                    assert isinstance(exponent, int)  # finite
                    return math.copysign(float(exact), value), (text.rstrip("0"), len(text) + exponent)
    raise AssertionError("unreachable: 9 digits tell every float32 apart")


def shortest_digits(value: float, bits: int = 64) -> tuple[float, str, int]:
    """(the value as held, its shortest significant digits, the decimal point position) of a finite
    non-zero float; ``digits[:point]`` is the integer part. ``bits=32`` rounds to float32 first (the
    value held may then be 0 or infinite: digits ``""``)."""
    if bits == 32:
        held, shortest = _round32(value)
        if shortest is None:
            return held, "", 0
        return held, shortest[0], shortest[1]
    mantissa, _, exp_text = repr(abs(value)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    point = len(whole) + int(exp_text or 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    return value, stripped.rstrip("0") or "0", point


def _special(value: float) -> str | None:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    return None


def fixed(sign: str, digits: str, point: int) -> str:
    """Digits with the decimal point at ``point``, no exponent (``%f`` of the shortest digits)."""
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def exponent(sign: str, digits: str, exp: int, min_width: int = 2) -> str:
    """``d.ddde±XX`` (Go writes at least two exponent digits in ``%e``/``%g``)."""
    rest = digits[1:]
    return f"{sign}{digits[0]}{'.' + rest if rest else ''}e{'-' if exp < 0 else '+'}{abs(exp):0{min_width}d}"


def format_float(value: float, fmt: str = "g", bits: int = 64) -> str:
    """Go ``strconv.FormatFloat(value, fmt, -1, bits)`` for ``fmt`` ``"g"`` (also ``fmt``'s ``%v``)
    or ``"f"``; ``bits`` 64 or 32."""
    if bits == 32 and math.isfinite(value):
        value, digits, point = shortest_digits(value, 32)
    else:
        digits, point = "", 0
    special = _special(value)
    if special is not None:
        return special
    if not digits:
        value, digits, point = shortest_digits(value)
    sign = "-" if value < 0 else ""
    exp = point - 1
    if fmt == "g" and (exp < -4 or exp >= 6):  # "if shortest { eprec = 6 }"
        return exponent(sign, digits, exp)
    if fmt not in ("g", "f"):
        raise ValueError(f"unsupported float format {fmt!r}")
    return fixed(sign, digits, point)
