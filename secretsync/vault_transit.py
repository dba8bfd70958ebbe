"""Vault transit for sops's ``hc_vault`` master keys: the two hvac calls, with timeouts and safe errors.

``VaultTransit(token)`` implements ``secretsync.crypto.sops.keys.TransitClient``:
``encrypt`` posts ``{plaintext: base64(data key)}`` to ``<engine>/encrypt/<key>`` and
returns the ``vault:v1:…`` ciphertext; ``decrypt`` posts ``{ciphertext}`` to
``<engine>/decrypt/<key>`` and returns the decoded bytes (spec §6). The address
comes from the file's metadata, as in sops. One client per address; a bounded
retry on connection errors and 5xx. Errors name the address and path and the
HTTP status, never the token or a payload.

Note: the design keeps hvac in ``secretsync/vault.py``; this module is the only
other hvac user and is meant to merge into it.
"""

from __future__ import annotations

import base64
import binascii
import time

import hvac
import hvac.exceptions
import requests

from secretsync.crypto.sops.errors import TransitError

__all__ = ["VaultTransit"]


class VaultTransit:
    """Vault transit encrypt/decrypt of sops data keys."""

    def __init__(self, token: str, *, timeout: float = 10.0, attempts: int = 3, backoff: float = 0.2,
                 verify: bool | str = True) -> None:
        self._token = token
        self._timeout = timeout
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._verify = verify
        self._clients: dict[str, hvac.Client] = {}

    def __repr__(self) -> str:
        return f"VaultTransit(<token redacted>, timeout={self._timeout})"

    def _client(self, address: str) -> hvac.Client:
        client = self._clients.get(address)
        if client is None:
            client = hvac.Client(url=address, token=self._token, timeout=self._timeout, verify=self._verify)
            self._clients[address] = client
        return client

    def _call(self, address: str, engine_path: str, op: str, key_name: str, payload: dict) -> dict:
        path = f"{engine_path.strip('/')}/{op}/{key_name}"
        where = f"Vault transit {op} at {address}/v1/{path}"
        last = ""
        for attempt in range(self._attempts):
            try:
                response = self._client(address).adapter.post(f"/v1/{path}", json=payload)
            except hvac.exceptions.Forbidden:
                raise TransitError(f"{where}: permission denied (HTTP 403)",
                                   hint="check VAULT_TOKEN and its policy on this transit key") from None
            except hvac.exceptions.InvalidPath:
                raise TransitError(f"{where}: no such transit engine or key (HTTP 404)",
                                   hint="check the engine path and key name in the sops metadata") from None
            except hvac.exceptions.InvalidRequest:
                raise TransitError(f"{where}: Vault refused the request (HTTP 400)",
                                   hint="the wrapped data key may belong to another transit key") from None
            except (hvac.exceptions.InternalServerError, hvac.exceptions.VaultDown,
                    hvac.exceptions.BadGateway) as exc:
                last = f"Vault error ({type(exc).__name__})"
            except requests.exceptions.Timeout:
                last = f"no answer within {self._timeout:g} s"
            except requests.exceptions.ConnectionError:
                last = "cannot connect"
            except hvac.exceptions.VaultError as exc:
                raise TransitError(f"{where}: Vault error ({type(exc).__name__})") from None
            else:
                body = response if isinstance(response, dict) else response.json()
                data = body.get("data") if isinstance(body, dict) else None
                if not isinstance(data, dict):
                    raise TransitError(f"{where}: unexpected response from Vault (no data)")
                return data
            if attempt + 1 < self._attempts:
                time.sleep(self._backoff * (2 ** attempt))
        raise TransitError(f"{where}: {last} after {self._attempts} attempts",
                           hint="check VAULT_ADDR reachability and that Vault is unsealed")

    def encrypt(self, address: str, engine_path: str, key_name: str, plaintext: bytes) -> str:
        data = self._call(address, engine_path, "encrypt", key_name,
                          {"plaintext": base64.b64encode(bytes(plaintext)).decode("ascii")})
        ciphertext = data.get("ciphertext")
        if not isinstance(ciphertext, str) or not ciphertext:
            raise TransitError(f"Vault transit encrypt at {address}: no ciphertext in the response")
        return ciphertext

    def decrypt(self, address: str, engine_path: str, key_name: str, ciphertext: str) -> bytes:
        data = self._call(address, engine_path, "decrypt", key_name, {"ciphertext": ciphertext})
        try:
            return base64.b64decode(data.get("plaintext") or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise TransitError(f"Vault transit decrypt at {address}: the response is not base64") from None
