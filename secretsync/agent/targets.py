"""The cluster a Sync applies to: the agent's own, another one (``kubeConfig.secretRef``), as a service account.

``TargetClusters.client_for(spec, state)`` gives the client every apply, prune and health check of
the Sync uses: one client per target cluster (the kubeconfig Secret's resourceVersion is part of
the key), shared by the Syncs that name the same Secret version and closed with its drift
watchers when the last of them lets go (``release``); ``serviceAccountName`` wraps it in
impersonation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from secretsync.agent.inputs import SecretReader
from secretsync.agent.state import StepFailed, SyncState
from secretsync.api.conditions import Reason
from secretsync.api.syncspec import SyncSpec
from secretsync.kube.client import KubeClient
from secretsync.kube.errors import KubeError

__all__ = ["TargetClusters"]

ClusterKey = tuple[Any, ...]


class TargetClusters:
    def __init__(
        self,
        client: Any,
        secrets: SecretReader,
        states: Callable[[], Iterable[SyncState]],
        drift: Callable[[], Any],
        lock: threading.Lock,
    ) -> None:
        self.client = client
        self.secrets = secrets
        self._states = states  # every SyncState (a cluster is released when none uses it)
        self._drift = drift  # the drift repairer of the moment (None when drift repair is off)
        self.remotes: dict[ClusterKey, Any] = {}
        self._lock = lock  # the reconciler's: it also guards the states

    def client_for(self, spec: SyncSpec, state: SyncState) -> Any:
        client = self.client
        if spec.kubeconfig_secret is not None:
            ref = spec.kubeconfig_secret
            secret = self.secrets.secret(spec.namespace, ref.name, "kubeconfig")
            data = secret.get("data") or {}
            key = ref.key or ("value" if "value" in data else "value.yaml")
            if key not in data:
                raise StepFailed(
                    Reason.ARTIFACT_FAILED,
                    f"the Secret {spec.namespace}/{ref.name} has no key {key!r} with a kubeconfig",
                )
            cache_key = (spec.namespace, ref, secret["metadata"].get("resourceVersion"))
            if state.remote_key != cache_key:
                old = state.remote_key
                state.remote, state.remote_key = self._remote_client(cache_key, data[key]), cache_key
                if old is not None:
                    self.release(old)
            client = state.remote
        if spec.service_account_name:
            client = client.impersonate_service_account(spec.namespace, spec.service_account_name)
        return client

    def _remote_client(self, cache_key: ClusterKey, kubeconfig: Any) -> Any:
        """One client per target cluster (kubeconfig Secret version), shared by the Syncs that name it."""
        with self._lock:
            client = self.remotes.get(cache_key)
            if client is None:
                try:
                    client = KubeClient.from_kubeconfig_data(kubeconfig)
                except KubeError as exc:
                    raise StepFailed(Reason.ARTIFACT_FAILED, exc) from None
                self.remotes[cache_key] = client
            return client

    def release(self, cache_key: ClusterKey) -> None:
        """Close a target cluster's client (and its drift watchers) once no Sync uses it."""
        with self._lock:
            if any(s.remote_key == cache_key for s in self._states()):
                return
            client = self.remotes.pop(cache_key, None)
        if client is None:
            return
        drift = self._drift()
        if drift is not None:
            drift.forget_cluster(cache_key)
        client.close()
