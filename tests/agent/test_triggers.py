"""Every trigger of a reconcile, on the emulator with real Git repositories and OpenBao.

Covers: the interval (a folder change picked up with no other trigger); GitHub, GitLab and generic
HMAC webhooks (accepted with the right signature/token and then reconciling at the new commit
while Git polling is off; refused with a wrong one; gone from status and the receiver once
``spec.webhook`` is removed); a Vault value change detected by version
fingerprints (no value read for the check) reaching its Secret; dependsOn ordering (the dependent
waits with DependencyNotReady, then follows); suspend (nothing applied while suspended, applied on
resume); one Sync's broken sops file leaves another Sync Ready and its own live Secret untouched;
and the metrics endpoint exposing every metric.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

import pytest
import yaml

from secretsync.secretvalue import SecretBytes
from tests.agent.conftest import configmap, sops_secret, write_tree
from tests.fixtures.polling import wait_for
from tests.render.conftest import age_key  # noqa: F401 - session fixture (real age-keygen)

pytestmark = pytest.mark.timeout(120)


def post(url: str, body: bytes, headers: dict) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def secret(client, ns: str, name: str, data: dict) -> None:
    client.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": ns},
            "data": {k: SecretBytes(v) for k, v in data.items()},
        }
    )


def kv2_mount(openbao, password: str):
    """A fresh KV v2 mount holding ``app`` = {password}; returns (mount, hvac client)."""
    mount = openbao.unique_mount()
    bao = openbao.client()
    bao.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    bao.secrets.kv.v2.create_or_update_secret(path="app", secret={"password": password}, mount_point=mount)
    return mount, bao


def change_and_wait(bao, mount: str, client, ns: str, password: str) -> None:
    """Write a new Vault value and wait (10 s at most) until the Secret db holds it."""
    bao.secrets.kv.v2.create_or_update_secret(path="app", secret={"password": password}, mount_point=mount)
    wait_for(
        lambda: client.get("v1", "Secret", "db", ns)["data"]["password"].reveal() == password.encode(),
        10,
        0.05,
        what="the Vault change to reach the Secret",
    )


def test_interval_picks_up_changes(agent_kube, syncs, make_agent, tmp_path):
    ns, client = agent_kube.namespace, agent_kube.client
    root = write_tree(tmp_path / "src", {"cm.yaml": configmap("app", ns, {"v": "1"})})
    make_agent()
    syncs.create("tick", {"source": {"path": str(root)}, "interval": "1s", "prune": True})
    syncs.wait_ready("tick")
    write_tree(root, {"cm.yaml": configmap("app", ns, {"v": "2"})})
    wait_for(
        lambda: client.get("v1", "ConfigMap", "app", ns)["data"]["v"] == "2",
        5,
        0.05,
        what="the interval to pick up the change",
    )


@pytest.mark.parametrize("kind", ["github", "gitlab", "generic-hmac"])
def test_webhooks(agent_kube, syncs, make_agent, gitrepo, kind):
    ns, client = agent_kube.namespace, agent_kube.client
    repo = gitrepo("hooked")
    first = repo.commit({"cm.yaml": configmap("app", ns, {"v": "1"})})
    token = b"webhook-token-for-tests"
    secret(client, ns, "hook-token", {"token": token})
    agent = make_agent(source_poll=3600)
    syncs.create(
        "hooked",
        {
            "source": {"git": {"url": repo.url}},
            "interval": "1h",
            "prune": True,
            "webhook": {"type": kind, "secretRef": {"name": "hook-token"}},
        },
    )
    obj = syncs.wait_ready("hooked", revision=first)
    path = obj["status"]["webhookPath"]
    assert path == "/hook/" + hashlib.sha256(token + b"hooked" + ns.encode()).hexdigest()
    second = repo.commit({"cm.yaml": configmap("app", ns, {"v": "2"})})
    body = json.dumps({"ref": "refs/heads/main", "after": second}).encode()
    good = hmac.new(token, body, hashlib.sha256).hexdigest()
    headers = {
        "github": {"X-Hub-Signature-256": f"sha256={good}", "X-GitHub-Event": "push"},
        "gitlab": {"X-Gitlab-Token": token.decode()},
        "generic-hmac": {"X-Signature": f"sha256={good}"},
    }[kind]
    wrong = {
        "github": {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        "gitlab": {"X-Gitlab-Token": "nope"},
        "generic-hmac": {"X-Signature": "sha256=" + "1" * 64},
    }[kind]
    assert post(agent.http_url + path, body, wrong) == 401
    assert post(agent.http_url + "/hook/" + "f" * 64, body, headers) == 404
    time.sleep(0.5)
    assert syncs.get("hooked")["status"]["lastAppliedRevision"].endswith(first)  # no trigger yet
    assert post(agent.http_url + path, body, headers) == 200
    syncs.wait_ready("hooked", revision=second, timeout=10)
    assert client.get("v1", "ConfigMap", "app", ns)["data"] == {"v": "2"}
    assert agent.webhooks.refused == 1
    syncs.patch("hooked", {"spec": {"webhook": None}})  # removing the webhook removes its path
    syncs.wait("hooked", lambda o: "webhookPath" not in (o.get("status") or {}), 10, what="webhookPath gone")
    assert post(agent.http_url + path, body, headers) == 404


@pytest.mark.peer
def test_vault_change_reaches_secret(agent_kube, syncs, make_agent, tmp_path, openbao):
    ns, client = agent_kube.namespace, agent_kube.client
    mount, bao = kv2_mount(openbao, "first-vault-value")
    root = write_tree(
        tmp_path / "src",
        {
            "secret.yaml": yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {
                        "name": "db",
                        "namespace": ns,
                        "annotations": {"avp.kubernetes.io/path": f"{mount}/data/app"},
                    },
                    "stringData": {"password": "<password>"},
                }
            )
        },
    )
    secret(client, ns, "vault-token", {"token": openbao.token.encode()})
    agent = make_agent()
    syncs.create(
        "vaulted",
        {
            "source": {"path": str(root)},
            "interval": "1h",
            "prune": True,
            "vault": {
                "address": openbao.addr,
                "authMethod": "token",
                "secretRef": {"name": "vault-token"},
                "refreshInterval": "1s",
            },
        },
    )
    syncs.wait_ready("vaulted")
    assert client.get("v1", "Secret", "db", ns)["data"]["password"].reveal() == b"first-vault-value"
    backend = agent.reconciler.states[(ns, "vaulted")].vault
    time.sleep(2.5)  # two refreshes with no change: no re-render, no write
    rv = client.get("v1", "Secret", "db", ns)["metadata"]["resourceVersion"]
    assert agent.metrics.total.labels("success")._value.get() == 1
    change_and_wait(bao, mount, client, ns, "second-vault-value")
    assert client.get("v1", "Secret", "db", ns)["metadata"]["resourceVersion"] != rv
    assert agent.metrics.vault_reads.labels(ns, "vaulted")._value.get() >= 3
    assert backend.requests_sent > 0


def test_depends_on_and_suspend(agent_kube, syncs, make_agent, tmp_path):
    ns, client = agent_kube.namespace, agent_kube.client
    base = write_tree(tmp_path / "base", {"cm.yaml": configmap("base", ns, {"v": "1"})})
    app = write_tree(tmp_path / "app", {"cm.yaml": configmap("app", ns, {"v": "1"})})
    make_agent()
    syncs.create(
        "app", {"source": {"path": str(app)}, "interval": "1h", "prune": True, "dependsOn": [{"name": "base"}]}
    )
    syncs.wait_reason("app", "DependencyNotReady")
    assert client.get_or_none("v1", "ConfigMap", "app", ns) is None
    syncs.create("base", {"source": {"path": str(base)}, "interval": "1h", "prune": True})
    syncs.wait_ready("base")
    syncs.wait_ready("app", timeout=10)
    # suspend: a requested reconcile does nothing; resume applies
    syncs.patch("app", {"spec": {"suspend": True}})
    write_tree(app, {"cm.yaml": configmap("app", ns, {"v": "2"})})
    syncs.patch("app", {"metadata": {"annotations": {"secretsync.io/requestedAt": "1"}}})
    time.sleep(1.0)
    assert client.get("v1", "ConfigMap", "app", ns)["data"] == {"v": "1"}
    syncs.patch("app", {"spec": {"suspend": False}})
    syncs.wait(
        ("app"),
        lambda o: client.get("v1", "ConfigMap", "app", ns)["data"] == {"v": "2"},
        10,
        what="applied after resume",
    )


@pytest.mark.peer
def test_broken_sops_file_is_isolated(agent_kube, syncs, make_agent, tmp_path, age_key):  # noqa: F811
    ns, client = agent_kube.namespace, agent_kube.client
    encrypted = sops_secret(tmp_path, age_key.recipient, ns, "db", {"password": "sops-test-value-1"})
    broken_root = write_tree(tmp_path / "broken", {})
    (broken_root / "db.sops.yaml").write_bytes(encrypted)
    other_root = write_tree(tmp_path / "other", {"cm.yaml": configmap("other", ns, {"v": "1"})})
    secret(client, ns, "sops-age", {"identity.agekey": age_key.identity_file.read_bytes()})
    agent = make_agent(concurrent=2)
    syncs.create(
        "secrets",
        {
            "source": {"path": str(broken_root)},
            "interval": "1h",
            "prune": True,
            "decryption": {"secretRef": {"name": "sops-age"}},
        },
    )
    syncs.create("other", {"source": {"path": str(other_root)}, "interval": "1h", "prune": True})
    syncs.wait_ready("secrets")
    live = client.get("v1", "Secret", "db", ns)
    assert live["data"]["password"].reveal() == b"sops-test-value-1"
    doc = yaml.safe_load(encrypted)
    doc["stringData"]["password"] = doc["stringData"]["password"].replace("data:", "data:AAAA", 1)  # corrupt
    (broken_root / "db.sops.yaml").write_text(yaml.safe_dump(doc))
    write_tree(other_root, {"cm.yaml": configmap("other", ns, {"v": "2"})})
    syncs.patch("secrets", {"metadata": {"annotations": {"secretsync.io/requestedAt": "a"}}})
    syncs.patch("other", {"metadata": {"annotations": {"secretsync.io/requestedAt": "a"}}})
    obj = syncs.wait_reason("secrets", "DecryptionFailed")
    message = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")["message"]
    assert "db.sops.yaml" in message and "sops-test-value" not in message
    syncs.wait(
        ("other"),
        lambda o: client.get("v1", "ConfigMap", "other", ns)["data"] == {"v": "2"},
        10,
        what="the other Sync applied",
    )
    assert syncs.condition("other")["status"] == "True"
    after = client.get("v1", "Secret", "db", ns)
    assert after["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]
    assert after["data"]["password"].reveal() == b"sops-test-value-1"
    assert agent.metrics.decrypt_failures.labels(ns, "secrets")._value.get() >= 1
    text = urllib.request.urlopen(agent.http_url + "/metrics", timeout=5).read().decode()
    for name in (
        "secretsync_reconcile_duration_seconds_bucket",
        "secretsync_reconcile_total",
        "secretsync_sync_ready",
        "secretsync_vault_reads_total",
        "secretsync_decrypt_failures_total",
        "secretsync_drift_corrections_total",
    ):
        assert name in text
    assert f'secretsync_sync_ready{{name="other",namespace="{ns}"}} 1.0' in text
    assert f'secretsync_sync_ready{{name="secrets",namespace="{ns}"}} 0.0' in text


@pytest.mark.peer
@pytest.mark.parametrize("style", ["inline", "annotation"])
def test_vault_change_inside_a_sops_file_reaches_secret(
    agent_kube, syncs, make_agent, tmp_path, openbao, age_key, style
):  # noqa: F811
    """Placeholders inside a sops-encrypted Secret (an inline ``<path:...>`` in an encrypted value, or an
    encrypted ``avp.kubernetes.io/path`` annotation) are resolved and are part of the Vault change check:
    a new Vault value reaches the Secret without waiting for the interval."""
    ns, client = agent_kube.namespace, agent_kube.client
    mount, bao = kv2_mount(openbao, "first-sops-vault-value")
    if style == "inline":
        values, annotations = {"password": f"<path:{mount}/data/app#password>"}, None
    else:
        values, annotations = {"password": "<password>"}, {"avp.kubernetes.io/path": f"{mount}/data/app"}
    encrypted = sops_secret(
        tmp_path, age_key.recipient, ns, "db", values, annotations, encrypted_regex="^(annotations|stringData)$"
    )
    assert b"<path:" not in encrypted and b"data/app" not in encrypted
    root = write_tree(tmp_path / "src", {})
    (root / "db.sops.yaml").write_bytes(encrypted)
    secret(client, ns, "vault-token", {"token": openbao.token.encode()})
    secret(client, ns, "sops-age", {"key.agekey": age_key.identity_file.read_bytes()})
    agent = make_agent()
    syncs.create(
        "sopsvault",
        {
            "source": {"path": str(root)},
            "interval": "1h",
            "prune": True,
            "decryption": {"provider": "sops", "secretRef": {"name": "sops-age"}},
            "vault": {
                "address": openbao.addr,
                "authMethod": "token",
                "secretRef": {"name": "vault-token"},
                "refreshInterval": "1s",
            },
        },
    )
    syncs.wait_ready("sopsvault")
    assert client.get("v1", "Secret", "db", ns)["data"]["password"].reveal() == b"first-sops-vault-value"
    state = agent.reconciler.states[(ns, "sopsvault")]
    assert state.vault_fingerprints == {f"kv2:{mount}/data/app": "kv2:current_version=1"}
    change_and_wait(bao, mount, client, ns, "second-sops-vault-value")
    assert agent.metrics.total.labels("success")._value.get() == 2  # the Vault check, not the 1h interval
