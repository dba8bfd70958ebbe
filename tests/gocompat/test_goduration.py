"""``secretsync.gocompat.goduration`` against Go's own tables.

Covers: ``parseDurationTests`` and ``parseDurationErrorTests`` of golang/go
``src/time/time_test.go`` (the values and the quoted input each error must contain; the
non-UTF-8 byte inputs are left out: a Python ``str`` cannot hold them), Go's three error
messages, the Flux CRD pattern (``parse_crd_duration``) and the timedelta/seconds helpers.
"""

from __future__ import annotations

import datetime as dt

import pytest

from secretsync.gocompat import goduration

NS, US, MS, S, M, H = 1, 1_000, 1_000_000, 1_000_000_000, 60_000_000_000, 3_600_000_000_000

# golang/go src/time/time_test.go, parseDurationTests
PARSE_DURATION_TESTS = [
    ("0", 0),
    ("5s", 5 * S),
    ("30s", 30 * S),
    ("1478s", 1478 * S),
    ("-5s", -5 * S),
    ("+5s", 5 * S),
    ("-0", 0),
    ("+0", 0),
    ("5.0s", 5 * S),
    ("5.6s", 5 * S + 600 * MS),
    ("5.s", 5 * S),
    (".5s", 500 * MS),
    ("1.0s", 1 * S),
    ("1.00s", 1 * S),
    ("1.004s", 1 * S + 4 * MS),
    ("1.0040s", 1 * S + 4 * MS),
    ("100.00100s", 100 * S + 1 * MS),
    ("10ns", 10 * NS),
    ("11us", 11 * US),
    ("12\u00b5s", 12 * US),
    ("12\u03bcs", 12 * US),
    ("13ms", 13 * MS),
    ("14s", 14 * S),
    ("15m", 15 * M),
    ("16h", 16 * H),
    ("3h30m", 3 * H + 30 * M),
    ("10.5s4m", 4 * M + 10 * S + 500 * MS),
    ("-2m3.4s", -(2 * M + 3 * S + 400 * MS)),
    ("1h2m3s4ms5us6ns", 1 * H + 2 * M + 3 * S + 4 * MS + 5 * US + 6 * NS),
    ("39h9m14.425s", 39 * H + 9 * M + 14 * S + 425 * MS),
    ("52763797000ns", 52763797000 * NS),
    ("0.3333333333333333333h", 20 * M),
    ("9007199254740993ns", (1 << 53) + 1),
    ("9223372036854775807ns", (1 << 63) - 1),
    ("9223372036854775.807us", (1 << 63) - 1),
    ("9223372036s854ms775us807ns", (1 << 63) - 1),
    ("-9223372036854775808ns", -(1 << 63)),
    ("-9223372036854775.808us", -(1 << 63)),
    ("-9223372036s854ms775us808ns", -(1 << 63)),
    ("-2562047h47m16.854775808s", -(1 << 63)),
    ("0.100000000000000000000h", 6 * M),
    ("0.830103483285477580700h", 49 * M + 48 * S + 372539827 * NS),
]

# golang/go src/time/time_test.go, parseDurationErrorTests (text the error must contain)
PARSE_DURATION_ERROR_TESTS = [
    ("", '""'),
    ("3", '"3"'),
    ("-", '"-"'),
    ("s", '"s"'),
    (".", '"."'),
    ("-.", '"-."'),
    (".s", '".s"'),
    ("+.s", '"+.s"'),
    ("1d", '"1d"'),
    ("\ufffd", '"\\xef\\xbf\\xbd"'),
    ("\ufffd hello \ufffd world", '"\\xef\\xbf\\xbd hello \\xef\\xbf\\xbd world"'),
    ("9223372036854775810ns", '"9223372036854775810ns"'),
    ("9223372036854775808ns", '"9223372036854775808ns"'),
    ("-9223372036854775809ns", '"-9223372036854775809ns"'),
    ("9223372036854776us", '"9223372036854776us"'),
    ("3000000h", '"3000000h"'),
    ("9223372036854775.808us", '"9223372036854775.808us"'),
    ("9223372036854ms775us808ns", '"9223372036854ms775us808ns"'),
]


@pytest.mark.parametrize(("text", "want"), PARSE_DURATION_TESTS)
def test_go_parse_duration_table(text: str, want: int) -> None:
    assert goduration.parse_duration(text) == want


@pytest.mark.parametrize(("text", "expect"), PARSE_DURATION_ERROR_TESTS)
def test_go_parse_duration_error_table(text: str, expect: str) -> None:
    with pytest.raises(ValueError) as err:
        goduration.parse_duration(text)
    assert expect in str(err.value)


def test_go_error_messages() -> None:
    for text, message in (
        ("5", 'time: missing unit in duration "5"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("1 m", 'time: unknown unit " m" in duration "1 m"'),
        ("abc", 'time: invalid duration "abc"'),
    ):
        with pytest.raises(ValueError, match=f"^{message}$"):
            goduration.parse_duration(text)


@pytest.mark.parametrize("text", ["1h2m3.5s", "250ms", "10m", "0.5s"])
def test_crd_pattern_accepts(text: str) -> None:
    assert goduration.parse_crd_duration(text) == goduration.parse_duration(text)


@pytest.mark.parametrize("text", ["", "0", "10", "1d", "-1s", "+1s", "1 m", "1us", ".5s", "5.s"])
def test_crd_pattern_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        goduration.parse_crd_duration(text)


def test_conversions() -> None:
    assert goduration.seconds(300 * MS) == 0.3  # secDurationTests
    assert goduration.timedelta(goduration.parse_duration("-1.5s")) == dt.timedelta(seconds=-1.5)
    assert goduration.timedelta(goduration.parse_duration("87600h")) == dt.timedelta(hours=87600)


@pytest.mark.parametrize(
    ("text", "want"),
    [("30", 30 * S), ("30s", 30 * S), ("1h30m", 90 * M), ("500ms", 500 * MS), ("0.5", 500 * MS), (".25", 250 * MS)],
)
def test_vault_parse_duration_second(text: str, want: int) -> None:
    """hashicorp/go-secure-stdlib parseutil.ParseDurationSecond (plus the kept fraction)."""
    assert goduration.parse_duration_second(text) == want


@pytest.mark.parametrize("text", ["", "-1", "1d", "abc", "1 s", "nan", "inf"])
def test_vault_parse_duration_second_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        goduration.parse_duration_second(text)
