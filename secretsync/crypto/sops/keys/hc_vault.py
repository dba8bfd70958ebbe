"""The ``hc_vault`` master key: Vault transit wraps the data key (spec §6).

The transit calls themselves are injected (``SopsKeys.transit``); this module only
knows the metadata fields and the URI form ``https://host:8200/v1/<engine>/keys/<key>``.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from secretsync.crypto.sops.keys import KeyFailure, SopsKeys, register
from secretsync.gocompat.gotime import format_time_seconds

__all__ = ["VaultTransitKey"]


@register
@dataclass
class VaultTransitKey:
    """A Vault transit key (address, engine mount path, key name) and its wrapped data key."""

    vault_address: str
    engine_path: str
    key_name: str
    enc: str = ""
    created_at: str = ""

    type_id: ClassVar[str] = "hc_vault"
    field: ClassVar[str] = "hc_vault"

    @classmethod
    def from_uri(cls, uri: str) -> VaultTransitKey:
        """Parse sops's URI form; raises ``ValueError`` naming the URI."""
        parts = urlsplit(uri.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"Vault transit URI {uri!r} must start with http:// or https://")
        path = parts.path
        if not path.startswith("/v1/") or "/keys/" not in path:
            raise ValueError(f"Vault transit URI {uri!r} must look like https://host:8200/v1/<engine>/keys/<key>")
        engine, _, key = path[len("/v1/") :].rpartition("/keys/")
        if not engine or not key or "/" in key:
            raise ValueError(f"Vault transit URI {uri!r} must look like https://host:8200/v1/<engine>/keys/<key>")
        return cls(vault_address=f"{parts.scheme}://{parts.netloc}", engine_path=engine.strip("/"), key_name=key)

    def name(self) -> str:
        return f"{self.vault_address}/v1/{self.engine_path}/keys/{self.key_name}"

    def encrypt(self, data_key: bytes, keys: SopsKeys) -> None:
        if keys.transit is None:
            raise KeyFailure("no Vault transit client configured (set VAULT_TOKEN)")
        self.enc = keys.transit.encrypt(self.vault_address, self.engine_path, self.key_name, bytes(data_key))
        self.created_at = format_time_seconds(_dt.datetime.now(_dt.UTC))

    def decrypt(self, keys: SopsKeys) -> bytes:
        if keys.transit is None:
            raise KeyFailure("no Vault transit client configured (set VAULT_TOKEN or ~/.vault-token)")
        return keys.transit.decrypt(self.vault_address, self.engine_path, self.key_name, self.enc)

    def to_file(self) -> dict[str, Any]:
        return {
            "vault_address": self.vault_address,
            "engine_path": self.engine_path,
            "key_name": self.key_name,
            "created_at": self.created_at,
            "enc": self.enc,
        }

    @classmethod
    def from_file(cls, entry: dict[str, Any]) -> VaultTransitKey:
        return cls(
            vault_address=str(entry.get("vault_address") or ""),
            engine_path=str(entry.get("engine_path") or ""),
            key_name=str(entry.get("key_name") or ""),
            enc=str(entry.get("enc") or ""),
            created_at=str(entry.get("created_at") or ""),
        )
