"""Plaintext canary: with every logger at DEBUG (ours, the kubernetes client's, urllib3's), a session of
Secret writes, reads, lists, applies, watches and failing requests (422, 409, injected 500, a watch
ERROR) leaves neither the plaintext nor its base64 in the log records, in the errors' text or repr,
or on stdout/stderr."""

from __future__ import annotations

import base64
import logging
import uuid

import pytest

from secretsync import SecretBytes
from secretsync.kube.errors import KubeError
from secretsync.kube.watch import Informer


def test_no_secret_value_reaches_logs_or_errors(kube, namespace, apiserver, caplog, capfd):
    plaintext = f"canary-{uuid.uuid4().hex}"
    forms = [plaintext, base64.b64encode(plaintext.encode()).decode()]
    caplog.set_level(logging.DEBUG)
    texts = []

    def secret(name, key="k"):
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "data": {key: SecretBytes(plaintext)},
        }

    kube.create(secret("a"))
    texts.append(repr(kube.get("v1", "Secret", "a", namespace)))
    texts.append(repr(kube.list("v1", "Secret", namespace)))
    texts.append(repr(kube.apply(secret("b"), field_manager="secretsync")))
    inf = Informer(kube, "v1", "Secret", namespace)
    events = inf.events()
    texts.append(repr(next(events)))
    inf.stop()
    events.close()
    failures = [
        lambda: kube.create(secret("a")),  # 409 AlreadyExists
        lambda: kube.create(secret("c", key="bad key!")),  # 422 Invalid
        lambda: kube.apply(secret("b", key="other"), field_manager="intruder"),
    ]
    if apiserver.is_emulator:
        apiserver.faults.fail_next(1, verb="get", resource="secrets", code=500)
        failures.append(lambda: kube.with_read_retry(None).get("v1", "Secret", "a", namespace))
    for call in failures:
        try:
            call()
        except KubeError as err:
            texts += [str(err), repr(err), err.report(), repr(err.details)]
        except Exception as err:  # noqa: BLE001
            pytest.fail(f"unexpected {type(err).__name__}")
    out, errout = capfd.readouterr()
    everything = "\n".join(texts + [r.getMessage() for r in caplog.records] + [caplog.text, out, errout])
    assert caplog.records, "the DEBUG logs were captured"
    for form in forms:
        assert form not in everything
