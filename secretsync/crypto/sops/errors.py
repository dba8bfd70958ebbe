"""Errors of the sops format code, with sops's CLI exit codes.

Messages name the file and key path, never a value (sops's own AES parse error
echoes its input; ours does not).
"""

from __future__ import annotations

from secretsync.errors import SecretsyncError

__all__ = ["SopsError", "StoreError"]


class SopsError(SecretsyncError):
    """Base of sops errors; ``exit_code`` is sops's code for the same failure."""

    reference = "sops-error"
    exit_code = 1


class StoreError(SopsError):
    """The file could not be parsed or emitted by its store (YAML, JSON, dotenv, INI, binary)."""

    reference = "sops-store-error"
    exit_code = 23
