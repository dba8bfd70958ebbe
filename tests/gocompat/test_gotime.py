"""``secretsync.gocompat.gotime``: RFC 3339 as Go's ``time`` writes and reads it.

Covers: ``Format(time.RFC3339Nano)``, ``Format(time.RFC3339)``, ``metav1.MicroTime`` (trailing fraction zeros dropped, ``Z`` for UTC, offsets;
the layout's own example ``2006-01-02T15:04:05.999999999Z07:00`` from golang/go
``src/time/format.go``), ``Parse(time.RFC3339, ...)`` keeping nanoseconds in ``Timestamp``,
refusals (lower-case ``t``, no zone), and that ``Timestamp`` survives copy and pickling.
"""

from __future__ import annotations

import copy
import datetime as dt
import pickle

import pytest

from secretsync.gocompat.gotime import Timestamp, format_micro_time, format_time, format_time_seconds, parse_time


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("2006-01-02T15:04:05Z", "2006-01-02T15:04:05Z"),
        ("2006-01-02T15:04:05.999999999-07:00", "2006-01-02T15:04:05.999999999-07:00"),
        ("2024-01-02T10:00:00.120000000+05:30", "2024-01-02T10:00:00.12+05:30"),
        ("2024-01-02T10:00:00+00:00", "2024-01-02T10:00:00Z"),
        ("2024-01-02T10:00:00.5Z", "2024-01-02T10:00:00.5Z"),
    ],
)
def test_round_trip(text: str, printed: str) -> None:
    assert format_time(parse_time(text)) == printed


def test_nanoseconds_and_datetime() -> None:
    ts = parse_time("2024-01-02T10:00:00.123456789Z")
    assert isinstance(ts, Timestamp) and ts.nanosecond == 123456789 and ts.microsecond == 123456
    assert format_time(dt.datetime(2024, 1, 2, 3, 4, 5, 600000)) == "2024-01-02T03:04:05.6Z"  # naive = UTC
    assert format_time(copy.deepcopy(ts)) == format_time(pickle.loads(pickle.dumps(ts)))
    assert format_time(copy.deepcopy(ts)) == "2024-01-02T10:00:00.123456789Z"


@pytest.mark.parametrize("text", ["2024-01-02t10:00:00Z", "2024-01-02T10:00:00", "2024-1-02T10:00:00Z", ""])
def test_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


def test_rfc3339_seconds_and_micro_time() -> None:
    """``Format(time.RFC3339)`` keeps the zone and drops the fraction; ``metav1.MicroTime`` is UTC with
    six digits (``RFC3339Micro`` in k8s.io/apimachinery/pkg/apis/meta/v1/micro_time.go)."""
    plus2 = dt.timezone(dt.timedelta(hours=2))
    when = dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=plus2)
    assert format_time_seconds(when) == "2024-01-02T03:04:05+02:00"
    assert format_time_seconds(when.astimezone(dt.UTC)) == "2024-01-02T01:04:05Z"
    assert format_micro_time(when) == "2024-01-02T01:04:05.678000Z"
    assert parse_time(format_micro_time(when)) == when
