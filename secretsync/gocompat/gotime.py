"""Go's ``time`` text of a timestamp: ``Format(time.RFC3339Nano)`` and ``Parse(time.RFC3339, ...)``,
and ``Timestamp``, a ``datetime`` that keeps Go's nanoseconds. Standard library only; no I/O.

The sops cipher (typed plaintext, the MAC's ``lastmodified``) and the sops stores (YAML, JSON,
INI, dotenv) share these, so neither imports the other.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

__all__ = ["Timestamp", "format_time", "parse_time"]


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


def format_time(value: _dt.datetime) -> str:
    """Go's RFC3339Nano: fraction without trailing zeros, ``Z`` for a zero offset (naive = UTC)."""
    offset = value.utcoffset()
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    nanos: int = getattr(value, "nanosecond", value.microsecond * 1000)
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    if offset is None or offset == _dt.timedelta(0):
        return text + "Z"
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    return f"{text}{sign}{total // 3600:02d}:{(total % 3600) // 60:02d}"


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
