"""One SealedSecret controller process: keys, reconciler, endpoints, metrics and leader election wired.

``SealedSecretsRuntime(client, RuntimeConfig(...)).start()`` runs everything in daemon
threads; ``stop()`` ends it (releasing the Lease unless ``release=False``, which is how tests
imitate a killed process). Every replica loads and watches the keys and serves
``/healthz``, ``/v1/cert.pem``, ``/v1/verify``, ``/v1/rotate`` and ``/metrics``; only the
leader (a ``coordination.k8s.io/v1`` Lease, when ``leader_elect``) generates keys and runs the
reconciler, which it stops as soon as its term ends. Without leader election the process
behaves as upstream's single replica.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field

from secretsync.kube.client import KubeClient
from secretsync.kube.errors import KubeError
from secretsync.runtime.leader import LeaderElector
from secretsync.runtime.recorder import EventRecorder
from secretsync.sealedcontroller.endpoints import ControllerEndpoints, ControllerMetrics, MetricsServer
from secretsync.sealedcontroller.keymanager import KeyManager
from secretsync.sealedcontroller.reconciler import ControllerOptions, SealedSecretController
from secretsync.sealing import keyring as kr

__all__ = ["RuntimeConfig", "SealedSecretsRuntime"]

log = logging.getLogger(__name__)


@dataclass
class RuntimeConfig:
    namespace: str = "kube-system"  # where keys and the Lease live
    key_prefix: str = kr.DEFAULT_KEY_PREFIX
    key_size: int = kr.DEFAULT_KEY_SIZE
    key_ttl: dt.timedelta = kr.DEFAULT_KEY_TTL
    my_cn: str = ""
    key_renew_period: dt.timedelta = dt.timedelta(hours=720)
    key_cutoff_time: dt.datetime | None = None
    key_order_priority: str = "CertNotBefore"
    privatekey_labels: dict[str, str] = field(default_factory=dict)
    privatekey_annotations: dict[str, str] = field(default_factory=dict)
    controller: ControllerOptions = field(default_factory=ControllerOptions)
    listen_addr: tuple[str, int] = ("0.0.0.0", 8080)
    listen_metrics_addr: tuple[str, int] | None = ("0.0.0.0", 8081)
    rate_limit: int = 2
    rate_limit_burst: int = 2
    http_timeout: float = 120.0
    metrics_omit_secret_labels: bool = False
    leader_elect: bool = False
    lease_name: str = "sealed-secrets-controller"
    lease_duration: int = 15
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str | None = None
    version: str = ""


class SealedSecretsRuntime:
    """Everything one controller replica runs."""

    def __init__(self, client: KubeClient, config: RuntimeConfig) -> None:
        self.client, self.config = client, config
        self.metrics = ControllerMetrics(config.version, omit_secret_labels=config.metrics_omit_secret_labels)
        self.recorder = EventRecorder(client)
        self.elector: LeaderElector | None = None
        if config.leader_elect:
            self.elector = LeaderElector(
                client,
                config.namespace,
                config.lease_name,
                identity=config.identity,
                lease_duration=config.lease_duration,
                renew_deadline=config.renew_deadline,
                retry_period=config.retry_period,
                on_started_leading=self._lead,
            )
        self.keys = KeyManager(
            client,
            config.namespace,
            prefix=config.key_prefix,
            key_size=config.key_size,
            key_ttl=config.key_ttl,
            my_cn=config.my_cn,
            renew_period=config.key_renew_period,
            cutoff_time=config.key_cutoff_time,
            order_priority=config.key_order_priority,
            privatekey_labels=config.privatekey_labels,
            privatekey_annotations=config.privatekey_annotations,
            recorder=self.recorder,
            may_write=self.is_leader,
        )
        self.endpoints = ControllerEndpoints(
            self.keys.keyring,
            self.metrics,
            rate_limit=config.rate_limit,
            rate_limit_burst=config.rate_limit_burst,
            host=config.listen_addr[0],
            port=config.listen_addr[1],
            socket_timeout=config.http_timeout,
            accept_deprecated_v1=config.controller.accept_deprecated_v1,
        )
        self.metrics_server = None
        if config.listen_metrics_addr is not None:
            self.metrics_server = MetricsServer(
                self.metrics,
                host=config.listen_metrics_addr[0],
                port=config.listen_metrics_addr[1],
                socket_timeout=config.http_timeout,
            )
        self.controller: SealedSecretController | None = None
        self.terms = 0
        self._stop = threading.Event()
        self._leading = threading.Event()
        self._single: threading.Thread | None = None

    def is_leader(self) -> bool:
        return self._leading.is_set() if self.elector is not None else not self._stop.is_set()

    # -- one term of leadership -------------------------------------------------------------
    def _lead(self, term: threading.Event) -> None:
        self._leading.set()
        self.terms += 1
        controller = None
        try:
            while not term.is_set() and not self._stop.is_set():
                try:
                    self.keys.ensure_key()
                    break
                except (KubeError, kr.SealingKeyError) as exc:
                    log.error("cannot create the first sealing key: %s; retrying", exc.message)
                    term.wait(2.0)
            if term.is_set() or self._stop.is_set():
                return
            controller = SealedSecretController(
                self.client,
                self.keys.keyring,
                self.config.controller,
                recorder=self.recorder,
                metrics=self.metrics,
                may_write=lambda: self.is_leader() and not term.is_set(),
            )
            self.controller = controller
            controller.start()
            log.info("sealed-secrets controller started (leader term %d)", self.terms)
            while not term.wait(0.5):
                if self._stop.is_set():
                    break
        finally:
            self._leading.clear()
            if controller is not None:
                controller.stop()
                log.info("sealed-secrets controller stopped (end of leader term %d)", self.terms)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> SealedSecretsRuntime:
        self.keys.start()
        self.endpoints.start()
        if self.metrics_server is not None:
            self.metrics_server.start()
        if self.elector is not None:
            self.elector.start()
        else:
            self._single = threading.Thread(target=self._lead, args=(self._stop,), name="controller", daemon=True)
            self._single.start()
        return self

    def stop(self, *, release: bool = True) -> None:
        """Stop everything; ``release=False`` leaves the Lease held, as a killed process would."""
        self._stop.set()
        if self.elector is not None:
            self.elector.stop(release=release)
        if self._single is not None:
            self._single.join(10)
        if self.controller is not None:
            self.controller.stop()
        self.keys.stop()
        self.endpoints.stop()
        if self.metrics_server is not None:
            self.metrics_server.stop()
        self.recorder.stop(timeout=2.0)
