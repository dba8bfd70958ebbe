"""The binary store: any bytes as one string leaf ``data``, encrypted into a JSON envelope.

Plain side: the whole input is the value of ``data`` (a ``str`` when it is UTF-8,
else ``bytes``; AAD ``data:``); decrypting writes those bytes back unchanged.
Encrypted side: ``{"data": "ENC[…]", "sops": {…}}`` through the JSON store.
"""

from __future__ import annotations

from secretsync.crypto.sops.errors import StoreError
from secretsync.crypto.sops.stores import json as json_store
from secretsync.crypto.sops.tree import Branch, Item

__all__ = ["load_plain", "dump_plain", "load", "dump"]


def load_plain(data: bytes) -> list[Branch]:
    raw = bytes(data)
    try:
        value: str | bytes = raw.decode("utf-8")
    except UnicodeDecodeError:
        value = raw
    return [Branch([Item("data", value)])]


def dump_plain(docs: list[Branch]) -> bytes:
    if len(docs) != 1 or "data" not in list(docs[0].keys()):
        raise StoreError(
            "a binary sops file must hold exactly one 'data' entry",
            hint="decrypt it with --output-type json or yaml to see its structure",
        )
    value = docs[0].get("data")
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    raise StoreError("the 'data' entry of a binary sops file must be a string")


def load(data: bytes) -> list[Branch]:
    """The encrypted envelope (JSON)."""
    return json_store.load(data)


def dump(docs: list[Branch], indent: int | None = None) -> bytes:
    return json_store.dump(docs, indent)
