"""Go's ``time`` text of a timestamp: ``Format(time.RFC3339Nano)`` (``format_time``),
``Format(time.RFC3339)`` (``format_time_seconds``: sops's ``lastmodified`` and its MAC's AAD,
Kubernetes ``metav1.Time``), ``metav1.MicroTime``'s ``2006-01-02T15:04:05.000000Z07:00``
(``format_micro_time``) and ``Parse(time.RFC3339, ...)`` (``parse_time``, which also reads the
other three, as Go's parser accepts a fraction the layout does not name), and ``Timestamp``, a
``datetime`` that keeps Go's nanoseconds. Standard library only; no I/O.

The sops cipher (typed plaintext, the MAC's ``lastmodified``) and the sops stores (YAML, JSON,
INI, dotenv) share these, so neither imports the other.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

__all__ = ["Timestamp", "format_time", "format_time_seconds", "format_micro_time", "parse_time"]


class Timestamp(_dt.datetime):
    """A ``datetime`` that keeps Go's nanosecond precision (``nanosecond`` = full fraction).

    Built as ``Timestamp(year, month, day, hour, minute, second, nanosecond, tzinfo)``;
    ``replace``, ``astimezone`` and arithmetic return plain ``datetime`` objects (the
    datetime C code would call this constructor with microseconds in that place).
    """

    nanosecond: int

    def __new__(
        cls,
        year: int,
        month: int,
        day: int,
        hour: int = 0,
        minute: int = 0,
        second: int = 0,
        nanosecond: int = 0,
        tzinfo: _dt.tzinfo | None = None,
        *,
        fold: int = 0,
    ) -> Timestamp:
        self = super().__new__(
            cls, year, month, day, hour, minute, second, nanosecond // 1000, tzinfo=tzinfo, fold=fold
        )
        self.nanosecond = nanosecond
        return self

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:  # copy/deepcopy/pickle keep the nanoseconds
        return (
            Timestamp,
            (self.year, self.month, self.day, self.hour, self.minute, self.second, self.nanosecond, self.tzinfo),
        )

    def to_datetime(self) -> _dt.datetime:
        return _dt.datetime(
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.microsecond,
            self.tzinfo,
            fold=self.fold,
        )

    def replace(self, *args: Any, **kwargs: Any) -> _dt.datetime:  # type: ignore[override]  # a plain datetime
        return self.to_datetime().replace(*args, **kwargs)

    # The overrides below return a plain datetime on purpose (the nanoseconds do not survive them).
    def astimezone(self, tz: _dt.tzinfo | None = None) -> _dt.datetime:  # type: ignore[override]
        return self.to_datetime().astimezone(tz)

    def __add__(self, other: _dt.timedelta) -> _dt.datetime:  # type: ignore[override]
        return self.to_datetime() + other

    __radd__ = __add__  # type: ignore[assignment]

    def __sub__(self, other: Any) -> Any:
        if isinstance(other, Timestamp):
            other = other.to_datetime()
        return self.to_datetime() - other


def _seconds_text(value: _dt.datetime) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"


def _zone(value: _dt.datetime) -> str:
    """Go's ``Z07:00``: ``Z`` for a zero offset (naive = UTC), else ``±hh:mm``."""
    offset = value.utcoffset()
    if offset is None or offset == _dt.timedelta(0):
        return "Z"
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    return f"{sign}{total // 3600:02d}:{(total % 3600) // 60:02d}"


def format_time(value: _dt.datetime) -> str:
    """Go's RFC3339Nano: fraction without trailing zeros, ``Z`` for a zero offset (naive = UTC)."""
    text = _seconds_text(value)
    nanos: int = getattr(value, "nanosecond", value.microsecond * 1000)
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + _zone(value)


def format_time_seconds(value: _dt.datetime) -> str:
    """Go's RFC3339: no fraction, the zone kept (``Z`` for a zero offset; naive = UTC)."""
    return _seconds_text(value) + _zone(value)


def format_micro_time(value: _dt.datetime) -> str:
    """``metav1.MicroTime``'s text: ``value`` in UTC with six fraction digits and ``Z``."""
    utc = value.astimezone(_dt.UTC)
    return f"{_seconds_text(utc)}.{utc.microsecond:06d}Z"


_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$")


def parse_time(text: str) -> Timestamp:
    """Go's ``time.Parse(time.RFC3339, text)`` (fraction allowed; upper-case ``T``/``Z`` required),
    as a ``Timestamp`` (nanoseconds kept). ``ValueError`` without the text in its message."""
    m = _RFC3339.match(text)
    if not m:
        raise ValueError("not an RFC3339 timestamp")
    year, month, day, hour, minute, second, frac, zone = m.groups()
    nanos = int((frac or "0")[:9].ljust(9, "0"))
    if zone == "Z":
        tz: _dt.tzinfo = _dt.UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = _dt.timezone(sign * _dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    return Timestamp(int(year), int(month), int(day), int(hour), int(minute), int(second), nanos, tzinfo=tz)
