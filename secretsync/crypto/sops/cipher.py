"""The sops value cipher: one ``ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`` string per leaf.

AES-256-GCM with the 32-byte data key as the key, a fresh 32-byte IV per value and
the leaf's key path as AAD (spec §2). The ``type`` field carries the value's
type so it decrypts back to the same Python type; the plaintext bytes of each
type (``plaintext_bytes``) are also what the MAC hashes (spec §5).

Errors name the key path, never the value or the ciphertext. Internal to
``secretsync.crypto.sops``: the document recipes are the public calls.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import os
import re
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from secretsync.crypto.sops.errors import EncryptError, ValueDecryptError
from secretsync.crypto.sops.tree import Comment
from secretsync.gocompat.gostrconv import format_float, parse_bool
from secretsync.gocompat.gotime import format_time, parse_time

__all__ = [
    "ValueCipher",
    "plaintext_bytes",
    "typed_plaintext",
    "is_encrypted_value",
    "ENC_PATTERN",
]

# sops's reader regex: greedy, not end-anchored (spec §2).
ENC_PATTERN = re.compile(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]", re.DOTALL)
# The same for well-formed values (base64 has no commas), without the greedy pattern's backtracking.
_ENC_FAST = re.compile(
    r"ENC\[AES256_GCM,data:([A-Za-z0-9+/=]*),iv:([A-Za-z0-9+/=]+),tag:([A-Za-z0-9+/=]+),"
    r"type:([a-z]+)\]"
)
IV_SIZE = 32
TAG_SIZE = 16


def is_encrypted_value(value: Any) -> bool:
    """True for a string in sops's ``ENC[AES256_GCM,...]`` syntax."""
    return isinstance(value, str) and value.startswith("ENC[AES256_GCM,")


def _encode(value: Any) -> tuple[bytes, str]:
    """(plaintext bytes, sops type name) of a leaf."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape"), "str"
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), "str"
    if isinstance(value, bool):
        return (b"True" if value else b"False"), "bool"
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise TypeError("integer does not fit in 64 bits (sops: unknown type uint64)")
        return str(value).encode(), "int"
    if isinstance(value, float):
        return format_float(value, "f").encode(), "float"
    if isinstance(value, _dt.datetime):
        return format_time(value).encode(), "time"
    if isinstance(value, _dt.date):
        return format_time(_dt.datetime(value.year, value.month, value.day, tzinfo=_dt.UTC)).encode(), "time"
    if isinstance(value, Comment):
        return value.value.encode("utf-8", "surrogateescape"), "comment"
    raise TypeError(f"cannot encrypt a value of type {type(value).__name__}")


def typed_plaintext(value: Any) -> tuple[bytes, str]:
    """(plaintext bytes, sops type name) of a leaf; ``TypeError`` for a type sops cannot encrypt."""
    return _encode(value)


def plaintext_bytes(value: Any) -> bytes:
    """The bytes the MAC hashes for a (decrypted or clear) leaf, as sops's ``ToBytes``."""
    return _encode(value)[0]


def _decode(plain: bytes, type_name: str) -> Any:
    if type_name == "str":
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            return plain
    if type_name == "int":
        text = plain.decode("ascii")
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ValueError("bad int")
        return int(text)
    if type_name == "float":
        return float(plain.decode("ascii"))
    if type_name == "bool":
        return parse_bool(plain.decode("ascii"))
    if type_name == "time":
        return parse_time(plain.decode("ascii"))
    if type_name == "comment":
        return Comment(plain.decode("utf-8", "surrogateescape"))
    if type_name == "bytes":
        return plain
    raise ValueError("unknown type")


def _b64(text: str) -> bytes:
    return binascii.a2b_base64(text, strict_mode=True)


class ValueCipher:
    """Encrypts and decrypts sops values with one data key.

    It remembers the IV of every value it decrypted, keyed by (type, plaintext, AAD),
    and reuses it when the same value is encrypted again at the same path — as sops
    does for ``rotate``/``edit`` so unchanged values keep their ciphertext under the
    same key (minimal git diffs).
    """

    __slots__ = ("_aead", "_ivs")

    def __init__(self, data_key: bytes, remember_ivs: bool = False) -> None:
        if len(data_key) != 32:
            raise ValueError("the sops data key must be 32 bytes")
        self._aead = AESGCM(bytes(data_key))
        self._ivs: dict[tuple[str, bytes, bytes], bytes] | None = {} if remember_ivs else None

    def __repr__(self) -> str:
        return "ValueCipher(<data key redacted>)"

    def adopt_ivs(self, other: ValueCipher) -> None:
        """Reuse the IVs another cipher recorded while decrypting (``rotate``)."""
        if other._ivs is not None:
            self._ivs = dict(other._ivs)

    def encrypt(self, value: Any, aad: str, iv: bytes | None = None) -> str:
        """``ENC[...]`` text of ``value`` (``""`` for an empty string or comment)."""
        try:
            plain, type_name = _encode(value)
        except TypeError as exc:
            raise EncryptError(f"value at {aad!r} cannot be encrypted: {exc}") from None
        if not plain and type_name in ("str", "comment"):
            return ""
        aad_bytes = aad.encode("utf-8", "surrogateescape")
        if iv is None and self._ivs is not None:
            iv = self._ivs.get((type_name, plain, aad_bytes))
        if iv is None:
            iv = os.urandom(IV_SIZE)
        sealed = self._aead.encrypt(iv, plain, aad_bytes)
        data, tag = sealed[:-TAG_SIZE], sealed[-TAG_SIZE:]
        return (
            f"ENC[AES256_GCM,data:{base64.b64encode(data).decode()},iv:{base64.b64encode(iv).decode()},"
            f"tag:{base64.b64encode(tag).decode()},type:{type_name}]"
        )

    def decrypt(self, text: Any, aad: str, where: str = "") -> Any:
        """The typed plaintext of an ``ENC[...]`` value; ``""`` stays ``""``.

        Raises ``ValueDecryptError`` naming ``where`` (the file) and the key path and
        the reason, never the value.
        """
        if text.__class__ is str:
            m = _ENC_FAST.match(text) or ENC_PATTERN.match(text)
            if m is not None:
                data_b64, iv_b64, tag_b64, type_name = m.groups()
                try:
                    iv = _b64(iv_b64)
                    sealed = _b64(data_b64) + _b64(tag_b64)
                    if 8 <= len(iv) <= 128 and len(tag_b64) == 24:
                        plain = self._aead.decrypt(iv, sealed, aad.encode("utf-8", "surrogateescape"))
                        value = _decode(plain, type_name)
                        if self._ivs is not None:
                            key_type = "str" if type_name == "bytes" else type_name
                            self._ivs[(key_type, plain, aad.encode("utf-8", "surrogateescape"))] = iv
                        return value
                except (InvalidTag, binascii.Error, ValueError, UnicodeError):
                    pass
        return self._explain_failure(text, aad, where)

    def decrypt_leaf(self, text: Any, aad: bytes) -> tuple[Any, bytes] | None:
        """(typed plaintext, the bytes the MAC hashes for it) of a well-formed ``ENC[...]``
        value, or ``None`` when it does not decrypt cleanly (then ``decrypt`` explains).

        For strings the MAC bytes are the decrypted bytes themselves (no re-encoding);
        other types are re-rendered as sops's ``ToBytes`` does (``+5`` hashes as ``5``).
        """
        if text.__class__ is not str:
            return None
        m = _ENC_FAST.match(text)
        if m is None:
            return None
        data_b64, iv_b64, tag_b64, type_name = m.groups()
        a2b = binascii.a2b_base64
        try:
            iv = a2b(iv_b64, strict_mode=True)
            if not 8 <= len(iv) <= 128 or len(tag_b64) != 24:
                return None
            plain = self._aead.decrypt(iv, a2b(data_b64, strict_mode=True) + a2b(tag_b64, strict_mode=True), aad)
            if type_name == "str":
                try:
                    value: Any = plain.decode("utf-8")
                except UnicodeDecodeError:
                    value = plain
                mac_bytes = plain
            else:
                value = _decode(plain, type_name)
                mac_bytes = plain if type_name == "bytes" else _encode(value)[0]
        except (InvalidTag, binascii.Error, ValueError, UnicodeError, TypeError):
            return None
        if self._ivs is not None:
            self._ivs[("str" if type_name == "bytes" else type_name, plain, aad)] = iv
        return value, mac_bytes

    def _explain_failure(self, text: Any, aad: str, where: str) -> Any:
        """Work out (slowly, once) why a value failed and raise the matching error."""
        where = f"{where}: key {aad!r}" if where else f"key path {aad!r}"
        if isinstance(text, str) and text == "":
            return ""
        if not isinstance(text, str):
            raise ValueDecryptError(
                f"{where}: expected an encrypted value, found a clear {_kind(text)}",
                hint="the file was edited by hand; restore it from version control",
            )
        m = ENC_PATTERN.match(text)
        if not m:
            raise ValueDecryptError(
                f"{where}: value does not match sops' data format (ENC[AES256_GCM,...])",
                hint="the value is clear text or truncated; restore it from version control or re-encrypt the file",
            )
        data_b64, iv_b64, tag_b64, type_name = m.groups()
        try:
            data, iv, tag = _b64(data_b64), _b64(iv_b64), _b64(tag_b64)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise ValueDecryptError(
                f"{where}: invalid base64 in the encrypted value",
                hint="the value was corrupted; restore it from version control",
            ) from None
        if len(iv) < 8 or len(iv) > 128 or len(tag) != TAG_SIZE:
            raise ValueDecryptError(
                f"{where}: invalid IV or tag length in the encrypted value",
                hint="the value was corrupted; restore it from version control",
            )
        aad_bytes = aad.encode("utf-8", "surrogateescape")
        try:
            plain = self._aead.decrypt(iv, data + tag, aad_bytes)
        except InvalidTag:
            raise ValueDecryptError(
                f"{where}: could not decrypt with AES_GCM (wrong data key, value tampered "
                f"with or moved from another key)",
                hint="restore the file from version control",
            ) from None
        try:
            _decode(plain, type_name)
        except (ValueError, UnicodeDecodeError):
            raise ValueDecryptError(f"{where}: decrypted value is not a valid {type_name!r}") from None
        raise ValueDecryptError(f"{where}: the value could not be decrypted")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, _dt.datetime):
        return "timestamp"
    return type(value).__name__
