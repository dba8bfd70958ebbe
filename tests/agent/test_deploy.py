"""deploy/: `kubectl kustomize deploy/` builds the CRDs, the agent (2 replicas, leader election, probes) and
the SealedSecret controller; applied with the real kubectl to an emulator that enforces RBAC, every
object is accepted, and the agent running as the deployed ServiceAccount reconciles a Sync. Narrowed
per namespace (the cluster-wide apply binding removed), a Sync whose serviceAccountName lacks rights
gets Ready=False AccessDenied with a message naming the account, and becomes Ready once a Role is
bound. Emulator only (it applies cluster-wide RBAC)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from secretsync.kube.client import KubeClient
from tests.agent.conftest import Syncs, configmap, write_tree
from tests.fixtures.apiserver import REAL_KUBECONFIG_ENV, make_cluster
from tests.fixtures.peers import peer_binary

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]


def built() -> list[dict]:
    out = subprocess.run(
        [peer_binary("kubectl"), "kustomize", str(ROOT / "deploy")], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def test_kustomize_builds_agent_controller_and_crds():
    docs = built()
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert {
        ("CustomResourceDefinition", "syncs.secretsync.io"),
        ("CustomResourceDefinition", "sealedsecrets.bitnami.com"),
        ("Deployment", "secretsync-agent"),
        ("Deployment", "sealed-secrets-controller"),
        ("Namespace", "secretsync-system"),
    } <= names
    agent = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "secretsync-agent")
    assert agent["metadata"]["namespace"] == "secretsync-system" and agent["spec"]["replicas"] == 2
    container = agent["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["secretsync", "agent"] and "--leader-elect" in container["args"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    own = next(d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "secretsync-agent")
    writes = {"create", "update", "patch", "delete", "*"}
    for rule in own["rules"]:
        if writes & set(rule["verbs"]):
            assert set(rule["resources"]) <= {"syncs", "syncs/status", "events"}, rule
            assert "delete" not in rule["verbs"]


@pytest.mark.skipif(bool(os.environ.get(REAL_KUBECONFIG_ENV)), reason="applies cluster-wide RBAC")
def test_deployed_rbac_runs_the_agent_and_impersonation_is_enforced(tmp_path):
    from secretsync.agent.reconciler import ReconcilerOptions
    from secretsync.agent.runtime import AgentConfig, AgentRuntime

    cluster = make_cluster(tmp_path / "rbac", rbac=True)
    admin = KubeClient.from_host_token(cluster.url, cluster.admin_token, ca_data=cluster.server.ca_pem)
    runtime = None
    try:
        r = cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(built()))
        assert r.stdout.count("created") == len(built())
        admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})
        admin.create(
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "deployer", "namespace": "apps"}}
        )
        token = cluster.server.mint_token("secretsync-system", "secretsync-agent")
        agent_client = KubeClient.from_host_token(cluster.url, token, ca_data=cluster.server.ca_pem, timeout=10)
        runtime = AgentRuntime(
            agent_client,
            AgentConfig(
                leader_elect=True,
                lease_namespace="secretsync-system",
                lease_duration=4,
                renew_deadline=3,
                retry_period=0.5,
                source_poll=3600,
                reconciler=ReconcilerOptions(allow_local_sources=True, min_retry=0.2, poll_interval=0.1),
            ),
        ).start()
        syncs = Syncs(admin, "apps")
        root = write_tree(tmp_path / "src", {"cm.yaml": configmap("web", "apps", {"v": "1"})})
        syncs.create("web", {"source": {"path": str(root)}, "interval": "1h", "prune": True})
        syncs.wait_ready("web", timeout=20)
        assert admin.get("v1", "ConfigMap", "web", "apps")["data"] == {"v": "1"}
        lease = admin.get("coordination.k8s.io/v1", "Lease", "secretsync-agent", "secretsync-system")
        assert lease["spec"]["holderIdentity"]

        # narrowed: no cluster-wide apply right; the Sync acts as apps/deployer, which has none yet
        admin.delete("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "secretsync-agent-apply")
        other = write_tree(tmp_path / "tenant", {"cm.yaml": configmap("tenant", "apps", {"v": "1"})})
        syncs.create(
            "tenant",
            {"source": {"path": str(other)}, "interval": "1h", "prune": True, "serviceAccountName": "deployer"},
        )
        obj = syncs.wait_reason("tenant", "AccessDenied", timeout=20)
        message = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")["message"]
        assert message.startswith("acting as service account apps/deployer (spec.serviceAccountName): ")
        assert 'User "system:serviceaccount:apps:deployer" cannot' in message and "bind that account a Role" in message
        assert admin.get_or_none("v1", "ConfigMap", "tenant", "apps") is None
        admin.create(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "deployer-apply", "namespace": "apps"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "secretsync-agent-apply",
                },
                "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": "apps"}],
            }
        )
        syncs.wait_ready("tenant", timeout=20)
        created = admin.get("v1", "ConfigMap", "tenant", "apps")
        assert any(e["manager"] == "secretsync" for e in created["metadata"]["managedFields"])
    finally:
        if runtime is not None:
            runtime.stop()
        admin.close()
        cluster.close()
        cluster.server.stop()
