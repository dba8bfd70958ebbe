"""Watch contract: event streams from a resourceVersion, 410 Gone, bookmarks, selectors.

Covers: ADDED/MODIFIED/DELETED in order from a list's resourceVersion; the
initial ADDED events when no resourceVersion is given; a label-selector watch
seeing an object that stops matching as DELETED; ``timeoutSeconds`` ending the
stream; ``sendInitialEvents`` ending with the ``k8s.io/initial-events-end``
bookmark; periodic BOOKMARK events; 410 Expired for a resourceVersion older
than the event window; the official ``watch.Watch`` and the DynamicClient's
``watch``; open watches ending when the server stops.
Sources: API concepts, "Efficient detection of changes", "Watch bookmarks",
"Streaming lists", "410 Gone responses". Emulator-only where noted
(event-window size, bookmark timing, server stop).
"""

import json
import threading
import time

import pytest
from kubernetes import client, watch

from tests.fixtures.apiserver import make_cluster


def _cm(name, labels=None, data="1"):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels or {}},
        "data": {"k": data},
    }


def _stream_lines(cluster, query, *, max_events, timeout=10):
    """Raw watch events (dicts) for configmaps in the test namespace."""
    api = cluster.api_client()
    hdrs = {"Authorization": api.configuration.get_api_key_with_prefix("BearerToken", alias="authorization") or ""}
    if hdrs["Authorization"] and not hdrs["Authorization"].lower().startswith("bearer "):
        hdrs["Authorization"] = "Bearer " + hdrs["Authorization"]
    resp = api.rest_client.pool_manager.request(
        "GET",
        f"{cluster.url}/api/v1/namespaces/{cluster.namespace}/configmaps?watch=true&{query}",
        headers=hdrs,
        preload_content=False,
        timeout=timeout,
        retries=False,
    )
    assert resp.status == 200
    events, buf = [], b""
    try:
        for chunk in resp.stream(1024, decode_content=False):
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    events.append(json.loads(line))
                    if len(events) >= max_events:
                        return events
    finally:
        resp.release_conn()
    return events


def test_events_in_order_from_list_resource_version(apiserver):
    v1 = client.CoreV1Api(apiserver.api_client())
    ns = apiserver.namespace
    rv = v1.list_namespaced_config_map(ns).metadata.resource_version
    v1.create_namespaced_config_map(ns, _cm("w"))
    v1.patch_namespaced_config_map("w", ns, {"data": {"k": "2"}})
    v1.delete_namespaced_config_map("w", ns)
    seen = []
    for event in watch.Watch().stream(v1.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=5):
        seen.append(
            (
                event["type"],
                event["object"].metadata.name,
                int(event["object"].metadata.resource_version),
                (event["object"].data or {}).get("k"),
            )
        )
        if len(seen) == 3:
            break
    assert [s[0] for s in seen] == ["ADDED", "MODIFIED", "DELETED"]
    assert seen[0][2] < seen[1][2] <= seen[2][2]
    assert seen[1][3] == "2" and seen[2][3] == "2"  # DELETED carries the last state


def test_watch_without_resource_version_starts_with_current_objects(apiserver):
    v1 = client.CoreV1Api(apiserver.api_client())
    ns = apiserver.namespace
    for name in ("i1", "i2"):
        v1.create_namespaced_config_map(ns, _cm(name))
    events = _stream_lines(apiserver, "timeoutSeconds=5", max_events=2)
    assert sorted((e["type"], e["object"]["metadata"]["name"]) for e in events) == [("ADDED", "i1"), ("ADDED", "i2")]
    assert all(e["object"]["kind"] == "ConfigMap" for e in events)


def test_selector_watch_sees_object_leaving_as_deleted(apiserver):
    v1 = client.CoreV1Api(apiserver.api_client())
    ns = apiserver.namespace
    v1.create_namespaced_config_map(ns, _cm("sel", {"team": "a"}))
    rv = v1.list_namespaced_config_map(ns).metadata.resource_version
    v1.patch_namespaced_config_map("sel", ns, {"metadata": {"labels": {"team": "b"}}})
    v1.patch_namespaced_config_map("sel", ns, {"metadata": {"labels": {"team": "a"}}})
    events = _stream_lines(apiserver, f"labelSelector=team%3Da&resourceVersion={rv}&timeoutSeconds=5", max_events=2)
    assert [(e["type"], e["object"]["metadata"]["labels"]["team"]) for e in events] == [
        ("DELETED", "b"),
        ("ADDED", "a"),
    ]


def test_timeout_seconds_ends_the_stream(apiserver):
    start = time.monotonic()
    events = _stream_lines(apiserver, "resourceVersion=0&timeoutSeconds=1", max_events=100)
    elapsed = time.monotonic() - start
    assert events == [] and 0.9 <= elapsed < 8


def test_send_initial_events_ends_with_bookmark(apiserver):
    v1 = client.CoreV1Api(apiserver.api_client())
    v1.create_namespaced_config_map(apiserver.namespace, _cm("init"))
    events = _stream_lines(
        apiserver,
        "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=5",
        max_events=2,
    )
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "init"
    assert events[1]["type"] == "BOOKMARK"
    assert events[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true"
    assert int(events[1]["object"]["metadata"]["resourceVersion"]) >= int(
        events[0]["object"]["metadata"]["resourceVersion"]
    )


@pytest.fixture
def small_window(tmp_path):
    cluster = make_cluster(tmp_path / "small", event_window=5, bookmark_interval=0.2)
    cluster.require_emulator("needs a tiny event window and fast bookmarks")
    from tests.fixtures.apiserver import _with_namespace

    _with_namespace(cluster)
    yield cluster
    cluster.close()
    cluster.server.stop()


def test_periodic_bookmarks_carry_the_current_resource_version(small_window):
    v1 = client.CoreV1Api(small_window.api_client())
    rv = v1.list_namespaced_config_map(small_window.namespace).metadata.resource_version
    events = _stream_lines(
        small_window, f"resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=5", max_events=1
    )
    assert events[0]["type"] == "BOOKMARK"
    assert events[0]["object"]["kind"] == "ConfigMap"
    assert int(events[0]["object"]["metadata"]["resourceVersion"]) >= int(rv)


def test_too_old_resource_version_is_410_expired(small_window):
    v1 = client.CoreV1Api(small_window.api_client())
    ns = small_window.namespace
    old = v1.list_namespaced_config_map(ns).metadata.resource_version
    for i in range(8):
        v1.create_namespaced_config_map(ns, _cm(f"churn-{i}"))
    events = _stream_lines(small_window, f"resourceVersion={old}&timeoutSeconds=5", max_events=1)
    assert events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert status["code"] == 410 and status["reason"] == "Expired"
    assert status["message"].startswith(f"too old resource version: {old} (")
    with pytest.raises(client.ApiException) as info:
        for _ in watch.Watch().stream(v1.list_namespaced_config_map, ns, resource_version=old, timeout_seconds=2):
            pass
    assert info.value.status == 410


def test_dynamic_client_watch(apiserver):
    dyn = apiserver.dynamic()
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    ns = apiserver.namespace
    rv = cms.get(namespace=ns).metadata.resourceVersion
    cms.create(body=_cm("dw"), namespace=ns)
    for event in cms.watch(namespace=ns, resource_version=rv, timeout=5):
        assert event["type"] == "ADDED" and event["object"].metadata.name == "dw"
        break
    else:
        pytest.fail("no event")


def test_open_watches_end_when_the_server_stops(tmp_path):
    cluster = make_cluster(tmp_path / "stop")
    cluster.require_emulator("stops the server")
    from tests.fixtures.apiserver import _with_namespace

    _with_namespace(cluster)
    result = {}

    def consume():
        result["events"] = _stream_lines(cluster, "resourceVersion=0&timeoutSeconds=60", max_events=100, timeout=30)

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    assert cluster.server.faults.wait_for_watches(1)
    cluster.server.stop()
    thread.join(10)
    assert not thread.is_alive() and result["events"] == []


def test_stopped_server_drops_keep_alive_connections(tmp_path):
    import urllib3

    cluster = make_cluster(tmp_path / "ka")
    cluster.require_emulator("stops the server")
    assert cluster.raw("GET", "/version")[0] == 200  # opens a keep-alive connection
    cluster.server.stop()
    with pytest.raises((urllib3.exceptions.HTTPError, OSError)):
        cluster.raw("GET", "/version", timeout=5)
    cluster.close()
