"""App of Apps: a parent Sync applies child Sync objects from its repository (the seed's root-app pattern).

Covers: the children become Ready and apply their own objects; each carries the agent's finalizer;
removing a child's file from the parent prunes the child Sync, and with it what the child owned
only when the child's ``prune`` is true (a ``prune: false`` child leaves its objects in place). Removing
every file of the parent is refused (PruneBlocked: the allow-empty guard), not a mass deletion.
"""

from __future__ import annotations

import pytest
import yaml

from tests.agent.conftest import configmap, write_tree

pytestmark = pytest.mark.timeout(120)


def child(name: str, ns: str, path, prune: bool) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "secretsync.io/v1alpha1",
            "kind": "Sync",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"source": {"path": str(path)}, "interval": "1h", "prune": prune},
        }
    )


def test_parent_prunes_children_and_what_they_owned(agent_kube, syncs, make_agent, tmp_path):
    ns, client = agent_kube.namespace, agent_kube.client
    a = write_tree(tmp_path / "a", {"cm.yaml": configmap("from-a", ns, {"v": "1"})})
    b = write_tree(tmp_path / "b", {"cm.yaml": configmap("from-b", ns, {"v": "1"})})
    root = write_tree(
        tmp_path / "root",
        {
            "marker.yaml": configmap("root-marker", ns, {"v": "1"}),
            "a.yaml": child("child-a", ns, a, True),
            "b.yaml": child("child-b", ns, b, False),
        },
    )
    make_agent()
    syncs.create("root", {"source": {"path": str(root)}, "interval": "1h", "prune": True})
    syncs.wait_ready("root")
    syncs.wait_ready("child-a")
    syncs.wait_ready("child-b")
    assert client.get("v1", "ConfigMap", "from-a", ns)["metadata"]["labels"]["secretsync.io/name"] == "child-a"
    assert "finalizers.secretsync.io" in syncs.get("child-a")["metadata"]["finalizers"]

    write_tree(root, {"a.yaml": None, "b.yaml": None, "marker.yaml": None})
    syncs.patch("root", {"metadata": {"annotations": {"secretsync.io/requestedAt": "empty"}}})
    syncs.wait_reason("root", "PruneBlocked")
    assert syncs.get("child-a") and client.get("v1", "ConfigMap", "from-a", ns)
    write_tree(root, {"marker.yaml": configmap("root-marker", ns, {"v": "1"})})
    syncs.patch("root", {"metadata": {"annotations": {"secretsync.io/requestedAt": "drop-children"}}})
    syncs.wait(
        ("root"),
        lambda o: (
            client.get_or_none("secretsync.io/v1alpha1", "Sync", "child-a", ns) is None
            and client.get_or_none("secretsync.io/v1alpha1", "Sync", "child-b", ns) is None
        ),
        20,
        what="children pruned",
    )
    assert client.get_or_none("v1", "ConfigMap", "from-a", ns) is None  # child-a pruned what it owned
    assert client.get("v1", "ConfigMap", "from-b", ns)["data"] == {"v": "1"}  # child-b (prune: false) did not
