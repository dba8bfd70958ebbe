"""Service proxy (emulator only): ``services/[scheme:]NAME:PORT/proxy/PATH`` reaches a registered listener.

Covers: GET through the proxy (the way kubeseal fetches ``/v1/cert.pem``,
including the ``http:NAME:`` form with an empty port), POST bodies and query
strings passed through, 404 for a missing Service, 503 ``no endpoints
available`` when nothing is registered, ``kubectl get --raw`` through the
proxy. Source: API reference "Proxy Operations" for Service.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class _Backend(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        body = f"path={self.path}".encode() if self.path != "/v1/cert.pem" else b"-----BEGIN CERTIFICATE-----\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        out = json.dumps({"echo": data.decode()}).encode()
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


@pytest.fixture
def backend():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxied(apiserver, backend):
    apiserver.require_emulator("registers a loopback backend for a Service")
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "sealed-secrets-controller"},
        "spec": {"ports": [{"name": "http", "port": 8080, "targetPort": 8080}]},
    }
    assert apiserver.raw("POST", f"/api/v1/namespaces/{apiserver.namespace}/services", svc)[0] == 201
    apiserver.server.register_service_backend(apiserver.namespace, "sealed-secrets-controller", "http", backend)
    return apiserver


def test_get_through_the_proxy(proxied):
    base = f"/api/v1/namespaces/{proxied.namespace}/services"
    code, text, _ = proxied.raw("GET", f"{base}/http:sealed-secrets-controller:/proxy/v1/cert.pem")
    assert code == 200 and text.startswith("-----BEGIN CERTIFICATE-----")
    code, text, _ = proxied.raw("GET", f"{base}/sealed-secrets-controller:8080/proxy/some/path?x=1")
    assert code == 200 and text == "path=/some/path?x=1"


def test_post_through_the_proxy(proxied):
    base = f"/api/v1/namespaces/{proxied.namespace}/services/sealed-secrets-controller:http/proxy/v1/verify"
    code, body, _ = proxied.raw("POST", base, {"hello": "world"})
    assert code == 201 and json.loads(body["echo"]) == {"hello": "world"}


def test_missing_service_and_missing_endpoints(proxied):
    base = f"/api/v1/namespaces/{proxied.namespace}/services"
    code, status, _ = proxied.raw("GET", f"{base}/nope:80/proxy/")
    assert code == 404 and status["message"] == 'services "nope" not found'
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lonely"}, "spec": {"ports": [{"port": 80}]}}
    proxied.raw("POST", base, svc)
    code, status, _ = proxied.raw("GET", f"{base}/lonely:80/proxy/")
    assert code == 503 and status["message"] == 'no endpoints available for service "lonely"'


def test_only_loopback_backends(proxied):
    with pytest.raises(ValueError):
        proxied.server.register_service_backend(proxied.namespace, "x", "80", "http://10.0.0.1:80")


@pytest.mark.peer
def test_kubectl_raw_through_the_proxy(proxied):
    out = proxied.kubectl(
        "get",
        "--raw",
        f"/api/v1/namespaces/{proxied.namespace}/services/http:sealed-secrets-controller:/proxy/v1/cert.pem",
    ).stdout
    assert out.startswith("-----BEGIN CERTIFICATE-----")
