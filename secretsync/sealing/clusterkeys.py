"""The sealing keys kept in a cluster: key Secrets in one namespace, as the upstream controller keeps them.

``ClusterKeyStore`` is ``secretsync.sealing.keyring.KeySecretStore`` over the Kubernetes API:
``kubernetes.io/tls`` Secrets labelled ``sealedsecrets.bitnami.com/sealed-secrets-key: active``,
plus the legacy Secret named exactly ``<key-prefix>`` when it exists. The controller's key
manager (``secretsync.sealedcontroller.keymanager``) writes through it and the agent reads
through it (``Keyring.from_store``). This package sits below ``secretsync.kube`` in the layers, so
the client is anything with the three calls of ``KeySecretClient`` (``KubeClient`` has them); its
errors are recognised by their stable ``reference``, never by importing their classes.
"""

from __future__ import annotations

from typing import Any, Protocol

from secretsync.errors import SecretsyncError
from secretsync.sealing import keyring as kr

__all__ = ["ClusterKeyStore", "KeySecretClient", "KEY_LABEL", "ACTIVE"]

KEY_LABEL = kr.KEY_LABEL
ACTIVE = "active"


class KeySecretClient(Protocol):
    """The Kubernetes calls the store makes (``secretsync.kube.client.KubeClient`` has them)."""

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, *, label_selector: str | None = None
    ) -> dict[str, Any]: ...

    def get_or_none(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None: ...

    def create(self, obj: dict[str, Any]) -> dict[str, Any] | None: ...


def _already_exists(exc: SecretsyncError) -> bool:
    return exc.reference == "kube-already-exists" or getattr(exc, "reason", "") == "AlreadyExists"


class ClusterKeyStore:
    """``secretsync.sealing.keyring.KeySecretStore`` over the Kubernetes API, in one namespace."""

    def __init__(self, client: KeySecretClient, namespace: str, prefix: str = kr.DEFAULT_KEY_PREFIX) -> None:
        self.client, self.namespace, self.prefix = client, namespace, prefix

    def list(self) -> list[dict[str, Any]]:
        """Active key Secrets, plus the legacy Secret named ``<prefix>`` if it exists."""
        items: list[dict[str, Any]] = self.client.list(
            "v1", "Secret", self.namespace, label_selector=f"{KEY_LABEL}={ACTIVE}"
        )["items"]
        names = {(s.get("metadata") or {}).get("name") for s in items}
        if self.prefix not in names:
            legacy = self.client.get_or_none("v1", "Secret", self.prefix, self.namespace)
            if legacy is not None:
                items.append(legacy)
        return items

    def get(self, name: str) -> dict[str, Any] | None:
        return self.client.get_or_none("v1", "Secret", name, self.namespace)

    def put(self, secret: dict[str, Any]) -> None:
        self.client.create(secret)

    def create_key(
        self, key: kr.SealingKey, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Create the key Secret named ``<prefix>`` + 5 characters of ``generateName``'s alphabet (a new
        name on a clash); return the created Secret."""
        secret = kr.key_secret(key, self.namespace)
        meta = secret["metadata"]
        meta.pop("creationTimestamp", None)
        merged = {k: v for k, v in (labels or {}).items() if k != KEY_LABEL}
        merged[KEY_LABEL] = ACTIVE  # cannot be overridden
        meta["labels"] = merged
        if annotations:
            meta["annotations"] = dict(annotations)
        for attempt in range(5):
            meta["name"] = kr.new_key_name(self.prefix)
            try:
                created = self.client.create(secret)
            except SecretsyncError as exc:
                if not _already_exists(exc) or attempt == 4:
                    raise
                continue
            return created if created is not None else secret
        raise AssertionError("unreachable")
