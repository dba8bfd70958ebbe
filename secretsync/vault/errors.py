"""The Vault error family: what a Vault failure is, by kind (config, auth, unavailable, read, transit).

Messages name the Vault address, path, auth method and HTTP status; never a token or a value.
"""

from __future__ import annotations

from secretsync.errors import SecretsyncError

__all__ = [
    "VaultError",
    "VaultConfigError",
    "VaultAuthError",
    "VaultUnavailable",
    "VaultReadError",
    "VaultTransitError",
]


class VaultError(SecretsyncError):
    """A Vault failure; the message names address, path, auth method and status, never a value."""

    reference = "vault-error"


class VaultConfigError(VaultError):
    """The AVP-style configuration is incomplete or invalid (AVP's own wording)."""

    reference = "vault-config"


class VaultAuthError(VaultError):
    """Login failed, or Vault refused the token (403)."""

    reference = "vault-auth-failed"


class VaultUnavailable(VaultError):
    """Vault could not be reached, timed out, or stayed sealed/5xx after bounded retries."""

    reference = "vault-unavailable"


class VaultReadError(VaultError):
    """A read found nothing usable (AVP's messages for missing paths, versions, /data/, engine)."""

    reference = "vault-secret-not-found"


class VaultTransitError(VaultError):
    """A transit encrypt/decrypt was refused or answered without the expected field."""

    reference = "vault-transit"
