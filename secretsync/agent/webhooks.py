"""The ``/hook/<id>`` receiver: push notifications from Git hosts trigger a Sync at once.

Each Sync with ``spec.webhook`` gets a path ``/hook/<id>`` where ``id`` is the sha256 of its
token, name and namespace (Flux's Receiver rule), shown in ``status.webhookPath``. A request is
accepted only when it proves knowledge of the token, by type:

- ``github``: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``; ``ping`` events
  are answered without a trigger;
- ``gitlab``: ``X-Gitlab-Token: <token>``;
- ``generic-hmac``: ``X-Signature: sha256=<hex HMAC-SHA256 of the body>`` (also ``sha1=``).

Comparison is constant-time; an unknown path answers 404, a bad signature 401, both without
saying why in detail. An accepted request calls ``trigger(key)`` and answers 200. Routes live on
the shared HTTP base (``secretsync.runtime.httpserver``), behind the cluster's ingress.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from secretsync.runtime.httpserver import HTTPServer, Request, Response, json_response

__all__ = ["WebhookReceiver", "hook_id", "TYPES"]

log = logging.getLogger(__name__)

TYPES = ("github", "gitlab", "generic-hmac")


def hook_id(token: bytes, namespace: str, name: str) -> str:
    return hashlib.sha256(token + name.encode() + namespace.encode()).hexdigest()


@dataclass(frozen=True)
class _Hook:
    key: tuple[str, str]
    type: str
    token: bytes


def _hmac_ok(token: bytes, body: bytes, header: str | None) -> bool:
    if not header or "=" not in header:
        return False
    algo, _, given = header.partition("=")
    digest = {"sha256": hashlib.sha256, "sha1": hashlib.sha1}.get(algo.strip().lower())
    if digest is None:
        return False
    expected = hmac.new(token, body, digest).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())


class WebhookReceiver:
    def __init__(self, trigger: Callable[[tuple[str, str]], None]) -> None:
        self.trigger = trigger
        self._hooks: dict[str, _Hook] = {}
        self._by_key: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self.accepted = 0
        self.refused = 0

    def register(self, key: tuple[str, str], type_: str, token: bytes) -> str:
        """Serve a hook for Sync ``key``; returns its path (``/hook/<id>``)."""
        ident = hook_id(token, *key)
        with self._lock:
            old = self._by_key.pop(key, None)
            if old:
                self._hooks.pop(old, None)
            self._hooks[ident] = _Hook(key, type_, token)
            self._by_key[key] = ident
        return f"/hook/{ident}"

    def unregister(self, key: tuple[str, str]) -> None:
        with self._lock:
            ident = self._by_key.pop(key, None)
            if ident:
                self._hooks.pop(ident, None)

    def install(self, server: HTTPServer) -> None:
        server.route("POST", "/hook/", self.handle, prefix=True)

    def handle(self, request: Request) -> Response:
        ident = request.path.removeprefix("/hook/").strip("/")
        with self._lock:
            hook = self._hooks.get(ident)
        if hook is None:
            return json_response({"error": "not found"}, 404)
        headers = request.headers
        if hook.type == "github":
            ok = _hmac_ok(hook.token, request.body, headers.get("X-Hub-Signature-256"))
        elif hook.type == "gitlab":
            ok = hmac.compare_digest(hook.token, (headers.get("X-Gitlab-Token") or "").encode())
        else:
            ok = _hmac_ok(hook.token, request.body, headers.get("X-Signature"))
        if not ok:
            self.refused += 1
            log.warning("webhook for Sync %s/%s refused: signature or token mismatch", *hook.key)
            return json_response({"error": "unauthorized"}, 401)
        self.accepted += 1
        if hook.type == "github" and (headers.get("X-GitHub-Event") or "") == "ping":
            return json_response({"status": "pong"})
        log.info("webhook for Sync %s/%s accepted", *hook.key)
        self.trigger(hook.key)
        return json_response({"status": "accepted"})
