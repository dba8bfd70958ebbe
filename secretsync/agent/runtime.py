"""One agent process: Sync watch → work queue → ``SyncReconciler``, plus triggers, drift repair, HTTP and HA.

``AgentRuntime(client, AgentConfig(...)).start()`` runs in daemon threads; ``stop()`` ends it.

Triggers that enqueue a Sync (the queue dedupes, one worker per Sync at a time):
- the Sync watch: created, ``metadata.generation`` changed (spec change, suspend/resume), or the
  ``secretsync.io/requestedAt`` annotation changed; status-only updates (ours) are ignored;
- the reconciler's own requeue: ``interval`` with jitter after success, bounded exponential
  backoff after failure, a short delay while a dependency is not ready;
- a new Git revision: the source poller resolves each distinct (url, ref) every
  ``source_poll`` seconds with one ``git ls-remote`` and enqueues the Syncs whose commit moved
  (reconciles share one ls-remote per URL+ref for ``resolve_share`` seconds, and reuse the last
  render while its inputs stand: ``SyncReconciler._build``);
- Vault: every ``vault.refreshInterval`` the Vault fingerprints of the paths the Sync's last render
  read (placeholders inside sops-encrypted files included; KV v2 metadata versions,
  ``secretsync.agent.vaultrefs``; no value is read) are compared with the last ones;
- ``/hook/<id>`` webhooks (``secretsync.agent.webhooks``);
- local mode: a watchdog observer on the source folder (``secretsync.sources.local.LocalWatcher``,
  started by the command, which calls ``trigger``).

HA: with ``leader_elect`` only the holder of the Lease ``secretsync-agent[-shard-N]`` runs the
queue; its term's end stops the workers before anything else, and the reconciler's
``may_write`` refuses new writes at once. Sharding: a replica with ``shard_count > 1`` owns the
Syncs whose stable hash (sha256 of ``namespace/name``) modulo the count is its index.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from secretsync.agent.drift import DriftRepairer
from secretsync.agent.metrics import AgentMetrics
from secretsync.agent.notify import Notifier
from secretsync.agent.reconciler import ReconcilerOptions, SyncReconciler
from secretsync.agent.webhooks import WebhookReceiver
from secretsync.api.syncspec import API_VERSION, KIND, REQUESTED_AT, sync_key
from secretsync.kube.watch import Informer, WatchEvent
from secretsync.runtime.queue import WorkQueue

if TYPE_CHECKING:
    from secretsync.agent.state import SyncState
    from secretsync.api.syncspec import SyncSpec
    from secretsync.runtime.httpserver import HTTPServer
    from secretsync.runtime.leader import LeaderElector

SyncKey = tuple[str, str]

__all__ = ["AgentConfig", "AgentRuntime", "shard_of"]

log = logging.getLogger(__name__)


def shard_of(namespace: str, name: str, count: int) -> int:
    """Stable shard of a Sync: the same on every replica and every restart."""
    digest = hashlib.sha256(f"{namespace}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass
class AgentConfig:
    namespace: str | None = None  # watch Syncs in one namespace (None: all)
    concurrent: int = 4
    shard_index: int = 0
    shard_count: int = 1
    leader_elect: bool = False
    lease_namespace: str = "secretsync-system"
    lease_name: str = "secretsync-agent"
    lease_duration: int = 15
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str | None = None
    source_poll: float = 60.0
    vault_poll: float = 1.0  # how often the Vault refresh deadlines are looked at
    drift: bool = True
    loop_threshold: int = 5
    loop_window: float = 60.0
    http_addr: tuple[str, int] | None = None  # /metrics, /healthz, /readyz, /hook/<id>
    reconciler: ReconcilerOptions = field(default_factory=ReconcilerOptions)
    events: bool = True
    local_sync: dict[str, Any] | None = None  # local mode: one implicit Sync, no Sync watch


class AgentRuntime:
    def __init__(self, client: Any, config: AgentConfig | None = None) -> None:
        self.client = client
        self.config = config or AgentConfig()
        cfg = self.config
        self.metrics = AgentMetrics()
        self.recorder = None
        if cfg.events:
            from secretsync.runtime.recorder import EventRecorder

            self.recorder = EventRecorder(client, component="secretsync-agent")
        self.notifier = Notifier()
        self.reconciler = SyncReconciler(
            client,
            cfg.reconciler,
            metrics=self.metrics,
            recorder=self.recorder,
            notifier=self.notifier,
            on_applied=self._applied,
        )
        self.webhooks = WebhookReceiver(self.trigger)
        self.reconciler.webhooks = self.webhooks
        self.drift: DriftRepairer | None = None
        self.queue: WorkQueue | None = None
        self.informer: Informer | None = None
        self.http: HTTPServer | None = None
        self.elector: LeaderElector | None = None
        self._stop = threading.Event()
        self._leading = threading.Event()
        self._term_lock = threading.Lock()
        self._pollers: list[threading.Thread] = []
        self._git_seen: dict[tuple[Any, ...], str] = {}
        self.reconciler.may_write = self.is_active
        self.terms = 0

    # -- ownership -----------------------------------------------------------------------------
    def owns(self, namespace: str, name: str) -> bool:
        cfg = self.config
        return cfg.shard_count <= 1 or shard_of(namespace, name, cfg.shard_count) == cfg.shard_index

    def is_active(self) -> bool:
        return not self._stop.is_set() and (self.elector is None or self._leading.is_set())

    def trigger(self, key: tuple[str, str], *, refresh_source: bool = True) -> None:
        """Reconcile ``key`` now (webhooks, tests, local mode); ``refresh_source``: ask Git afresh and render
        again rather than reuse a shared ls-remote result or the last render."""
        if self.queue is not None and self.owns(*key):
            if refresh_source:
                self.reconciler.refresh_source(key)
            self.queue.add(key)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> AgentRuntime:
        cfg = self.config
        if self.recorder is not None:
            self.recorder.start()
        if cfg.http_addr is not None:
            self._start_http()
        if cfg.leader_elect:
            from secretsync.runtime.leader import LeaderElector

            name = cfg.lease_name + (f"-shard-{cfg.shard_index}" if cfg.shard_count > 1 else "")
            self.elector = LeaderElector(
                self.client,
                cfg.lease_namespace,
                name,
                identity=cfg.identity,
                lease_duration=cfg.lease_duration,
                renew_deadline=cfg.renew_deadline,
                retry_period=cfg.retry_period,
                on_started_leading=self._lead,
            )
            self.elector.start()
        else:
            threading.Thread(target=self._lead, args=(self._stop,), name="agent", daemon=True).start()
        return self

    def stop(self, *, release: bool = True) -> None:
        self._stop.set()
        if self.elector is not None:
            self.elector.stop(release=release)
        self._end_term()
        if self.http is not None:
            self.http.stop()
        if self.recorder is not None:
            self.recorder.stop(timeout=2.0)
        self.reconciler.close()

    def _start_http(self) -> None:
        from secretsync.runtime.httpserver import HTTPServer, metrics_handler, text_response

        assert self.config.http_addr is not None
        host, port = self.config.http_addr
        http = self.http = HTTPServer(host, port, name="agent")
        http.route("GET", "/metrics", metrics_handler(self.metrics.registry))
        http.route("GET", "/healthz", lambda req: text_response("ok\n"))
        http.route("GET", "/readyz", lambda req: text_response("ok\n"))
        self.webhooks.install(http)
        http.start()

    @property
    def http_url(self) -> str | None:
        return self.http.url if self.http is not None else None

    # -- a term of leadership (or the whole life without election) ------------------------------
    def _lead(self, term: threading.Event) -> None:
        with self._term_lock:
            self._leading.set()
            self.terms += 1
            cfg = self.config
            self.queue = WorkQueue(name="syncs", base_delay=cfg.reconciler.min_retry, max_delay=300.0)
            if cfg.drift:
                self.drift = DriftRepairer(
                    self.client,
                    self.reconciler,
                    loop_threshold=cfg.loop_threshold,
                    loop_window=cfg.loop_window,
                    metrics=self.metrics,
                    recorder=self.recorder,
                )
                self.reconciler.drift = self.drift
            if cfg.local_sync is not None:
                key = sync_key(cfg.local_sync)
                self.reconciler.local_objects[key] = cfg.local_sync
                self.queue.add(key)
            else:
                self.informer = Informer(self.client, API_VERSION, KIND, cfg.namespace, handler=self._on_sync)
                self.informer.start()
            self.queue.start(self._handle, workers=max(1, cfg.concurrent))
            for target, name in ((self._poll_sources, "source-poller"), (self._poll_vault, "vault-poller")):
                t = threading.Thread(target=target, args=(term,), name=name, daemon=True)
                t.start()
                self._pollers.append(t)
        log.info("agent started (term %d, %d workers)", self.terms, cfg.concurrent)
        while not term.wait(0.2):
            if self._stop.is_set():
                break
        self._end_term()

    def _end_term(self) -> None:
        with self._term_lock:
            if not self._leading.is_set():
                return
            self._leading.clear()
            if self.informer is not None:
                self.informer.stop(timeout=2)
            if self.queue is not None:
                self.queue.shutdown(wait=True, timeout=10)
            if self.drift is not None:
                self.drift.stop()
                self.reconciler.drift = None

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """True once nothing is queued or running (tests and the demo)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            q = self.queue
            synced = self.informer is None or self.informer.synced.is_set()
            if q is not None and synced and len(q) == 0 and not q.processing():
                return True
            time.sleep(0.05)
        return False

    # -- handlers ------------------------------------------------------------------------------
    def _handle(self, key: Hashable) -> float | None:
        if not self.is_active():
            return None
        return self.reconciler.reconcile(cast(SyncKey, key))  # the queue holds only Sync keys

    def _on_sync(self, event: WatchEvent) -> None:
        obj = event.object
        key = sync_key(obj)
        if not self.owns(*key):
            return
        if event.type == "DELETED":
            self.reconciler.forget(key)
            self.webhooks.unregister(key)
            self.metrics.forget(*key)
            return
        old = event.old
        if event.type == "MODIFIED" and old is not None:
            meta, old_meta = obj.get("metadata") or {}, old.get("metadata") or {}
            same_generation = meta.get("generation") == old_meta.get("generation")
            same_request = (meta.get("annotations") or {}).get(REQUESTED_AT) == (old_meta.get("annotations") or {}).get(
                REQUESTED_AT
            )
            deleting = bool(meta.get("deletionTimestamp")) and not old_meta.get("deletionTimestamp")
            if same_generation and same_request and not deleting:
                return
        if self.queue is not None:
            self.queue.add(key)

    def _applied(self, spec: SyncSpec, state: SyncState) -> None:
        if self.drift is not None:
            self.drift.track(spec.key, state)

    def _vault_backend(self, state: SyncState) -> Any:
        backend = state.vault if state.spec is not None and state.spec.vault else self.config.reconciler.vault
        if callable(backend) and getattr(backend, "_secretsync_factory", False):
            try:
                backend = backend()
            except Exception:  # noqa: BLE001
                return None
        return backend

    # -- pollers -------------------------------------------------------------------------------
    def _poll_sources(self, term: threading.Event) -> None:
        while not term.wait(self.config.source_poll):
            if self._stop.is_set():
                return
            groups: dict[tuple[str, str | None], list[tuple[SyncKey, SyncState, Any]]] = {}
            for key, state in list(self.reconciler.states.items()):
                spec, source = state.spec, state.source
                if spec is None or spec.git is None or spec.suspend or source is None or state.revision is None:
                    continue
                groups.setdefault((spec.git.url, spec.git.ref), []).append((key, state, source))
            for members in groups.values():
                try:  # one ls-remote per URL+ref; the triggered reconciles reuse its result
                    _, first_state, first_source = members[0]
                    assert first_state.spec is not None  # grouped by its spec's URL+ref
                    sha, _ = self.reconciler.resolve_shared(first_state.spec, first_state, first_source, fresh=True)
                except Exception as exc:  # noqa: BLE001 - a broken remote is the reconcile's to report
                    log.debug("source poll failed: %s", type(exc).__name__)
                    continue
                for key, state, _ in members:
                    seen = state.attempted or state.revision
                    if seen and not seen.endswith(sha):
                        log.info("Sync %s/%s: new revision %s", key[0], key[1], sha[:12])
                        self.trigger(key, refresh_source=False)

    def _poll_vault(self, term: threading.Event) -> None:
        from secretsync.agent.vaultrefs import fingerprints

        while not term.wait(self.config.vault_poll):
            if self._stop.is_set():
                return
            now = time.monotonic()
            for key, state in list(self.reconciler.states.items()):
                spec = state.spec
                if spec is None or spec.suspend or not state.vault_refs or state.revision is None:
                    continue
                refresh = spec.vault.refresh_interval if spec.vault else 300.0
                if now - state.vault_checked < refresh:
                    continue
                backend = self._vault_backend(state)
                if backend is None:
                    continue
                state.vault_checked = now
                try:
                    current = fingerprints(state.vault_refs, backend)
                except Exception as exc:  # noqa: BLE001 - Vault down: the next reconcile reports it
                    log.warning("Sync %s/%s: Vault change check failed (%s)", key[0], key[1], type(exc).__name__)
                    continue
                self.metrics.vault_reads.labels(*key).inc(max(1, len(current)))
                if state.vault_fingerprints is None:
                    state.vault_fingerprints = current
                elif current != state.vault_fingerprints:
                    state.vault_fingerprints = current
                    log.info("Sync %s/%s: a Vault value changed; reconciling", key[0], key[1])
                    self.trigger(key)  # refresh: the baseline just moved, so the render must not be reused
