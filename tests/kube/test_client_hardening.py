"""KubeClient details that matter under load: the proxy is read from the environment once (not on every
request, which the kubeconfig loader's token hook would otherwise cause), ``create`` with
``metadata.generateName`` (the server picks the name), and a watch whose connection is closed while a
read is in flight ends quietly (urllib3's AttributeError on a vanished file object), or, when nobody
closed it, with ``KubeUnavailable`` instead of a library exception; ``time_limit`` bounds the requests of a
block (what leader election needs to stop before its renew deadline)."""

from __future__ import annotations

import time

import pytest

from secretsync.kube.client import KubeClient
from secretsync.kube.errors import KubeUnavailable


def cm(name, ns, **meta):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, **meta},
        "data": {"a": "1"},
    }


def test_the_proxy_environment_is_read_once_not_per_request(apiserver, monkeypatch):
    import kubernetes.client.configuration as k8s_configuration

    calls = []
    original = k8s_configuration.getproxies

    def counting():
        calls.append(1)
        return original()

    monkeypatch.setattr(k8s_configuration, "getproxies", counting)
    with KubeClient.from_kubeconfig(str(apiserver.kubeconfig)) as client:
        client.resource("v1", "ConfigMap")
        built = len(calls)
        for _ in range(5):
            client.list("v1", "ConfigMap", apiserver.namespace)
        assert len(calls) == built, "the proxy variables were read again on each request"


def test_a_proxy_url_of_the_kubeconfig_still_applies(apiserver, tmp_path):
    apiserver.require_emulator("writes its own kubeconfig")
    import yaml

    path = apiserver.server.write_kubeconfig(tmp_path / "kc")
    config = yaml.safe_load(path.read_text())
    config["clusters"][0]["cluster"]["proxy-url"] = "http://127.0.0.1:9"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(Exception):  # the discovery request goes to the (closed) proxy port
        KubeClient.from_kubeconfig(str(path), timeout=3, connect_timeout=1)


def test_create_with_generate_name(kube, namespace):
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"generateName": "gen-", "namespace": namespace},
        "data": {"a": "1"},
    }
    first, second = kube.create(obj), kube.create(obj)
    names = {first["metadata"]["name"], second["metadata"]["name"]}
    assert len(names) == 2 and all(n.startswith("gen-") and len(n) > 4 for n in names)
    assert kube.get("v1", "ConfigMap", first["metadata"]["name"], namespace)["data"] == {"a": "1"}


def test_create_with_generate_name_needs_a_namespace_for_namespaced_kinds(kube):
    with pytest.raises(ValueError, match="namespace is required"):
        kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}})
    with pytest.raises(ValueError, match="metadata.name"):
        kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "x"}})


def _open_watch_with_one_event(kube, namespace):
    kube.create(cm("seen", namespace))
    rv = kube.list("v1", "ConfigMap", namespace)["metadata"]["resourceVersion"]
    stream = kube.watch("v1", "ConfigMap", namespace, resource_version=rv, timeout_seconds=30, allow_bookmarks=False)
    events = iter(stream)
    kube.patch("v1", "ConfigMap", "seen", namespace, {"data": {"a": "2"}})
    assert next(events)[0] == "MODIFIED"
    return stream, events


def _lose_the_file_object(stream):
    """What urllib3 meets when close() on another thread wins the race: the reader's file object is None."""
    stream._response._fp.fp = None


def test_a_watch_closed_during_a_read_ends_quietly(kube, namespace):
    stream, events = _open_watch_with_one_event(kube, namespace)
    _lose_the_file_object(stream)
    stream.close()
    assert list(events) == []


def test_a_watch_that_loses_its_connection_unasked_is_kube_unavailable(kube, namespace):
    stream, events = _open_watch_with_one_event(kube, namespace)
    _lose_the_file_object(stream)
    with pytest.raises(KubeUnavailable) as info:
        next(events)
    assert info.value.__context__ is None and info.value.__cause__ is None


def test_time_limit_bounds_a_hanging_request_and_refuses_once_used_up(kube, namespace, emulator):
    from secretsync.kube.errors import Timeout

    emulator.faults.fail_next(5, verb="get", resource="configmaps", hang=10)
    started = time.monotonic()
    with kube.time_limit(1.0):
        with pytest.raises(Timeout):
            kube.get("v1", "ConfigMap", "any", namespace)
        took = time.monotonic() - started
        assert took < 2.0, f"the request ran {took:.2f}s past a 1s limit (client timeout is 20s)"
        with pytest.raises(Timeout):  # the limit is used up: nothing is sent
            kube.get("v1", "ConfigMap", "any", namespace)
    assert emulator.faults.pending() == 4
    emulator.faults.clear()
    assert kube.list("v1", "ConfigMap", namespace)["items"] is not None  # outside the block: no limit


def test_a_server_url_with_a_path_keeps_it_on_every_request():
    """API proxies (Rancher's, for one) serve a cluster under a path: every request must carry it."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[str] = []
    answers = {
        "/prefix/version": {"major": "1", "minor": "31", "gitVersion": "v1.31.0"},
        "/prefix/api": {"kind": "APIVersions", "versions": ["v1"]},
        "/prefix/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
        "/prefix/api/v1": {
            "kind": "APIResourceList",
            "groupVersion": "v1",
            "resources": [
                {
                    "name": "configmaps",
                    "singularName": "configmap",
                    "namespaced": True,
                    "kind": "ConfigMap",
                    "verbs": ["get", "list", "create"],
                }
            ],
        },
        "/prefix/api/v1/namespaces/ns/configmaps/x": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "x", "namespace": "ns"},
            "data": {"a": "1"},
        },
    }

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            seen.append(self.path)
            body = json.dumps(answers.get(self.path.split("?")[0], {"kind": "Status", "code": 404})).encode()
            self.send_response(200 if self.path.split("?")[0] in answers else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = KubeClient.from_host_token(f"http://127.0.0.1:{server.server_address[1]}/prefix", "token")
        assert client.get("v1", "ConfigMap", "x", "ns")["data"] == {"a": "1"}
        assert "/prefix/api/v1/namespaces/ns/configmaps/x" in seen
        assert seen and all(path.startswith("/prefix/") for path in seen), seen
        client.close()
    finally:
        server.shutdown()
        server.server_close()
