"""Drift repair and loop detection on the emulator (each also valid on a real cluster).

Covers: a `kubectl edit` of a managed field is reverted within seconds without re-rendering (the
render count does not move) and counted (metric, DriftCorrected event); a change to a field we do
not manage is left alone (seed case "drift in an unmanaged field"); a deleted managed object is
recreated; a controller fighting us (seed case "sync loop from an injected default") is detected
after a bounded number of corrections and reported as DriftLoopDetected naming the object and the
other manager, and the agent then stops fighting; a failed apply followed by recovery (seed case)
gives Ready=False ApplyFailed then Ready=True, with a failure and a recovery notification that hold
no value.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from secretsync.runtime.httpserver import HTTPServer, json_response
from tests.agent.conftest import configmap, wait_for, write_tree

pytestmark = pytest.mark.timeout(120)


def start(agent_kube, syncs, make_agent, tmp_path, name="drift", files=None, **agent):
    ns = agent_kube.namespace
    root = write_tree(tmp_path / name, files or {"cm.yaml": configmap("app", ns, {"mode": "ours"})})
    runtime = make_agent(**agent)
    syncs.create(name, {"source": {"path": str(root)}, "interval": "10m", "prune": True})
    syncs.wait_ready(name)
    assert runtime.drift.wait_synced(10)
    return runtime, root


def test_kubectl_edit_reverted_without_rerender(agent_kube, syncs, make_agent, tmp_path):
    ns, client = agent_kube.namespace, agent_kube.client
    runtime, _ = start(agent_kube, syncs, make_agent, tmp_path)
    state = runtime.reconciler.states[(ns, "drift")]
    builds = state.renderer.builds
    live = client.get("v1", "ConfigMap", "app", ns)
    started = time.monotonic()
    client.update({**live, "data": {"mode": "edited"}}, field_manager="kubectl-edit")
    assert wait_for(lambda: client.get("v1", "ConfigMap", "app", ns)["data"] == {"mode": "ours"}, 5)
    assert time.monotonic() - started < 5
    assert state.renderer.builds == builds
    assert runtime.drift.corrections == 1
    assert runtime.metrics.drift_corrections.labels(ns, "drift", "ConfigMap")._value.get() == 1
    assert wait_for(
        lambda: any(e.get("reason") == "DriftCorrected" for e in client.list("v1", "Event", ns)["items"]), 5
    )


def test_unmanaged_field_left_alone_and_deletion_repaired(agent_kube, syncs, make_agent, tmp_path):
    ns, client = agent_kube.namespace, agent_kube.client
    runtime, _ = start(agent_kube, syncs, make_agent, tmp_path)
    live = client.get("v1", "ConfigMap", "app", ns)
    client.patch(
        "v1",
        "ConfigMap",
        "app",
        ns,
        {"metadata": {"labels": {"team": "ops"}}, "data": {"extra": "x"}},
        field_manager="someone",
    )
    time.sleep(1.0)
    after = client.get("v1", "ConfigMap", "app", ns)
    assert after["metadata"]["labels"]["team"] == "ops" and after["data"] == {"mode": "ours", "extra": "x"}
    assert runtime.drift.corrections == 0
    client.delete("v1", "ConfigMap", "app", ns)
    assert wait_for(lambda: client.get_or_none("v1", "ConfigMap", "app", ns) is not None, 5)
    assert client.get("v1", "ConfigMap", "app", ns)["metadata"]["uid"] != live["metadata"]["uid"]
    assert runtime.drift.corrections == 1


def test_fight_detected_as_loop_and_reported(agent_kube, syncs, make_agent, tmp_path):
    ns, client = agent_kube.namespace, agent_kube.client
    runtime, _ = start(agent_kube, syncs, make_agent, tmp_path, loop_threshold=4, loop_window=30.0)
    stop = threading.Event()
    fights = []

    def mutator():  # plays a mutating webhook that injects its own default over ours
        while not stop.is_set():
            cm = client.get_or_none("v1", "ConfigMap", "app", ns)
            if cm is not None and cm["data"].get("mode") != "injected":
                client.update({**cm, "data": {"mode": "injected"}}, field_manager="mutator")
                fights.append(1)
            time.sleep(0.03)

    thread = threading.Thread(target=mutator, daemon=True)
    thread.start()
    try:
        obj = syncs.wait_reason("drift", "DriftLoopDetected", timeout=20)
    finally:
        settled = runtime.drift.corrections
        time.sleep(1.0)
        stop.set()
        thread.join(5)
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert f"ConfigMap/{ns}/app" in ready["message"] and "mutator" in ready["message"]
    assert runtime.drift.corrections == settled == 4  # stopped fighting
    assert runtime.metrics.ready.labels(ns, "drift")._value.get() == 0


def test_failed_apply_then_recovery_notifies(agent_kube, syncs, make_agent, tmp_path):
    ns, _client = agent_kube.namespace, agent_kube.client
    received = []
    hook = HTTPServer("127.0.0.1", 0, name="chat")
    hook.route("POST", "/hook", lambda req: (received.append(req.json()), json_response({"ok": True}))[1])
    hook.start()
    try:
        bad = configmap("app", ns, {"mode": "ours"}).replace("name: app", "name: Bad_Name")
        root = write_tree(tmp_path / "src", {"cm.yaml": bad})
        make_agent()
        syncs.create(
            "flaky",
            {
                "source": {"path": str(root)},
                "interval": "10m",
                "prune": True,
                "notifications": {"webhooks": [{"url": hook.url + "/hook"}]},
            },
        )
        obj = syncs.wait_reason("flaky", "ApplyFailed")
        ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
        assert "Bad_Name" in ready["message"]
        entries = (obj["status"].get("inventory") or {}).get("entries") or []
        assert not any("Bad_Name" in e["id"] for e in entries)  # refused by the server: never owned
        assert any(
            c["type"] == "Reconciling" and c["reason"] == "ProgressingWithRetry" for c in obj["status"]["conditions"]
        )
        write_tree(root, {"cm.yaml": configmap("app", ns, {"mode": "ours"})})  # fixed; the retry picks it up
        syncs.wait_ready("flaky", timeout=20)
        assert wait_for(lambda: len(received) >= 2, 5)
    finally:
        hook.stop()
    assert received[0]["text"].startswith(f"Sync {ns}/flaky failed: ApplyFailed")
    assert received[-1]["text"].startswith(f"Sync {ns}/flaky recovered")
    assert received[-1]["attachments"][0]["color"] == "good"
    assert len([r for r in received if "failed" in r["text"]]) == 1  # one per outage, not per retry
    assert "ours" not in json.dumps(received)


def test_ignored_field_owned_by_another_manager_costs_no_request(agent_kube, syncs, make_agent, tmp_path):
    """An ignoreDifferences field another manager keeps changing is neither fought over nor re-planned (no list,
    no dry-run) on each of its watch events."""
    from secretsync.kube.client import KubeClient

    ns, client = agent_kube.namespace, agent_kube.client
    own = KubeClient.from_kubeconfig(str(agent_kube.cluster.kubeconfig))
    requests = []
    original_apply, original_list = own.apply, own.list

    def counting_apply(obj, **kw):
        if kw.get("dry_run") and obj.get("kind") == "ConfigMap":
            requests.append("dry-run")
        return original_apply(obj, **kw)

    def counting_list(api_version, kind, *args, **kw):
        if kind == "ConfigMap":
            requests.append("list")
        return original_list(api_version, kind, *args, **kw)

    own.apply, own.list = counting_apply, counting_list
    root = write_tree(tmp_path / "src", {"cm.yaml": configmap("app", ns, {"mode": "ours", "replicas": "1"})})
    runtime = make_agent(client=own)
    syncs.create(
        "ignored",
        {
            "source": {"path": str(root)},
            "interval": "10m",
            "prune": True,
            "ignoreDifferences": [{"kind": "ConfigMap", "name": "app", "jsonPointers": ["/data/replicas"]}],
        },
    )
    syncs.wait_ready("ignored")
    assert runtime.drift.wait_synced(10)
    requests.clear()
    for replicas in ("3", "4", "5"):  # e.g. an autoscaler owning the field
        client.patch("v1", "ConfigMap", "app", ns, {"data": {"replicas": replicas}}, field_manager="autoscaler")
    client.patch("v1", "ConfigMap", "app", ns, {"data": {"mode": "edited"}}, field_manager="someone")  # sentinel
    assert wait_for(lambda: client.get("v1", "ConfigMap", "app", ns)["data"]["mode"] == "ours", 5)
    assert client.get("v1", "ConfigMap", "app", ns)["data"]["replicas"] == "5"  # not fought over
    assert runtime.drift.corrections == 1
    assert requests == ["list", "dry-run"]  # the sentinel's repair only; nothing for the ignored field's events
