"""Go's ``base64.StdEncoding.DecodeString`` (golang/go src/encoding/base64/base64.go): the decoder
the API server, kustomize and kubeseal use for Secret ``data``. Standard library only; no I/O.

Go's decoder skips ``\\r`` and ``\\n`` anywhere (kustomize and ``base64`` wrap long values across
lines, and the API server accepts them), requires ``=`` padding, and accepts non-zero trailing bits
(``StdEncoding`` is not ``Strict``). On bad input it returns the bytes of the quanta decoded before
the error and ``CorruptInputError(offset)``, the offset counted in the input's bytes, newlines
included ("illegal base64 data at input byte N").

- ``decode(text)``: the bytes, or ``CorruptInputError`` (a ``ValueError``; its message holds an
  offset only, never the input).
- ``decode_prefix(text)``: what Go returns beside the error (all of it when valid).
- ``error_text(text)``: ``None`` if valid, else Go's error text.

The fast path is the C decoder on the text with ``\\r``/``\\n`` removed (the same acceptance as Go's
for ``StdEncoding``); the error path runs the port of Go's ``decodeQuantum`` to find offset and prefix.
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["CorruptInputError", "decode", "decode_prefix", "error_text"]

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_DECODE = {c: i for i, c in enumerate(_ALPHABET)}
_NEWLINE = b"\r\n"
_PAD = ord("=")


class CorruptInputError(ValueError):
    """Go's ``base64.CorruptInputError``: the offset of the first bad input byte."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"illegal base64 data at input byte {offset}")
        self.offset = offset


def _skip_newlines(src: bytes, si: int) -> int:
    while si < len(src) and src[si] in _NEWLINE:
        si += 1
    return si


def _padding_end(src: bytes, si: int, j: int) -> tuple[int, CorruptInputError | None]:
    """After a ``=`` at quantum position ``j`` (already consumed): Go's checks for the rest of the padding.
    (index after it, the error if any); raises when the quantum itself is corrupt."""
    if j in (0, 1):
        raise CorruptInputError(si - 1)  # incorrect padding
    if j == 2:  # "==" expected, the first "=" already consumed
        si = _skip_newlines(src, si)
        if si == len(src):
            raise CorruptInputError(len(src))  # not enough padding
        if src[si] != _PAD:
            raise CorruptInputError(si - 1)  # incorrect padding
        si += 1
    si = _skip_newlines(src, si)
    return si, (CorruptInputError(si) if si < len(src) else None)  # trailing garbage


def _quantum(src: bytes, si: int) -> tuple[int, bytes, CorruptInputError | None]:
    """Go's ``decodeQuantum``: (next index, the bytes decoded, a trailing-garbage error)."""
    dbuf = [0, 0, 0, 0]
    dlen, err = 4, None
    j = 0
    while j < 4:
        if si == len(src):
            if j == 0:
                return si, b"", None
            raise CorruptInputError(si - j)  # StdEncoding pads: a short quantum is corrupt
        c = src[si]
        si += 1
        if c in _DECODE:
            dbuf[j] = _DECODE[c]
            j += 1
        elif c in _NEWLINE:
            continue
        elif c != _PAD:
            raise CorruptInputError(si - 1)
        else:
            si, err = _padding_end(src, si, j)
            dlen = j
            break
    val = dbuf[0] << 18 | dbuf[1] << 12 | dbuf[2] << 6 | dbuf[3]
    return si, val.to_bytes(3, "big")[: dlen - 1], err


def _go_decode(src: bytes) -> tuple[bytes, CorruptInputError | None]:
    out = bytearray()
    si = 0
    while si < len(src):
        try:
            si, chunk, err = _quantum(src, si)
        except CorruptInputError as exc:
            return bytes(out), exc
        out += chunk
        if err is not None:
            return bytes(out), err
        if not chunk:
            break
    return bytes(out), None


def _fast(text: str) -> bytes | None:
    if not isinstance(text, str):
        raise TypeError(f"base64 text must be str, not {type(text).__name__}")
    try:
        return base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        return None


def decode(text: str) -> bytes:
    """Go ``base64.StdEncoding.DecodeString(text)``: the bytes, or ``CorruptInputError``."""
    data = _fast(text)
    if data is not None:
        return data
    _, err = _go_decode(text.encode("utf-8", "surrogateescape"))
    raise err or CorruptInputError(0)


def decode_prefix(text: str) -> bytes:
    """The bytes Go's ``DecodeString`` returns beside any error: all of them when ``text`` is valid."""
    data = _fast(text)
    return data if data is not None else _go_decode(text.encode("utf-8", "surrogateescape"))[0]


def error_text(text: str) -> str | None:
    """``None`` if Go decodes ``text`` without error, else Go's error text (an offset, not the input)."""
    if _fast(text) is not None:
        return None
    err = _go_decode(text.encode("utf-8", "surrogateescape"))[1]
    return str(err or CorruptInputError(0))
