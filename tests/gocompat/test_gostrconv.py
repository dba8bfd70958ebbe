"""``secretsync.gocompat.gostrconv`` against Go's own tables.

Covers: ``quotetests`` (the ``Quote`` column), ``unquotetests`` and ``misquoted`` of golang/go
``src/strconv/quote_test.go`` (a Go byte that is not UTF-8 is written here as its
surrogateescape code point); client-go's ``UnquoteExtend`` (single-quoted strings, kubectl
JSONPath); shortest ``FormatFloat(v, 'g'|'f', -1, 64)`` values from ``ftoatests`` in
``src/strconv/ftoa_test.go``, plus float32.
"""

from __future__ import annotations

import math

import pytest

from secretsync.gocompat import gostrconv


def _go(data: bytes) -> str:
    """A Go string literal's bytes as this package holds them."""
    return data.decode("utf-8", "surrogateescape")


# golang/go src/strconv/quote_test.go, quotetests (in, Quote(in))
QUOTE_TESTS = [
    ("\a\b\f\r\n\t\v", '"\\a\\b\\f\\r\\n\\t\\v"'),
    ("\\", '"\\\\"'),
    (_go(b"abc\xffdef"), '"abc\\xffdef"'),
    ("\u263a", '"\u263a"'),
    ("\U0010ffff", '"\\U0010ffff"'),
    ("\x04", '"\\x04"'),
    ("!\u00a0!\u2000!\u3000!", '"!\\u00a0!\\u2000!\\u3000!"'),
    ("\x7f", '"\\x7f"'),
]

# golang/go src/strconv/quote_test.go, unquotetests
UNQUOTE_TESTS = [
    ('""', ""),
    ('"a"', "a"),
    ('"abc"', "abc"),
    ('"\u263a"', "\u263a"),
    ('"hello world"', "hello world"),
    ('"\\xFF"', _go(b"\xff")),
    ('"\\377"', _go(b"\xff")),
    ('"\\u1234"', "\u1234"),
    ('"\\U00010111"', "\U00010111"),
    ('"\\U0001011111"', "\U0001011111"),
    ('"\\a\\b\\f\\n\\r\\t\\v\\\\\\""', '\a\b\f\n\r\t\v\\"'),
    ('"\'"', "'"),
    ("'a'", "a"),
    ("'\u2639'", "\u2639"),
    ("'\\a'", "\a"),
    ("'\\x10'", "\x10"),
    ("'\\377'", _go(b"\xff")),
    ("'\\u1234'", "\u1234"),
    ("'\\U00010111'", "\U00010111"),
    ("'\\t'", "\t"),
    ("' '", " "),
    ("'\\''", "'"),
    ("'\"'", '"'),
    ("``", ""),
    ("`a`", "a"),
    ("`abc`", "abc"),
    ("`\u263a`", "\u263a"),
    ("`hello world`", "hello world"),
    ("`\\xFF`", "\\xFF"),
    ("`\\377`", "\\377"),
    ("`\\`", "\\"),
    ("`\n`", "\n"),
    ("`\t`", "\t"),
    ("` `", " "),
    ("`a\rb`", "ab"),
]

# golang/go src/strconv/quote_test.go, misquoted
MISQUOTED = [
    "",
    '"',
    '"a',
    "\"'",
    'b"',
    '"\\"',
    '"\\9"',
    '"\\19"',
    '"\\129"',
    "'\\'",
    "'\\9'",
    "'\\19'",
    "'\\129'",
    "'ab'",
    '"\\x1!"',
    '"\\U12345678"',
    '"\\z"',
    "`",
    "`xxx",
    "``x\r",
    '`"',
    '"\\\'"',
    "'\\\"'",
    '"\n"',
    '"\\n\n"',
    "'\n'",
    '"\\udead"',
    '"\\ud83d\\ude4f"',
]


@pytest.mark.parametrize(("text", "want"), QUOTE_TESTS)
def test_go_quote_table(text: str, want: str) -> None:
    assert gostrconv.quote(text) == want


@pytest.mark.parametrize(("text", "want"), UNQUOTE_TESTS)
def test_go_unquote_table(text: str, want: str) -> None:
    assert gostrconv.unquote(text) == want


@pytest.mark.parametrize(("text", "want"), QUOTE_TESTS)
def test_unquote_reverses_quote(text: str, want: str) -> None:
    assert gostrconv.unquote(want) == text


@pytest.mark.parametrize("text", MISQUOTED)
def test_go_misquoted_table(text: str) -> None:
    with pytest.raises(ValueError, match="^invalid syntax$"):
        gostrconv.unquote(text)


def test_client_go_unquote_extend() -> None:
    """k8s.io/client-go/util/jsonpath UnquoteExtend: '...' is a whole string; \\' inside it."""
    extend = {"single_quoted_strings": True}
    assert gostrconv.unquote("'abc'", **extend) == "abc"
    assert gostrconv.unquote("'it\\'s'", **extend) == "it's"
    assert gostrconv.unquote('"a\\tb"', **extend) == "a\tb"
    for bad in ("'a'b'", "'\\\"'", "'abc", "\"a'"):
        with pytest.raises(ValueError):
            gostrconv.unquote(bad, **extend)


# golang/go src/strconv/ftoa_test.go, ftoatests with prec -1
FTOA_TESTS = [
    (1, "g", "1"),
    (-1, "g", "-1"),
    (20, "g", "20"),
    (1234567.8, "g", "1.2345678e+06"),
    (200000, "g", "200000"),
    (2000000, "g", "2e+06"),
    (1e23, "g", "1e+23"),
    (1e23, "f", "100000000000000000000000"),
    (100, "g", "100"),
    (1000000, "g", "1e+06"),
    (32, "g", "32"),
    (5e-324, "g", "5e-324"),
    (1.7976931348623157e308, "g", "1.7976931348623157e+308"),
    (383260575764816448, "g", "3.8326057576481645e+17"),
    (498484681984085570, "f", "498484681984085570"),
    (-5.8339553793802237e23, "g", "-5.8339553793802237e+23"),
    (math.nan, "g", "NaN"),
    (math.inf, "g", "+Inf"),
    (-math.inf, "g", "-Inf"),
    (1e-5, "g", "1e-05"),
    (0.0001, "g", "0.0001"),
    (-0.0, "f", "-0"),
    (0.1, "f", "0.1"),
]


@pytest.mark.parametrize(("value", "fmt", "want"), FTOA_TESTS)
def test_go_format_float_table(value: float, fmt: str, want: str) -> None:
    assert gostrconv.format_float(float(value), fmt) == want  # Go float64 constants


def test_format_float32() -> None:
    """FormatFloat(f, 'g', -1, 32): the float32 nearest, in its own shortest digits."""
    assert gostrconv.format_float(123456789.0, "g", bits=32) == "1.2345679e+08"
    assert gostrconv.format_float(0.1, "g", bits=32) == "0.1"
    assert gostrconv.format_float(1e39, "g", bits=32) == "+Inf"


def test_parse_bool() -> None:
    """strconv.ParseBool's accepted spellings (src/strconv/atob.go); the error leaves the text out."""
    assert all(gostrconv.parse_bool(t) for t in ("1", "t", "T", "TRUE", "true", "True"))
    assert not any(gostrconv.parse_bool(t) for t in ("0", "f", "F", "FALSE", "false", "False"))
    for bad in ("yes", "tRUE", "", " true"):
        with pytest.raises(ValueError) as err:
            gostrconv.parse_bool(bad)
        assert bad not in str(err.value) or not bad
