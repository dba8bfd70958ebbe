"""The sops MAC: SHA-512 over the plaintext bytes of the leaves, stored encrypted (spec §5).

``MacHasher`` is fed every non-comment, non-null leaf in walk order (only the
encrypted ones, after a fixed prefix, with ``mac_only_encrypted``). The MAC text is
the upper-case hex digest; it is stored as an ``ENC[...]`` string encrypted with the
data key and the normalised ``lastmodified`` as AAD. ``verify_mac`` raises on any
difference (constant-time compare) and never returns a boolean.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from typing import Any

from secretsync.crypto.sops.cipher import ValueCipher, plaintext_bytes
from secretsync.crypto.sops.errors import (
    EncryptError,
    MacDecryptError,
    MacMismatch,
    MacNotFound,
    MetadataError,
    ValueDecryptError,
)
from secretsync.crypto.sops.tree import Comment
from secretsync.gocompat.gotime import format_time_seconds, parse_time

__all__ = ["MacHasher", "MAC_ONLY_ENCRYPTED_INIT", "mac_aad", "encrypt_mac", "verify_mac"]

MAC_ONLY_ENCRYPTED_INIT = hashlib.sha256(b"sops").digest()


class MacHasher:
    """Accumulates the MAC over leaves in walk order."""

    __slots__ = ("_hash", "_only_encrypted", "add_bytes")

    def __init__(self, mac_only_encrypted: bool = False) -> None:
        self._hash = hashlib.sha512()
        self._only_encrypted = mac_only_encrypted
        if mac_only_encrypted:
            self._hash.update(MAC_ONLY_ENCRYPTED_INIT)
        # add_bytes(plain): feed the plaintext bytes of one encrypted, non-comment leaf
        # directly (the hash's own update, without a Python-level call in between).
        self.add_bytes = self._hash.update

    def add(self, value: Any, encrypted: bool) -> None:
        """Feed one (plaintext) leaf; comments are never covered."""
        if isinstance(value, Comment) or value is None:
            return
        if self._only_encrypted and not encrypted:
            return
        try:
            self._hash.update(plaintext_bytes(value))
        except TypeError as exc:
            raise EncryptError(
                f"a value cannot be covered by the MAC: {exc}", hint="quote the value to make it a string"
            ) from None

    @property
    def only_encrypted(self) -> bool:
        return self._only_encrypted

    def hexdigest(self) -> str:
        return self._hash.hexdigest().upper()


@functools.lru_cache(maxsize=256)
def mac_aad(lastmodified: str) -> str:
    """``lastmodified`` re-rendered as RFC3339 without fraction: the MAC's AAD."""
    try:
        when = parse_time(lastmodified)
    except ValueError:
        raise MetadataError(
            "sops metadata: lastmodified is not an RFC3339 timestamp",
            hint="restore the file's sops.lastmodified from version control",
        ) from None
    return format_time_seconds(when)


def encrypt_mac(cipher: ValueCipher, mac: str, lastmodified: str) -> str:
    """The ``mac`` metadata field: the MAC text encrypted with the normalised ``lastmodified`` as AAD."""
    return cipher.encrypt(mac, mac_aad(lastmodified))


def verify_mac(cipher: ValueCipher, stored: str | None, computed: str, lastmodified: str, where: str) -> None:
    """Raise unless ``stored`` decrypts to ``computed``. ``where`` names the file."""
    if not stored:
        raise MacNotFound(
            f"{where}: file has no MAC", hint="the sops metadata was edited; restore the file from version control"
        )
    aad = mac_aad(lastmodified)
    done = cipher.decrypt_leaf(stored, aad.encode("utf-8", "surrogateescape"))
    try:
        text = done[0] if done is not None else cipher.decrypt(stored, aad, where=f"{where}: sops.mac")
    except ValueDecryptError:
        raise MacDecryptError(
            f"{where}: cannot decrypt the MAC (sops.mac or sops.lastmodified was edited)",
            hint="restore the file from version control",
        ) from None
    if not isinstance(text, str) or not hmac.compare_digest(text.encode(), computed.encode()):
        raise MacMismatch(
            f"{where}: MAC mismatch: the file's values, their order or its metadata were changed outside sops",
            hint="restore the file from version control, or decrypt with --ignore-mac to inspect it",
        )
