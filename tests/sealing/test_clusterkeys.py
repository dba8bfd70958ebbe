"""``secretsync.sealing.clusterkeys.ClusterKeyStore`` over an in-memory client (the ``KeySecretClient`` protocol).

Covers: only active key Secrets are listed, plus the legacy Secret named ``<prefix>``;
``create_key`` labels the Secret active (a caller's label cannot override it), names it
``<prefix>`` + five characters and retries on a name clash (an error whose reference is
``kube-already-exists``), any other error passes through; ``Keyring.from_store`` reads the keys.
The store on a real API server is covered by tests/sealedcontroller (the controller's key manager).
"""

from __future__ import annotations

from typing import Any

import pytest

from secretsync.errors import SecretsyncError
from secretsync.sealing import keyring as kr
from secretsync.sealing.clusterkeys import ACTIVE, KEY_LABEL, ClusterKeyStore


class _Clash(SecretsyncError):
    reference = "kube-already-exists"


class _Client:
    """Secrets in one dict; ``clashes`` creates answer AlreadyExists first."""

    def __init__(self, clashes: int = 0, error: SecretsyncError | None = None) -> None:
        self.secrets: dict[str, dict[str, Any]] = {}
        self.clashes, self.error = clashes, error

    def list(self, api_version: str, kind: str, namespace: str | None = None, *, label_selector: str | None = None):
        key, _, value = (label_selector or "").partition("=")
        items = [s for s in self.secrets.values() if (s["metadata"].get("labels") or {}).get(key) == value]
        return {"items": items}

    def get_or_none(self, api_version: str, kind: str, name: str, namespace: str | None = None):
        return self.secrets.get(name)

    def create(self, obj: dict[str, Any]):
        if self.error is not None:
            raise self.error
        if self.clashes:
            self.clashes -= 1
            raise _Clash("exists")
        self.secrets[obj["metadata"]["name"]] = obj
        return obj


@pytest.fixture(scope="module")
def key():
    return kr.generate_key(1024, name="sealed-secrets-keyabcde")


def test_create_key_labels_names_and_retries_a_clash(key):
    client = _Client(clashes=2)
    store = ClusterKeyStore(client, "kube-system")
    created = store.create_key(key, labels={KEY_LABEL: "compromised", "team": "a"}, annotations={"note": "x"})
    meta = created["metadata"]
    assert meta["labels"] == {"team": "a", KEY_LABEL: ACTIVE} and meta["annotations"] == {"note": "x"}
    assert meta["name"].startswith("sealed-secrets-key") and len(meta["name"]) == len("sealed-secrets-key") + 5
    assert client.clashes == 0 and list(client.secrets) == [meta["name"]]
    assert kr.Keyring.from_store(store).newest().fingerprint == key.fingerprint


def test_other_errors_pass_through(key):
    store = ClusterKeyStore(_Client(error=SecretsyncError("forbidden")), "kube-system")
    with pytest.raises(SecretsyncError, match="forbidden"):
        store.create_key(key)


def test_list_has_active_keys_and_the_legacy_secret(key):
    client = _Client()
    store = ClusterKeyStore(client, "kube-system")
    active = store.create_key(key)
    retired = dict(kr.key_secret(key, "kube-system"))
    retired["metadata"] = dict(retired["metadata"], name="retired", labels={KEY_LABEL: "compromised"})
    legacy = dict(kr.key_secret(key, "kube-system"))
    legacy["metadata"] = dict(legacy["metadata"], name="sealed-secrets-key", labels={})
    client.secrets.update({"retired": retired, "sealed-secrets-key": legacy})
    names = [s["metadata"]["name"] for s in store.list()]
    assert names == [active["metadata"]["name"], "sealed-secrets-key"]
    assert store.get("retired") is retired
