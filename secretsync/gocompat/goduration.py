"""Go's ``time.ParseDuration`` (golang/go src/time/format.go), and the Flux CRD rule on top of it.
Standard library only; no I/O.

- ``parse_duration(text)`` is ``time.ParseDuration``: ``[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+`` with
  units ``ns us µs μs ms s m h``, or a bare ``0``; nanoseconds as an ``int`` (Go's ``Duration``).
  Errors raise ``ValueError`` with Go's message (``time: invalid duration "5"``,
  ``time: missing unit in duration "5"``, ``time: unknown unit "d" in duration "1d"``).
- ``parse_crd_duration(text)`` first requires the pattern Flux's CRDs put on every
  ``metav1.Duration`` field (``^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$``, also in our ``crds/sync.yaml``),
  which the API server enforces before the controller sees the value: no sign, no ``0`` alone,
  no ``ns``/``us``, a digit before any point.
- ``parse_duration_second(text)`` is Vault's ``parseutil.ParseDurationSecond`` (hashicorp/
  go-secure-stdlib) for a string, as the Vault client reads ``VAULT_CLIENT_TIMEOUT``: text ending in
  ``s``, ``m`` or ``h`` goes to ``parse_duration``, anything else is a number of seconds. One
  documented difference: a decimal number keeps its fraction (``0.5`` is 500ms; Go's
  ``time.Duration(secs)`` truncates it to 0), which ``VAULT_RETRY_WAIT=0.5`` needs.
- ``seconds(ns)`` and ``timedelta(ns)`` turn a ``Duration`` into what Python callers use.
"""

from __future__ import annotations

import datetime as _dt
import re

__all__ = ["parse_duration", "parse_crd_duration", "parse_duration_second", "CRD_PATTERN", "seconds", "timedelta"]

CRD_PATTERN = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # U+00B5 micro sign
    "\u03bcs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_DIGITS = "0123456789"
_MAX = 1 << 63


def _go_quote(text: str) -> str:
    """The time package's own ``quote``: ``"`` and ``\\`` escaped, non-ASCII and controls as ``\\xNN`` bytes."""
    out = ['"']
    for ch in text:
        if ord(ch) >= 0x80 or ch < " ":
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogateescape"))
        else:
            out.append("\\" + ch if ch in '"\\' else ch)
    out.append('"')
    return "".join(out)


def _leading(text: str, i: int) -> int:
    while i < len(text) and text[i] in _DIGITS:
        i += 1
    return i


def _component(orig: str, s: str, i: int) -> tuple[int, int]:
    """One ``number unit`` of ``s`` from ``i``: (nanoseconds, next index), as ParseDuration's loop body."""
    invalid = ValueError("time: invalid duration " + _go_quote(orig))
    if s[i] != "." and s[i] not in _DIGITS:
        raise invalid
    end = _leading(s, i)
    whole = int(s[i:end]) if end > i else 0
    if whole > _MAX:
        raise invalid  # leadingInt overflow
    pre = end > i
    frac, scale, post = 0, 1.0, False
    if end < len(s) and s[end] == ".":
        start = end + 1
        end = _leading(s, start)
        post = end > start
        for c in s[start:end]:  # leadingFraction: digits past int64 precision are dropped
            y = frac * 10 + int(c)
            if frac > (_MAX - 1) // 10 or y > _MAX:
                break
            frac, scale = y, scale * 10
    if not pre and not post:
        raise invalid  # no digits, e.g. ".s"
    unit_end = end
    while unit_end < len(s) and s[unit_end] != "." and s[unit_end] not in _DIGITS:
        unit_end += 1
    if unit_end == end:
        raise ValueError("time: missing unit in duration " + _go_quote(orig))
    unit_text = s[end:unit_end]
    unit = _UNITS.get(unit_text)
    if unit is None:
        raise ValueError(f"time: unknown unit {_go_quote(unit_text)} in duration {_go_quote(orig)}")
    if whole > _MAX // unit:
        raise invalid
    value = whole * unit
    if frac > 0:
        value += int(float(frac) * (float(unit) / scale))  # Go's float64 step, nanosecond-exact up to hours
        if value > _MAX:
            raise invalid
    return value, unit_end


def parse_duration(text: str) -> int:
    """Go ``time.ParseDuration(text)``: nanoseconds; ``ValueError`` with Go's message."""
    s, neg = text, False
    if s and s[0] in "+-":
        neg, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError("time: invalid duration " + _go_quote(text))
    total, i = 0, 0
    while i < len(s):
        value, i = _component(text, s, i)
        total += value
        if total > _MAX:
            raise ValueError("time: invalid duration " + _go_quote(text))
    if neg:
        return -total
    if total > _MAX - 1:
        raise ValueError("time: invalid duration " + _go_quote(text))
    return total


def parse_crd_duration(text: str) -> int:
    """A duration field of a Flux-style CRD: ``CRD_PATTERN`` must match, then ``parse_duration``."""
    if not CRD_PATTERN.match(text):
        raise ValueError(f"{_go_quote(text)} does not match {CRD_PATTERN.pattern}")
    return parse_duration(text)


_SECONDS = re.compile(r"\+?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def parse_duration_second(text: str) -> int:
    """Vault's ``ParseDurationSecond`` of a string (see the module docstring): nanoseconds."""
    if text.endswith(("s", "m", "h")):
        return parse_duration(text)
    if not _SECONDS.fullmatch(text):
        raise ValueError(f"strconv.ParseFloat: parsing {_go_quote(text)}: invalid syntax")
    value = float(text) * 1e9
    if value >= _MAX:
        raise ValueError("time: invalid duration " + _go_quote(text))
    return int(value)


def seconds(duration: int) -> float:
    """Go ``Duration.Seconds()``."""
    return duration / 1e9


def timedelta(duration: int) -> _dt.timedelta:
    """A ``datetime.timedelta`` of a Go ``Duration`` (microsecond precision, as Python holds it)."""
    return _dt.timedelta(microseconds=duration / 1000)
