"""The ``age`` master key: the data key wrapped in an armored age file per recipient."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from secretsync.crypto import age as _age
from secretsync.crypto.sops.keys import KeyFailure, SopsKeys, register

__all__ = ["AgeKey"]


@register
@dataclass
class AgeKey:
    """An age recipient (``age1…`` or an SSH public key line) and its wrapped data key."""

    recipient: str
    enc: str = ""

    type_id: ClassVar[str] = "age"
    field: ClassVar[str] = "age"

    def name(self) -> str:
        return self.recipient

    def encrypt(self, data_key: bytes, keys: SopsKeys) -> None:
        try:
            self.enc = _age.encrypt(data_key, self.recipient)
        except _age.AgeError as exc:
            raise KeyFailure(str(exc)) from None

    def decrypt(self, keys: SopsKeys) -> bytes:
        if not keys.age_identities:
            raise KeyFailure(
                "no age identities were loaded (SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, ~/.config/sops/age/keys.txt, SSH keys)"
            )
        try:
            return _age.decrypt(self.enc, keys.age_identities)
        except _age.AgeError as exc:
            raise KeyFailure(f"{exc} (tried {len(keys.age_identities)} loaded identities)") from None

    def to_file(self) -> dict[str, Any]:
        return {"recipient": self.recipient, "enc": self.enc}

    @classmethod
    def from_file(cls, entry: dict[str, Any]) -> AgeKey:
        return cls(recipient=str(entry.get("recipient") or ""), enc=str(entry.get("enc") or ""))
