"""An independent reference codec for the kubeseal value format, written from the spec.

It deliberately imports nothing from ``secretsync``: it rebuilds the format from
``specs/sealed-secrets.md`` section 1 and 2 (2-byte big-endian length, RSA-OAEP with
SHA-256/MGF1-SHA-256 and the scope label, AES-256-GCM with a zero nonce and no AAD)
using the ``cryptography`` primitives directly, so the tests can check our
implementation against it in both directions.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def label(scope: str, namespace: str, name: str) -> bytes:
    """OAEP label per spec section 2."""
    if scope == "strict":
        return (namespace + "/" + name).encode()
    if scope == "namespace-wide":
        return namespace.encode()
    if scope == "cluster-wide":
        return b""
    raise AssertionError(scope)


def _oaep(lbl: bytes):
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=lbl if lbl else None)


def encrypt(public_key, plaintext: bytes, lbl: bytes, session_key: bytes | None = None) -> bytes:
    session_key = os.urandom(32) if session_key is None else session_key
    rsa_block = public_key.encrypt(session_key, _oaep(lbl))
    return len(rsa_block).to_bytes(2, "big") + rsa_block + AESGCM(session_key).encrypt(b"\x00" * 12, plaintext, None)


def split(value: bytes) -> tuple[bytes, bytes]:
    n = int.from_bytes(value[:2], "big")
    assert len(value) >= 2 + n, "too short"
    return value[2 : 2 + n], value[2 + n :]


def decrypt(private_key, value: bytes, lbl: bytes) -> bytes:
    rsa_block, body = split(value)
    session_key = private_key.decrypt(rsa_block, _oaep(lbl))
    return AESGCM(session_key).decrypt(b"\x00" * 12, body, None)
