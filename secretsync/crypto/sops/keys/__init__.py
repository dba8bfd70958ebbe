"""Master keys: what wraps the sops data key, behind one small protocol and a registry.

Each key type (``age``, ``hc_vault``, and the recognised-but-unsupported ``pgp``,
``kms``, ``gcp_kms``, ``azure_kv``, ``hckms``) is a class registered under the
metadata field that holds it (spec §6). ``SopsKeys`` carries what decryption and
encryption need from the outside (age identities, a Vault transit client) — the
caller at the I/O edge (``secretsync.sops.identities``) builds it; nothing here reads
files or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

if TYPE_CHECKING:
    from secretsync.crypto.age import AgeIdentity

__all__ = [
    "KeyFailure",
    "MasterKey",
    "SopsKeys",
    "TransitClient",
    "register",
    "key_class",
    "KEY_FIELDS",
    "DEFAULT_DECRYPTION_ORDER",
    "key_from_file",
]

DEFAULT_DECRYPTION_ORDER = ("age", "pgp")


class KeyFailure(Exception):
    """A master key could not wrap or unwrap the data key; the message is safe to show (no key material)."""


class TransitClient(Protocol):
    """Vault transit, injected (``secretsync.sops.transit.VaultTransit`` implements it)."""

    def encrypt(self, address: str, engine_path: str, key_name: str, plaintext: bytes) -> str: ...

    def decrypt(self, address: str, engine_path: str, key_name: str, ciphertext: str) -> bytes: ...


@dataclass
class SopsKeys:
    """Key material and services for sops operations.

    ``age_identities``: ``secretsync.crypto.age.AgeIdentity`` list (all are tried on
    every age key); ``transit``: a ``TransitClient`` or ``None``;
    ``decryption_order``: key type identifiers tried first, in order;
    ``source_errors``: identity sources that failed to load (shown in reports).
    """

    age_identities: list[AgeIdentity] = field(default_factory=list)
    transit: TransitClient | None = None
    decryption_order: tuple[str, ...] = DEFAULT_DECRYPTION_ORDER
    source_errors: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return (
            f"SopsKeys(age_identities={len(self.age_identities)}, transit={'yes' if self.transit else 'no'}, "
            f"decryption_order={self.decryption_order!r})"
        )


class MasterKey(Protocol):
    """One master key: wraps (``encrypt``) and unwraps (``decrypt``) the data key or a Shamir share."""

    type_id: ClassVar[str]  # sops's key type identifier, used by the decryption order
    field: ClassVar[str]  # the metadata field (and key-group field) holding this type

    def name(self) -> str: ...

    def encrypt(self, data_key: bytes, keys: SopsKeys) -> None: ...

    def decrypt(self, keys: SopsKeys) -> bytes: ...

    def to_file(self) -> dict[str, Any]: ...


_REGISTRY: dict[str, Any] = {}  # metadata field -> key class (with ``field`` and a ``from_file`` classmethod)

_K = TypeVar("_K")


def register(cls: _K) -> _K:
    """Class decorator: make ``cls`` the handler of metadata field ``cls.field``."""
    _REGISTRY[cls.field] = cls  # type: ignore[attr-defined]  # every registered class declares ``field``
    return cls


def key_class(field_name: str) -> Any:
    return _REGISTRY[field_name]


def key_from_file(field_name: str, entry: dict[str, Any]) -> Any:
    """A master key object from one entry of metadata field ``field_name``."""
    return _REGISTRY[field_name].from_file(entry)


# Import the implementations so they register (order = the field order sops writes).
from secretsync.crypto.sops.keys import age as _age  # noqa: E402
from secretsync.crypto.sops.keys import hc_vault as _hc_vault  # noqa: E402
from secretsync.crypto.sops.keys import unsupported as _unsupported  # noqa: E402

# Field order inside a key group / the metadata block, as sops 3.11 writes it.
KEY_FIELDS = ("kms", "gcp_kms", "azure_kv", "hc_vault", "age", "pgp")
KNOWN_FIELDS = KEY_FIELDS + ("hckms",)
del _unsupported, _hc_vault, _age
