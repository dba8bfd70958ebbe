"""The one HTTP server base: our production endpoints (health, cert/verify/rotate, webhooks, metrics)
and, built on its lower layer, the API emulator (``secretsync_emulator.httpbase``).

Two layers. ``LimitedHTTPServer``/``LimitedHandler`` are the stdlib ``ThreadingHTTPServer`` and
``BaseHTTPRequestHandler`` with what they leave out: HTTP/1.1 keep-alive with a per-connection
socket timeout, TCP_NODELAY, optional TLS with the handshake in the connection's own thread,
tracking of open connections (``close_connections``), a semaphore of handler slots, a
``stopping`` event for long-lived handlers, request bodies capped (``read_body``, refusing with
``BodyTooLarge``), replies in one write (``send_bytes``/``send_json``), chunked streaming, and
quiet logging (request lines at debug level, never bodies). ``HTTPServer`` is the route table our
endpoints use on top of it:

a cap on request bodies (``Content-Length`` required for bodies, 411/413 otherwise), the
handler slots bounding concurrent handlers (503 with ``Retry-After`` when full), a route table of
``(method, path or path prefix) -> handler(Request) -> Response``, JSON helpers, a
``/metrics`` handler for a prometheus-client registry, and
start/stop in a background thread (port 0 picks a free port for tests).

Handlers never see the raw socket; an exception in a handler becomes a bare 500 whose body
says nothing about the exception (it could carry a secret), and the traceback goes to the
log at debug level (frames and exception type, never its message) with only the exception type at
error level.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, cast
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "LimitedHTTPServer",
    "LimitedHandler",
    "BodyTooLarge",
    "Request",
    "Response",
    "HTTPServer",
    "json_response",
    "text_response",
    "parse_listen_addr",
    "metrics_handler",
]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# the lower layer: the stdlib server and handler with the limits they lack


class BodyTooLarge(Exception):
    """The request body is larger than the server's limit (or its length is not a number)."""


class LimitedHTTPServer(ThreadingHTTPServer):
    """A threading server whose connections time out, are tracked, and may be TLS.

    ``max_body`` caps request bodies (``LimitedHandler.read_body``), ``handler_slots`` bounds
    concurrent handlers (taken by the handler that wants it), ``stopping`` tells long-lived
    handlers to end, ``close_connections()`` cuts every open connection (idle keep-alives
    included), as a stopping server process would.
    """

    daemon_threads = True
    allow_reuse_address = True
    logger: ClassVar[logging.Logger] = log

    def __init__(
        self,
        address: tuple[str, int],
        handler_class: type[BaseHTTPRequestHandler],
        *,
        max_body: int = 1 << 20,
        max_handlers: int = 32,
        socket_timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.ssl_context = ssl_context
        self.max_body = max_body
        self.socket_timeout = socket_timeout
        self.handler_slots = threading.BoundedSemaphore(max_handlers)
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler_class)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut every open connection (idle keep-alives included), as a stopping server process would."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Serve one connection; with TLS, the handshake runs here, in the connection's own thread."""
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(self.socket_timeout)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ValueError):
            return
        with self._connections_lock:
            self._connections.add(tls)  # the wrapped socket now owns the descriptor
        try:
            super().finish_request(tls, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(tls)
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Client disconnects are normal (streams closed by clients); no traceback on stderr (it could
        # show a request's data): the log gets it at debug level.
        self.logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class LimitedHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with the server's socket timeout and body cap, replies in one write, chunked streams."""

    protocol_version = "HTTP/1.1"
    server: LimitedHTTPServer
    logger: ClassVar[logging.Logger] = log

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.socket_timeout)  # slow clients cannot hold a thread forever
        # Small answers go out at once: without this, Nagle's algorithm and the client's delayed ACK
        # add ~40 ms to every keep-alive request whose headers and body leave in separate writes.
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.logger.isEnabledFor(logging.DEBUG):  # called for every request: format only when it is kept
            self.logger.debug("%s %s", self.address_string(), format % args)

    _date: ClassVar[tuple[int, str]] = (0, "")

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header's text, formatted once per second (the stdlib formats it per response)."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        second = int(time.time())
        cached = LimitedHandler._date
        if cached[0] != second:
            cached = LimitedHandler._date = (second, super().date_time_string(second))
        return cached[1]

    # --- request body ---
    def read_body(self) -> bytes:
        """The request body (Content-Length or chunked), refused past ``server.max_body``."""
        limit = self.server.max_body
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(limit)
        length_text = self.headers.get("Content-Length")
        if not length_text:
            return b""
        try:
            length = int(length_text)
        except ValueError:
            raise BodyTooLarge() from None
        if length < 0 or length > limit:
            # A fully drained body leaves the connection usable; closing it with bytes still unread would
            # make the kernel send a reset that can destroy our answer before the client reads it.
            if length < 0 or not self._drain(length):
                self.close_connection = True
            raise BodyTooLarge()
        return self.rfile.read(length)

    def _drain(self, length: int, cap: int = 16 * 1024 * 1024) -> bool:
        """Read and drop a refused body (up to ``cap``) so that a client still writing it can read our answer.

        True if the whole body was read."""
        if length > cap:
            return False
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                return False
            remaining -= len(chunk)
        return True

    def _read_chunked(self, limit: int) -> bytes:
        out = bytearray()
        while True:
            line = self.rfile.readline(1024)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            if len(out) + size > limit:
                self.close_connection = True
                raise BodyTooLarge()
            out += self.rfile.read(size)
            self.rfile.readline(1024)

    # --- replies ---
    def send_json(
        self, code: int, body: object, headers: dict[str, Any] | None = None, content_type: str = "application/json"
    ) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_bytes(code, data, content_type, headers)

    def send_bytes(self, code: int, data: bytes, content_type: str, headers: dict[str, Any] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        # Headers and body in one write: two small writes meet delayed ACKs (40 ms per request). The
        # stdlib's header buffer is private and untyped; flush_headers() writes it in one call.
        buffer: list[bytes] = self._headers_buffer  # type: ignore[attr-defined]
        buffer.append(b"\r\n")
        if self.command != "HEAD":
            buffer.append(data)
        self.flush_headers()

    def start_chunked(self, code: int, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()

    def write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def end_chunked(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass

    def abort_connection(self) -> None:
        """Close the socket without a proper end (a dropped connection, for fault injection)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# the upper layer: routes for our endpoints


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: Any  # email.message.Message: case-insensitive .get / .get_all
    body: bytes
    client: tuple[str, int]

    def json(self) -> Any:
        """The body parsed as JSON; ValueError (without echoing the body) when it is not."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            raise ValueError("request body is not valid JSON") from None


@dataclass
class Response:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(obj).encode() + b"\n", "application/json", dict(headers or {}))


def text_response(text: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, text.encode(), "text/plain; charset=utf-8", dict(headers or {}))


Handler = Callable[[Request], Response]


def metrics_handler(registry: Any) -> Handler:
    """A handler serving ``registry`` (a prometheus_client ``CollectorRegistry``) in the text format."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    def handle(request: Request) -> Response:
        return Response(200, generate_latest(registry), CONTENT_TYPE_LATEST)

    return handle


class _Server(LimitedHTTPServer):
    owner: HTTPServer


class _RequestHandler(LimitedHandler):
    server: _Server

    def _dispatch(self) -> None:
        owner = self.server.owner
        parts = urlsplit(self.path)
        route = owner._match(self.command, parts.path)
        length_header = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            self._send(Response(411, b"chunked request bodies are not accepted; send Content-Length\n"), close=True)
            return
        try:
            length = int(length_header) if length_header else 0
            if length < 0:
                raise ValueError
        except ValueError:
            self._send(Response(400, b"bad Content-Length\n"), close=True)
            return
        if length > owner.max_body:
            self._send(Response(413, f"request body larger than {owner.max_body} bytes\n".encode()), close=True)
            return
        body = self.rfile.read(length) if length else b""
        if route is None:
            allowed = owner._allowed_methods(parts.path)
            if allowed:
                self._send(Response(405, b"method not allowed\n", headers={"Allow": ", ".join(sorted(allowed))}))
            else:
                self._send(Response(404, b"404 page not found\n"))
            return
        slots = self.server.handler_slots
        if not slots.acquire(blocking=False):
            self._send(Response(503, b"too many concurrent requests\n", headers={"Retry-After": "1"}))
            return
        try:
            request = Request(self.command, parts.path, parse_qs(parts.query), self.headers, body, self.client_address)
            try:
                response = route(request)
            except Exception as exc:  # noqa: BLE001 - a handler bug must not leak its message
                log.error("%s %s: handler failed with %s", self.command, parts.path, type(exc).__name__)
                if log.isEnabledFor(logging.DEBUG):  # frames only: the exception's text could carry a secret
                    log.debug(
                        "handler traceback (%s):\n%s",
                        type(exc).__name__,
                        "\n".join(
                            f"  {f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(exc.__traceback__)
                        ),
                    )
                response = Response(500, b"internal server error\n")
            self._send(response)
        finally:
            slots.release()

    def _send(self, response: Response, close: bool = False) -> None:
        body = response.body
        whole = body if isinstance(body, (bytes, bytearray)) else None
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for k, v in response.headers.items():
            self.send_header(k, v)
        if whole is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(whole)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command == "HEAD":
            return
        if whole is not None:
            self.wfile.write(whole)
            return
        chunks = cast(Iterable[bytes], body)  # not bytes: the iterable side of the union
        try:
            for chunk in chunks:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            close_fn = getattr(body, "close", None)
            if close_fn:
                close_fn()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


class HTTPServer:
    """Routes plus limits, served from a background thread.

    ``route("GET", "/healthz", fn)`` matches the exact path; ``route("POST", "/hook/", fn, prefix=True)``
    matches every path under the prefix. ``start()`` binds and returns ``(host, port)``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        name: str = "http",
        max_body: int = 1 << 20,
        max_concurrent: int = 32,
        socket_timeout: float = 30.0,
    ) -> None:
        self.host, self.port, self.name = host, port, name
        self.max_body, self.socket_timeout, self.max_concurrent = max_body, socket_timeout, max_concurrent
        self._exact: dict[tuple[str, str], Handler] = {}
        self._prefix: list[tuple[str, str, Handler]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def route(self, method: str, path: str, handler: Handler, *, prefix: bool = False) -> None:
        if prefix:
            self._prefix.append((method.upper(), path, handler))
            self._prefix.sort(key=lambda r: -len(r[1]))  # longest prefix first
        else:
            self._exact[(method.upper(), path)] = handler

    def _match(self, method: str, path: str) -> Handler | None:
        method = "GET" if method == "HEAD" else method
        handler = self._exact.get((method, path))
        if handler:
            return handler
        for m, p, h in self._prefix:
            if m == method and path.startswith(p):
                return h
        return None

    def _allowed_methods(self, path: str) -> set[str]:
        methods = {m for (m, p) in self._exact if p == path}
        methods |= {m for m, p, _ in self._prefix if path.startswith(p)}
        return methods

    def start(self) -> tuple[str, int]:
        """Bind and serve in a daemon thread; return the bound ``(host, port)``."""
        server = _Server(
            (self.host, self.port),
            _RequestHandler,
            max_body=self.max_body,
            max_handlers=self.max_concurrent,
            socket_timeout=self.socket_timeout,
        )
        server.owner = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name=f"{self.name}-http", daemon=True
        )
        self._thread.start()
        return self.host, self.port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        """Stop accepting connections and close the listening socket (open handlers end on their own)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(5)
        self._server = None

    def __enter__(self) -> HTTPServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def parse_listen_addr(addr: str) -> tuple[str, int]:
    """Go-style listen address (``:8080``, ``0.0.0.0:8080``, ``[::1]:8080``) → (host, port)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"listen address {addr!r} must look like HOST:PORT or :PORT")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)
