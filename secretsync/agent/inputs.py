"""The inputs of a Sync's build that live in its cluster: the Secrets it names and its postBuild variables.

Everything here is read with the agent's own identity from the Sync's namespace:
- ``SecretReader``: a named Secret (missing → ``ArtifactFailed``, API error → ``ReconciliationFailed``);
- the render dependencies as lazy factories (``secretsync.render.pipeline.factory``), so a render
  that needs no key reads no Secret: sops age keys (``decryption.secretRef``, Flux's ``*.agekey``
  layout), the sealing keyring (the controller's key Secrets), the Vault backend (``spec.vault``,
  kept in ``SyncState`` while the spec and its credentials Secret stand);
- ``variables``: ``postBuild`` through ``secretsync.render.substitute.collect_variables``, the one
  implementation the CLI uses too (names checked, ``optional`` honoured).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from secretsync.agent.state import StepFailed, SyncState
from secretsync.api.conditions import Reason
from secretsync.api.syncspec import SyncSpec
from secretsync.errors import SecretsyncError
from secretsync.kube.errors import KubeError
from secretsync.render.substitute import SubstitutionError, Value, VariableSource, collect_variables
from secretsync.secretvalue import SecretBytes

__all__ = ["SecretReader", "sops_keys_factory", "keyring_factory", "vault_factory", "variables"]

Factory = Callable[[], Any]


def _factory(func: Factory) -> Factory:
    from secretsync.render.pipeline import factory

    return factory(func)


class SecretReader:
    """Reads the Secrets a Sync names, failing the step with a reason that says what was missing."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def secret(self, namespace: str, name: str, what: str) -> dict[str, Any]:
        try:
            secret: dict[str, Any] | None = self.client.get_or_none("v1", "Secret", name, namespace)
        except KubeError as exc:
            raise StepFailed(Reason.RECONCILIATION_FAILED, exc) from None
        if secret is None:
            raise StepFailed(Reason.ARTIFACT_FAILED, f"the Secret {namespace}/{name} with the {what} was not found")
        return secret

    def data(self, namespace: str, name: str, what: str) -> dict[str, SecretBytes]:
        data = self.secret(namespace, name, what).get("data") or {}
        return {k: v if isinstance(v, SecretBytes) else SecretBytes(str(v).encode()) for k, v in data.items()}


def sops_keys_factory(secrets: SecretReader, spec: SyncSpec, default: Any) -> Any:
    secret_name = spec.decryption.secret_ref
    if secret_name is None:
        return default

    def load() -> Any:
        from secretsync.sops.identities import load_keys

        data = secrets.data(spec.namespace, secret_name, "decryption keys")
        texts = [v.reveal().decode("utf-8", "replace") for k, v in sorted(data.items()) if k.endswith(".agekey")]
        if not texts:
            raise SecretsyncError(
                f"the Secret {spec.namespace}/{secret_name} holds no *.agekey entry",
                hint="store each age identity under a key ending in .agekey (Flux's layout)",
            )
        return load_keys(None, {}, age_key_text="\n".join(texts), use_defaults=False)

    return _factory(load)


def keyring_factory(client: Any, spec: SyncSpec, default: Any, default_namespace: str) -> Any:
    if default is not None and spec.decryption.sealing_keys_namespace is None:
        return default
    namespace = spec.decryption.sealing_keys_namespace or default_namespace

    def load() -> Any:
        from secretsync.sealing.clusterkeys import ClusterKeyStore
        from secretsync.sealing.keyring import Keyring

        return Keyring.from_store(ClusterKeyStore(client, namespace), f"key Secrets in {namespace}")

    return _factory(load)


def _vault_env(spec: SyncSpec, data: dict[str, Any]) -> dict[str, str]:
    """argocd-vault-plugin's environment for ``spec.vault`` with the credentials Secret's ``data``."""
    v = spec.vault
    assert v is not None

    def text(name: str) -> str:
        value = data.get(name)
        return value.reveal().decode() if isinstance(value, SecretBytes) else ""

    env = {
        "AVP_TYPE": "vault",
        "VAULT_ADDR": v.address,
        "AVP_KV_VERSION": v.kv_version,
        "AVP_AUTH_TYPE": {"kubernetes": "k8s"}.get(v.auth_method, v.auth_method),
    }
    if v.auth_method == "token":
        env["VAULT_TOKEN"] = text("token")
    elif v.auth_method == "approle":
        env["AVP_ROLE_ID"], env["AVP_SECRET_ID"] = text("role_id"), text("secret_id")
    else:
        env["AVP_K8S_ROLE"] = v.role or ""
    if v.mount_path:
        env["AVP_MOUNT_PATH"] = v.mount_path
    return env


def vault_factory(secrets: SecretReader, spec: SyncSpec, state: SyncState, default: Any) -> Any:
    """The Vault dependency of the render; the backend is kept in ``state`` while spec and Secret version stand."""
    if spec.vault is None:
        return default
    secret_version = None
    data: dict[str, Any] = {}
    if spec.vault.secret_ref:
        secret = secrets.secret(spec.namespace, spec.vault.secret_ref, "Vault credentials")
        secret_version = secret["metadata"].get("resourceVersion")
        data = secret.get("data") or {}
    key = (spec.vault, secret_version)
    if state.vault_key == key and state.vault is not None:
        return state.vault
    env = _vault_env(spec, data)

    def make() -> Any:
        from secretsync.vault.client import VaultBackend

        backend = VaultBackend.from_env(env)
        state.vault, state.vault_key = backend, key
        return backend

    return _factory(make)


def variables(client: Any, spec: SyncSpec) -> dict[str, Value] | None:
    """The postBuild variables of ``spec`` (None: no substitution), read from the Sync's namespace."""
    post = spec.post_build
    if not post.wanted:
        return None
    sources = [VariableSource(ref.kind, spec.namespace, ref.name, ref.optional) for ref in post.substitute_from]
    try:
        return collect_variables(
            post.substitute, sources, lambda s: client.get_or_none("v1", s.kind, s.name, s.namespace)
        )
    except SubstitutionError as exc:
        raise StepFailed(Reason.BUILD_FAILED, exc) from None
