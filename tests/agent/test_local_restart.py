"""Local mode keeps its inventory in the cluster (an ApplySet parent, as ``secretsync apply`` does).

Covers: after the agent stops, a file removed from the folder is pruned at the next start; the
parent Secret carries the ApplySet id label and the kinds it recorded, and members carry the
part-of label next to the Sync's owner labels; the prune guards still hold across a restart (an
emptied folder is refused as PruneBlocked and deletes nothing); drift repair in local mode keeps the
part-of label.
"""

from __future__ import annotations

import pytest

from secretsync.api.syncspec import API_VERSION, KIND
from secretsync.kube.inventory import CONTAINS_GROUP_KINDS, ID_LABEL, PART_OF, local_applyset_name
from tests.agent.conftest import configmap, wait_for, write_tree

pytestmark = pytest.mark.timeout(120)


def local_sync(ns: str, root, **spec) -> dict:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": "local", "namespace": ns, "generation": 1},
        "spec": {"source": {"path": str(root)}, "path": ".", "interval": "1h", "prune": True, **spec},
    }


def ready_condition(runtime, ns) -> dict | None:
    status = (runtime.reconciler.local_objects.get((ns, "local")) or {}).get("status") or {}
    return next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), None)


def run_once(make_agent, ns, root):
    runtime = make_agent(local_sync=local_sync(ns, root))
    assert wait_for(lambda: (ready_condition(runtime, ns) or {}).get("status") in ("True", "False"), 30), (
        "no reconcile finished"
    )
    return runtime


def test_restart_prunes_what_left_the_folder(agent_kube, make_agent, tmp_path):
    ns, client = agent_kube.namespace, agent_kube.client
    root = write_tree(
        tmp_path / "src", {"a.yaml": configmap("a", ns, {"v": "1"}), "b.yaml": configmap("b", ns, {"v": "1"})}
    )
    first = run_once(make_agent, ns, root)
    assert client.get_or_none("v1", "ConfigMap", "b", ns) is not None
    parent = client.get("v1", "Secret", local_applyset_name(str(root), "."), ns)
    assert parent["metadata"]["labels"][ID_LABEL].startswith("applyset-")
    assert parent["metadata"]["annotations"][CONTAINS_GROUP_KINDS] == "ConfigMap"
    labels = client.get("v1", "ConfigMap", "a", ns)["metadata"]["labels"]
    assert labels[PART_OF] == parent["metadata"]["labels"][ID_LABEL] and labels["secretsync.io/name"] == "local"
    if first.drift is not None:  # drift repair re-applies with the same labels (part-of kept)
        assert first.drift.wait_synced(10)
        client.patch("v1", "ConfigMap", "a", ns, {"data": {"v": "edited"}}, field_manager="someone")
        assert wait_for(lambda: client.get("v1", "ConfigMap", "a", ns)["data"] == {"v": "1"}, 5)
        assert client.get("v1", "ConfigMap", "a", ns)["metadata"]["labels"].get(PART_OF) == labels[PART_OF]
    first.stop()
    write_tree(root, {"b.yaml": None})  # removed while the agent was not running
    run_once(make_agent, ns, root)
    assert wait_for(lambda: client.get_or_none("v1", "ConfigMap", "b", ns) is None, 10)
    assert client.get_or_none("v1", "ConfigMap", "a", ns) is not None


def test_restart_with_an_emptied_folder_prunes_nothing(agent_kube, make_agent, tmp_path):
    ns, client = agent_kube.namespace, agent_kube.client
    root = write_tree(tmp_path / "src", {"a.yaml": configmap("a", ns, {"v": "1"})})
    run_once(make_agent, ns, root).stop()
    write_tree(root, {"a.yaml": None})
    runtime = run_once(make_agent, ns, root)
    ready = ready_condition(runtime, ns)
    assert ready["status"] == "False" and ready["reason"] == "PruneBlocked"
    assert client.get_or_none("v1", "ConfigMap", "a", ns) is not None
