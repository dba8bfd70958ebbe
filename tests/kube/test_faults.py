"""KubeClient and Informer under injected faults (emulator only: a real cluster cannot be told to fail):
500/503/429 become transient errors with Retry-After, which ``secretsync.retry`` rides out; a hung request
ends with our read timeout; reads retry by themselves (a 429 then success, Retry-After honoured; 503s
beyond the bound end with the last error naming its attempts; a slow reply past the timeout is retried
within the bound), writes never; dropped watch connections are reopened from the last resourceVersion
without losing or repeating events; a 410 for an expired resourceVersion leads to a relist whose diff
reports what changed meanwhile, including deletions."""

from __future__ import annotations

import time

import pytest

from secretsync.kube.errors import ServerError, Timeout, TooManyRequests
from secretsync.kube.watch import ADDED, DELETED, MODIFIED, Informer
from secretsync.retry import RetryPolicy, retry_call
from tests.fixtures.apiserver import make_cluster
from tests.kube.conftest import client_for


def cm(name, ns, value="1"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": {"v": value}}


def test_server_errors_are_transient_and_retried(kube, namespace, emulator):
    kube.create(cm("r", namespace))
    emulator.faults.fail_next(2, verb="get", resource="configmaps", code=500)
    once = kube.with_read_retry(None)  # each read sent once: the error as the server gave it
    with pytest.raises(ServerError) as info:
        once.get("v1", "ConfigMap", "r", namespace)
    assert info.value.transient and info.value.status == 500
    sleeps = []
    got = retry_call(
        lambda: once.get("v1", "ConfigMap", "r", namespace),
        peer="Kubernetes API",
        operation="get ConfigMap",
        policy=RetryPolicy(attempts=3, sleep=sleeps.append),
    )
    assert got["data"]["v"] == "1" and len(sleeps) == 1


def test_throttling_carries_retry_after(kube, namespace, emulator):
    emulator.faults.fail_next(1, verb="list", resource="configmaps", code=429, retry_after=4)
    with pytest.raises(TooManyRequests) as info:
        kube.with_read_retry(None).list("v1", "ConfigMap", namespace)
    assert info.value.retry_after == 4.0 and info.value.transient


def test_a_hung_request_ends_with_our_timeout(emulator, namespace):
    client = client_for(emulator, timeout=0.5, read_retry=None)
    client.resource("v1", "ConfigMap")
    emulator.faults.fail_next(1, verb="get", resource="configmaps", hang=3)
    started = time.monotonic()
    with pytest.raises(Timeout) as info:
        client.get("v1", "ConfigMap", "any", namespace)
    assert time.monotonic() - started < 2.5
    assert info.value.transient and "ConfigMap" in info.value.message
    client.close()


def test_a_throttled_read_is_retried_after_the_servers_retry_after(kube, namespace, emulator):
    kube.create(cm("t", namespace))
    sleeps: list[float] = []
    client = kube.with_read_retry(RetryPolicy(attempts=3, deadline=30, sleep=sleeps.append))
    emulator.faults.fail_next(1, verb="get", resource="configmaps", code=429, retry_after=4)
    assert client.get("v1", "ConfigMap", "t", namespace)["data"] == {"v": "1"}
    assert sleeps == [4.0], "Retry-After is the least wait before the second try"
    assert emulator.faults.pending() == 0


def test_the_default_client_rides_out_a_throttled_list(kube, namespace, emulator):
    kube.create(cm("d", namespace))
    emulator.faults.fail_next(1, verb="list", resource="configmaps", code=429, retry_after=0)
    assert [o["metadata"]["name"] for o in kube.list("v1", "ConfigMap", namespace)["items"]] == ["d"]
    assert emulator.faults.pending() == 0


def test_server_errors_beyond_the_bound_end_with_the_last_error_naming_the_attempts(kube, namespace, emulator):
    sleeps: list[float] = []
    client = kube.with_read_retry(RetryPolicy(attempts=3, deadline=30, sleep=sleeps.append))
    emulator.faults.fail_next(5, verb="get", resource="configmaps", code=503, retry_after=1)
    with pytest.raises(ServerError) as info:
        client.get("v1", "ConfigMap", "any", namespace)
    assert info.value.status == 503 and info.value.attempts == 3
    assert "ConfigMap" in info.value.message and "after 3 attempts" in info.value.message
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert len(sleeps) == 2 and all(s >= 1.0 for s in sleeps)
    assert emulator.faults.pending() == 2, "exactly three requests were sent"


def test_a_retry_after_past_the_deadline_is_not_waited_for(kube, namespace, emulator):
    sleeps: list[float] = []
    client = kube.with_read_retry(RetryPolicy(attempts=5, deadline=2.0, sleep=sleeps.append))
    emulator.faults.fail_next(2, verb="get", resource="configmaps", code=429, retry_after=30)
    with pytest.raises(TooManyRequests) as info:
        client.get("v1", "ConfigMap", "any", namespace)
    assert sleeps == [] and info.value.attempts == 1
    emulator.faults.clear()


def test_a_slow_reply_past_the_timeout_is_retried_within_the_bound(emulator, namespace):
    client = client_for(emulator, timeout=0.5, read_retry=RetryPolicy(attempts=2, deadline=10, base=0.01, cap=0.01))
    client.create(cm("s", namespace))
    emulator.faults.fail_next(1, verb="get", resource="configmaps", hang=3)
    assert client.get("v1", "ConfigMap", "s", namespace)["data"] == {"v": "1"}  # the second try answers
    emulator.faults.fail_next(5, verb="get", resource="configmaps", hang=3)
    started = time.monotonic()
    with pytest.raises(Timeout) as info:
        client.get("v1", "ConfigMap", "s", namespace)
    assert time.monotonic() - started < 2.5 and info.value.attempts == 2
    assert emulator.faults.pending() == 3
    emulator.faults.clear()
    client.close()


def test_writes_are_sent_once(kube, namespace, emulator):
    emulator.faults.fail_next(1, verb="create", resource="configmaps", code=503)
    with pytest.raises(ServerError) as info:
        kube.create(cm("w", namespace))
    assert info.value.attempts == 1 and emulator.faults.pending() == 0
    assert kube.get_or_none("v1", "ConfigMap", "w", namespace) is None
    kube.create(cm("w", namespace))


def test_informer_survives_dropped_watches_without_losing_events(kube, namespace, emulator):
    inf = Informer(kube, "v1", "ConfigMap", namespace, backoff_base=0.05, backoff_cap=0.1)
    events = inf.events()
    kube.create(cm("a", namespace))
    seen = [next(events)]  # initial list or the watch: both report "a"
    for i in range(3):
        kube.patch("v1", "ConfigMap", "a", namespace, {"data": {"v": str(i + 2)}})
        seen.append(next(events))
        emulator.faults.close_watches()  # dropped; the next change must still arrive
    kube.delete("v1", "ConfigMap", "a", namespace)
    seen.append(next(events))
    inf.stop()
    events.close()
    assert [e.type for e in seen] == [ADDED, MODIFIED, MODIFIED, MODIFIED, DELETED]
    assert [e.object["data"]["v"] for e in seen[1:4]] == ["2", "3", "4"]
    assert inf.watches >= 2, "the dropped watches were reopened"
    assert inf.relists == 1, "a dropped connection resumes from its resourceVersion without a relist"


def test_expired_resource_version_relists_and_reports_the_difference(tmp_path):
    cluster = make_cluster(tmp_path / "small-window", event_window=5)
    cluster.require_emulator("an event window small enough to expire")
    try:
        kube = client_for(cluster, timeout=10)
        kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "w"}})
        kube.create(cm("keep", "w"))
        kube.create(cm("drop", "w"))
        inf = Informer(kube, "v1", "ConfigMap", "w")
        events = inf.events()
        first = [next(events), next(events)]  # the initial list; the watch is not open yet
        assert {e.object["metadata"]["name"] for e in first} == {"keep", "drop"}
        kube.delete("v1", "ConfigMap", "drop", "w")
        for i in range(10):  # push the list's resourceVersion out of the window
            kube.patch("v1", "ConfigMap", "keep", "w", {"data": {"v": str(i)}})
        kube.create(cm("new", "w"))
        got = {}
        while len(got) < 3:
            ev = next(events)
            got[ev.object["metadata"]["name"]] = ev.type
        inf.stop()
        events.close()
        assert got == {"drop": DELETED, "keep": MODIFIED, "new": ADDED}
        assert inf.relists == 2
        kube.close()
    finally:
        cluster.server.stop()
