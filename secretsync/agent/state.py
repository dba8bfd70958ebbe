"""What the Sync reconciler keeps and shares: its options, the per-Sync memory, owner labels, the step failure.

``ReconcilerOptions`` configures ``SyncReconciler``; ``SyncState`` is what the agent remembers of one
Sync between reconciles (memory only: the last revision, the desired objects the drift repairer
re-applies, the last good render, the open source and clients). ``StepFailed`` is raised by a
reconcile step with its own condition reason (``secretsync.api.conditions.Reason``).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from secretsync.api.syncspec import SyncSpec
from secretsync.errors import SecretsyncError
from secretsync.objects import ObjectId

__all__ = [
    "ReconcilerOptions",
    "SyncState",
    "StepFailed",
    "owner_labels",
    "NAME_LABEL",
    "NAMESPACE_LABEL",
    "FINALIZER",
]

NAME_LABEL = "secretsync.io/name"
NAMESPACE_LABEL = "secretsync.io/namespace"
FINALIZER = "finalizers.secretsync.io"


def owner_labels(namespace: str, name: str) -> dict[str, str]:
    return {NAME_LABEL: name, NAMESPACE_LABEL: namespace}


class StepFailed(Exception):
    """A reconcile step failed with ``reason``; ``stalled``: only a human can fix it; ``requeue``: retry after."""

    def __init__(
        self, reason: str, error: SecretsyncError | str, *, stalled: bool = False, requeue: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = error.message if isinstance(error, SecretsyncError) else str(error)
        self.stalled = stalled
        self.requeue = requeue


@dataclass
class ReconcilerOptions:
    field_manager: str = "secretsync"
    sealing_keys_namespace: str = "kube-system"  # the SealedSecret controller's key Secrets
    dependency_requeue: float = 5.0
    min_retry: float = 1.0
    jitter: float = 0.05
    poll_interval: float = 0.5
    git_cache_dir: Path | None = None
    allow_local_sources: bool = False  # source.path reads the agent's file system
    sops_keys: Any = None  # local mode: keys from flags (else per Sync)
    keyring: Any = None  # local mode: --key-dir (else cluster key Secrets)
    vault: Any = None  # local mode: AVP env (else spec.vault)
    kubectl: str = "kubectl"
    rng: Callable[[], float] = random.random
    resolve_share: float = 2.0  # seconds one `git ls-remote` per URL+ref serves all Syncs
    reuse_render: bool = True  # skip the render while revision, spec, variables and Vault stand


@dataclass
class SyncState:
    """What the agent remembers of one Sync between reconciles (memory only)."""

    generation: int = 0
    revision: str | None = None
    attempted: str | None = None
    desired: dict[ObjectId, dict[str, Any]] = field(default_factory=dict, repr=False)
    client: Any = None
    failures: int = 0
    ready: bool | None = None
    renderer: Any = None
    source: Any = None
    source_key: tuple[Any, ...] | None = None
    vault: Any = None
    vault_key: tuple[Any, ...] | None = None
    vault_refs: frozenset[Any] = frozenset()  # Vault references the last render read (path, version, kv)
    vault_exact: bool = False  # vault_fingerprints were taken before the render that read them
    rendered: Any = field(default=None, repr=False)  # the last good render, reused while its inputs are unchanged
    render_key: tuple[Any, ...] | None = None
    vault_fingerprints: dict[Any, Any] | None = None
    vault_checked: float = 0.0
    ignore: tuple[Any, ...] = ()
    owner_labels: dict[str, str] | None = None  # the labels the last apply set (drift repair keeps them)
    remote: Any = None
    remote_key: tuple[Any, ...] | None = None
    spec: SyncSpec | None = None
    fresh_source: bool = False  # next reconcile: no shared ls-remote result, full render
    handled_request: str | None = None  # the last secretsync.io/requestedAt seen
    lock: threading.Lock = field(default_factory=threading.Lock)
