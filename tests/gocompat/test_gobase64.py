"""``secretsync.gocompat.gobase64`` against Go's own tables.

Covers: ``TestDecodeCorrupt`` of golang/go ``src/encoding/base64/base64_test.go`` (the offset of
each corrupt input, -1 for a valid one), the prefix Go returns beside the error, newlines
anywhere (as kustomize wraps values), non-zero trailing bits (``StdEncoding`` is not strict), and
that an error message never holds the input.
"""

from __future__ import annotations

import pytest

from secretsync.gocompat import gobase64

# golang/go src/encoding/base64/base64_test.go, TestDecodeCorrupt (input, offset; -1 = valid)
DECODE_CORRUPT = [
    ("", -1),
    ("\n", -1),
    ("AAA=\n", -1),
    ("AAAA\n", -1),
    ("!!!!", 0),
    ("====", 0),
    ("x===", 1),
    ("=AAA", 0),
    ("A=AA", 1),
    ("AA=A", 2),
    ("AA==A", 4),
    ("AAA=AAAA", 4),
    ("AAAAA", 4),
    ("AAAAAA", 4),
    ("A=", 1),
    ("A==", 1),
    ("AA=", 3),
    ("AA==", -1),
    ("AAA=", -1),
    ("AAAA", -1),
    ("AAAAAA=", 7),
    ("YWJjZA=====", 8),
    ("A!\n", 1),
    ("A=\n", 1),
]


@pytest.mark.parametrize(("text", "offset"), DECODE_CORRUPT)
def test_go_decode_corrupt_table(text: str, offset: int) -> None:
    if offset < 0:
        gobase64.decode(text)
        assert gobase64.error_text(text) is None
        return
    with pytest.raises(gobase64.CorruptInputError) as err:
        gobase64.decode(text)
    assert err.value.offset == offset
    assert gobase64.error_text(text) == f"illegal base64 data at input byte {offset}"


def test_prefix_and_newlines() -> None:
    assert gobase64.decode("YWJj\nZGVm\r\n") == b"abcdef"
    assert gobase64.decode("YR==") == b"a"  # trailing bits ignored, as StdEncoding
    assert gobase64.decode_prefix("YWJjZA==x") == b"abcd"  # Go returns the quanta before the error
    assert gobase64.decode_prefix("YWJj!") == b"abc"
    assert gobase64.decode_prefix("YQ") == b""


def test_error_never_holds_the_input() -> None:
    with pytest.raises(ValueError) as err:
        gobase64.decode("c2VjcmV0!value")
    assert "c2VjcmV0" not in str(err.value) and "value" not in str(err.value)
