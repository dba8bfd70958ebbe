"""Vault failures: stopped mid-render, sealed (503) with bounded backoff, a server that never answers.

Each case uses its own server (``openbao_factory``) or a loopback socket, and checks that the
error is a ``VaultUnavailable`` naming address, path and auth method, that the retries are
bounded (counted requests, recorded backoff delays), and that resolve returns nothing.
"""

from __future__ import annotations

import socket
import time

import pytest

from secretsync.vault.client import VaultBackend
from secretsync.vault.config import VaultConfig
from secretsync.vault.errors import VaultUnavailable
from secretsync.vault.placeholders import PlaceholderError, resolve

pytestmark = pytest.mark.peer  # real peers: OpenBao dev server, kubectl, bao CLI


def env_for(addr: str, token: str, **extra: str) -> dict[str, str]:
    return {
        "AVP_TYPE": "vault",
        "AVP_AUTH_TYPE": "token",
        "VAULT_ADDR": addr,
        "VAULT_TOKEN": token,
        "VAULT_RETRY_WAIT": "0.01",
        **extra,
    }


def configmap(name: str, path: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"v": f"<path:{path}#k>"}}


class StopsAfterFirstRead:
    """Passes reads to the real backend and stops the real server right after the first one."""

    def __init__(self, backend: VaultBackend, server) -> None:
        self.inner, self.server, self.reads = backend.reader(), server, 0

    def read(self, path, version=None, kv_version=None):
        result = self.inner.read(path, version, kv_version)
        self.reads += 1
        self.server.stop()
        return result


def test_vault_stopped_mid_render_gives_a_clear_error_and_no_objects(openbao_factory):
    server = openbao_factory()
    client = server.client()
    for name in ("a", "b"):
        client.secrets.kv.v2.create_or_update_secret(path=name, secret={"k": name})
    backend = VaultBackend(VaultConfig.from_env(env_for(server.addr, server.token, VAULT_MAX_RETRIES="2")))
    reader = StopsAfterFirstRead(backend, server)
    result = None
    with pytest.raises(PlaceholderError) as err:
        result = resolve([configmap("first", "secret/data/a"), configmap("second", "secret/data/b")], reader)
    assert result is None and reader.reads == 1
    text = err.value.report()
    assert "Vault unavailable while reading a secret: connection failed after 3 attempt(s)" in text
    assert server.addr in text and "path secret/data/b" in text and "auth token" in text
    assert "ConfigMap second" in text


def test_sealed_vault_is_retried_with_bounded_backoff_then_fails(openbao_factory):
    server = openbao_factory()
    server.client().secrets.kv.v2.create_or_update_secret(path="x", secret={"k": "v"})
    server.client().sys.seal()
    delays: list[float] = []
    backend = VaultBackend(
        VaultConfig.from_env(env_for(server.addr, server.token, VAULT_MAX_RETRIES="3", VAULT_RETRY_WAIT="0.2")),
        sleep=delays.append,
    )
    with pytest.raises(VaultUnavailable) as err:
        backend.read("secret/data/x")
    assert backend.requests_sent == 4
    assert len(delays) == 3 and all(0 <= d <= 0.2 * 2**i for i, d in enumerate(delays))
    assert "HTTP 503" in err.value.message and "after 4 attempt(s)" in err.value.message
    assert "unsealed" in err.value.hint


def test_unanswering_vault_hits_the_configured_timeout(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # the kernel accepts connections; nobody ever answers
        addr = f"http://127.0.0.1:{listener.getsockname()[1]}"
        backend = VaultBackend(VaultConfig.from_env(env_for(addr, "t", VAULT_CLIENT_TIMEOUT="0.3")))
        started = time.monotonic()
        with pytest.raises(VaultUnavailable) as err:
            backend.read("secret/data/x")
        elapsed = time.monotonic() - started
    assert "did not answer within 0.3 s while reading a secret" in err.value.message
    assert backend.requests_sent == 1  # a timeout is not retried: the configured timeout is the budget
    assert elapsed < 5


def test_refused_connection_is_retried_then_named(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    delays: list[float] = []
    backend = VaultBackend(
        VaultConfig.from_env(env_for(f"http://127.0.0.1:{port}", "t", VAULT_MAX_RETRIES="1")), sleep=delays.append
    )
    with pytest.raises(VaultUnavailable, match=r"connection failed after 2 attempt\(s\)"):
        backend.login() or backend.read("secret/data/x")
    assert len(delays) == 1
