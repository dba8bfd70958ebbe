"""The controller's HTTP endpoints (specs/sealed-secrets.md §7) as kubeseal reaches them, through the API server's
service proxy (`/api/v1/namespaces/NS/services/http:NAME:PORT/proxy/...`, Service from deploy/controller): /healthz
for any method, /v1/cert.pem (newest certificate; 500 without a key), /v1/verify (200 / 409 / 500) with GCRA rate
limiting and throttled's headers (checked against a fake clock too), /v1/rotate (compact JSON without kind/apiVersion,
newest key, template-only metadata kept, scope never widened, 500 on failure), and the metrics names and labels on
the metrics listener. On a real cluster the proxy is not under the test's control: requests go to the listener."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from secretsync.crypto import sealing
from secretsync.sealedcontroller.endpoints import ControllerEndpoints, ControllerMetrics, RateLimiter
from secretsync.sealing.keyring import Keyring, generate_key
from secretsync.sealing.objects import unseal_sealed_secret
from tests.sealedcontroller.conftest import make_sealed

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "controller"
SERVICE = "sealed-secrets-controller"


def _service_manifest(namespace: str) -> dict:
    doc = next(d for d in yaml.safe_load_all((DEPLOY / "service.yaml").read_text()) if d["metadata"]["name"] == SERVICE)
    doc["metadata"]["namespace"] = namespace
    return doc


def expose(apiserver, runtime, namespace) -> str:
    """The proxy path prefix kubeseal uses for the controller's Service (registered to ``runtime``'s listener)."""
    from tests.kube.conftest import client_for

    kube = client_for(apiserver)
    if kube.get_or_none("v1", "Service", SERVICE, namespace) is None:
        kube.create(_service_manifest(namespace))
    kube.close()
    apiserver.server.register_service_backend(namespace, SERVICE, "http", runtime.endpoints.url)
    return f"/api/v1/namespaces/{namespace}/services/http:{SERVICE}:http/proxy"


def request(apiserver, runtime, namespace, method, path, body=None, headers=None):
    """(status, body bytes, headers) of one request to the controller, through the service proxy on the emulator."""
    if apiserver.is_emulator:
        prefix = expose(apiserver, runtime, namespace)
        status, parsed, hdrs = apiserver.raw(
            method,
            prefix + path,
            body,
            content_type="application/json",
            headers={"Accept": "application/x-pem-file, */*", **(headers or {})},
        )
        data = parsed if isinstance(parsed, str) else json.dumps(parsed, separators=(",", ":"))
        return status, data.encode(), hdrs
    return direct(runtime, method, path, body, headers)


def direct(target, method, path, body=None, headers=None):
    """(status, body, headers) of one request straight to a listener (a runtime, or a base URL)."""
    base = target if isinstance(target, str) else target.endpoints.url
    req = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers


def fetch_cert_via_proxy(apiserver, runtime, namespace) -> bytes:
    status, body, headers = request(apiserver, runtime, namespace, "GET", "/v1/cert.pem")
    assert status == 200, body
    assert headers.get("Content-Type") == "application/x-pem-file"
    return body


def test_healthz_and_cert_through_the_service_proxy(controller, apiserver, namespace):
    for method in ("GET", "POST"):
        status, body, headers = request(apiserver, controller, namespace, method, "/healthz")
        assert (status, body) == (200, b"ok\n") and headers["Content-Type"] == "text/plain; charset=utf-8"
    assert fetch_cert_via_proxy(apiserver, controller, namespace) == controller.keys.keyring().certificate_pem()


def test_cert_without_a_key_is_500():
    endpoints = ControllerEndpoints(lambda: None, ControllerMetrics(), host="127.0.0.1", port=0)
    endpoints.start()
    try:
        status, body, _ = direct(endpoints.url, "GET", "/v1/cert.pem")
        assert (status, body) == (500, b"cannot get certificate\n")
    finally:
        endpoints.stop()


def test_verify_answers_200_409_500(controller, apiserver, namespace):
    good = make_sealed(controller, namespace, "app", {"password": "p"})
    bad = json.loads(json.dumps(good))
    bad["metadata"]["name"] = "elsewhere"  # strict scope: cannot decrypt now
    as_json = json.dumps(good).encode()
    assert direct(controller, "POST", "/v1/verify", as_json)[0] == 200
    assert (
        request(apiserver, controller, namespace, "POST", "/v1/verify", as_json, {"X-Forwarded-For": "10.0.0.1"})[0]
        == 200
    )
    assert (
        direct(controller, "POST", "/v1/verify", yaml.safe_dump(good).encode(), {"X-Forwarded-For": "10.0.0.2"})[0]
        == 200
    )
    assert direct(controller, "POST", "/v1/verify", json.dumps(bad).encode(), {"X-Forwarded-For": "10.0.0.2"})[0] == 409
    assert direct(controller, "POST", "/v1/verify", b"{not json", {"X-Forwarded-For": "10.0.0.3"})[0] == 500
    two_docs = (yaml.safe_dump(good) + "---\n" + yaml.safe_dump(good)).encode()
    assert direct(controller, "POST", "/v1/verify", two_docs, {"X-Forwarded-For": "10.0.0.3"})[0] == 500


def test_verify_is_rate_limited_with_upstream_headers(controller):
    body = json.dumps(make_sealed(controller, "ns", "x", {"a": "b"})).encode()
    answers = [direct(controller, "POST", "/v1/verify", body, {"X-Forwarded-For": "192.0.2.9"}) for _ in range(4)]
    statuses = [a[0] for a in answers]
    assert statuses[:3] == [200, 200, 200] and statuses[3] == 429  # burst 2 + 1, as throttled allows
    status, text, headers = answers[3]
    assert text == b"limit exceeded\n"
    assert headers["X-RateLimit-Limit"] == "3" and headers["X-RateLimit-Remaining"] == "0"
    assert headers["Retry-After"] == "1" and int(headers["X-RateLimit-Reset"]) >= 1
    assert answers[0][2]["X-RateLimit-Remaining"] == "2" and "Retry-After" not in answers[0][2]
    # another client (X-Forwarded-For) has its own budget; cert.pem and rotate are not limited
    assert direct(controller, "POST", "/v1/verify", body, {"X-Forwarded-For": "192.0.2.10"})[0] == 200
    assert all(direct(controller, "GET", "/v1/cert.pem")[0] == 200 for _ in range(5))


def test_gcra_arithmetic_matches_throttled():
    now = [100.0]
    limiter = RateLimiter(2, 2, clock=lambda: now[0])
    results = [limiter.check("k") for _ in range(4)]
    assert [r[0] for r in results] == [False, False, False, True]
    assert [r[1]["X-RateLimit-Remaining"] for r in results] == ["2", "1", "0", "0"]
    assert [r[1]["X-RateLimit-Reset"] for r in results] == ["1", "1", "2", "2"]
    assert results[3][1]["Retry-After"] == "1"
    now[0] += 0.5  # one emission interval later
    assert limiter.check("k")[0] is False and limiter.check("k")[0] is True
    now[0] += 10
    assert limiter.check("k")[1]["X-RateLimit-Remaining"] == "2"
    with pytest.raises(ValueError):
        RateLimiter(0, 2)


def test_rotate_reseals_with_the_newest_key_keeping_template_metadata(controller, apiserver, namespace):
    old_cert = controller.keys.keyring().newest().certificate
    ss = make_sealed(
        old_cert,
        namespace,
        "app",
        {"password": "p", "user": "u"},
        metadata={"labels": {"template-only": "yes"}, "annotations": {"note": "kept"}},
    )
    ss["spec"]["template"]["data"] = {"dsn": "{{ .user }}:{{ .password }}"}
    new = controller.keys.generate()
    status, body, headers = request(apiserver, controller, namespace, "POST", "/v1/rotate", json.dumps(ss).encode())
    assert status == 200
    out = json.loads(body)
    assert "kind" not in out and "apiVersion" not in out
    assert b"\n" not in body.strip() and b": " not in body  # compact JSON
    assert out["metadata"] == {"name": "app", "namespace": namespace}
    template = out["spec"]["template"]["metadata"]
    assert template["labels"] == {"template-only": "yes"} and template["annotations"] == {"note": "kept"}
    assert set(out["spec"]["encryptedData"]) == {"password", "user", "dsn"}  # template data flattened
    only_new = Keyring([new])
    out_full = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", **out}
    plain = {k: v.reveal() for k, v in unseal_sealed_secret(out_full, only_new)["data"].items()}
    assert plain == {"password": b"p", "user": b"u", "dsn": b"u:p"}


def test_rotate_never_widens_the_scope(controller, namespace):
    """Top-level metadata is strict, the template claims cluster-wide (the v0.36 advisory): output stays strict."""
    ss = make_sealed(controller, namespace, "app", {"password": "p"})
    ss["spec"]["template"]["metadata"]["annotations"] = {sealing.CLUSTER_WIDE_ANNOTATION: "true"}
    status, body, _ = direct(controller, "POST", "/v1/rotate", json.dumps(ss).encode())
    assert status == 200
    out = json.loads(body)
    assert "annotations" not in out["metadata"]
    assert sealing.CLUSTER_WIDE_ANNOTATION not in (out["spec"]["template"]["metadata"].get("annotations") or {})
    moved = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", **out}
    moved["metadata"] = {"name": "other", "namespace": "elsewhere"}
    with pytest.raises(Exception):
        unseal_sealed_secret(moved, controller.keys.keyring())  # still bound to namespace/name


def test_rotate_failures_are_500(controller):
    ss = make_sealed(generate_key(1024).certificate, "ns", "app", {"a": "b"})
    assert direct(controller, "POST", "/v1/rotate", json.dumps(ss).encode())[0] == 500
    assert direct(controller, "POST", "/v1/rotate", b"garbage: [")[0] == 500


def test_metrics_use_upstream_names(controller, sealed_kube, namespace):
    from tests.sealedcontroller.conftest import get_secret, synced_condition, wait_for

    sealed_kube.create(make_sealed(controller, namespace, "good", {"a": "1"}))
    broken = make_sealed(controller, namespace, "bad", {"a": "1"})
    broken["spec"]["encryptedData"]["a"] = base64.b64encode(b"\0" * 40).decode()
    sealed_kube.create(broken)
    wait_for(lambda: get_secret(sealed_kube, namespace, "good"), what="good")
    wait_for(lambda: synced_condition(sealed_kube, namespace, "bad"), what="bad status")
    direct(controller, "GET", "/v1/cert.pem")
    with urllib.request.urlopen(controller.metrics_server.url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    assert "sealed_secrets_controller_unseal_requests_total " in text
    assert f'sealed_secrets_controller_unseal_errors_total{{namespace="{namespace}",reason="unseal"}}' in text
    assert (
        f'sealed_secrets_controller_condition_info{{condition="Synced",name="good",namespace="{namespace}"}} 1.0'
        in text
    )
    assert (
        f'sealed_secrets_controller_condition_info{{condition="Synced",name="bad",namespace="{namespace}"}} -1.0'
        in text
    )
    assert 'sealed_secrets_controller_http_requests_total{code="200",method="get",path="/v1/cert.pem"}' in text
    assert (
        'sealed_secrets_controller_http_request_duration_seconds_bucket{le="0.005",method="get",path="/v1/cert.pem"}'
        in text
    )
    assert "sealed_secrets_controller_build_info{revision=" in text
