"""go-yaml v3 scalar rules, ported: how sops types a YAML scalar and how it prints one back.

sops reads and writes YAML through go-yaml v3, whose typing is neither YAML 1.1
(PyYAML) nor the YAML 1.2 core schema. Internal; used by ``stores.yaml``.

Typing of a plain (unquoted, untagged) scalar, in go-yaml's order:

* exact words: ``true True TRUE`` / ``false False FALSE`` → bool; ``"" ~ null Null
  NULL`` → None; ``.nan .NaN .NAN`` → NaN; ``.inf +.inf -.inf`` (and ``Inf``/``INF``
  spellings) → ±inf. ``yes no on off y n`` and friends stay **strings**.
* first character ``.``: a float such as ``.5`` (Go ``ParseFloat``), else a string.
* first character a digit or sign: a timestamp when it starts ``YYYY-`` and matches
  one of ``2006-1-2T15:4:5.999999999Z07:00`` (also lower-case ``t``),
  ``2006-1-2 15:4:5.999999999`` (UTC) or ``2006-1-2`` (UTC) with Go ``time.Parse``
  field rules (zone offsets up to ±24:60 parse; from ±24:00 on sops cannot encrypt
  them: ``UNENCODABLE_TIME``; year 0000 is kept as text, Python has no year 0); otherwise, after removing every ``_``: a Go integer literal
  (``0x1F``, ``0o17``, ``017`` octal, ``0b101``, ``+5``) that fits int64 → int; one
  that fits uint64 only → ``UINT64`` (sops refuses to encrypt it); a decimal float
  (``08`` → 8.0, ``1e3``, ``1.``, integers beyond uint64) → float unless it overflows
  (``1e400`` stays a string); anything else → string (``1:20``).
* anything else → string.

Explicit tags: ``!!str`` keeps the text; ``!!binary`` is base64-decoded (str if the
bytes are UTF-8, else bytes); ``!!int``/``!!float``/``!!bool``/``!!null``/
``!!timestamp`` resolve as above and must agree (``!!float`` accepts an int);
unknown tags (``!foo``) keep the text as a string.

Timestamps are ``Timestamp`` (a ``datetime`` that also carries Go's nanoseconds);
``format_time`` renders Go's RFC3339Nano, the text sops encrypts and prints.
"""

from __future__ import annotations

import datetime as _dt
import math
import re

from secretsync.gocompat import gobase64, gostrconv
from secretsync.gocompat.gotime import Timestamp, format_time

__all__ = [
    "Timestamp",
    "UINT64",
    "UNENCODABLE_TIME",
    "ResolveError",
    "resolve_plain",
    "resolve_tagged",
    "format_time",
    "format_float",
    "needs_quotes",
    "resolves_to",
]

STR, INT, FLOAT, BOOL, NULL, TIMESTAMP, MERGE, BINARY = (
    "!!str",
    "!!int",
    "!!float",
    "!!bool",
    "!!null",
    "!!timestamp",
    "!!merge",
    "!!binary",
)


class ResolveError(ValueError):
    """A tagged scalar whose text does not fit its tag (message names tags, not the text)."""


class _Uint64:
    """Marker for integers in [2^63, 2^64): go-yaml yields uint64, which sops cannot encrypt."""

    def __repr__(self) -> str:
        return "UINT64"


UINT64 = _Uint64()


class _UnencodableTime:
    """Marker for timestamps whose zone offset is ±24:00 or more: sops cannot encrypt them."""

    def __repr__(self) -> str:
        return "UNENCODABLE_TIME"


UNENCODABLE_TIME = _UnencodableTime()


_WORDS: dict[str, tuple[str, object]] = {}
for _tag, _value, _words in (
    (BOOL, True, ("true", "True", "TRUE")),
    (BOOL, False, ("false", "False", "FALSE")),
    (NULL, None, ("", "~", "null", "Null", "NULL")),
    (FLOAT, math.nan, (".nan", ".NaN", ".NAN")),
    (FLOAT, math.inf, (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF")),
    (FLOAT, -math.inf, ("-.inf", "-.Inf", "-.INF")),
):
    for _w in _words:
        _WORDS[_w] = (_tag, _value)

# go-yaml's resolveTable: the first character decides which rules are tried.
_HINT_MAP = set("yYnNtTfFoO~")
_HINT_NUM = set("+-0123456789")

_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?\Z")  # Go ParseFloat on text starting with '.'
_GO_INT = re.compile(r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)\Z")
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1

# time.Parse with go-yaml's layouts: year exactly 4 digits, other fields 1-2 digits,
# optional fraction (any length, 9 digits kept), zone "Z" or ±hh:mm.
_TS_FULL = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})([Tt])([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})"
    r"(?:[.,]([0-9]+))?(Z|[-+][0-9]{2}:[0-9]{2})\Z"
)
_TS_SPACE = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2}) ([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})"
    r"(?:[.,]([0-9]+))?\Z"
)
_TS_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})\Z")


def _go_parse_float(text: str) -> float | None:
    value = float(text)
    if math.isinf(value):  # ParseFloat reports ErrRange; go-yaml then keeps the string
        return None
    return value


def _parse_int(plain: str) -> int | _Uint64 | None:
    """Go ``ParseInt(plain, 0, 64)`` then ``ParseUint``: int, ``UINT64`` or None."""
    m = _GO_INT.match(plain)
    if not m:
        return None
    sign, digits = m.groups()
    if len(digits) > 1 and digits[0] == "0":
        base = {"x": 16, "o": 8, "b": 2}.get(digits[1].lower(), 8)
        body = digits[2:] if base != 8 or digits[1] in "oO" else digits[1:]
        value = int(body, base)
    else:
        value = int(digits, 10)
    if sign == "-":
        value = -value
    if _INT64_MIN <= value <= _INT64_MAX:
        return value
    if sign == "" and value <= _UINT64_MAX:
        return UINT64
    return None


def _valid_day(year: int, month: int, day: int) -> bool:
    if not 1 <= month <= 12 or day < 1:
        return False
    try:
        _dt.date(year if year > 0 else 2000, month, day)  # year 0 is leap in Go's calendar
    except ValueError:
        return False
    return True


def parse_timestamp(text: str) -> Timestamp | _UnencodableTime | None:
    """go-yaml's ``parseTimestamp``: a ``Timestamp`` or None."""
    if len(text) < 5 or not text[:4].isdigit() or text[4] != "-" or not text[:4].isascii():
        return None
    zone = None
    m = _TS_FULL.match(text)
    if m:
        y, mo, d, _t, h, mi, s, frac, zone = m.groups()
    else:
        m = _TS_SPACE.match(text)
        if m:
            y, mo, d, h, mi, s, frac = m.groups()
        else:
            m = _TS_DATE.match(text)
            if not m:
                return None
            y, mo, d = m.groups()
            h = mi = s = "0"
            frac = None
    year, month, day, hour, minute, second = int(y), int(mo), int(d), int(h), int(mi), int(s)
    if not _valid_day(year, month, day) or hour > 23 or minute > 59 or second > 59:
        return None
    if year == 0:  # Python cannot hold year 0; go-yaml can (rare enough to keep as text)
        return None
    nanos = int((frac or "0")[:9].ljust(9, "0"))
    tz = _dt.UTC
    if zone and zone != "Z":
        hh, mm = int(zone[1:3]), int(zone[4:6])
        if hh > 24 or mm > 60:
            return None
        offset = _dt.timedelta(hours=hh, minutes=mm)
        if offset >= _dt.timedelta(hours=24):
            return UNENCODABLE_TIME  # Go parses it, but cannot write it back as RFC3339
        tz = _dt.timezone(-offset if zone[0] == "-" else offset)
    return Timestamp(year, month, day, hour, minute, second, nanos, tz)


def resolve_plain(text: str, tag: str = "") -> tuple[str, object]:
    """go-yaml's ``resolve(tag, text)`` for ``tag`` in ("", "!!timestamp"): (tag, value)."""
    if not text:
        return NULL, None
    hint = text[0]
    if hint in _HINT_MAP or hint in _HINT_NUM or hint == ".":
        word = _WORDS.get(text)
        if word is not None:
            return word
    if hint == ".":
        if _DOT_FLOAT.match(text):
            value = _go_parse_float(text)
            if value is not None:
                return FLOAT, value
    elif hint in _HINT_NUM:
        if tag in ("", TIMESTAMP):
            ts = parse_timestamp(text)
            if ts is not None:
                return TIMESTAMP, ts
        plain = text.replace("_", "")
        number = _parse_int(plain)
        if number is not None:
            return INT, number
        if _YAML_FLOAT.match(plain):
            fvalue = _go_parse_float(plain)
            if fvalue is not None:
                return FLOAT, fvalue
    return STR, text


def resolves_to(text: str) -> str:
    """The tag go-yaml gives ``text`` as a plain scalar (for the emitter's quoting)."""
    return resolve_plain(text)[0]


_TAG_ALIASES = {
    "tag:yaml.org,2002:" + name: "!!" + name
    for name in ("str", "int", "float", "bool", "null", "timestamp", "binary", "merge", "map", "seq")
}


def short_tag(tag: str | None) -> str:
    if not tag:
        return ""
    return _TAG_ALIASES.get(tag, tag)


def resolve_tagged(tag: str, text: str) -> object:
    """Type a scalar that carries an explicit tag, as go-yaml decodes it into interface{}."""
    tag = short_tag(tag)
    if tag == STR:
        return text
    if tag == BINARY:
        try:
            data = gobase64.decode(text)
        except ValueError:
            raise ResolveError("!!binary value contains invalid base64 data") from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data
    if tag not in (INT, FLOAT, BOOL, NULL, TIMESTAMP):
        return text  # unknown tags are not resolvable: the text is kept
    rtag, value = resolve_plain(text, tag)
    if rtag == tag:
        return value
    if tag == FLOAT and rtag == INT and isinstance(value, int):
        return float(value)
    raise ResolveError(f"cannot decode {rtag} as a {tag}")


# ---------------------------------------------------------------- output side


def format_float(value: float) -> str:
    """go-yaml's float text: Go ``FormatFloat(v, 'g', -1, 64)`` with ``.inf``/``-.inf``/``.nan``."""
    text = gostrconv.format_float(value, "g")
    return _YAML_SPECIAL.get(text, text)


_YAML_SPECIAL = {"+Inf": ".inf", "-Inf": "-.inf", "NaN": ".nan"}

_OLD_BOOLS = frozenset("y Y yes Yes YES on On ON n N no No NO off Off OFF".split())
_BASE60_FLOAT = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?\Z")


def needs_quotes(text: str) -> bool:
    """go-yaml ``stringv``: a string that plain style would type otherwise is double-quoted."""
    if resolves_to(text) != STR:
        return True
    return text in _OLD_BOOLS or (":" in text and _BASE60_FLOAT.match(text) is not None)
