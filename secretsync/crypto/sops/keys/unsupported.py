"""Master key types secretsync recognises but cannot use: PGP and the cloud KMSs.

They are kept verbatim (so re-writing a file keeps them) and named in reports: a
file whose data key only they can recover fails with ``UnsupportedKeyType``-style
messages naming the key; when another key or group works they are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from secretsync.crypto.sops.keys import KeyFailure, SopsKeys, register

__all__ = ["PGPKey", "AWSKMSKey", "GCPKMSKey", "AzureKVKey", "HuaweiKMSKey"]


@dataclass
class _Unsupported:
    entry: dict[str, Any] = field(default_factory=dict)

    type_id: ClassVar[str] = ""
    field: ClassVar[str] = ""
    label: ClassVar[str] = ""
    id_field: ClassVar[str] = ""

    def name(self) -> str:
        return f"{self.label} {self.entry.get(self.id_field, '?')}"

    def encrypt(self, data_key: bytes, keys: SopsKeys) -> None:
        raise KeyFailure(f"{self.label} master keys are not supported by secretsync; use age or Vault transit")

    def decrypt(self, keys: SopsKeys) -> bytes:
        raise KeyFailure(
            f"{self.label} master keys are not supported by secretsync (only age and Vault transit "
            f"are); add an age or Vault transit key to the file with sops or use another group"
        )

    def to_file(self) -> dict[str, Any]:
        return dict(self.entry)

    @classmethod
    def from_file(cls, entry: dict[str, Any]) -> _Unsupported:
        return cls(dict(entry))


@register
class PGPKey(_Unsupported):
    type_id = "pgp"
    field = "pgp"
    label = "PGP"
    id_field = "fp"


@register
class AWSKMSKey(_Unsupported):
    type_id = "kms"
    field = "kms"
    label = "AWS KMS"
    id_field = "arn"


@register
class GCPKMSKey(_Unsupported):
    type_id = "gcp_kms"
    field = "gcp_kms"
    label = "GCP KMS"
    id_field = "resource_id"


@register
class AzureKVKey(_Unsupported):
    type_id = "azure_kv"
    field = "azure_kv"
    label = "Azure Key Vault"
    id_field = "vault_url"


@register
class HuaweiKMSKey(_Unsupported):
    type_id = "hckms"
    field = "hckms"
    label = "HuaweiCloud KMS"
    id_field = "key_id"
