"""Fixtures for the Vault placeholder tests: AVP's upstream seed data on the session OpenBao.

``avp_vault`` mounts a KV v1 and a KV v2 engine under unique names on the shared dev
server and writes the secrets argocd-vault-plugin's own tests use
(``pkg/helpers/test_helpers.go``: ``testing``, ``json``, ``jsonstring``, ``base64``, ``yaml``,
``foo`` on v1; ``testing`` with an integer, ``versioned`` with two versions on v2), so
manifests can say ``{v1}/testing`` and ``{v2}/data/testing`` where upstream says
``secret/testing`` and ``kv/data/testing``. ``env()`` builds AVP's variables for token auth.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from secretsync.vault.client import VaultBackend
from secretsync.vault.config import VaultConfig

UPSTREAM_V1 = {
    "testing": {
        "name": "test-name",
        "namespace": "test-namespace",
        "version": "1.0",
        "replicas": "2",
        "tag": "1.0",
        "secret-var-value": "dGVzdC1wYXNzd29yZA==",
        "secret-var-value2": "dGVzdC1wYXNzd29yZDI=",
        "secret-num": "MQ==",
        "secret-var-clear": "test-password",
    },
    "foo": {"secret": "bar"},
    "json": {
        "data": {
            "service": {"enableTLS": True, "ports": [80, 8080]},
            "deployment": {"replicas": 2, "image": {"name": "json-test", "tag": "latest"}},
        }
    },
    "jsonstring": {"secret": '{"credentials":{"user":"test-user","pass":"test-password"}}'},
    "base64": {
        "encoded_secret": "ewogICJrZXkxIjogInNlY3JldDEiLAogICJrZXkyIjogInNlY3JldDIiLAogICJrZXkzIjogInNlY3JldDMiCn0K"
    },
    "yaml": {"secret": "---\nkey1: secret1\nkey2: secret2\nkey3: secret3"},
}
UPSTREAM_V2 = {
    "testing": {
        "name": "test-kv-name",
        "namespace": "test-kv-namespace",
        "version": "1.2",
        "replicas": "3",
        "tag": "1.1",
        "target-port": 80,
    },
}


@dataclass
class AVPVault:
    """The seeded server: ``v1``/``v2`` are the mount names standing in for upstream's ``secret``/``kv``."""

    server: object
    v1: str
    v2: str

    @property
    def addr(self) -> str:
        return self.server.addr

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "AVP_TYPE": "vault",
            "AVP_AUTH_TYPE": "token",
            "VAULT_ADDR": self.server.addr,
            "VAULT_TOKEN": self.server.token,
            "VAULT_RETRY_WAIT": "0.05",
        }
        env.update(extra)
        return env

    def backend(self, **extra: str) -> VaultBackend:
        return VaultBackend(VaultConfig.from_env(self.env(**extra)))

    def fmt(self, text: str) -> str:
        """Manifest text with ``{v1}``/``{v2}`` replaced by the mount names (other braces untouched)."""
        return text.replace("{v1}", self.v1).replace("{v2}", self.v2)


@pytest.fixture(scope="session")
def avp_vault(openbao) -> AVPVault:
    client = openbao.client()
    v1, v2 = openbao.unique_mount("avp1"), openbao.unique_mount("avp2")
    client.sys.enable_secrets_engine("kv", path=v1, options={"version": "1"})
    client.sys.enable_secrets_engine("kv", path=v2, options={"version": "2"})
    for name, data in UPSTREAM_V1.items():
        client.write_data(f"{v1}/{name}", data=data)
    for name, data in UPSTREAM_V2.items():
        client.secrets.kv.v2.create_or_update_secret(path=name, secret=data, mount_point=v2)
    client.secrets.kv.v2.create_or_update_secret(path="versioned", secret={"secret": "version1"}, mount_point=v2)
    client.secrets.kv.v2.create_or_update_secret(path="versioned", secret={"secret": "version2"}, mount_point=v2)
    return AVPVault(server=openbao, v1=v1, v2=v2)
