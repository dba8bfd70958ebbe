"""Hub and spoke, and postBuild.substituteFrom: a Sync with kubeConfig.secretRef applies to a second
cluster (a second emulator) and not to its own; its variables come from a ConfigMap and a Secret of
the Sync's namespace (the Secret's value is applied, never shown in status); drift on the remote
cluster is repaired within seconds by a watcher set on that cluster, which stops (and its client
closes) when the last Sync using it is deleted."""

from __future__ import annotations

import pytest
import yaml

from secretsync.kube.client import KubeClient
from secretsync.secretvalue import SecretBytes
from tests.agent.conftest import wait_for, write_tree
from tests.fixtures.apiserver import REAL_KUBECONFIG_ENV, make_cluster

pytestmark = pytest.mark.timeout(120)


@pytest.mark.skipif(bool(__import__("os").environ.get(REAL_KUBECONFIG_ENV)), reason="needs a second cluster")
def test_remote_cluster_and_substitute_from(agent_kube, syncs, make_agent, tmp_path):
    ns, client = agent_kube.namespace, agent_kube.client
    remote = make_cluster(tmp_path / "remote")
    remote_client = KubeClient.from_kubeconfig(str(remote.kubeconfig))
    try:
        remote_client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "spoke"}})
        client.create(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "spoke-kubeconfig", "namespace": ns},
                "data": {"value": SecretBytes(remote.kubeconfig.read_bytes())},
            }
        )
        client.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "vars", "namespace": ns},
                "data": {"COLOR": "teal"},
            }
        )
        client.create(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "secret-vars", "namespace": ns},
                "data": {"API_KEY": SecretBytes(b"substituted-secret-value")},
            }
        )
        root = write_tree(
            tmp_path / "src",
            {
                "cm.yaml": yaml.safe_dump(
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": "app", "namespace": "spoke"},
                        "data": {"color": "${COLOR}"},
                    }
                ),
                "secret.yaml": yaml.safe_dump(
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {"name": "api", "namespace": "spoke"},
                        "stringData": {"key": "${API_KEY}"},
                    }
                ),
            },
        )
        agent = make_agent()
        syncs.create(
            "spoke",
            {
                "source": {"path": str(root)},
                "interval": "1h",
                "prune": True,
                "kubeConfig": {"secretRef": {"name": "spoke-kubeconfig", "key": "value"}},
                "postBuild": {
                    "substituteFrom": [{"kind": "ConfigMap", "name": "vars"}, {"kind": "Secret", "name": "secret-vars"}]
                },
            },
        )
        obj = syncs.wait_ready("spoke")
        assert remote_client.get("v1", "ConfigMap", "app", "spoke")["data"] == {"color": "teal"}
        assert remote_client.get("v1", "Secret", "api", "spoke")["data"]["key"].reveal() == b"substituted-secret-value"
        assert client.get_or_none("v1", "Namespace", "spoke") is None
        assert "substituted-secret-value" not in yaml.safe_dump(obj)
        # drift on the remote cluster is watched there (one watcher set per target cluster), not left to the 1h
        remote_key = agent.reconciler.states[(ns, "spoke")].remote_key
        assert ("v1", "ConfigMap") in agent.drift.watched_clusters().get(remote_key, set())
        assert agent.drift.wait_synced(10)
        remote_client.patch("v1", "ConfigMap", "app", "spoke", {"data": {"color": "red"}}, field_manager="someone")
        assert wait_for(lambda: remote_client.get("v1", "ConfigMap", "app", "spoke")["data"] == {"color": "teal"}, 5), (
            "remote drift was not repaired"
        )
        # the repair's write lands on the server before the drift worker counts it: wait for the count
        assert wait_for(lambda: agent.drift.corrections >= 1, 5), "the repair was not counted"
        assert agent.drift.corrections == 1
        client.delete("secretsync.io/v1alpha1", "Sync", "spoke", ns)  # the last Sync on it: watchers stop
        assert wait_for(lambda: remote_key not in agent.drift.watched_clusters(), 10)
        assert remote_key not in agent.reconciler.remotes
    finally:
        remote_client.close()
        remote.close()
        remote.server.stop()
