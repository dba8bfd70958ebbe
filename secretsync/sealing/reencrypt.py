"""Re-encryption of SealedSecrets to the newest sealing key: the one function every path calls.

``re_encrypt(obj, keyring)`` is used by ``secretsync reseal`` (a repository rewritten in place),
by ``secretsync seal --re-encrypt`` offline (``--key-dir``/``--recovery-private-key``) and by the
controller's ``/v1/rotate`` endpoint (which ``seal --re-encrypt`` calls online). Two ways,
chosen by the caller:

- in place (default): each ``encryptedData`` item not yet sealed with ``keyring.newest()`` is
  decrypted with whichever key opens it and sealed again for the newest key, with the same
  scope, namespace and name (same OAEP label); items already on the newest key keep their text,
  so re-running changes nothing; template metadata and ``template.data`` are left as written.
  The deprecated ``spec.data`` format is refused.
- ``flatten=True`` (upstream's ``/v1/rotate``): the SealedSecret is unsealed into its Secret
  (``template.data`` rendered) and every item sealed again; the scope is the one of the
  top-level metadata (template scope annotations are rewritten to match, never the other way
  round) and the template keeps its own labels and annotations.

Failures raise ``UnsealError`` naming every item no key could open (or ``InputError`` /
``SealError`` for a malformed object); nothing is returned half done. No plaintext leaves
this module: the result holds ciphertext only.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from secretsync.crypto import sealing
from secretsync.sealing.keyring import Keyring
from secretsync.sealing.objects import (
    API_VERSION,
    KIND,
    SealError,
    UnsealError,
    seal_secret,
    sealed_items,
    sealed_secret_label,
    unseal_sealed_secret,
)

__all__ = ["ReEncrypted", "re_encrypt", "as_kubeseal_output"]

_SCOPE_ANNOTATIONS = (sealing.CLUSTER_WIDE_ANNOTATION, sealing.NAMESPACE_WIDE_ANNOTATION)


@dataclass
class ReEncrypted:
    """One SealedSecret re-encrypted: the whole object, and which item texts changed."""

    sealed_secret: dict[str, Any]
    changed: dict[str, str] = field(default_factory=dict)  # item -> new encryptedData text
    kept: int = 0  # items already sealed with the newest key, left as they were


def _names(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _in_place(obj: Mapping[str, Any], keyring: Keyring) -> ReEncrypted:
    namespace, name = _names(obj)
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    if spec.get("data"):
        raise UnsealError(
            namespace,
            name,
            {"the deprecated spec.data format cannot be resealed in place": []},
            hint="unseal it (secretsync unseal) and seal it again",
        )
    label = sealed_secret_label(obj)
    newest = keyring.newest()
    public_key = newest.private_key.public_key()
    problems: dict[str, list[str]] = {}
    changed: dict[str, str] = {}
    items = sealed_items(obj, spec, problems)
    for key, sealed in items.items():
        try:
            plaintext, used = keyring.unseal_with_key(sealed, label)
        except sealing.UnsealFailed:
            problems.setdefault(sealing.NO_KEY_COULD_DECRYPT, []).append(key)
            continue
        if used is not newest:
            changed[key] = base64.b64encode(sealing.seal(public_key, plaintext, label)).decode("ascii")
    if problems:
        raise UnsealError(namespace, name, problems)
    out = dict(obj, spec=dict(spec))
    out["spec"]["encryptedData"] = dict(spec.get("encryptedData") or {}, **changed)
    kept = len(spec.get("encryptedData") or {}) - len(changed)
    return ReEncrypted(out, changed, kept)


def _flattened(obj: Mapping[str, Any], keyring: Keyring) -> ReEncrypted:
    secret = unseal_sealed_secret(obj, keyring)
    scope = sealing.scope_from_annotations((obj.get("metadata") or {}).get("annotations"))
    meta = secret["metadata"]
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in _SCOPE_ANNOTATIONS}
    if scope.annotation():
        annotations[scope.annotation()] = "true"
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    meta.pop("ownerReferences", None)
    certificate = keyring.newest().certificate
    if certificate is None:
        raise SealError("the newest sealing key has no certificate")
    resealed = seal_secret(secret, certificate, scope, namespace=meta.get("namespace") or None, allow_empty_data=True)
    return ReEncrypted(resealed, dict(resealed["spec"]["encryptedData"]))


def re_encrypt(obj: Mapping[str, Any], keyring: Keyring, *, flatten: bool = False) -> ReEncrypted:
    """``obj`` sealed for ``keyring.newest()`` (see the module docstring for the two ways)."""
    return _flattened(obj, keyring) if flatten else _in_place(obj, keyring)


def as_kubeseal_output(obj: Mapping[str, Any]) -> dict[str, Any]:
    """kubeseal's ``--re-encrypt`` output: kind/apiVersion set; creationTimestamp, deletionTimestamp and
    generation cleared."""
    out = dict(obj, apiVersion=API_VERSION, kind=KIND)
    if isinstance(out.get("metadata"), dict):
        out["metadata"] = {
            k: v
            for k, v in out["metadata"].items()
            if k not in ("creationTimestamp", "deletionTimestamp", "generation")
        }
    return out
