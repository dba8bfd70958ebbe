"""The emulator's HTTP server: ``secretsync.runtime.httpserver``'s lower layer with the emulator's limits.

The base itself (socket timeouts, TLS handshakes in the connection's thread, tracked
connections, capped and chunked request bodies, one-write replies, chunked streaming, quiet
logging) is the runtime's, shared with secretsync's own endpoints; only the emulator's sizes
are set here: bodies up to 3 MiB (the API server's limit), 64 concurrent (non-streaming)
handlers, a 60 s socket timeout, a listen backlog of 128, and request lines logged to the
``secretsync_emulator`` logger at debug level (bodies never).
"""

from __future__ import annotations

import logging
import ssl
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

from secretsync.runtime.httpserver import BodyTooLarge, LimitedHandler, LimitedHTTPServer

__all__ = ["BaseServer", "BaseHandler", "BodyTooLarge"]

log = logging.getLogger("secretsync_emulator")


class BaseServer(LimitedHTTPServer):
    request_queue_size = 128
    logger: ClassVar[logging.Logger] = log

    def __init__(
        self,
        address: tuple[str, int],
        handler_class: type[BaseHTTPRequestHandler],
        *,
        max_body: int = 3 * 1024 * 1024,
        max_handlers: int = 64,
        socket_timeout: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(
            address,
            handler_class,
            max_body=max_body,
            max_handlers=max_handlers,
            socket_timeout=socket_timeout,
            ssl_context=ssl_context,
        )


class BaseHandler(LimitedHandler):
    server: BaseServer
    logger: ClassVar[logging.Logger] = log
