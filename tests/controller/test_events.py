"""EventRecorder against an API server: a core/v1 Event about the object (involvedObject, source component,
timestamps, count 1); repeats aggregate into one Event (count, lastTimestamp); a different message or
reason is a new Event; cluster-scoped objects get their Events in ``default``; an Event deleted meanwhile is
recreated; failures to record are logged, never raised; long messages are clipped."""

from __future__ import annotations

from secretsync.controller.events import EventRecorder
from tests.kube.conftest import client_for


def events_for(kube, namespace, name):
    return [e for e in kube.list("v1", "Event", namespace)["items"]
            if e["involvedObject"].get("name") == name]


def test_event_fields_and_aggregation(kube, namespace):
    cm = kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "target", "namespace": namespace}})
    rec = EventRecorder(kube, "sealed-secrets", host="node-1")
    first = rec.warning(cm, "ErrUnsealFailed", "Failed to unseal: no key could decrypt secret (password)")
    assert first["count"] == 1
    rec.warning(cm, "ErrUnsealFailed", "Failed to unseal: no key could decrypt secret (password)")
    rec.warning(cm, "ErrUnsealFailed", "Failed to unseal: no key could decrypt secret (password)")
    rec.normal(cm, "Unsealed", "SealedSecret unsealed successfully")
    got = events_for(kube, namespace, "target")
    assert len(got) == 2
    failed = [e for e in got if e["reason"] == "ErrUnsealFailed"][0]
    assert failed["count"] == 3 and failed["type"] == "Warning"
    assert failed["source"] == {"component": "sealed-secrets", "host": "node-1"}
    assert failed["involvedObject"]["kind"] == "ConfigMap"
    assert failed["involvedObject"]["uid"] == cm["metadata"]["uid"]
    assert failed["lastTimestamp"] >= failed["firstTimestamp"]
    ok = [e for e in got if e["reason"] == "Unsealed"][0]
    assert ok["type"] == "Normal" and ok["message"] == "SealedSecret unsealed successfully"


def test_deleted_event_is_recreated_and_cluster_scoped_objects_use_default(kube, namespace):
    rec = EventRecorder(kube, "secretsync")
    ns_obj = kube.get("v1", "Namespace", namespace)
    ev = rec.normal(ns_obj, "Progressing", "x" * 5000)
    assert ev["metadata"]["namespace"] == "default" and len(ev["message"]) == 1024
    kube.delete("v1", "Event", ev["metadata"]["name"], "default")
    again = rec.normal(ns_obj, "Progressing", "x" * 5000)
    assert again["metadata"]["name"] != ev["metadata"]["name"] and again["count"] == 1


def test_failures_are_logged_not_raised(emulator, namespace, caplog):
    client = client_for(emulator, timeout=5)
    rec = EventRecorder(client, "secretsync")
    emulator.faults.fail_next(1, verb="create", resource="events", code=500)
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": namespace}}
    assert rec.warning(obj, "ApplyFailed", "apply failed") is None
    assert "ServerError" in caplog.text
    assert rec.warning(obj, "ApplyFailed", "apply failed")["count"] == 1
    client.close()
