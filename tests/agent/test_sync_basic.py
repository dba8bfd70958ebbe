"""The Sync reconciler end to end on the emulator: a local-path Sync and a Git Sync become Ready, apply
their objects with owner labels, record the inventory in status, prune, and write nothing when
nothing changed. Also: an invalid spec is Stalled; a new Git commit is picked up by the source
poller; the requestedAt annotation is echoed in lastHandledReconcileAt."""

from __future__ import annotations

import time

import pytest
import yaml

from tests.agent.conftest import configmap, write_tree

pytestmark = pytest.mark.timeout(120)


def test_local_path_sync_applies_and_prunes(agent_kube, syncs, make_agent, tmp_path):
    ns = agent_kube.namespace
    root = write_tree(
        tmp_path / "src", {"a.yaml": configmap("a", ns, {"k": "1"}), "b.yaml": configmap("b", ns, {"k": "2"})}
    )
    agent = make_agent()
    syncs.create("local", {"source": {"path": str(root)}, "interval": "10m", "prune": True})
    obj = syncs.wait_ready("local")
    status = obj["status"]
    assert status["lastAppliedRevision"].startswith("local@sha256:")
    assert sorted(e["id"] for e in status["inventory"]["entries"]) == [f"{ns}_a__ConfigMap", f"{ns}_b__ConfigMap"]
    live = agent_kube.client.get("v1", "ConfigMap", "a", ns)
    assert live["metadata"]["labels"] == {"secretsync.io/name": "local", "secretsync.io/namespace": ns}
    # a file removed, requested by annotation: pruned, request echoed
    write_tree(root, {"b.yaml": None})
    syncs.patch("local", {"metadata": {"annotations": {"secretsync.io/requestedAt": "now-1"}}})
    syncs.wait(
        ("local"),
        lambda o: (
            (o.get("status") or {}).get("lastHandledReconcileAt") == "now-1"
            and len(o["status"]["inventory"]["entries"]) == 1
        ),
        what="prune after requestedAt",
    )
    assert agent_kube.client.get_or_none("v1", "ConfigMap", "b", ns) is None
    assert agent.reconciler.status_writes >= 2


def test_git_sync_follows_new_commits(agent_kube, syncs, make_agent, gitrepo):
    ns = agent_kube.namespace
    repo = gitrepo("app")
    first = repo.commit({"deploy/cm.yaml": configmap("web", ns, {"color": "blue"})})
    make_agent()
    syncs.create(
        "app",
        {
            "source": {"git": {"url": repo.url, "ref": {"branch": "main"}}},
            "path": "deploy",
            "interval": "10m",
            "prune": True,
        },
    )
    obj = syncs.wait_ready("app", revision=first)
    assert obj["status"]["lastAppliedRevision"] == f"main@sha1:{first}"
    assert agent_kube.client.get("v1", "ConfigMap", "web", ns)["data"] == {"color": "blue"}
    second = repo.commit({"deploy/cm.yaml": configmap("web", ns, {"color": "green"})})
    syncs.wait_ready("app", revision=second, timeout=20)
    assert agent_kube.client.get("v1", "ConfigMap", "web", ns)["data"] == {"color": "green"}


def test_steady_state_writes_nothing(agent_kube, syncs, make_agent, tmp_path):
    ns = agent_kube.namespace
    root = write_tree(tmp_path / "src", {"a.yaml": configmap("a", ns, {"k": "1"})})
    agent = make_agent()
    syncs.create("steady", {"source": {"path": str(root)}, "interval": "1s", "prune": True})
    syncs.wait_ready("steady")
    time.sleep(0.5)
    writes = agent.reconciler.status_writes
    rv = agent_kube.client.get("v1", "ConfigMap", "a", ns)["metadata"]["resourceVersion"]
    sync_rv = syncs.get("steady")["metadata"]["resourceVersion"]
    time.sleep(2.5)  # two or three interval reconciles with nothing to do
    assert agent.metrics.total.labels("success")._value.get() >= 3
    assert agent.reconciler.status_writes == writes
    assert agent_kube.client.get("v1", "ConfigMap", "a", ns)["metadata"]["resourceVersion"] == rv
    assert syncs.get("steady")["metadata"]["resourceVersion"] == sync_rv


def test_local_path_refused_in_cluster_mode_is_stalled(agent_kube, syncs, make_agent, tmp_path):
    make_agent(reconciler={"allow_local_sources": False})
    syncs.create("local", {"source": {"path": str(tmp_path)}, "interval": "10m", "prune": False})
    obj = syncs.wait_reason("local", "InvalidSpec", type_="Stalled")
    stalled = next(c for c in obj["status"]["conditions"] if c["type"] == "Stalled")
    assert "spec.source.path is only allowed in local mode" in stalled["message"]
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]


def test_wait_reports_unhealthy_objects(agent_kube, syncs, make_agent, tmp_path):
    ns = agent_kube.namespace
    deployment = yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx"}]},
                },
            },
        }
    )
    root = write_tree(tmp_path / "src", {"web.yaml": deployment, "cm.yaml": configmap("a", ns, {"k": "1"})})
    make_agent()
    # no controller rolls the Deployment out on the emulator: wait: true must time out and say so
    syncs.create(
        "waiting", {"source": {"path": str(root)}, "interval": "10m", "timeout": "2s", "prune": True, "wait": True}
    )
    obj = syncs.wait_reason("waiting", "HealthCheckFailed", timeout=20)
    message = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")["message"]
    assert f"Deployment.apps/{ns}/web" in message or "web" in message
    # an explicit health check on an object that is Current passes
    syncs.create(
        "checked",
        {
            "source": {"path": str(write_tree(tmp_path / "b", {"cm.yaml": configmap("b", ns, {})}))},
            "interval": "10m",
            "prune": True,
            "healthChecks": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "b"}],
        },
    )
    syncs.wait_ready("checked")
