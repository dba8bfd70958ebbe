"""The controller's HTTP endpoints (what kubeseal calls) and its Prometheus metrics.

On ``--listen-addr`` (default ``:8080``), as upstream's ``pkg/controller/server.go``:

- ``/healthz`` (any method): 200 ``ok\\n``;
- ``/v1/cert.pem`` (any method): the newest certificate, ``application/x-pem-file``; 500
  ``cannot get certificate`` while there is no key;
- ``/v1/verify`` (any method): body = one SealedSecret (JSON or YAML); 200 when it unseals,
  409 when it does not, 500 for a multi-document or undecodable body; rate-limited per path
  and ``X-Forwarded-For`` with GCRA (``--rate-limit`` per second, ``--rate-limit-burst``:
  throttled's semantics, so burst+1 requests pass at once), setting ``X-RateLimit-Limit``,
  ``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` and, when refused, ``Retry-After`` with a
  429 ``limit exceeded``;
- ``/v1/rotate`` (any method): the SealedSecret re-sealed with the newest key as compact JSON
  without kind/apiVersion, 500 on any failure. Unlike upstream since v0.36 the template's
  own labels and annotations are kept; the scope stays the one of the top-level metadata
  (template scope annotations are rewritten to match it, never the other way round).

Metrics on ``--listen-metrics-addr`` (default ``:8081``, ``/metrics``) in a private registry
with upstream's names: ``sealed_secrets_controller_{build_info, unseal_requests_total,
unseal_errors_total{reason,namespace}, condition_info{namespace,name,condition},
http_requests_total{path,code,method}, http_request_duration_seconds{path,method}}``.

Nothing served here ever holds plaintext: verify answers only a status, rotate only ciphertext.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from secretsync.manifests.loader import ManifestError, load_manifests
from secretsync.runtime.httpserver import HTTPServer, Request, Response
from secretsync.sealing import objects as sealedsecret
from secretsync.sealing.keyring import Keyring
from secretsync.sealing.reencrypt import re_encrypt

__all__ = ["ControllerMetrics", "RateLimiter", "ControllerEndpoints", "MetricsServer"]

log = logging.getLogger(__name__)

_PREFIX = "sealed_secrets_controller_"
_ANY = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_CONDITION_VALUE = {"False": -1.0, "Unknown": 0.0, "True": 1.0}


# ---------------------------------------------------------------- metrics


class ControllerMetrics:
    """Upstream's metric set in a registry of its own (so tests and replicas never collide)."""

    def __init__(self, version: str = "", *, omit_secret_labels: bool = False) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.omit_secret_labels = omit_secret_labels
        self.build_info = Gauge(_PREFIX + "build_info", "Build information.", ["revision"], registry=self.registry)
        self.build_info.labels(version).set(1)
        self.unseal_requests = Counter(
            _PREFIX + "unseal_requests", "Total number of sealed secret unseal requests", registry=self.registry
        )
        self.unseal_errors = Counter(
            _PREFIX + "unseal_errors",
            "Total number of sealed secret unseal errors by reason",
            ["reason", "namespace"],
            registry=self.registry,
        )
        self.condition_info = Gauge(
            _PREFIX + "condition_info",
            "Current SealedSecret condition status. Values are -1 (false), 0 (unknown or absent), 1 (true)",
            ["namespace", "name", "condition"],
            registry=self.registry,
        )
        self.http_requests = Counter(
            _PREFIX + "http_requests",
            "A counter for requests to the wrapped handler.",
            ["path", "code", "method"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            _PREFIX + "http_request_duration_seconds",
            "A histogram of latencies for requests.",
            ["path", "method"],
            registry=self.registry,
        )

    def unseal_error(self, reason: str, namespace: str) -> None:
        self.unseal_errors.labels(reason, namespace).inc()

    def observe_conditions(self, ss: dict[str, Any]) -> None:
        if self.omit_secret_labels:
            return
        meta = ss.get("metadata") or {}
        for cond in (ss.get("status") or {}).get("conditions") or []:
            if isinstance(cond, dict) and cond.get("type"):
                self.condition_info.labels(meta.get("namespace", ""), meta.get("name", ""), cond["type"]).set(
                    _CONDITION_VALUE.get(str(cond.get("status")), 0.0)
                )

    def forget_conditions(self, ss: dict[str, Any]) -> None:
        meta = ss.get("metadata") or {}
        for cond in (ss.get("status") or {}).get("conditions") or []:
            if isinstance(cond, dict) and cond.get("type"):
                try:
                    self.condition_info.remove(meta.get("namespace", ""), meta.get("name", ""), cond["type"])
                except KeyError:
                    pass

    def instrument(self, path: str, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """promhttp's InstrumentHandlerDuration + InstrumentHandlerCounter (method label lower-case)."""

        def wrapped(request: Request) -> Response:
            start = time.perf_counter()
            response = handler(request)
            method = request.method.lower()
            self.http_requests.labels(path, str(response.status), method).inc()
            self.http_duration.labels(path, method).observe(time.perf_counter() - start)
            return response

        return wrapped

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


# ---------------------------------------------------------------- rate limiting


class RateLimiter:
    """GCRA as throttled (v2) computes it: emission interval 1/rate, tolerance interval*(burst+1)."""

    def __init__(
        self, rate: int, burst: int, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 65536
    ) -> None:
        if rate <= 0:
            raise ValueError("--rate-limit must be greater than zero")
        if burst < 0:
            raise ValueError("--rate-limit-burst must not be negative")
        self.interval = 1.0 / rate
        self.tolerance = self.interval * (burst + 1)
        self.limit = burst + 1
        self._clock = clock
        self._tat: OrderedDict[str, float] = OrderedDict()
        self._max_keys = max_keys
        self._lock = threading.Lock()

    def check(self, key: str) -> tuple[bool, dict[str, str]]:
        """(limited, headers) for one request under ``key``."""
        with self._lock:
            now = self._clock()
            stored = self._tat.get(key)
            tat = now if stored is None or stored < now else stored
            new_tat = tat + self.interval
            allow_at = new_tat - self.tolerance
            limited = now < allow_at
            if limited:
                ttl = tat - now
                retry_after = allow_at - now
            else:
                ttl = new_tat - now
                retry_after = -1.0
                self._tat[key] = new_tat
                self._tat.move_to_end(key)
                while len(self._tat) > self._max_keys:
                    self._tat.popitem(last=False)
        nxt = self.tolerance - ttl
        remaining = int(nxt / self.interval + 1e-9) if nxt > -self.interval else 0
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, remaining)),
            "X-RateLimit-Reset": str(math.ceil(max(0.0, ttl) - 1e-9)),
        }
        if retry_after >= 0:
            headers["Retry-After"] = str(math.ceil(retry_after - 1e-9))
        return limited, headers


# ---------------------------------------------------------------- request bodies


class _BadBody(Exception):
    pass


def _one_sealed_secret(body: bytes) -> dict[str, Any]:
    """The SealedSecret of a request body: one JSON or YAML document of that kind (read by the
    manifest loader, as kubectl reads it), else ``_BadBody``."""
    try:
        docs = [value for _, value in load_manifests(body, "request body")]
    except ManifestError:
        raise _BadBody("the body is neither JSON nor YAML") from None
    if len(docs) != 1:
        raise _BadBody("the body must hold exactly one document")
    obj = docs[0]
    if not isinstance(obj, dict) or not sealedsecret.is_sealed_secret(obj):
        raise _BadBody("the body is not a SealedSecret (apiVersion bitnami.com/v1alpha1, kind SealedSecret)")
    if not isinstance(obj.get("spec"), dict):
        raise _BadBody("the SealedSecret has no spec")
    return obj


# ---------------------------------------------------------------- servers


class _Listener:
    """Start/stop/url of one ``HTTPServer`` (``self.server``)."""

    server: HTTPServer

    def start(self) -> tuple[str, int]:
        return self.server.start()

    def stop(self) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url


class ControllerEndpoints(_Listener):
    """Routes of the main listener; ``keyring`` returns the current Keyring (or None)."""

    def __init__(
        self,
        keyring: Callable[[], Keyring | None],
        metrics: ControllerMetrics,
        *,
        rate_limit: int = 2,
        rate_limit_burst: int = 2,
        host: str = "0.0.0.0",
        port: int = 8080,
        socket_timeout: float = 120.0,
        accept_deprecated_v1: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keyring, self.metrics = keyring, metrics
        self.limiter = RateLimiter(rate_limit, rate_limit_burst, clock=clock)
        self.accept_deprecated_v1 = accept_deprecated_v1
        self.server = HTTPServer(host, port, name="controller", socket_timeout=socket_timeout, max_body=2 << 20)
        for method in _ANY:
            self.server.route(method, "/healthz", self.healthz)
            self.server.route(method, "/v1/cert.pem", metrics.instrument("/v1/cert.pem", self.cert))
            self.server.route(method, "/v1/verify", metrics.instrument("/v1/verify", self.verify))
            self.server.route(method, "/v1/rotate", metrics.instrument("/v1/rotate", self.rotate))

    # -- handlers -------------------------------------------------------------------------
    def healthz(self, request: Request) -> Response:
        return Response(200, b"ok\n", "text/plain; charset=utf-8")

    def cert(self, request: Request) -> Response:
        ring = self.keyring()
        if ring is None:
            log.error("cannot get certificates: the controller has no sealing key")
            return Response(
                500, b"cannot get certificate\n", "text/plain; charset=utf-8", {"X-Content-Type-Options": "nosniff"}
            )
        return Response(200, ring.certificate_pem(), "application/x-pem-file")

    def verify(self, request: Request) -> Response:
        forwarded = ",".join(request.headers.get_all("X-Forwarded-For") or [])
        limited, headers = self.limiter.check(f"{request.path}\n{forwarded}")
        if limited:
            headers["X-Content-Type-Options"] = "nosniff"
            return Response(429, b"limit exceeded\n", "text/plain; charset=utf-8", headers)
        try:
            obj = _one_sealed_secret(request.body)
        except _BadBody as exc:
            log.error("Error validating secret: %s", exc)
            return Response(500, b"", "text/plain; charset=utf-8", headers)
        ring = self.keyring()
        try:
            if ring is None:
                raise sealedsecret.UnsealError("", "", {"no key could decrypt secret": []})
            sealedsecret.unseal_sealed_secret(obj, ring, accept_deprecated_v1=self.accept_deprecated_v1)
        except (sealedsecret.UnsealError, sealedsecret.InputError):
            return Response(409, b"", "text/plain; charset=utf-8", headers)
        return Response(200, b"", "text/plain; charset=utf-8", headers)

    def rotate(self, request: Request) -> Response:
        ring = self.keyring()
        try:
            obj = _one_sealed_secret(request.body)
            if ring is None:
                raise sealedsecret.UnsealError("", "", {"no key could decrypt secret": []})
            resealed = re_encrypt(obj, ring, flatten=True).sealed_secret
        except _BadBody as exc:
            log.error("Error rotating secret: %s", exc)
            return Response(500, b"", "text/plain; charset=utf-8")
        except (sealedsecret.UnsealError, sealedsecret.InputError, sealedsecret.SealError) as exc:
            log.error("Error rotating secret: error decrypting secret. %s", exc.message)
            return Response(500, b"", "text/plain; charset=utf-8")
        resealed.pop("kind", None)
        resealed.pop("apiVersion", None)
        body = json.dumps(resealed, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        # Upstream sets Content-Type after the status line, so Go sniffs the JSON as text/plain.
        return Response(200, body, "text/plain; charset=utf-8")


class MetricsServer(_Listener):
    """``/metrics`` on its own listener."""

    def __init__(
        self, metrics: ControllerMetrics, *, host: str = "0.0.0.0", port: int = 8081, socket_timeout: float = 120.0
    ) -> None:
        self.metrics = metrics
        self.server = HTTPServer(host, port, name="metrics", socket_timeout=socket_timeout)
        self.server.route("GET", "/metrics", self._metrics)

    def _metrics(self, request: Request) -> Response:
        return Response(200, self.metrics.exposition(), CONTENT_TYPE_LATEST)
