"""Redaction: a canary secret value sent through the controller's success and failure paths (create, update of a
managed Secret, not-managed refusal, immutable refusal, tampered item, verify and rotate) never shows up in any log
record (DEBUG and up, every logger), Event, SealedSecret status or the metrics exposition."""

from __future__ import annotations

import json
import logging
import urllib.request

from tests.sealedcontroller.conftest import SS_API, get_secret, make_sealed, synced_condition, wait_for
from tests.sealedcontroller.test_endpoints import direct

CANARY = "canary-7f3a9e1c-plaintext"


def test_canary_never_leaks(controller, sealed_kube, namespace, caplog):
    caplog.set_level(logging.DEBUG)
    sealed_kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "taken", "namespace": namespace},
            "stringData": {"password": CANARY},
        }
    )
    sealed_kube.create(make_sealed(controller, namespace, "taken", {"password": CANARY}))
    sealed_kube.create(make_sealed(controller, namespace, "ok", {"password": CANARY}))
    frozen = make_sealed(controller, namespace, "frozen", {"password": CANARY}, immutable=True)
    sealed_kube.create(frozen)
    broken = make_sealed(controller, namespace, "broken", {"password": CANARY, "other": CANARY})
    broken["spec"]["encryptedData"]["other"] = broken["spec"]["encryptedData"]["other"][:-8] + "AAAAAAA="
    sealed_kube.create(broken)
    wait_for(
        lambda: get_secret(sealed_kube, namespace, "ok") and get_secret(sealed_kube, namespace, "frozen"),
        what="the Secrets",
    )
    again = make_sealed(controller, namespace, "frozen", {"password": CANARY + "-2"}, immutable=True)
    obj = sealed_kube.get(SS_API, "SealedSecret", "frozen", namespace)
    obj["spec"] = again["spec"]
    sealed_kube.update(obj)
    for name in ("taken", "broken", "frozen"):
        wait_for(lambda: (synced_condition(sealed_kube, namespace, name) or {}).get("status") == "False", what=name)
    body = json.dumps(make_sealed(controller, namespace, "ok", {"password": CANARY})).encode()
    assert direct(controller, "POST", "/v1/verify", body)[0] == 200
    status, rotated, _ = direct(controller, "POST", "/v1/rotate", body)
    assert status == 200 and CANARY.encode() not in rotated
    wait_for(lambda: controller.controller.idle(), what="the queue to drain")
    controller.recorder.flush()

    texts = [r.getMessage() for r in caplog.records] + [str(r.args) for r in caplog.records]
    texts += [json.dumps(e) for e in sealed_kube.list("v1", "Event", namespace)["items"]]
    texts += [json.dumps(o.get("status")) for o in sealed_kube.list(SS_API, "SealedSecret", namespace)["items"]]
    with urllib.request.urlopen(controller.metrics_server.url + "/metrics", timeout=10) as resp:
        texts.append(resp.read().decode())
    assert len(texts) > 10
    assert not [t for t in texts if CANARY in t]
