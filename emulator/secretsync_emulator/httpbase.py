"""A small HTTP/1.1 base on the standard library's ThreadingHTTPServer, with the limits it lacks.

Per-connection socket timeouts (slow clients), a request-body cap, a semaphore
bounding concurrent (non-streaming) handlers, JSON replies, chunked streaming,
and quiet logging (request lines go to the ``secretsync_emulator`` logger at
debug level; bodies are never logged). Handler threads are daemons, and a
``stopping`` event tells long-lived handlers (watches) to end.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["BaseServer", "BaseHandler", "BodyTooLarge"]

log = logging.getLogger("secretsync_emulator")


class BodyTooLarge(Exception):
    """The request body is larger than the server's limit."""


class BaseServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address,
        handler_class,
        *,
        max_body: int = 3 * 1024 * 1024,
        max_handlers: int = 64,
        socket_timeout: float = 60.0,
        ssl_context=None,
    ) -> None:
        self.ssl_context = ssl_context
        self.max_body = max_body
        self.socket_timeout = socket_timeout
        self.handler_slots = threading.BoundedSemaphore(max_handlers)
        self.stopping = threading.Event()
        self._connections: set = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler_class)

    def process_request(self, request, client_address) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
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

    def finish_request(self, request, client_address) -> None:
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

    def handle_error(self, request, client_address) -> None:  # noqa: D401 - stdlib hook
        # Client disconnects are normal (watch streams closed by clients); everything else is logged briefly.
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class BaseHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: BaseServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.socket_timeout)
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        if log.isEnabledFor(logging.DEBUG):  # called for every request: format only when it is kept
            log.debug("%s %s", self.address_string(), format % args)

    _date: tuple[int, str] = (0, "")

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header's text, formatted once per second (the stdlib formats it per response)."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        second = int(time.time())
        cached = BaseHandler._date
        if cached[0] != second:
            cached = BaseHandler._date = (second, super().date_time_string(second))
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
        self, code: int, body: object, headers: dict | None = None, content_type: str = "application/json"
    ) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_bytes(code, data, content_type, headers)

    def send_bytes(self, code: int, data: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        # Headers and body in one write: two small writes meet delayed ACKs (40 ms per request).
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(data)
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
