"""deploy/controller: `kubectl kustomize` builds it; the objects are what kubeseal's defaults expect (Service
`sealed-secrets-controller` in kube-system with its first port named http, readiness on /healthz, POD_NAMESPACE);
applied with the real kubectl to an emulator that enforces RBAC, its least-privilege rules are enough for the
controller running as the deployed ServiceAccount (keys, Lease, Secrets in another namespace, status, events),
and they grant no Secret deletion. Emulator only (it applies cluster-wide RBAC)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from secretsync.kube.client import KubeClient
from secretsync.kube.errors import Forbidden
from secretsync.sealedcontroller.reconciler import ControllerOptions
from secretsync.sealedcontroller.runtime import SealedSecretsRuntime
from tests.fixtures.apiserver import REAL_KUBECONFIG_ENV, make_cluster
from tests.fixtures.peers import peer_binary
from tests.sealedcontroller.conftest import config_for, get_secret, install_crd, make_sealed, plain, wait_for

ROOT = Path(__file__).resolve().parents[2]


def _built() -> list[dict]:
    out = subprocess.run(
        [peer_binary("kubectl"), "kustomize", str(ROOT / "deploy" / "controller")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def test_kustomize_builds_what_kubeseal_expects():
    docs = _built()
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    service = next(s for s in by_kind["Service"] if s["metadata"]["name"] == "sealed-secrets-controller")
    assert service["metadata"]["namespace"] == "kube-system" and service["spec"]["ports"][0]["name"] == "http"
    [deployment] = by_kind["Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["command"] == ["secretsync", "controller"] and "--leader-elect" in container["args"]
    assert any(e["name"] == "POD_NAMESPACE" for e in container["env"])
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "sealed-secrets-controller"
    rules = [r for role in by_kind["ClusterRole"] for r in role["rules"]]
    assert not any("delete" in r["verbs"] or "*" in r["verbs"] for r in rules)


@pytest.mark.skipif(bool(os.environ.get(REAL_KUBECONFIG_ENV)), reason="applies cluster-wide RBAC")
def test_deployed_rbac_is_enough_for_the_controller(tmp_path):
    cluster = make_cluster(tmp_path / "rbac", rbac=True)
    admin = KubeClient.from_host_token(cluster.url, cluster.admin_token, ca_data=cluster.server.ca_pem)
    try:
        install_crd(admin)
        manifest = yaml.safe_dump_all(_built())
        cluster.kubectl("apply", "-f", "-", input=manifest)
        admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})
        token = cluster.server.mint_token("kube-system", "sealed-secrets-controller")
        client = KubeClient.from_host_token(cluster.url, token, ca_data=cluster.server.ca_pem, timeout=10)
        config = config_for(
            "kube-system",
            leader_elect=True,
            lease_duration=2,
            renew_deadline=1.5,
            retry_period=0.2,
            controller=ControllerOptions(backoff_base=0.05),
        )
        runtime = SealedSecretsRuntime(client, config).start()
        try:
            wait_for(runtime.is_leader, what="the Lease")
            assert runtime.keys.wait_for_key(20)
            wait_for(lambda: runtime.controller is not None and runtime.controller.synced(), what="sync")
            admin.create(make_sealed(runtime, "apps", "db", {"password": "p"}))
            secret = wait_for(lambda: get_secret(admin, "apps", "db"), what="the Secret in another namespace")
            assert plain(secret) == {"password": b"p"}
            wait_for(
                lambda: (admin.get("bitnami.com/v1alpha1", "SealedSecret", "db", "apps").get("status") or {}).get(
                    "conditions"
                ),
                what="the status",
            )
            runtime.recorder.flush()
            assert any(e["reason"] == "Unsealed" for e in admin.list("v1", "Event", "apps")["items"])
            with pytest.raises(Forbidden):
                client.delete("v1", "Secret", "db", "apps")
        finally:
            runtime.stop()
            client.close()
    finally:
        admin.close()
        cluster.close()
        cluster.server.stop()
