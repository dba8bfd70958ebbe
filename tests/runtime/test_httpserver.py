"""httpserver: routes (exact, prefix, 404/405), HTTP/1.1 keep-alive, JSON helpers, body cap (413),
chunked request refusal (411), concurrency bound (503), handler errors as bare 500s without the
exception text (not even in the debug traceback), slow clients cut by the socket timeout, chunked streaming responses, stop()."""

import http.client
import json
import socket
import threading
import time

import pytest

from secretsync.runtime.httpserver import HTTPServer, Response, json_response, parse_listen_addr, text_response


@pytest.fixture
def server():
    srv = HTTPServer(max_body=100, max_concurrent=1, socket_timeout=0.5)
    srv.route("GET", "/healthz", lambda r: text_response("ok\n"))
    srv.route("POST", "/echo", lambda r: json_response({"got": r.json(), "q": r.query}))
    srv.route("POST", "/hook/", lambda r: text_response(r.path), prefix=True)
    srv.route("GET", "/boom", lambda r: (_ for _ in ()).throw(RuntimeError("secret-value-123")))
    srv.route("GET", "/stream", lambda r: Response(200, iter([b"a\n", b"bb\n"]), "application/json"))
    gate = threading.Event()
    srv.gate = gate
    srv.route("GET", "/slow", lambda r: (gate.wait(5), text_response("slow"))[1])
    srv.start()
    yield srv
    gate.set()
    srv.stop()


def conn(srv):
    return http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)


def test_routes_keepalive_and_json(server):
    c = conn(server)
    c.request("GET", "/healthz")
    r = c.getresponse()
    assert (r.status, r.read(), r.getheader("Content-Type")) == (200, b"ok\n", "text/plain; charset=utf-8")
    c.request("POST", "/echo?a=1", body=json.dumps({"x": 1}), headers={"Content-Type": "application/json"})
    r = c.getresponse()  # same connection: HTTP/1.1 keep-alive
    assert r.status == 200 and json.loads(r.read()) == {"got": {"x": 1}, "q": {"a": ["1"]}}
    c.request("POST", "/hook/abc/def", body=b"")
    r = c.getresponse()
    assert r.read() == b"/hook/abc/def"
    c.request("GET", "/nope")
    r = c.getresponse()
    assert r.status == 404 and r.read()
    c.request("DELETE", "/healthz")
    r = c.getresponse()
    assert r.status == 405 and r.getheader("Allow") == "GET"
    r.read()
    c.request("HEAD", "/healthz")
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Content-Length") == "3" and r.read() == b""


def test_body_cap_and_chunked_requests(server):
    c = conn(server)
    c.request("POST", "/echo", body=b"x" * 101)
    r = c.getresponse()
    assert r.status == 413
    c = conn(server)
    c.putrequest("POST", "/echo")
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    c.send(b"1\r\nx\r\n0\r\n\r\n")
    assert c.getresponse().status == 411


def test_handler_error_is_bare_500(server, caplog):
    c = conn(server)
    c.request("GET", "/boom")
    r = c.getresponse()
    body = r.read()
    assert r.status == 500 and b"secret-value-123" not in body
    assert "secret-value-123" not in caplog.text
    assert "RuntimeError" in caplog.text


def test_handler_error_at_debug_logs_the_traceback_without_the_message(server, caplog):
    import logging

    caplog.set_level(logging.DEBUG, logger="secretsync.runtime.httpserver")
    c = conn(server)
    c.request("GET", "/boom")
    r = c.getresponse()
    assert r.status == 500 and r.read()
    assert "secret-value-123" not in caplog.text
    assert "RuntimeError" in caplog.text and "test_httpserver.py" in caplog.text  # where it failed


def test_concurrency_bound_returns_503(server):
    results = []
    t = threading.Thread(target=lambda: results.append(_get(server, "/slow")))
    t.start()
    time.sleep(0.2)
    status, headers = _get_with_headers(server, "/healthz")
    server.gate.set()
    t.join(5)
    assert status == 503 and headers.get("Retry-After") == "1"
    assert results == [200]


def _get(srv, path):
    return _get_with_headers(srv, path)[0]


def _get_with_headers(srv, path):
    c = conn(srv)
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    return r.status, dict(r.getheaders())


def test_chunked_streaming_response(server):
    c = conn(server)
    c.request("GET", "/stream")
    r = c.getresponse()
    assert r.getheader("Transfer-Encoding") == "chunked"
    assert r.read() == b"a\nbb\n"


def test_slow_client_is_disconnected(server):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finishes the headers
    start = time.monotonic()
    data = s.recv(100)
    assert data == b"" and time.monotonic() - start < 3
    s.close()


def test_stop_closes_the_port():
    srv = HTTPServer()
    srv.route("GET", "/healthz", lambda r: text_response("ok"))
    host, port = srv.start()
    assert _get(srv, "/healthz") == 200
    srv.stop()
    with pytest.raises(OSError):
        socket.create_connection((host, port), timeout=1)


def test_parse_listen_addr():
    assert parse_listen_addr(":8080") == ("0.0.0.0", 8080)
    assert parse_listen_addr("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_listen_addr("[::1]:9") == ("::1", 9)
    with pytest.raises(ValueError):
        parse_listen_addr("8080")


def test_metrics_handler_serves_a_private_registry():
    from prometheus_client import CollectorRegistry, Counter

    from secretsync.runtime.httpserver import metrics_handler

    registry = CollectorRegistry()
    Counter(
        "sealed_secrets_controller_unseal_requests", "Total number of sealed secret unseal requests", registry=registry
    ).inc(3)
    srv = HTTPServer()
    srv.route("GET", "/metrics", metrics_handler(registry))
    srv.start()
    try:
        c = conn(srv)
        c.request("GET", "/metrics")
        r = c.getresponse()
        body = r.read().decode()
        assert r.status == 200 and r.getheader("Content-Type").startswith("text/plain; version=")
        assert "sealed_secrets_controller_unseal_requests_total 3.0" in body
    finally:
        srv.stop()
