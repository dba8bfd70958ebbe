"""Free loopback TCP ports for servers the tests and the demo start (the emulator, OpenBao)."""

from __future__ import annotations

import socket

__all__ = ["free_port", "free_port_pair"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_pair() -> int:
    """A free loopback port P with P+1 free too: OpenBao's dev server binds its cluster listener on P+1."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free pair of loopback ports found")
