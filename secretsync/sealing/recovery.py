"""Offline recovery: Secrets from SealedSecrets with private keys (``seal --recovery-unseal``, ``unseal``).

``recovery_keyring`` gathers the keys of ``--recovery-private-key``/``--key`` files (PEM private
keys, ``kubernetes.io/tls`` key Secrets, or a ``v1`` List of them) and of a key directory;
``recover`` unseals every SealedSecret of an input (the deprecated ``spec.data`` format refused,
as kubeseal's recovery refuses it) and returns the Secrets as kubeseal prints them. The values
are in that text: the caller writes it to stdout or a 0600 file, never to a log.
"""

from __future__ import annotations

from secretsync.errors import SecretsyncError, UsageError
from secretsync.manifests.dump import dump_kubeseal
from secretsync.sealing import objects as sealedsecret
from secretsync.sealing.keyring import Keyring

__all__ = ["recovery_keyring", "recover"]


def recovery_keyring(key_files: list[str], key_dir: str | None) -> Keyring:
    """Every key of ``key_files`` and of ``key_dir``; UsageError when neither is given."""
    if key_files:
        keyring = Keyring.from_files(key_files)
        if key_dir:
            keyring = Keyring(list(keyring.keys) + list(Keyring.from_dir(key_dir).keys))
        return keyring
    if key_dir:
        return Keyring.from_dir(key_dir)
    raise UsageError("no private key given: pass --recovery-private-key FILE (or --key FILE, --key-dir DIR)")


def recover(data: bytes, source: str, keyring: Keyring, fmt: str) -> str:
    """The Secrets of every SealedSecret in ``data``, dumped in ``fmt``."""
    objects = sealedsecret.load_documents(data, source)
    if not objects:
        raise SecretsyncError(f"{source}: no SealedSecret found in the input")
    secrets = []
    for index, obj in enumerate(objects, 1):
        if obj.get("kind") != sealedsecret.KIND:
            raise sealedsecret.InputError(
                f"{source}: document {index} is a {obj.get('kind') or 'object without kind'}, not a SealedSecret"
            )
        secrets.append(sealedsecret.unseal_sealed_secret(obj, keyring, accept_deprecated_v1=False))
    return dump_kubeseal(secrets, fmt)
