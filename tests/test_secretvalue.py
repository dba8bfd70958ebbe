"""SecretBytes never shows its value: repr, str, format, logging, exceptions, pickle."""

import copy
import logging
import pickle

import pytest

from secretsync import SecretBytes

CANARY = "canary-7f3a9c-value"


def test_repr_str_format_redact():
    s = SecretBytes(CANARY)
    for text in (repr(s), str(s), f"{s}", "%s" % s, f"{s}", repr([s]), repr({"k": s})):  # noqa: UP031 - %-formatting must redact too
        assert CANARY not in text
        assert "redacted" in text


def test_reveal_and_base64_roundtrip():
    s = SecretBytes(b"\x00\xffbin")
    assert s.reveal() == b"\x00\xffbin"
    assert SecretBytes.from_base64(s.to_base64()) == s
    assert len(s) == 5


def test_invalid_base64_error_does_not_echo_input():
    with pytest.raises(ValueError) as info:
        SecretBytes.from_base64(CANARY + "!!")
    assert CANARY not in str(info.value)


def test_logging_and_exception_do_not_leak(caplog):
    s = SecretBytes(CANARY)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("t").debug("value %s %r", s, s)
    assert CANARY not in caplog.text
    assert CANARY not in str(ValueError(s))


def test_equality_and_no_pickle():
    assert SecretBytes("a") == SecretBytes(b"a")
    assert SecretBytes("a") != SecretBytes("b")
    assert copy.deepcopy(SecretBytes("a")) == SecretBytes("a")
    with pytest.raises(TypeError):
        pickle.dumps(SecretBytes(CANARY))
    with pytest.raises(TypeError):
        SecretBytes(123)
