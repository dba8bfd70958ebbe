"""Go's RFC3339Nano text of a timestamp: the one rendering the cipher (typed plaintext, MAC) and the stores share.

Pure and dependency-free so both ``cipher`` and ``stores`` import it without a store
depending on the cipher or the cipher on a store.
"""

from __future__ import annotations

import datetime as _dt

__all__ = ["format_time"]


def format_time(value: _dt.datetime) -> str:
    """Go's RFC3339Nano: fraction without trailing zeros, ``Z`` for a zero offset (naive = UTC)."""
    offset = value.utcoffset()
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    nanos = getattr(value, "nanosecond", value.microsecond * 1000)
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    if offset is None or offset == _dt.timedelta(0):
        return text + "Z"
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    return f"{text}{sign}{total // 3600:02d}:{(total % 3600) // 60:02d}"
