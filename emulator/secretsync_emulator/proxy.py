"""The service proxy subresource, forwarding to loopback listeners registered by tests.

``/api/v1/namespaces/NS/services/[scheme:]NAME[:PORT]/proxy/PATH`` is how
kubeseal reaches the controller's ``/v1/cert.pem`` through the API server. A
test (or the demo) registers the real process behind a Service with
``APIServer.register_service_backend(ns, name, port, "http://127.0.0.1:PORT")``;
the Service object must exist (404 otherwise), and a Service with no
registered backend answers 503 ``no endpoints available``, as a Service without
ready endpoints does. Only loopback targets are allowed.
"""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

from secretsync_emulator import status as st

__all__ = ["proxy_request", "check_target"]

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
    "authorization",
}
_MAX_RESPONSE = 16 * 1024 * 1024


def check_target(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in ("127.0.0.1", "::1", "localhost"):
        raise ValueError("service backends must be http(s) URLs on the loopback interface")


def _split(name: str) -> tuple[str, str, str]:
    """``[scheme:]name[:port]`` as the API server parses it (``net.SplitSchemeNamePort``)."""
    parts = name.split(":")
    if len(parts) == 1:
        return "", parts[0], ""
    if len(parts) == 2:
        return "", parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise st.bad_request(f'invalid service request "{name}"')


def proxy_request(handler, app, req, rt) -> None:
    if rt.kind != "Service":
        raise st.method_not_allowed()
    scheme, name, port = _split(req.name)
    service = app.store.get(("", "services"), req.namespace, name)
    if service is None:
        raise st.not_found("", "services", name)
    ports = (service.get("spec") or {}).get("ports") or []
    candidates = [port] if port else [str(p.get("name") or p.get("port")) for p in ports] + [""]
    target = None
    for candidate in candidates:
        target = app.proxies.get((req.namespace, name, candidate))
        if target is None:
            # a port may be named or numbered in the request; match either
            for p in ports:
                if candidate in (str(p.get("name")), str(p.get("port"))):
                    for alias in (str(p.get("name")), str(p.get("port"))):
                        target = target or app.proxies.get((req.namespace, name, alias))
        if target:
            break
    if target is None:
        raise st.APIError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"')
    query = handler.path.split("?", 1)[1] if "?" in handler.path else ""
    path = (req.rest or "/") + (f"?{query}" if query else "")
    parts = urlsplit(target)
    conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = conn_class(parts.hostname, parts.port, timeout=30)
    headers = {k: v for k, v in req.headers.items() if k.lower() not in _HOP_BY_HOP}
    try:
        conn.request(req.method, (parts.path.rstrip("/") + path) or "/", body=req.body or None, headers=headers)
        resp = conn.getresponse()
        data = resp.read(_MAX_RESPONSE + 1)
    except OSError as exc:
        raise st.APIError(503, "ServiceUnavailable", f"error trying to reach service: {type(exc).__name__}") from None
    finally:
        conn.close()
    if len(data) > _MAX_RESPONSE:
        raise st.APIError(502, "InternalError", "the backend's answer is too large to proxy")
    out_headers = {k: v for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP | {"content-type"}}
    handler.send_bytes(resp.status, data, resp.getheader("Content-Type") or "application/octet-stream", out_headers)
