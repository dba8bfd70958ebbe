"""The API emulator's HTTP server: routing, content negotiation and the request pipeline.

``APIServer`` runs a ``ThreadingHTTPServer`` on 127.0.0.1 in a daemon thread
(or in the foreground for ``secretsync dev-apiserver``). Each request goes
through: body limits → authentication (bearer tokens) → impersonation →
fault injection → routing (discovery, OpenAPI, resources) → authorization
(RBAC, when on) → the resource semantics in ``resources.py``. Every failure is a
``Status`` body with the real server's code and reason.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from secretsync_emulator import openapi, tables
from secretsync_emulator import status as st
from secretsync_emulator.decoding import load_yaml_document
from secretsync_emulator.httpbase import BaseHandler, BaseServer, BodyTooLarge
from secretsync_emulator.registry import Registry, ResourceType
from secretsync_emulator.requests import RequestCounter
from secretsync_emulator.resources import ResourceAPI, WriteOptions
from secretsync_emulator.storage import Store
from secretsync_emulator.watch import watch_events

__all__ = ["APIServer", "MAX_BODY"]

log = logging.getLogger("secretsync_emulator")

MAX_BODY = 3 * 1024 * 1024  # etcd's default request limit, which the API server also enforces
KUBE_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0+secretsync.emulator",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
    "emulationMajor": "1",
    "emulationMinor": "32",
}

BODY_TYPES = ["application/json", "application/yaml"]
PROTOBUF = "application/vnd.kubernetes.protobuf"
AGGREGATED_DISCOVERY = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def _wants_aggregated(accept: str) -> bool:
    """True if the Accept header lists aggregated discovery v2 (kubectl and client-go ask first)."""
    for part in accept.split(","):
        params = {p.strip() for p in part.split(";")[1:]}
        if {"g=apidiscovery.k8s.io", "v=v2", "as=APIGroupDiscoveryList"} <= params:
            return True
    return False


PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}


class Request:
    """What one API request asks for, after URL parsing."""

    def __init__(self, method: str, raw_path: str, headers) -> None:
        parts = urlsplit(raw_path)
        self.method = method
        self.path = unquote(parts.path)
        self.query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.headers = headers
        self.body = b""
        self.user = None
        self.warnings: list[str] = []
        # resource request info
        self.is_resource = False
        self.group = ""
        self.version = ""
        self.resource = ""
        self.subresource = ""
        self.namespace = ""
        self.name = ""
        self.rest = ""  # the path after a proxy subresource
        self.verb = ""

    def q_bool(self, key: str) -> bool:
        return self.query.get(key, "").lower() in ("true", "1")

    def parse_resource_path(self) -> None:
        parts = [p for p in self.path.split("/") if p != ""]
        if len(parts) >= 3 and parts[0] == "api":
            self.group, self.version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 4 and parts[0] == "apis":
            self.group, self.version, rest = parts[1], parts[2], parts[3:]
        else:
            return
        self.is_resource = True
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
            self.namespace = rest[1]
            rest = rest[2:]
        elif rest[0] == "namespaces" and len(rest) >= 2:
            self.resource, self.name = "namespaces", rest[1]
            self.subresource = rest[2] if len(rest) > 2 else ""
            rest = []
        if rest:
            self.resource = rest[0]
            self.name = rest[1] if len(rest) > 1 else ""
            self.subresource = rest[2] if len(rest) > 2 else ""
            if len(rest) > 3:
                self.rest = "/" + "/".join(rest[3:])
            if self.subresource == "proxy" and self.path.endswith("/") and not self.rest.endswith("/"):
                self.rest += "/"
        m = self.method
        if m in ("GET", "HEAD"):
            if self.name:
                self.verb = "get"
            else:
                self.verb = "watch" if self.q_bool("watch") else "list"
        elif m == "POST":
            self.verb = "create"
        elif m == "PUT":
            self.verb = "update"
        elif m == "PATCH":
            self.verb = "patch"
        elif m == "DELETE":
            self.verb = "delete" if self.name else "deletecollection"
        if self.subresource == "proxy":
            self.verb = {
                "GET": "get",
                "HEAD": "get",
                "POST": "create",
                "PUT": "update",
                "PATCH": "patch",
                "DELETE": "delete",
            }.get(m, "get")


class APIServer:
    """A Kubernetes API emulator on 127.0.0.1.

    ``APIServer().start()`` serves in a daemon thread on an ephemeral port;
    ``.url``, ``.admin_token``, ``.write_kubeconfig(path)``, ``.stop()``.
    ``.faults`` injects failures (see ``faults.py``); ``.requests`` counts requests (see ``requests.py``).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rbac: bool = False,
        state_file: str | None = None,
        event_window: int = 10000,
        max_body: int = MAX_BODY,
        bookmark_interval: float = 60.0,
        admin_token: str | None = None,
        watch_timeout: float = 1800.0,
        tls: bool = True,
    ) -> None:
        self.host = host
        self.tls = None
        if tls:
            from secretsync_emulator.tls import ServerTLS

            self.tls = ServerTLS()
        self.port = port
        self.rbac = rbac
        self.max_body = max_body
        self.bookmark_interval = bookmark_interval
        self.watch_timeout = watch_timeout
        self.admin_token = admin_token or secrets.token_hex(20)
        self.admin_token_given = admin_token is not None
        self.store = Store(event_window=event_window)
        self.registry = Registry()
        self.api = ResourceAPI(self.store, self.registry)
        from secretsync_emulator.auth import Auth
        from secretsync_emulator.faults import Faults

        self.auth = Auth(self)
        self.faults = Faults()
        self.requests = RequestCounter()
        self.state_file = state_file
        self._persistence = None
        if state_file:
            from secretsync_emulator.persistence import Persistence

            self._persistence = Persistence(state_file, self)
            self._persistence.load()
        self.api.bootstrap()
        self._httpd: BaseServer | None = None
        self._thread: threading.Thread | None = None
        self.proxies: dict[tuple[str, str, str], str] = {}

    # ------------------------------------------------------------------ lifecycle
    def bind(self) -> APIServer:
        app = self

        class Handler(_Handler):
            pass

        Handler.app = app
        self._httpd = BaseServer(
            (self.host, self.port), Handler, max_body=self.max_body, ssl_context=self.tls.context if self.tls else None
        )
        self.port = self._httpd.server_address[1]
        return self

    def start(self) -> APIServer:
        """Serve in a daemon thread; returns self."""
        if self._httpd is None:
            self.bind()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"apiserver-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        if self._httpd is None:
            self.bind()
        self._httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        """Stop serving; open watches end."""
        if self._httpd is None:
            return
        self._httpd.stopping.set()
        self.store.wake_all()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections()
        if self._persistence is not None:
            self._persistence.close()
        self._httpd = None

    def __enter__(self) -> APIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def stopping(self) -> threading.Event:
        return self._httpd.stopping if self._httpd else threading.Event()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def ca_pem(self) -> bytes | None:
        """The CA certificate clients should trust (None without TLS)."""
        return self.tls.ca_pem if self.tls else None

    def write_ca(self, path: str | os.PathLike) -> Path:
        """Write the (public) CA certificate for clients such as ``kubernetes.client.Configuration.ssl_ca_cert``."""
        path = Path(path)
        path.write_bytes(self.ca_pem or b"")
        return path

    def write_kubeconfig(
        self, path: str | os.PathLike, token: str | None = None, user: str = "admin", namespace: str = "default"
    ) -> Path:
        """A kubeconfig (context ``secretsync-emulator``) pointing at this server with ``token`` (default admin)."""
        import base64

        path = Path(path)
        cluster = {"server": self.url}
        if self.tls:
            cluster["certificate-authority-data"] = base64.b64encode(self.tls.ca_pem).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "secretsync-emulator", "cluster": cluster}],
            "users": [{"name": user, "user": {"token": token or self.admin_token}}],
            "contexts": [
                {
                    "name": "secretsync-emulator",
                    "context": {"cluster": "secretsync-emulator", "user": user, "namespace": namespace},
                }
            ],
            "current-context": "secretsync-emulator",
            "preferences": {},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            yaml.safe_dump(config, fh, sort_keys=False)
        return path

    # ------------------------------------------------------------------ test helpers
    def mint_token(self, namespace: str, name: str, **kwargs) -> str:
        """A service-account token for ``system:serviceaccount:NS:NAME`` (the account need not exist)."""
        return self.auth.mint_service_account_token(namespace, name, **kwargs)

    def add_user(self, name: str, groups: list[str] | None = None, token: str | None = None) -> str:
        """A bearer token for a plain user (RBAC tests); returns the token."""
        return self.auth.add_user(name, groups or [], token)

    def register_service_backend(self, namespace: str, service: str, port: str, target_url: str) -> None:
        """Route the service proxy of ``NS/services/[scheme:]NAME:PORT`` to a loopback listener."""
        from secretsync_emulator.proxy import check_target

        check_target(target_url)
        self.proxies[(namespace, service, str(port))] = target_url.rstrip("/")


class _Handler(BaseHandler):
    app: APIServer

    def do_GET(self):
        self._handle("GET")

    def do_HEAD(self):
        self._handle("HEAD")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_DELETE(self):
        self._handle("DELETE")

    def do_OPTIONS(self):
        self._handle("OPTIONS")

    # ------------------------------------------------------------------ pipeline
    def _handle(self, method: str) -> None:
        if self.server.stopping.is_set():
            self.abort_connection()  # a stopped server answers nothing, like a dead process
            return
        try:
            req = Request(method, self.path, self.headers)
        except Exception:  # noqa: BLE001 - a URL we cannot parse is the client's error
            self.close_connection = True  # the body (if any) stays unread
            self._send_error(st.bad_request("malformed request URL"))
            return
        req.parse_resource_path()
        streaming = req.verb == "watch" or req.subresource == "proxy"
        slots = self.server.handler_slots
        if not streaming and not slots.acquire(timeout=30):
            self.close_connection = True  # the body (if any) stays unread
            self._send_error(
                st.APIError(
                    429,
                    "TooManyRequests",
                    "Too many requests, please try again later.",
                    {"retryAfterSeconds": 1},
                    {"Retry-After": "1"},
                )
            )
            return
        try:
            try:
                req.body = self.read_body()
            except BodyTooLarge:
                self._send_error(st.too_large(self.server.max_body))
                return
            except (ValueError, OSError):
                self._send_error(st.bad_request("the request body could not be read"))
                return
            self._pipeline(req)
        except st.APIError as err:
            self._send_error(err)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception:  # noqa: BLE001 - the server must answer, never crash
            log.exception("internal error handling %s %s", method, urlsplit(self.path).path)
            self._send_error(
                st.APIError(
                    500,
                    "InternalError",
                    'an error on the server ("internal error") has prevented the request from succeeding',
                )
            )
        finally:
            if not streaming:
                slots.release()

    def _send_error(self, err: st.APIError) -> None:
        try:
            self.send_json(err.code, err.body(), err.headers)
        except OSError:
            self.close_connection = True

    def _pipeline(self, req: Request) -> None:
        app = self.app
        req.user = app.auth.authenticate(req)
        app.requests.record(req)
        if app.faults.intercept(self, req):
            return
        if not req.is_resource:
            self._non_resource(req)
            return
        rt = app.registry.lookup(req.group, req.version, req.resource)
        if rt is None:
            raise _no_such_resource()
        app.auth.authorize(req, rt)
        if req.subresource == "proxy":
            from secretsync_emulator.proxy import proxy_request

            proxy_request(self, app, req, rt)
            return
        _ResourceRequest(self, app, req, rt).run()

    # ------------------------------------------------------------------ non-resource endpoints
    def _non_resource(self, req: Request) -> None:
        app = self.app
        path = req.path.rstrip("/") or "/"
        if req.method not in ("GET", "HEAD"):
            if path.startswith(("/api", "/apis")):
                raise st.method_not_allowed()
            raise _no_such_resource()
        app.auth.authorize_non_resource(req, path)
        reg = app.registry
        body = None
        if path == "/version":
            body = KUBE_VERSION
        elif path in ("/healthz", "/livez", "/readyz"):
            self.send_bytes(200, b"ok", "text/plain; charset=utf-8")
            return
        elif path in ("/api", "/apis") and _wants_aggregated(req.headers.get("Accept") or ""):
            self.send_json(200, reg.aggregated(core=path == "/api"), content_type=AGGREGATED_DISCOVERY)
            return
        elif path == "/api":
            body = reg.api_versions(f"{app.host}:{app.port}")
        elif path == "/apis":
            body = reg.api_group_list()
        elif path.startswith("/api/"):
            body = reg.resource_list("", path[len("/api/") :])
        elif path.startswith("/apis/"):
            parts = path[len("/apis/") :].split("/")
            if len(parts) == 1:
                body = reg.api_group(parts[0])
            elif len(parts) == 2:
                body = reg.resource_list(parts[0], parts[1])
        elif path == "/openapi/v2":
            # An empty document: kubectl then skips client-side schema checks ("resource not present") and
            # maps kinds itself, as it does for kinds a real server's document lacks. Protobuf for
            # client-go (an empty message is zero bytes), JSON for everyone else.
            if "protobuf" in (req.headers.get("Accept") or ""):
                self.send_bytes(200, b"", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
                return
            body = {
                "swagger": "2.0",
                "info": {"title": "Kubernetes", "version": KUBE_VERSION["gitVersion"]},
                "paths": {},
                "definitions": {},
            }
        elif path == "/openapi/v3":
            body = openapi.v3_root(reg)
        elif path.startswith("/openapi/v3/"):
            gv = path[len("/openapi/v3/") :].split("/")
            if gv[0] == "api" and len(gv) == 2:
                body = openapi.v3_document(reg, "", gv[1])
            elif gv[0] == "apis" and len(gv) == 3:
                body = openapi.v3_document(reg, gv[1], gv[2])
        elif path in ("/.well-known/openid-configuration", "/openid/v1/jwks"):
            body = app.auth.oidc_document(path)
        if body is None:
            raise _no_such_resource()
        self.send_json(200, body)


class _ResourceRequest:
    """One request on a resource endpoint (``/api/v1/...``, ``/apis/G/V/...``)."""

    def __init__(self, handler: _Handler, app: APIServer, req: Request, rt: ResourceType) -> None:
        self.h = handler
        self.app = app
        self.api = app.api
        self.req = req
        self.rt = rt

    # ------------------------------------------------------------------ helpers
    def metadata_only(self) -> bool:
        """The client asked for PartialObjectMetadata (``Accept: ...;as=PartialObjectMetadata;...``)."""
        return "as=PartialObjectMetadata" in (self.req.headers.get("Accept") or "").replace(" ", "")

    def send(self, code: int, body: dict) -> None:
        if self.metadata_only() and body.get("kind") != "Status":
            body = _partial_metadata(body)
        headers = {}
        if self.req.warnings:
            # One Warning header per message (RFC 7234 format, code 299), as the real server sends them.
            headers["Warning"] = ", ".join(f'299 - "{w}"' for w in self.req.warnings)
        self.h.send_json(code, body, headers)

    def namespace(self) -> str:
        rt, req = self.rt, self.req
        if rt.namespaced and not req.namespace and req.verb not in ("list", "watch", "deletecollection"):
            raise _no_such_resource()
        if not rt.namespaced and req.namespace:
            raise _no_such_resource()
        return req.namespace

    def selectors(self):
        label = self.req.query.get("labelSelector") or ""
        fields = self.req.query.get("fieldSelector") or ""
        return _parse_label_selector(label), _parse_field_selector(fields, self.rt)

    def decode_body(self, allowed=BODY_TYPES) -> dict:
        from secretsync_emulator import protobuf

        ctype = (self.req.headers.get("Content-Type") or "application/json").split(";")[0].strip().lower()
        accepts_protobuf = self.rt.kind in protobuf.SUPPORTED or (
            self.req.subresource == "token" and self.rt.kind == "ServiceAccount"
        )
        if ctype == PROTOBUF and accepts_protobuf:
            try:
                return protobuf.decode(self.req.body)
            except protobuf.ProtobufError as exc:
                raise st.bad_request(
                    f"the object provided is unrecognized (must be of type {self.rt.kind}): {exc}"
                ) from None
        if ctype not in allowed:
            raise st.unsupported_media_type(ctype, allowed + ([PROTOBUF] if accepts_protobuf else []))
        return _decode(self.req.body, ctype, self.rt)

    def write_options(self, operation: str = "Update") -> WriteOptions:
        q = self.req.query
        dry_run = q.get("dryRun")
        if dry_run not in (None, "", "All"):
            raise st.invalid(
                "meta.k8s.io",
                "CreateOptions" if self.req.verb == "create" else "UpdateOptions",
                "",
                [("FieldValueNotSupported", "dryRun", f'Unsupported value: ["{dry_run}"]: supported values: "All"')],
            )
        validation = q.get("fieldValidation") or "Strict"
        if validation not in ("Strict", "Warn", "Ignore"):
            raise st.bad_request(f'fieldValidation must be one of "Ignore", "Warn", or "Strict", got "{validation}"')
        manager = q.get("fieldManager")
        if manager is None:
            agent = self.req.headers.get("User-Agent") or ""
            manager = agent.split("/")[0][:128]
        elif len(manager) > 128:
            raise st.invalid(
                "meta.k8s.io",
                "PatchOptions" if self.req.verb == "patch" else "UpdateOptions",
                "",
                [("FieldValueTooLong", "fieldManager", "Too long: may not be more than 128 bytes")],
            )
        return WriteOptions(
            manager=manager,
            dry_run=dry_run == "All",
            subresource=self.req.subresource,
            operation=operation,
            field_validation=validation,
        )

    # ------------------------------------------------------------------ verbs
    def run(self) -> None:
        req, rt = self.req, self.rt
        if req.subresource and req.subresource not in _subresources(rt):
            raise _no_such_resource()
        if req.verb not in rt.verbs and not req.subresource:
            raise st.method_not_allowed()
        handler = getattr(self, "do_" + req.verb, None)
        if handler is None:
            raise st.method_not_allowed()
        handler()

    def do_get(self) -> None:
        ns = self.namespace()
        if self.req.subresource == "scale":
            from secretsync_emulator.patch_requests import scale_of

            self.send(200, scale_of(self.api.get(self.rt, ns, self.req.name)))
            return
        if self.req.subresource not in ("", "status"):
            raise st.method_not_allowed()
        obj = self.api.get(self.rt, ns, self.req.name)
        if tables.wants_table(self.req.headers.get("Accept", "")):
            self.send(
                200,
                tables.to_table(
                    self.rt,
                    [obj],
                    {"resourceVersion": obj["metadata"]["resourceVersion"]},
                    self.req.query.get("includeObject") or "Metadata",
                    time.time(),
                ),
            )
            return
        self.send(200, obj)

    def do_list(self) -> None:
        ns = self.namespace() if self.rt.namespaced else ""
        label, fields = self.selectors()
        q = self.req.query
        rv_param = q.get("resourceVersion") or ""
        if rv_param not in ("", "0"):
            try:
                wanted = int(rv_param)
            except ValueError:
                raise st.bad_request(f'invalid resource version "{rv_param}"') from None
            if wanted > self.api.store.rv:
                raise st.APIError(
                    504,
                    "Timeout",
                    f"Too large resource version: {wanted}, current: {self.api.store.rv}",
                    {
                        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                        "retryAfterSeconds": 1,
                    },
                )
            if q.get("resourceVersionMatch") == "Exact" and wanted != self.api.store.rv:
                raise st.gone(f"too old resource version: {wanted} ({self.api.store.rv})")
        items, rv = self.api.list(self.rt, ns or None, label, fields)
        meta: dict = {"resourceVersion": str(rv)}
        items, cont, remaining = _paginate(items, q.get("limit"), q.get("continue"), rv)
        if cont:
            meta["continue"] = cont
            meta["remainingItemCount"] = remaining
        if tables.wants_table(self.req.headers.get("Accept", "")):
            self.send(200, tables.to_table(self.rt, items, meta, q.get("includeObject") or "Metadata", time.time()))
            return
        self.send(
            200, {"kind": f"{self.rt.kind}List", "apiVersion": self.rt.api_version, "metadata": meta, "items": items}
        )

    def do_watch(self) -> None:
        ns = self.namespace() if self.rt.namespaced else ""
        label, fields = self.selectors()
        q = self.req.query
        try:
            timeout = float(q.get("timeoutSeconds") or self.app.watch_timeout)
        except ValueError:
            raise st.bad_request("timeoutSeconds must be a number") from None
        send_initial = None
        if "sendInitialEvents" in q:
            send_initial = self.req.q_bool("sendInitialEvents")
        closing = self.app.faults.watch_closer()
        events = watch_events(
            self.api,
            self.rt,
            ns or None,
            q.get("resourceVersion"),
            label,
            fields,
            bookmarks=self.req.q_bool("allowWatchBookmarks"),
            send_initial=send_initial,
            timeout=timeout,
            stopping=self.h.server.stopping,
            closing=closing,
            bookmark_interval=self.app.bookmark_interval,
        )
        self.h.close_connection = True
        self.h.start_chunked(200, "application/json")
        metadata_only = self.metadata_only()
        try:
            for batch in events:
                if metadata_only:  # event objects as PartialObjectMetadata; an ERROR keeps its Status
                    batch = [
                        e if e["type"] == "ERROR" else {**e, "object": _partial_metadata(e["object"])} for e in batch
                    ]
                self.h.write_chunk(b"".join(json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in batch))
            if closing.is_set():
                self.h.abort_connection()
                return
            self.h.end_chunked()
        except (BrokenPipeError, ConnectionResetError, TimeoutError, OSError):
            return
        finally:
            self.app.faults.watch_ended(closing)

    def do_create(self) -> None:
        ns = self.namespace()
        req, rt = self.req, self.rt
        if req.subresource == "token" and rt.kind == "ServiceAccount":
            self.send(201, self.app.auth.token_request(ns, req.name, self.decode_body()))
            return
        if req.subresource or req.name:
            raise st.method_not_allowed()
        obj = self.decode_body()
        if rt.group == "authentication.k8s.io" and rt.kind == "TokenReview":
            self.send(201, self.app.auth.token_review(obj))
            return
        if rt.group == "authorization.k8s.io":
            review = self.app.auth.rules_review if rt.kind == "SelfSubjectRulesReview" else self.app.auth.access_review
            self.send(201, review(obj, req))
            return
        self.check_strict(obj)
        out = self.api.create(rt, ns, obj, self.write_options())
        self.send(201, out)

    def do_update(self) -> None:
        ns = self.namespace()
        req = self.req
        if req.subresource == "finalize" and self.rt.kind == "Namespace":
            obj = self.decode_body()
            self.send(200, self.api.finalize_namespace(req.name, obj))
            return
        if req.subresource == "scale" and self.rt.scale:
            from secretsync_emulator.patch_requests import scale_request

            self.send(200, scale_request(self, ns, None))
            return
        if req.subresource not in ("", "status"):
            raise st.method_not_allowed()
        obj = self.decode_body()
        self.check_strict(obj)
        out, created = self.api.update(self.rt, ns, req.name, obj, self.write_options(), allow_create=False)
        self.send(201 if created else 200, out)

    def do_patch(self) -> None:
        from secretsync_emulator.patch_requests import apply_patch_request

        ns = self.namespace()
        ctype = (self.req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        kind = PATCH_TYPES.get(ctype)
        if kind is None or (kind == "strategic" and self.rt.crd):
            accepted = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]
            if not self.rt.crd:
                accepted.insert(2, "application/strategic-merge-patch+json")
            raise st.unsupported_media_type(ctype, accepted)
        if self.req.subresource == "scale" and self.rt.scale and kind != "apply":
            from secretsync_emulator.patch_requests import scale_request

            self.send(200, scale_request(self, ns, kind))
            return
        if self.req.subresource not in ("", "status"):
            raise st.method_not_allowed()
        code, out = apply_patch_request(self, ns, kind)
        self.send(code, out)

    def do_delete(self) -> None:
        ns = self.namespace()
        if self.req.subresource:
            raise st.method_not_allowed()
        options = self.delete_options()
        code, body = self.api.delete(
            self.rt,
            ns,
            self.req.name,
            options,
            dry_run=self.req.query.get("dryRun") == "All" or options.get("dryRun") == ["All"],
        )
        self.send(code, body)

    def do_deletecollection(self) -> None:
        ns = self.namespace() if self.rt.namespaced else ""
        label, fields = self.selectors()
        options = self.delete_options()
        body = self.api.delete_collection(
            self.rt, ns or None, label, fields, options, dry_run=self.req.query.get("dryRun") == "All"
        )
        self.send(200, body)

    def delete_options(self) -> dict:
        options: dict = {}
        if self.req.body.strip():
            try:
                options = json.loads(self.req.body)
            except ValueError:
                raise st.bad_request("DeleteOptions in the request body could not be decoded") from None
            if not isinstance(options, dict):
                raise st.bad_request("DeleteOptions in the request body could not be decoded")
        for key in ("propagationPolicy", "gracePeriodSeconds", "orphanDependents"):
            if key in self.req.query:
                options[key] = self.req.query[key]
        if options.get("orphanDependents") in ("true", True):
            options["orphanDependents"] = True
        return options

    def check_strict(self, obj: dict) -> None:
        from secretsync_emulator import fieldvalidation

        warnings = fieldvalidation.check(self.api, self.rt, obj, self.req.query.get("fieldValidation") or "Strict")
        self.req.warnings.extend(warnings)


def _no_such_resource() -> st.APIError:
    """The answer for a path no resource serves (the real server's NotFound with empty details)."""
    return st.APIError(404, "NotFound", "the server could not find the requested resource", {})


def _subresources(rt: ResourceType) -> set[str]:
    out = set()
    if rt.status:
        out.add("status")
    if rt.scale:
        out.add("scale")
    out.update(name for name, _, _ in rt.extra_subresources)
    return out


def _partial_metadata(body: dict) -> dict:
    if body.get("kind", "").endswith("List") and "items" in body:
        return {
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": body["metadata"],
            "items": [_partial_metadata(i) for i in body["items"]],
        }
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": body.get("metadata", {})}


def _decode(body: bytes, ctype: str, rt: ResourceType) -> dict:
    """A JSON or YAML request body as a dict; 400 with a Status (no echo of the content) otherwise."""
    if not body.strip():
        raise st.bad_request("the request body is empty")
    try:
        if ctype.endswith("yaml"):
            obj = load_yaml_document(body)
        else:
            obj = json.loads(body)
    except (ValueError, yaml.YAMLError, RecursionError) as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        elif isinstance(exc, json.JSONDecodeError):
            where = f" at line {exc.lineno}, column {exc.colno}"
        raise st.bad_request(
            f"the object provided is unrecognized (must be of type {rt.kind}): couldn't decode "
            f"the {'YAML' if ctype.endswith('yaml') else 'JSON'} body{where}"
        ) from None
    if not isinstance(obj, dict):
        raise st.bad_request(
            f"the object provided is unrecognized (must be of type {rt.kind}): the body is not an object"
        )
    return obj


def _parse_label_selector(text: str):
    if not text:
        return None
    from secretsync_emulator import selectors

    try:
        return selectors.parse_label_selector(text)
    except selectors.SelectorError as exc:
        raise st.bad_request(str(exc)) from None


def _parse_field_selector(text: str, rt: ResourceType):
    if not text:
        return None
    from secretsync_emulator import selectors

    try:
        return selectors.parse_field_selector(text, kind=rt.kind)
    except selectors.SelectorError as exc:
        raise st.bad_request(str(exc)) from None


def _paginate(items: list[dict], limit_text: str | None, token: str | None, rv: int):
    """``limit``/``continue`` chunking; tokens carry the last key (continuation sees the current state)."""
    import base64

    start_after = None
    if token:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            start_after = (data["ns"], data["name"])
        except (ValueError, KeyError, TypeError):
            raise st.bad_request(
                "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
            ) from None
    if start_after is not None:
        items = [o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > start_after]
    try:
        limit = int(limit_text) if limit_text else 0
    except ValueError:
        limit = 0
    if limit <= 0 or len(items) <= limit:
        return items, None, 0
    page = items[:limit]
    last = page[-1]["metadata"]
    cont = base64.urlsafe_b64encode(
        json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "ns": last.get("namespace", ""), "name": last["name"]}).encode()
    ).decode()
    return page, cont, len(items) - limit
