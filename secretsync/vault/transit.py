"""Vault's transit engine on the wire: the request path and body, and the answer checked.

Pure (no HTTP): ``secretsync.vault.client`` sends what ``transit_request`` builds, as
``VaultBackend`` (the logged-in identity) or ``TransitEndpoint`` (one address, one
explicit token, for sops's ``hc_vault`` keys), and reads the answer with
``encrypt_answer`` / ``decrypt_answer``. A refusal or an answer without the expected
field raises ``VaultTransitError``, naming the address and path, never a payload.
"""

from __future__ import annotations

import base64
from typing import Any

from secretsync.secretvalue import SecretBytes
from secretsync.vault.errors import VaultTransitError

__all__ = ["transit_request", "encrypt_answer", "decrypt_answer"]

_TRANSIT_REFUSALS = {
    403: ("permission denied", "check the token and its policy on this transit key"),
    404: ("no such transit engine or key", "check the engine path and key name"),
    400: ("Vault refused the request", "the ciphertext may belong to another transit key"),
}


def transit_request(
    op: str, mount: str, key_name: str, payload: bytes | str, context: bytes | None
) -> tuple[str, dict[str, str]]:
    """The API path and JSON body of a transit ``encrypt`` (payload = plaintext bytes) or ``decrypt``."""
    if op == "encrypt":
        if isinstance(payload, str):
            raise TypeError("transit encrypt takes the plaintext as bytes")
        body = {"plaintext": base64.b64encode(bytes(payload)).decode("ascii")}
    else:
        body = {"ciphertext": str(payload)}
    if context is not None:
        body["context"] = base64.b64encode(context).decode("ascii")
    return f"{mount.strip('/')}/{op}/{key_name}", body


def _answer_data(op: str, status: int, response: Any, where: str) -> dict[str, Any]:
    """The ``data`` map of a transit answer; a refusal or an unexpected answer raises."""
    if status in _TRANSIT_REFUSALS:
        what, hint = _TRANSIT_REFUSALS[status]
        raise VaultTransitError(f"transit {op} failed: {what} {where}", hint=hint)
    data = response.get("data") if isinstance(response, dict) else None
    if status != 200 or not isinstance(data, dict):
        raise VaultTransitError(
            f"transit {op} failed: unexpected answer {where}",
            hint="check that the transit engine is mounted and the key exists",
        )
    return data


def encrypt_answer(status: int, response: Any, where: str) -> str:
    """Vault's ``vault:vN:…`` ciphertext from an ``encrypt`` answer."""
    ciphertext = _answer_data("encrypt", status, response, where).get("ciphertext")
    if not isinstance(ciphertext, str) or not ciphertext:
        raise VaultTransitError(f"transit encrypt failed: no ciphertext in the answer {where}")
    return ciphertext


def decrypt_answer(status: int, response: Any, where: str) -> SecretBytes:
    """The plaintext of a ``decrypt`` answer, as ``SecretBytes``."""
    data = _answer_data("decrypt", status, response, where)
    try:
        return SecretBytes(base64.b64decode(data.get("plaintext") or "", validate=True))
    except (ValueError, TypeError):
        raise VaultTransitError(f"transit decrypt failed: the plaintext in the answer is not base64 {where}") from None
