"""Prometheus metrics of the Sync agent, in a private registry (served on ``--metrics-addr``).

Names follow Flux's and Argo CD's habits with our prefix: ``secretsync_reconcile_duration_seconds``
(histogram), ``secretsync_reconcile_total{result}``, ``secretsync_sync_ready`` (1/0 per Sync),
``secretsync_vault_reads_total`` (Vault checks made for change detection; values are never read
for it), ``secretsync_decrypt_failures_total`` and ``secretsync_drift_corrections_total``.
Labels name Syncs and objects, never values.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["AgentMetrics"]


class AgentMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.duration = Histogram(
            "secretsync_reconcile_duration_seconds",
            "Time one Sync reconcile took.",
            ["namespace", "name"],
            registry=r,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
        )
        self.total = Counter("secretsync_reconcile_total", "Sync reconciles by result.", ["result"], registry=r)
        self.ready = Gauge(
            "secretsync_sync_ready", "1 when the Sync is Ready, else 0.", ["namespace", "name"], registry=r
        )
        self.vault_reads = Counter(
            "secretsync_vault_reads_total", "Vault change checks (metadata reads).", ["namespace", "name"], registry=r
        )
        self.decrypt_failures = Counter(
            "secretsync_decrypt_failures_total", "Renders that failed to decrypt.", ["namespace", "name"], registry=r
        )
        self.drift_corrections = Counter(
            "secretsync_drift_corrections_total",
            "Managed objects re-applied after someone changed them.",
            ["namespace", "name", "kind"],
            registry=r,
        )

    def reconciled(self, namespace: str, name: str, result: str, seconds: float, ready: bool) -> None:
        self.duration.labels(namespace, name).observe(seconds)
        self.total.labels(result).inc()
        self.ready.labels(namespace, name).set(1 if ready else 0)

    def forget(self, namespace: str, name: str) -> None:
        for metric in (self.ready, self.duration):
            try:
                metric.remove(namespace, name)
            except KeyError:
                pass
