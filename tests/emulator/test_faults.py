"""Fault injection (emulator only): failing, throttled, conflicting and hanging requests; dropped watches.

Covers: the next N requests matching verb/resource fail with 500
InternalError, 429 TooManyRequests (with ``Retry-After`` and
``details.retryAfterSeconds``), 409 Conflict or 503, then requests succeed
again and other requests are untouched; a hanging request outlives the
client's timeout and the server keeps serving others; ``close_watches`` drops
open watch connections. Status bodies follow the API conventions
("Response Status Kind"; 429 per "API Priority and Fairness").
"""

import threading
import time

import pytest
import urllib3
from kubernetes import client


@pytest.fixture
def emulator(apiserver):
    apiserver.require_emulator("fault injection")
    return apiserver


def _cms(cluster):
    return f"/api/v1/namespaces/{cluster.namespace}/configmaps"


def test_next_requests_fail_then_recover(emulator):
    emulator.faults.fail_next(2, verb="list", resource="configmaps", code=500)
    assert emulator.raw("GET", "/api/v1/namespaces")[0] == 200  # other resources untouched
    for _ in range(2):
        code, status, _ = emulator.raw("GET", _cms(emulator))
        assert code == 500 and status["reason"] == "InternalError" and status["kind"] == "Status"
    assert emulator.raw("GET", _cms(emulator))[0] == 200
    assert emulator.faults.injected == 2 and emulator.faults.pending() == 0


def test_throttling_carries_retry_after(emulator):
    emulator.faults.fail_next(1, resource="configmaps", code=429, retry_after=3)
    code, status, headers = emulator.raw("GET", _cms(emulator))
    assert code == 429 and status["reason"] == "TooManyRequests"
    assert headers["Retry-After"] == "3" and status["details"]["retryAfterSeconds"] == 3


def test_conflict_and_unavailable(emulator):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    emulator.faults.fail_next(1, verb="create", resource="configmaps", code=409)
    code, status, _ = emulator.raw("POST", _cms(emulator), body)
    assert code == 409 and status["reason"] == "Conflict"
    emulator.faults.fail_next(1, verb="create", code=503)
    code, status, _ = emulator.raw("POST", _cms(emulator), body)
    assert code == 503 and status["reason"] == "ServiceUnavailable"
    assert emulator.raw("POST", _cms(emulator), body)[0] == 201


def test_official_client_sees_the_fault(emulator):
    v1 = client.CoreV1Api(emulator.api_client())
    emulator.faults.fail_next(1, verb="get", resource="configmaps", name="x", code=500)
    with pytest.raises(client.ApiException) as info:
        v1.read_namespaced_config_map("x", emulator.namespace)
    assert info.value.status == 500
    with pytest.raises(client.ApiException) as info:
        v1.read_namespaced_config_map("x", emulator.namespace)
    assert info.value.status == 404


def test_hanging_request_times_out_the_client(emulator):
    emulator.faults.fail_next(1, verb="list", resource="secrets", hang=3)
    start = time.monotonic()
    with pytest.raises((urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError, TimeoutError)):
        emulator.raw("GET", f"/api/v1/namespaces/{emulator.namespace}/secrets", timeout=0.5)
    assert time.monotonic() - start < 2.5
    assert emulator.raw("GET", "/version")[0] == 200  # others are served meanwhile


def test_close_watches_drops_streams(emulator):
    v1 = client.CoreV1Api(emulator.api_client())
    ended = threading.Event()
    errors = []

    def consume():
        try:
            resp = v1.list_namespaced_config_map(
                emulator.namespace, watch=True, _preload_content=False, timeout_seconds=30
            )
            for _ in resp.stream():
                pass
        except Exception as exc:  # noqa: BLE001 - the drop may surface as a protocol error
            errors.append(exc)
        ended.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    assert emulator.faults.wait_for_watches(1)
    assert emulator.faults.close_watches() == 1
    assert ended.wait(5), "the watch did not end"
    assert emulator.faults.open_watches() == 0


def test_request_counter(apiserver):
    """``server.requests`` counts resource requests by verb, resource, namespace, user and dry run."""
    apiserver.require_emulator("counts requests inside the emulator")
    from secretsync_emulator.requests import WRITE_VERBS

    counter = apiserver.server.requests
    ns = apiserver.namespace
    before = counter.snapshot()
    cms = f"/api/v1/namespaces/{ns}/configmaps"
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "counted"}}
    apiserver.raw("POST", cms, body)
    apiserver.raw("POST", cms + "?dryRun=All", {**body, "metadata": {"name": "dry"}})
    apiserver.raw("GET", f"{cms}/counted")
    apiserver.raw("GET", cms)
    apiserver.raw("GET", "/version")  # not a resource request
    apiserver.server.faults.fail_next(1, verb="get", resource="configmaps", code=500)
    assert apiserver.raw("GET", f"{cms}/counted")[0] == 500  # a faulted request still counts
    apiserver.raw("DELETE", f"{cms}/counted")
    assert counter.count(since=before, namespace=ns) == 6
    assert counter.by("verb", since=before) == {"create": 2, "get": 2, "list": 1, "delete": 1}
    assert counter.count(since=before, verb=WRITE_VERBS, dry_run=False) == 2
    assert counter.count(since=before, verb="create", dry_run=True, resource="configmaps", user="admin") == 1
    assert counter.count(since=before, user="someone-else") == 0
    counter.reset()
    assert counter.count() == 0
