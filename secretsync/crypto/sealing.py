"""The kubeseal hybrid format: one sealed value, and the scope labels that bind it.

Public (recipe level): ``seal``, ``unseal``, ``Unsealer``, ``Scope``, ``scope_label``,
``parse_scope``, ``scope_from_annotations``, ``UnsealFailed``. Everything prefixed
with an underscore is this package's business only.

A sealed value (Bitnami Sealed Secrets, ``pkg/crypto/crypto.go``) is::

    uint16 big-endian L | RSA-OAEP(SHA-256, MGF1-SHA-256, label=scope)(32-byte session key)  [L bytes]
                        | AES-256-GCM(session key, nonce = 12 zero bytes, no AAD)(plaintext) + 16-byte tag

No key id is embedded, so unsealing tries the private keys in turn; ``Unsealer`` tries
first the key that last succeeded, which makes the common case one RSA operation.
Every failure collapses into ``UnsealFailed("no key could decrypt secret")``, exactly
as the controller reports it; neither ciphertext nor plaintext appears in any message.
Pure: no file, environment or network access.
"""

from __future__ import annotations

import enum
import os
import struct
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from secretsync.secretvalue import SecretBytes

__all__ = [
    "Scope",
    "scope_label",
    "parse_scope",
    "scope_from_annotations",
    "seal",
    "unseal",
    "Unsealer",
    "UnsealFailed",
    "NO_KEY_COULD_DECRYPT",
    "CLUSTER_WIDE_ANNOTATION",
    "NAMESPACE_WIDE_ANNOTATION",
]

NO_KEY_COULD_DECRYPT = "no key could decrypt secret"
CLUSTER_WIDE_ANNOTATION = "sealedsecrets.bitnami.com/cluster-wide"
NAMESPACE_WIDE_ANNOTATION = "sealedsecrets.bitnami.com/namespace-wide"

_SESSION_KEY_BYTES = 32
_NONCE = bytes(12)
_TAG_BYTES = 16


class Scope(enum.Enum):
    """Sealing scope; the value is kubeseal's ``--scope`` spelling."""

    STRICT = "strict"
    NAMESPACE_WIDE = "namespace-wide"
    CLUSTER_WIDE = "cluster-wide"

    def annotation(self) -> str | None:
        """The SealedSecret annotation that declares this scope (None for strict)."""
        return {
            Scope.STRICT: None,
            Scope.NAMESPACE_WIDE: NAMESPACE_WIDE_ANNOTATION,
            Scope.CLUSTER_WIDE: CLUSTER_WIDE_ANNOTATION,
        }[self]


class UnsealFailed(Exception):
    """No key could decrypt a value (wrong key, wrong scope, damaged or truncated value).

    The message is always kubeseal's ``no key could decrypt secret``: like an AEAD tag
    failure it says nothing about why, and it never carries ciphertext or plaintext.
    """

    def __init__(self) -> None:
        super().__init__(NO_KEY_COULD_DECRYPT)


def parse_scope(text: str | None) -> Scope:
    """kubeseal's ``--scope`` parsing: empty means strict; anything unknown is an error."""
    if not text:
        return Scope.STRICT
    for scope in Scope:
        if scope.value == text:
            return scope
    raise ValueError("must be one of: strict, namespace-wide, cluster-wide")


def scope_from_annotations(annotations: Mapping[str, object] | None) -> Scope:
    """Scope declared by an annotation map: exact string ``"true"`` only; cluster-wide wins."""
    annotations = annotations or {}
    if annotations.get(CLUSTER_WIDE_ANNOTATION) == "true":
        return Scope.CLUSTER_WIDE
    if annotations.get(NAMESPACE_WIDE_ANNOTATION) == "true":
        return Scope.NAMESPACE_WIDE
    return Scope.STRICT


def scope_label(scope: Scope, namespace: str, name: str) -> bytes:
    """The OAEP label for a scope: ``ns/name`` (strict), ``ns`` (namespace-wide), empty (cluster-wide)."""
    if scope is Scope.STRICT:
        return f"{namespace}/{name}".encode()
    if scope is Scope.NAMESPACE_WIDE:
        return namespace.encode("utf-8")
    return b""


def _oaep(label: bytes) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=label or None)


def _plaintext_bytes(plaintext: SecretBytes | bytes) -> bytes:
    if isinstance(plaintext, SecretBytes):
        return plaintext.reveal()
    if isinstance(plaintext, (bytes, bytearray, memoryview)):
        return bytes(plaintext)
    raise TypeError("plaintext must be SecretBytes or bytes")


def seal(public_key: rsa.RSAPublicKey, plaintext: SecretBytes | bytes, label: bytes) -> bytes:
    """Seal one value (raw bytes of the hybrid format; base64 it for ``encryptedData``)."""
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise TypeError("sealing needs an RSA public key")
    session_key = os.urandom(_SESSION_KEY_BYTES)
    wrapped = public_key.encrypt(session_key, _oaep(label))
    body = AESGCM(session_key).encrypt(_NONCE, _plaintext_bytes(plaintext), None)
    return struct.pack(">H", len(wrapped)) + wrapped + body


def _split(sealed: bytes) -> tuple[bytes, bytes]:
    """(RSA block, AES-GCM body) or UnsealFailed when the value is too short."""
    if len(sealed) < 2:
        raise UnsealFailed()
    (length,) = struct.unpack(">H", sealed[:2])
    if len(sealed) < 2 + length:
        raise UnsealFailed()
    return sealed[2 : 2 + length], sealed[2 + length :]


def _try_key(key: rsa.RSAPrivateKey, block: bytes, body: bytes, label: bytes) -> bytes | None:
    """Plaintext if this key opens the value, else None (no reason given, on purpose)."""
    size = (key.key_size + 7) // 8
    if len(block) > size:
        return None
    if len(block) < size:  # Go accepts a block shorter than the modulus; pad as it does
        block = bytes(size - len(block)) + block
    try:
        session_key = key.decrypt(block, _oaep(label))
    except ValueError:
        return None
    if len(session_key) != _SESSION_KEY_BYTES or len(body) < _TAG_BYTES:
        return None
    try:
        return AESGCM(session_key).decrypt(_NONCE, body, None)
    except InvalidTag:
        return None


class Unsealer:
    """Unseals with a fixed list of private keys, trying the last successful key first.

    Upstream tries keys in random order (K keys cost up to K RSA operations); values of
    one repository are usually sealed with the same key, so remembering the last hit
    brings the common case down to one operation. ``unseal_index`` also says which
    key opened the value (position in ``keys``).
    """

    def __init__(self, keys: Sequence[rsa.RSAPrivateKey]) -> None:
        for key in keys:
            if not isinstance(key, rsa.RSAPrivateKey):
                raise TypeError("unsealing needs RSA private keys")
        self._keys = list(keys)
        self._last = 0

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"Unsealer({len(self._keys)} keys)"

    def unseal_index(self, sealed: bytes, label: bytes) -> tuple[SecretBytes, int]:
        """(plaintext, index of the key that opened it); raises UnsealFailed."""
        block, body = _split(sealed)
        count = len(self._keys)
        first = self._last if self._last < count else 0
        for offset in range(count):
            index = (first + offset) % count
            plaintext = _try_key(self._keys[index], block, body, label)
            if plaintext is not None:
                self._last = index
                return SecretBytes(plaintext), index
        raise UnsealFailed()

    def unseal(self, sealed: bytes, label: bytes) -> SecretBytes:
        """The plaintext of one sealed value; raises UnsealFailed."""
        return self.unseal_index(sealed, label)[0]


def unseal(keys: Sequence[rsa.RSAPrivateKey], sealed: bytes, label: bytes) -> SecretBytes:
    """Unseal one value with any of ``keys`` (in order); raises UnsealFailed."""
    return Unsealer(keys).unseal(sealed, label)
