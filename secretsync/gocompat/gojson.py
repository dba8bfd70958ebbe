"""Go's ``encoding/json`` text (Go ≥ 1.22), shared by every Go-compatible JSON writer in
secretsync (public within the package; no I/O).

``dumps(value, indent=None, sort_keys=True)`` is ``json.Marshal`` (compact) or
``json.MarshalIndent`` (``indent``): kubeseal's output (``sealedsecret.dump``) and Sprig's
``toJson`` (``gotemplate``) are written by it; it uses the two pieces below.

``quote(text)`` escapes as ``json.Marshal`` does with HTML escaping on: ``\\"``, ``\\\\``,
``\\n``, ``\\r``, ``\\t``, ``\\b``, ``\\f`` (the short forms since Go 1.22, which sops 3.11 and
current kubectl print), other control characters as ``\\u00XX``, ``<``, ``>``, ``&``, U+2028
and U+2029 as ``\\u003c``…; any lone surrogate (an unpaired ``\\ud800`` escape, which Go's decoder
turns into U+FFFD) as the character U+FFFD. With ``surrogateescape=True`` the text is a Go
string's bytes decoded with that handler, and each invalid byte (U+DC80..U+DCFF) is written as
the escape ``\\ufffd``, one per byte, as Go's encoder writes it (checked against sops).

``format_float(value, style)`` is Go's shortest float64 text: ``"json"`` as
``encoding/json`` (plain for 1e-6 ≤ |v| < 1e21, else exponents without a leading zero:
``1e-7``, ``1e+21``), ``"v"`` as ``fmt``'s ``%v``, i.e. strconv's shortest ``'g'`` (exponent
when the decimal exponent is < -4 or ≥ 6: ``1e-05``, ``1.0000005e+06``; ``NaN``, ``+Inf``,
``-Inf``). JSON cannot hold NaN or
infinities: ``ValueError`` with Go's message. ``bits=32`` rounds to float32 first and gives its
shortest digits, as ``strconv.FormatFloat(f, 'g', -1, 32)`` (how sigs.k8s.io/yaml writes a
float mapping key: ``123456789.0`` → ``1.2345679e+08``).

It lives in ``crypto/`` because the sops JSON store (inside ``crypto/``, which imports
nothing from outside) needs it; ``secretsync.vault.jsonpath`` imports it from here (its own
``go_json`` keeps JSON numbers' source text, so it does not use ``dumps``).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

__all__ = ["quote", "format_float", "dumps"]

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
) -> str:
    """``value`` (dicts, lists/tuples, str, int, float, bool, None) as Go's ``json.Marshal`` writes it
    (compact), or ``json.MarshalIndent(value, "", indent)`` with ``indent`` (spaces, or the string
    itself); maps sorted by key as Go sorts them unless ``sort_keys`` is False (a Go struct's field
    order: the dict's own order). Strings go through ``quote`` (``surrogateescape`` as there), floats
    through ``format_float``. ``default`` turns any other value into one of these (TypeError without)."""
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
            out.append(format_float(item))
        elif isinstance(item, dict):
            pairs = [(_key(k), v) for k, v in item.items()]
            if sort_keys:
                pairs.sort(key=lambda pair: pair[0])
            container("{", "}", pairs, level)
        elif isinstance(item, (list, tuple)):
            container("[", "]", [(None, v) for v in item], level)
        elif default is not None:
            write(default(item), level)
        else:
            raise TypeError(f"json: unsupported type: {type(item).__name__}")

    def container(open_: str, close: str, entries: list, level: int) -> None:
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


def _round32(value: float) -> tuple[float, tuple[str, int] | None]:
    """``value`` rounded to float32 (±inf past its range, as Go's conversion) and the shortest digits
    with their decimal point position that read back as it, as strconv finds them for bitSize 32."""
    try:
        bits = struct.unpack("<I", struct.pack("<f", abs(value)))[0]
    except OverflowError:
        return math.copysign(math.inf, value), None
    if bits == 0 or bits >= 0x7F800000:
        return math.copysign(0.0 if bits == 0 else math.inf, value), None
    as32 = lambda b: Decimal(struct.unpack("<f", struct.pack("<I", b))[0])  # noqa: E731
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
                    _, digits, exponent = candidate.as_tuple()
                    text = "".join(map(str, digits))
                    stripped = text.rstrip("0")
                    return math.copysign(float(exact), value), (stripped, len(text) + exponent)
    raise AssertionError("unreachable: 9 digits tell every float32 apart")


def format_float(value: float, style: str = "json", bits: int = 64) -> str:
    """Go's shortest text of a float: ``style="json"`` (encoding/json) or ``"v"`` (fmt's %v);
    ``bits=32`` is ``strconv.FormatFloat(value, 'g', -1, 32)`` (the value rounded to float32)."""
    shortest = None
    if bits == 32 and math.isfinite(value):
        value, shortest = _round32(value)
    if math.isnan(value) or math.isinf(value):
        text = "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
        if style == "json":
            raise ValueError(f"json: unsupported value: {text}")
        return text
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    if shortest:
        digits, point = shortest
    else:
        mantissa, _, exp_text = repr(abs(value)).partition("e")
        whole, _, frac = mantissa.partition(".")
        digits = whole + frac
        point = len(whole) + int(exp_text or 0)  # digits[:point] is the integer part
        while len(digits) > 1 and digits[0] == "0":
            digits, point = digits[1:], point - 1
        digits = digits.rstrip("0") or "0"
    exp = point - 1
    magnitude = abs(value)
    # %v is strconv's shortest 'g': the exponent form below 1e-4 and from 1e6 on ("if shortest, eprec = 6")
    use_exp = (magnitude < 1e-6 or magnitude >= 1e21) if style == "json" else (exp < -4 or exp >= 6)
    if use_exp:
        rest = digits[1:]
        e = f"{'-' if exp < 0 else '+'}{abs(exp):02d}"
        if style == "json" and e.startswith("-0"):
            e = "-" + e[2:]
        return f"{sign}{digits[0]}{'.' + rest if rest else ''}e{e}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"
