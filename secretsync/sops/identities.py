"""Where sops key material comes from (the I/O edge): age identities, SSH keys, a Vault transit token.

``load_keys`` gathers every age identity sops 3.11 would load — ``SOPS_AGE_KEY``
(text), ``SOPS_AGE_KEY_FILE`` (path), the default key file
``$XDG_CONFIG_HOME/sops/age/keys.txt`` (else ``~/.config/sops/age/keys.txt``),
``SOPS_AGE_SSH_PRIVATE_KEY_FILE``, ``~/.ssh/id_ed25519`` and ``~/.ssh/id_rsa`` —
plus explicit ones (``age_key_file``, ``age_key_text``: Flux's ``.agekey``
entries), and a Vault transit client when a token is available (``VAULT_TOKEN``,
else ``~/.vault-token``). A source that fails to load is recorded by name in
``SopsKeys.source_errors`` (shown when no key works) instead of aborting, so one
broken file does not hide a working identity. Nothing here logs key material.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from secretsync.crypto import age
from secretsync.crypto.sops.keys import DEFAULT_DECRYPTION_ORDER, SopsKeys, TransitClient

__all__ = ["load_keys", "default_age_key_file", "vault_token"]


def default_age_key_file(env: Mapping[str, str]) -> Path:
    """sops's default identity file on Linux: ``<user config dir>/sops/age/keys.txt``."""
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "sops" / "age" / "keys.txt"


def vault_token(env: Mapping[str, str]) -> str | None:
    """``VAULT_TOKEN``, else the content of ``~/.vault-token`` (as sops's hcvault does)."""
    token = env.get("VAULT_TOKEN")
    if token:
        return token.strip()
    home = env.get("HOME")
    if home:
        path = Path(home) / ".vault-token"
        try:
            return path.read_text().strip() or None
        except OSError:
            return None
    return None


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def load_keys(
    age_key_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] = os.environ,
    *,
    age_key_text: str | None = None,
    use_defaults: bool = True,
    transit: TransitClient | None = None,
    vault_timeout: float = 10.0,
) -> SopsKeys:
    """Build the ``SopsKeys`` for sops operations from the environment and the given files.

    ``use_defaults=False`` skips the environment and default locations (only the
    explicit ``age_key_file``/``age_key_text`` and ``transit``), for callers such as
    the agent that take keys from a Kubernetes Secret only.
    """
    keys = SopsKeys()
    identities: list[Any] = []

    def add_text(text: str, source: str) -> None:
        try:
            identities.extend(age.parse_identities(text, source))
        except age.AgeError as exc:
            keys.source_errors.append(str(exc))

    def read_source(path: Path, source: str, required: bool) -> bytes | None:
        try:
            data = _read(path)
        except OSError as exc:
            keys.source_errors.append(f"{source} ({path}): cannot read: {exc.strerror}")
            return None
        if data is None and required:
            keys.source_errors.append(f"{source}: file {path} does not exist")
        return data

    def add_file(path: Path, source: str, required: bool) -> None:
        data = read_source(path, source, required)
        if data is not None:
            add_text(data.decode("utf-8", "replace"), f"{source} ({path})")

    def add_ssh(path: Path, source: str, required: bool) -> None:
        data = read_source(path, source, required)
        if data is None:
            return
        try:
            identities.append(age.parse_ssh_identity(data, f"{source} ({path})"))
        except age.AgeError as exc:
            if required:
                keys.source_errors.append(str(exc))

    if age_key_text:
        add_text(age_key_text, "age key text")
    if age_key_file:
        add_file(Path(age_key_file), "age key file", True)
    if use_defaults:
        if env.get("SOPS_AGE_SSH_PRIVATE_KEY_FILE"):
            add_ssh(Path(env["SOPS_AGE_SSH_PRIVATE_KEY_FILE"]), "SOPS_AGE_SSH_PRIVATE_KEY_FILE", True)
        home = env.get("HOME")
        if home:
            add_ssh(Path(home) / ".ssh" / "id_ed25519", "~/.ssh/id_ed25519", False)
            add_ssh(Path(home) / ".ssh" / "id_rsa", "~/.ssh/id_rsa", False)
        if env.get("SOPS_AGE_KEY"):
            add_text(env["SOPS_AGE_KEY"], "SOPS_AGE_KEY")
        if env.get("SOPS_AGE_KEY_FILE"):
            add_file(Path(env["SOPS_AGE_KEY_FILE"]), "SOPS_AGE_KEY_FILE", True)
        add_file(default_age_key_file(env), "default sops age key file", False)
    keys.age_identities = identities
    order = env.get("SOPS_DECRYPTION_ORDER") if use_defaults else None
    keys.decryption_order = (
        tuple(x.strip() for x in order.split(",") if x.strip()) if order else DEFAULT_DECRYPTION_ORDER
    )
    if transit is not None:
        keys.transit = transit
    elif use_defaults:
        token = vault_token(env)
        if token:
            from secretsync.sops.transit import VaultTransit

            keys.transit = VaultTransit(token, timeout=vault_timeout)
    return keys
