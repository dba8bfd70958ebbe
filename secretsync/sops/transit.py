"""Vault transit for sops's ``hc_vault`` master keys: the sops-side adapter over ``secretsync.vault.client``.

``VaultTransit(token)`` implements ``secretsync.crypto.sops.keys.TransitClient``:
``encrypt`` wraps the data key with ``<engine>/encrypt/<key>`` and returns the
``vault:v1:…`` ciphertext; ``decrypt`` unwraps it with ``<engine>/decrypt/<key>``
(spec §6). The address comes from each file's metadata, as in sops
(``hcvault/keysource.go``), so there is one ``secretsync.vault.client.TransitEndpoint`` per
address; the HTTP calls, timeout, bounded retries and error naming are
``secretsync.vault.client``'s (the only hvac import). Failures become ``TransitError`` (a
``SopsError``: exit code 128, shown per key in sops's report), naming the address and
path and never the token or a payload.
"""

from __future__ import annotations

import threading

from secretsync.crypto.sops.errors import TransitError
from secretsync.vault.client import TransitEndpoint
from secretsync.vault.errors import VaultError

__all__ = ["VaultTransit"]


class VaultTransit:
    """Vault transit encrypt/decrypt of sops data keys, one client per Vault address."""

    def __init__(
        self, token: str, *, timeout: float = 10.0, attempts: int = 3, backoff: float = 0.2, verify: bool | str = True
    ) -> None:
        self._token = token
        self._timeout = timeout
        self._retries = max(1, attempts) - 1
        self._backoff = backoff
        self._verify = verify
        self._clients: dict[str, TransitEndpoint] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"VaultTransit(<token redacted>, timeout={self._timeout})"

    def _client(self, address: str) -> TransitEndpoint:
        with self._lock:
            client = self._clients.get(address)
            if client is None:
                client = TransitEndpoint(
                    address,
                    self._token,
                    timeout=self._timeout,
                    max_retries=self._retries,
                    retry_wait=self._backoff,
                    verify=self._verify,
                )
                self._clients[address] = client
            return client

    def encrypt(self, address: str, engine_path: str, key_name: str, plaintext: bytes) -> str:
        try:
            return self._client(address).encrypt(engine_path, key_name, bytes(plaintext))
        except VaultError as exc:
            raise TransitError(exc.message, hint=exc.hint) from None

    def decrypt(self, address: str, engine_path: str, key_name: str, ciphertext: str) -> bytes:
        try:
            return self._client(address).decrypt(engine_path, key_name, ciphertext).reveal()
        except VaultError as exc:
            raise TransitError(exc.message, hint=exc.hint) from None
