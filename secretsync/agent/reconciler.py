"""The Sync reconciler: one ``Sync`` object in, one pass of dependencies → source → build → apply/prune/health out.

``SyncReconciler.reconcile((namespace, name))`` returns the delay (seconds) after which the
Sync wants to run again, or None. It is the work-queue handler of the agent
(``secretsync.agent.runtime``); each step is a private method that raises ``_StepFailed``
with its own condition reason (``secretsync.api.conditions.Reason``):

- **dependencies**: every ``dependsOn`` Sync exists, has observed its generation and is
  Ready → else ``DependencyNotReady`` (requeue soon, not an error);
- **source**: fetch Git (cached per commit; credentials from ``source.git.secretRef``) or a
  folder, verify the commit signature when asked → ``ArtifactFailed`` / ``VerificationFailed``;
- **build**: render with the Sync's keys (``decryption.secretRef``: Flux's sops-age layout,
  ``*.agekey``; sealing keys from the controller's key Secrets; Vault from ``spec.vault``) and
  postBuild variables → ``BuildFailed`` / ``DecryptionFailed`` / ``UnsealFailed`` / ...;
  nothing is applied or pruned after a failed build, the live objects keep their last values;
- **apply, prune, health**: ``secretsync.reconcile.reconcile_rendered`` with the inventory kept
  in ``status.inventory`` (local mode: in an ApplySet parent Secret, ``LocalSyncStore``, so it
  survives a restart) and every request made as ``serviceAccountName`` (impersonation) or
  against the ``kubeConfig`` cluster (one client per target cluster, shared by the Syncs that
  name the same kubeconfig Secret version, closed when the last of them lets go).

Failures: an invalid spec is *Stalled* (a human must change the Sync); every other failure is
transient and retried with bounded exponential backoff (``retryInterval`` the cap). Success
requeues after ``interval`` with jitter. Status is written only when it changed, so a Sync with
nothing to do costs no API write. The rendered desired objects of the last success are kept in
memory (``SyncState.desired``) so the drift repairer can re-apply one object without re-rendering.
"""

from __future__ import annotations

import copy
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from secretsync.api import conditions as api
from secretsync.api.conditions import ConditionType, Reason
from secretsync.api.syncspec import API_VERSION, KIND, InvalidSyncSpec, SyncSpec
from secretsync.errors import SecretsyncError
from secretsync.kube.client import KubeClient, KubeError
from secretsync.kube.inventory import Inventory
from secretsync.manifests.loader import ObjectId
from secretsync.secretvalue import SecretBytes

__all__ = [
    "SyncReconciler",
    "ReconcilerOptions",
    "SyncState",
    "owner_labels",
    "NAME_LABEL",
    "NAMESPACE_LABEL",
    "SyncStatusStore",
    "LocalSyncStore",
]

log = logging.getLogger(__name__)

NAME_LABEL = "secretsync.io/name"
NAMESPACE_LABEL = "secretsync.io/namespace"
REVISION_ANNOTATION = "secretsync.io/revision"
FINALIZER = "finalizers.secretsync.io"


def owner_labels(namespace: str, name: str) -> dict[str, str]:
    return {NAME_LABEL: name, NAMESPACE_LABEL: namespace}


class _StepFailed(Exception):
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
    desired: dict[ObjectId, dict] = field(default_factory=dict, repr=False)
    client: Any = None
    failures: int = 0
    ready: bool | None = None
    renderer: Any = None
    source: Any = None
    source_key: tuple | None = None
    vault: Any = None
    vault_key: tuple | None = None
    vault_refs: frozenset = frozenset()  # Vault references the last render read (path, version, kv)
    vault_exact: bool = False  # vault_fingerprints were taken before the render that read them
    rendered: Any = field(default=None, repr=False)  # the last good render, reused while its inputs are unchanged
    render_key: tuple | None = None
    vault_fingerprints: dict | None = None
    vault_checked: float = 0.0
    ignore: tuple = ()
    owner_labels: dict | None = None  # the labels the last apply set (drift repair keeps them)
    remote: Any = None
    remote_key: tuple | None = None
    spec: SyncSpec | None = None
    fresh_source: bool = False  # next reconcile: no shared ls-remote result, full render
    handled_request: str | None = None  # the last secretsync.io/requestedAt seen
    lock: threading.Lock = field(default_factory=threading.Lock)


class SyncStatusStore:
    """``secretsync.reconcile.InventoryStore`` kept in the Sync's ``status.inventory`` (Flux's form)."""

    def __init__(self, reconciler: SyncReconciler, obj: dict) -> None:
        self._reconciler = reconciler
        self._obj = obj
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        self.owner_labels = owner_labels(ns, name)

    def load(self, index: Any, versions: Mapping) -> tuple[Inventory, dict]:
        entries = ((self._obj.get("status") or {}).get("inventory") or {}).get("entries") or []
        good = []
        for entry in entries:
            try:
                Inventory.from_status([entry])
                good.append(entry)
            except (ValueError, KeyError, TypeError):
                # written by an older agent (an object the server refused entered the inventory): it never existed
                log.warning(
                    "Sync %s/%s: dropping unreadable inventory entry %r",
                    self._obj["metadata"]["namespace"],
                    self._obj["metadata"]["name"],
                    str(entry.get("id"))[:300],
                )
        return Inventory.from_status(good), {}

    def save(self, inventory: Inventory, *, dry_run: bool = False) -> None:
        if dry_run:
            return
        status = self._obj.setdefault("status", {})
        entries = inventory.to_status()
        if ((status.get("inventory") or {}).get("entries") or []) == entries:
            return
        status["inventory"] = {"entries": entries}
        self._reconciler.write_status(self._obj, {"inventory": status["inventory"]})

    def widen(self, previous: Inventory, new: Inventory) -> None:
        """Nothing before applying: entries are recorded once the server accepted them. After a crash
        mid-apply the objects already written carry the Sync's owner labels and the same render
        records them on the next reconcile."""


class LocalSyncStore:
    """Local mode's ``InventoryStore``: an ApplySet parent Secret in the Sync's namespace, named as ``secretsync
    apply`` names it for the same folder and path, so the inventory outlives the process and a restart prunes
    what left the folder (with every prune guard). Members carry the Sync's owner labels and the part-of label."""

    def __init__(self, client: Any, spec: SyncSpec) -> None:
        from secretsync.kube.inventory import ApplySet, local_applyset_name

        self.applyset = ApplySet(client, local_applyset_name(spec.local_path or ".", spec.path), spec.namespace)
        self.owner_labels = {**owner_labels(spec.namespace, spec.name), **self.applyset.member_labels}

    def load(self, index: Any, versions: Mapping) -> tuple[Inventory, dict]:
        return self.applyset.members(index, versions)

    def save(self, inventory: Inventory, *, dry_run: bool = False) -> None:
        self.applyset.save(inventory, dry_run=dry_run)

    def widen(self, previous: Inventory, new: Inventory) -> None:
        self.applyset.widen(new, previous)


class SyncReconciler:
    """Reconciles Syncs with ``client`` (the agent's own identity); see the module docstring."""

    def __init__(
        self,
        client: KubeClient,
        options: ReconcilerOptions | None = None,
        *,
        metrics: Any = None,
        recorder: Any = None,
        notifier: Any = None,
        on_applied: Callable[[SyncSpec, SyncState], None] | None = None,
    ) -> None:
        self.client = client
        self.options = options or ReconcilerOptions()
        self.metrics = metrics
        self.recorder = recorder
        self.notifier = notifier
        self.on_applied = on_applied
        self.states: dict[tuple[str, str], SyncState] = {}
        self.drift: Any = None  # secretsync.agent.drift.DriftRepairer, set by the agent
        self.webhooks: Any = None  # secretsync.agent.webhooks.WebhookReceiver, set by the agent
        self.may_write: Callable[[], bool] = lambda: True  # False once a leader's term ended
        self.local_objects: dict[tuple[str, str], dict] = {}  # local mode: implicit Syncs kept in memory
        self.remotes: dict[tuple, Any] = {}  # kubeConfig.secretRef clients, one per target cluster
        self._resolved: dict[tuple, tuple[float, tuple[str, str | None]]] = {}  # shared ls-remote results
        self.resolves = 0  # git ls-remote calls made by reconciles
        self._lock = threading.Lock()
        self.status_writes = 0

    # -- state ---------------------------------------------------------------------------------
    def state(self, key: tuple[str, str]) -> SyncState:
        with self._lock:
            return self.states.setdefault(key, SyncState())

    def forget(self, key: tuple[str, str]) -> None:
        with self._lock:
            state = self.states.pop(key, None)
        if state and state.source is not None and hasattr(state.source, "close"):
            state.source.close()
        if state and state.remote_key is not None:
            self._release_remote(state.remote_key)

    def close(self) -> None:
        for key in list(self.states):
            self.forget(key)

    # -- the handler ---------------------------------------------------------------------------
    def reconcile(self, key: tuple[str, str]) -> float | None:
        obj = self._get_sync(key)
        if obj is None:
            self.forget(key)
            return None
        if not self.may_write():
            return None
        state = self.state(key)
        with state.lock:
            if (obj.get("metadata") or {}).get("deletionTimestamp"):
                return self._finalize(key, obj, state)
            return self._reconcile(obj, state)

    def _finalize(self, key: tuple[str, str], obj: dict, state: SyncState) -> float | None:
        """A deleted Sync: prune what it owned when its ``prune`` says so (and not suspended), then let it go."""
        finalizers = list((obj.get("metadata") or {}).get("finalizers") or [])
        if FINALIZER not in finalizers:
            self.forget(key)
            return None
        try:
            spec = SyncSpec.parse(obj)
        except InvalidSyncSpec:
            spec = None
        state.desired, state.client = {}, None  # the drift repairer must not recreate what we prune
        entries = ((obj.get("status") or {}).get("inventory") or {}).get("entries") or []
        if spec is not None and spec.prune and not spec.suspend and entries:
            from secretsync.kube.prune import PruneOptions, prune

            try:
                inventory = SyncStatusStore(self, obj).load(None, {})[0]
                result = prune(
                    self._target_client(spec),
                    inventory.entries,
                    PruneOptions(owner_labels=owner_labels(*key), allow_empty=True),
                    render_complete=True,
                    new_count=0,
                    previous_count=len(inventory),
                )
                log.info("Sync %s/%s deleted: %s", key[0], key[1], result.changes.summary())
            except (SecretsyncError, _StepFailed) as exc:
                message = exc.message if hasattr(exc, "message") else str(exc)
                log.warning("Sync %s/%s deleted, but pruning what it owned failed: %s", key[0], key[1], message)
                self._event(obj, api.EventType.WARNING, Reason.PRUNE_FAILED, message, None)
                state.failures += 1
                return min(300.0, self.options.min_retry * 2 ** (state.failures - 1))
        self.client.patch(
            API_VERSION,
            KIND,
            key[1],
            key[0],
            {
                "metadata": {
                    "finalizers": [f for f in finalizers if f != FINALIZER] or None,
                    "resourceVersion": obj["metadata"].get("resourceVersion"),
                }
            },
        )
        self.forget(key)
        return None

    def _ensure_finalizer(self, obj: dict) -> None:
        meta = obj["metadata"]
        key = (meta["namespace"], meta["name"])
        if key in self.local_objects or FINALIZER in (meta.get("finalizers") or []):
            return
        try:
            ops = (
                [{"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER}]
                if meta.get("finalizers")
                else [{"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]}]
            )
            updated = self.client.patch(API_VERSION, KIND, meta["name"], meta["namespace"], ops, patch_type="json")
            meta["finalizers"] = updated["metadata"].get("finalizers")
            meta["resourceVersion"] = updated["metadata"].get("resourceVersion")
        except KubeError as exc:
            raise _StepFailed(Reason.RECONCILIATION_FAILED, exc) from None

    def _reconcile(self, obj: dict, state: SyncState) -> float | None:
        started = time.monotonic()
        original = copy.deepcopy(obj.get("status") or {})
        try:
            spec = SyncSpec.parse(obj)
        except InvalidSyncSpec as exc:
            api.mark_stalled(obj, Reason.INVALID_SPEC, exc.message)
            obj["status"]["observedGeneration"] = (obj.get("metadata") or {}).get("generation")  # kstatus: Stalled
            self._finish_status(obj, original, None)
            self._observe(obj, "stalled", started, ready=False)
            return None
        state.spec = spec
        if spec.suspend:
            log.info("Sync %s/%s is suspended", spec.namespace, spec.name)
            return None
        if obj.get("status") is None:
            obj["status"] = {}
        status = obj["status"]
        if spec.requested_at is not None:
            status["lastHandledReconcileAt"] = spec.requested_at
        if status.get("observedGeneration") != spec.generation:
            api.mark_reconciling(
                obj, Reason.PROGRESSING, f"reconciliation in progress for generation {spec.generation}"
            )
            self._finish_status(obj, original, None)
            original = copy.deepcopy(obj.get("status") or {})
        try:
            self._ensure_finalizer(obj)
            self._webhook(spec, status)
            self._dependencies(spec)
            fresh = (
                state.fresh_source
                or spec.generation != state.generation
                or (spec.requested_at is not None and spec.requested_at != state.handled_request)
            )
            state.fresh_source, state.handled_request = False, spec.requested_at
            source, revision = self._source(spec, state, fresh=fresh)
            status["lastAttemptedRevision"] = revision.id
            state.attempted = revision.id
            self._verify(spec, source, revision)
            rendered = self._build(spec, state, revision, fresh=fresh)
            result = self._apply(spec, state, obj, rendered)
        except _StepFailed as failed:
            return self._failed(obj, original, spec, state, failed, started)
        except SecretsyncError as exc:
            return self._failed(obj, original, spec, state, _StepFailed(Reason.RECONCILIATION_FAILED, exc), started)
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the Sync silent; no value in the text
            log.exception("Sync %s/%s: unexpected error", spec.namespace, spec.name)
            failed = _StepFailed(
                Reason.RECONCILIATION_FAILED, f"internal error ({type(exc).__name__}); see the agent log"
            )
            return self._failed(obj, original, spec, state, failed, started)
        # success
        state.failures = 0
        state.generation = spec.generation
        state.revision = result.revision
        status["lastAppliedRevision"] = result.revision
        status["observedGeneration"] = spec.generation
        message = f"Applied revision: {result.revision}"
        if self.on_applied is not None:
            self.on_applied(spec, state)
        loop = self.drift.loop_report(spec.key) if self.drift is not None else None
        if loop:
            api.mark_failed(obj, Reason.DRIFT_LOOP_DETECTED, loop)
            api.remove_condition(obj, ConditionType.RECONCILING)
        else:
            api.mark_ready(obj, Reason.RECONCILIATION_SUCCEEDED, message)
        self._finish_status(obj, original, spec)
        if result.changes.changed:
            self._event(
                obj,
                api.EventType.NORMAL,
                Reason.RECONCILIATION_SUCCEEDED,
                f"{result.changes.summary()} (revision {result.revision})",
                result.revision,
            )
        was_ready = state.ready
        state.ready = True
        if was_ready is False and self.notifier is not None and spec.notify_on_recovery:
            self.notifier.recovered(spec, result.revision, message)
        self._observe(obj, "success", started, ready=not loop)
        return self._jittered(spec.interval)

    # -- steps ---------------------------------------------------------------------------------
    def _webhook(self, spec: SyncSpec, status: dict) -> None:
        if self.webhooks is None:
            return
        if spec.webhook_type is None:
            self.webhooks.unregister(spec.key)
            status.pop("webhookPath", None)
            return
        token = self._secret_data(spec.namespace, spec.webhook_secret, "webhook token").get("token")
        if token is None:
            raise _StepFailed(
                Reason.INVALID_SPEC,
                f"the Secret {spec.namespace}/{spec.webhook_secret} has no key token for the webhook",
            )
        status["webhookPath"] = self.webhooks.register(spec.key, spec.webhook_type, token.reveal())

    def _get_sync(self, key: tuple[str, str]) -> dict | None:
        if key in self.local_objects:
            return copy.deepcopy(self.local_objects[key])
        return self.client.get_or_none(API_VERSION, KIND, key[1], key[0])

    def _dependencies(self, spec: SyncSpec) -> None:
        for dep in spec.depends_on:
            other = self._get_sync((dep.namespace, dep.name))
            why = None
            if other is None:
                why = "not found"
            else:
                meta, st = other.get("metadata") or {}, other.get("status") or {}
                if st.get("observedGeneration") != meta.get("generation"):
                    why = "not reconciled yet"
                elif not api.is_condition_true(other, ConditionType.READY):
                    why = "not ready"
            if why:
                raise _StepFailed(
                    Reason.DEPENDENCY_NOT_READY,
                    f"dependency {dep.namespace}/{dep.name} is {why}",
                    requeue=self.options.dependency_requeue,
                )

    def _source(self, spec: SyncSpec, state: SyncState, fresh: bool = False):
        from secretsync.sources import SourceError

        try:
            source = self._open_source(spec, state)
            if spec.git is None:
                revision = source.fetch()
            else:
                revision = source.fetch(self.resolve_shared(spec, state, source, fresh=fresh))
        except SourceError as exc:
            raise _StepFailed(Reason.ARTIFACT_FAILED, exc) from None
        return source, revision

    def resolve_shared(
        self, spec: SyncSpec, state: SyncState, source: Any, *, fresh: bool = False
    ) -> tuple[str, str | None]:
        """The commit of the Sync's URL+ref, one ``git ls-remote`` serving every Sync that asks within
        ``resolve_share`` seconds (credentials are part of the key). ``fresh`` always asks the remote."""
        key = (spec.git.url, spec.git.ref, state.source_key)
        now = time.monotonic()
        with self._lock:
            hit = self._resolved.get(key)
        if hit is not None and not fresh and now - hit[0] < self.options.resolve_share:
            return hit[1]
        resolved = source.resolve()
        with self._lock:
            self.resolves += 1
            self._resolved[key] = (time.monotonic(), resolved)
            if len(self._resolved) > 1024:
                self._resolved = {k: v for k, v in self._resolved.items() if now - v[0] < self.options.resolve_share}
        return resolved

    def refresh_source(self, key: tuple[str, str]) -> None:
        """The next reconcile of ``key`` asks the remote (a webhook or a new commit seen by the poller)."""
        state = self.states.get(key)
        if state is not None:
            state.fresh_source = True

    def _verify(self, spec: SyncSpec, source, revision) -> None:
        if spec.git is None or not spec.git.verify_secret_ref:
            return
        from secretsync.sources import SourceError
        from secretsync.sources.verify import VerificationError, verify_commit

        keys = self._secret_data(spec.namespace, spec.git.verify_secret_ref, "verification keys")
        try:
            verify_commit(source, revision.commit, keys)
        except (VerificationError, SourceError) as exc:
            raise _StepFailed(Reason.VERIFICATION_FAILED, exc) from None

    def _open_source(self, spec: SyncSpec, state: SyncState):
        if spec.git is None:
            if not self.options.allow_local_sources:
                raise _StepFailed(
                    Reason.INVALID_SPEC,
                    f"Sync {spec.namespace}/{spec.name}: spec.source.path is only "
                    "allowed in local mode (secretsync agent --source)",
                    stalled=True,
                )
            key = ("path", spec.local_path)
            if state.source_key != key:
                from secretsync.sources.local import LocalSource

                state.source, state.source_key = LocalSource(spec.local_path), key
            return state.source
        creds = {}
        url = spec.git.url
        secret_version = None
        if spec.git.secret_ref:
            secret = self._secret(spec.namespace, spec.git.secret_ref, "Git credentials")
            secret_version = secret["metadata"].get("resourceVersion")
            creds = secret.get("data") or {}
        key = ("git", url, spec.git.ref, secret_version)
        if state.source_key != key:
            from secretsync.agent.gitcreds import open_git

            if state.source is not None and hasattr(state.source, "close"):
                state.source.close()
            state.source = open_git(url, spec.git.ref, creds, cache_dir=self._cache_dir(spec))
            state.source_key = key
        return state.source

    def _cache_dir(self, spec: SyncSpec) -> Path | None:
        """One commit cache per repository URL, shared by the Syncs that use it (checkouts are by sha)."""
        base = self.options.git_cache_dir
        if not base or spec.git is None:
            return None
        import hashlib

        return Path(base) / hashlib.sha256(spec.git.url.encode()).hexdigest()[:16]

    def _build(self, spec: SyncSpec, state: SyncState, revision, *, fresh: bool = False):
        """Render the revision, or reuse the last good render when it is a pure function of unchanged inputs:
        the same revision, spec generation and postBuild variables, and Vault fingerprints taken before that
        render still the same (the apply that follows still compares against the live state)."""
        from secretsync.reconcile import render_reason
        from secretsync.render import pipeline

        variables = self._variables(spec)
        options = pipeline.RenderOptions(
            path=spec.path, target_namespace=spec.target_namespace, variables=variables, kubectl=self.options.kubectl
        )
        from secretsync.agent.vaultrefs import recording

        refs: set = set()  # the Vault references this render reads (sops-encrypted files included)
        deps = pipeline.Dependencies(
            sops_keys=self._sops_keys_factory(spec),
            keyring=self._keyring_factory(spec),
            vault=recording(self._vault_factory(spec, state), refs),
        )
        key = (revision.id, spec.generation, options)
        baseline = self._vault_fingerprints(spec, state, deps, state.vault_refs)
        if (
            self.options.reuse_render
            and not fresh
            and state.rendered is not None
            and state.render_key == key
            and (
                not state.vault_refs
                or (state.vault_exact and baseline is not None and baseline == state.vault_fingerprints)
            )
        ):
            state.vault_checked = time.monotonic()
            return state.rendered
        state.rendered = state.render_key = None
        if state.renderer is None or state.renderer.options != options:
            state.renderer = pipeline.Renderer(deps, options, cache_size=2)
        else:
            state.renderer.dependencies = deps
        try:
            collected = state.renderer.documents(revision)
        except SecretsyncError as exc:
            raise _StepFailed(Reason.BUILD_FAILED, exc) from None
        rendered = state.renderer.transform(collected, revision)
        if not rendered.ok:
            reason = render_reason(rendered)
            if reason == Reason.DECRYPTION_FAILED and self.metrics is not None:
                self.metrics.decrypt_failures.labels(spec.namespace, spec.name).inc()
            raise _StepFailed(reason, rendered.failure())
        state.vault_exact = baseline is not None and frozenset(refs) == state.vault_refs
        if frozenset(refs) != state.vault_refs:
            # new references (first render, or the files changed): fingerprinted just after the render that read
            # them; not exact, so the next reconcile renders again and takes its baseline first
            state.vault_refs = frozenset(refs)
            baseline = self._vault_fingerprints(spec, state, deps, state.vault_refs)
        if baseline is not None:  # taken before the render: a change during the render is seen next time
            state.vault_fingerprints, state.vault_checked = baseline, time.monotonic()
        elif not state.vault_refs:
            state.vault_fingerprints = None
        state.rendered, state.render_key = rendered, key
        return rendered

    def _vault_fingerprints(self, spec: SyncSpec, state: SyncState, deps, refs: frozenset) -> dict | None:
        """Vault versions of the referenced paths (metadata only; no value is read), or None."""
        if not refs:
            return None
        from secretsync.agent.vaultrefs import fingerprints

        try:
            backend = deps.get("vault", f"Sync {spec.namespace}/{spec.name}")
            current = fingerprints(refs, backend)
        except Exception as exc:  # noqa: BLE001 - the render reports Vault problems itself
            log.debug("Vault fingerprints of Sync %s/%s: %s", spec.namespace, spec.name, type(exc).__name__)
            return None
        if self.metrics is not None:
            self.metrics.vault_reads.labels(spec.namespace, spec.name).inc(max(1, len(current)))
        return current

    def _apply(self, spec: SyncSpec, state: SyncState, obj: dict, rendered):
        from secretsync.kube.apply import IgnoreRule
        from secretsync.kube.prune import MaxPrune
        from secretsync.reconcile import ReconcileOptions, reconcile_rendered

        client = self._target_client(spec)
        opts = ReconcileOptions(
            prune=spec.prune,
            wait=spec.wait,
            timeout=spec.effective_timeout,
            allow_empty=spec.allow_empty,
            max_prune=MaxPrune.parse(spec.max_prune) if spec.max_prune else None,
            ignore=[
                IgnoreRule(tuple(r["jsonPointers"]), r.get("kind"), r.get("group"), r.get("namespace"), r.get("name"))
                for r in spec.ignore_differences
            ],
            field_manager=self.options.field_manager,
            poll_interval=self.options.poll_interval,
        )
        store = LocalSyncStore(client, spec) if spec.key in self.local_objects else SyncStatusStore(self, obj)
        result = reconcile_rendered(rendered, client, store, opts)
        if not result.ok:
            if result.reason == Reason.ACCESS_DENIED and spec.service_account_name:
                raise _StepFailed(
                    result.reason,
                    f"acting as service account {spec.namespace}/"
                    f"{spec.service_account_name} (spec.serviceAccountName): {result.error.message}; "
                    "bind that account a Role allowing these objects",
                )
            raise _StepFailed(result.reason, result.error)
        state.client = client
        state.owner_labels = dict(store.owner_labels)
        state.ignore = tuple(opts.ignore)
        state.desired = {ObjectId.of(o): o for o in rendered.objects()}
        if spec.health_checks:
            self._health_checks(spec, client)
        return result

    def _health_checks(self, spec: SyncSpec, client: Any) -> None:
        from secretsync.kube import health

        objects = []
        for ref in spec.health_checks:
            api_version = ref.get("apiVersion") or "v1"
            live = client.get_or_none(api_version, ref["kind"], ref["name"], ref.get("namespace") or spec.namespace)
            if live is None:
                raise _StepFailed(
                    Reason.HEALTH_CHECK_FAILED,
                    f"health check: {ref['kind']} {ref.get('namespace') or spec.namespace}/{ref['name']} not found",
                )
            objects.append(live)
        try:
            health.wait_for(client, objects, spec.effective_timeout, interval=self.options.poll_interval)
        except (health.HealthCheckFailed, health.HealthTimeout) as exc:
            raise _StepFailed(Reason.HEALTH_CHECK_FAILED, exc) from None

    # -- dependencies of the build -------------------------------------------------------------
    def _secret(self, namespace: str, name: str, what: str) -> dict:
        try:
            secret = self.client.get_or_none("v1", "Secret", name, namespace)
        except KubeError as exc:
            raise _StepFailed(Reason.RECONCILIATION_FAILED, exc) from None
        if secret is None:
            raise _StepFailed(Reason.ARTIFACT_FAILED, f"the Secret {namespace}/{name} with the {what} was not found")
        return secret

    def _secret_data(self, namespace: str, name: str, what: str) -> dict[str, SecretBytes]:
        data = self._secret(namespace, name, what).get("data") or {}
        return {k: v if isinstance(v, SecretBytes) else SecretBytes(str(v).encode()) for k, v in data.items()}

    def _sops_keys_factory(self, spec: SyncSpec):
        if spec.decryption_secret is None:
            return self.options.sops_keys

        def load():
            from secretsync.sops.keys import load_keys

            data = self._secret_data(spec.namespace, spec.decryption_secret, "decryption keys")
            texts = [v.reveal().decode("utf-8", "replace") for k, v in sorted(data.items()) if k.endswith(".agekey")]
            if not texts:
                raise SecretsyncError(
                    f"the Secret {spec.namespace}/{spec.decryption_secret} holds no *.agekey entry",
                    hint="store each age identity under a key ending in .agekey (Flux's layout)",
                )
            return load_keys(None, {}, age_key_text="\n".join(texts), use_defaults=False)

        return _factory(load)

    def _keyring_factory(self, spec: SyncSpec):
        if self.options.keyring is not None and spec.sealing_keys_namespace is None:
            return self.options.keyring
        namespace = spec.sealing_keys_namespace or self.options.sealing_keys_namespace

        def load():
            from secretsync.sealedcontroller.keys import ClusterKeyStore
            from secretsync.sealing.keyring import Keyring

            return Keyring.from_store(ClusterKeyStore(self.client, namespace), f"key Secrets in {namespace}")

        return _factory(load)

    def _vault_factory(self, spec: SyncSpec, state: SyncState):
        if spec.vault is None:
            return self.options.vault
        v = spec.vault
        secret_version = None
        data: dict[str, SecretBytes] = {}
        if v.secret_ref:
            secret = self._secret(spec.namespace, v.secret_ref, "Vault credentials")
            secret_version = secret["metadata"].get("resourceVersion")
            data = secret.get("data") or {}
        key = (v, secret_version)
        if state.vault_key == key and state.vault is not None:
            return state.vault

        def text(name: str) -> str:
            value = data.get(name)
            return value.reveal().decode() if isinstance(value, SecretBytes) else ""

        env = {
            "AVP_TYPE": "vault",
            "VAULT_ADDR": v.address,
            "AVP_KV_VERSION": v.kv_version,
            "AVP_AUTH_TYPE": {"kubernetes": "k8s"}.get(v.auth_method, v.auth_method),
        }
        if v.auth_method == "token":
            env["VAULT_TOKEN"] = text("token")
        elif v.auth_method == "approle":
            env["AVP_ROLE_ID"], env["AVP_SECRET_ID"] = text("role_id"), text("secret_id")
        else:
            env["AVP_K8S_ROLE"] = v.role or ""
        if v.mount_path:
            env["AVP_MOUNT_PATH"] = v.mount_path

        def make():
            from secretsync.vault.client import VaultBackend

            backend = VaultBackend.from_env(env)
            state.vault, state.vault_key = backend, key
            return backend

        return _factory(make)

    def _variables(self, spec: SyncSpec) -> dict | None:
        if spec.substitute is None and not spec.substitute_from:
            return None
        variables: dict[str, Any] = {}
        for ref in spec.substitute_from:
            obj = self.client.get_or_none("v1", ref["kind"], ref["name"], spec.namespace)
            if obj is None:
                if ref.get("optional"):
                    continue
                raise _StepFailed(
                    Reason.BUILD_FAILED,
                    f"postBuild.substituteFrom: {ref['kind']} {spec.namespace}/{ref['name']} not found",
                )
            variables.update(obj.get("data") or {})
        variables.update(spec.substitute or {})
        return variables

    def _target_client(self, spec: SyncSpec) -> Any:
        client = self.client
        if spec.kubeconfig_secret is not None:
            secret = self._secret(spec.namespace, spec.kubeconfig_secret.name, "kubeconfig")
            data = secret.get("data") or {}
            key = spec.kubeconfig_secret.key or ("value" if "value" in data else "value.yaml")
            if key not in data:
                raise _StepFailed(
                    Reason.ARTIFACT_FAILED,
                    f"the Secret {spec.namespace}/{spec.kubeconfig_secret.name} has no key {key!r} with a kubeconfig",
                )
            state = self.state(spec.key)
            cache_key = (spec.namespace, spec.kubeconfig_secret, secret["metadata"].get("resourceVersion"))
            if state.remote_key != cache_key:
                old = state.remote_key
                state.remote, state.remote_key = self._remote_client(cache_key, data[key]), cache_key
                if old is not None:
                    self._release_remote(old)
            client = state.remote
        if spec.service_account_name:
            client = client.impersonate_service_account(spec.namespace, spec.service_account_name)
        return client

    def _remote_client(self, cache_key: tuple, kubeconfig: Any) -> Any:
        """One client per target cluster (kubeconfig Secret version), shared by the Syncs that name it."""
        with self._lock:
            client = self.remotes.get(cache_key)
            if client is None:
                try:
                    client = KubeClient.from_kubeconfig_data(kubeconfig)
                except KubeError as exc:
                    raise _StepFailed(Reason.ARTIFACT_FAILED, exc) from None
                self.remotes[cache_key] = client
            return client

    def _release_remote(self, cache_key: tuple) -> None:
        """Close a target cluster's client (and its drift watchers) once no Sync uses it."""
        with self._lock:
            if any(s.remote_key == cache_key for s in self.states.values()):
                return
            client = self.remotes.pop(cache_key, None)
        if client is None:
            return
        if self.drift is not None:
            self.drift.forget_cluster(cache_key)
        client.close()

    # -- outcome -------------------------------------------------------------------------------
    def _failed(
        self, obj: dict, original: dict, spec: SyncSpec, state: SyncState, failed: _StepFailed, started: float
    ) -> float | None:
        status = obj["status"]
        if failed.stalled:
            api.mark_stalled(obj, failed.reason, failed.message)
            status["observedGeneration"] = spec.generation
            delay = None
        elif failed.reason == Reason.DEPENDENCY_NOT_READY:
            api.mark_failed(obj, failed.reason, failed.message)
            delay = failed.requeue
        else:
            state.failures += 1
            api.mark_failed(obj, failed.reason, failed.message)
            api.set_condition(
                obj,
                ConditionType.RECONCILING,
                api.ConditionStatus.TRUE,
                Reason.PROGRESSING_WITH_RETRY,
                "retrying with exponential backoff",
            )
            status["observedGeneration"] = spec.generation
            delay = min(spec.retry, self.options.min_retry * 2 ** (state.failures - 1))
        changed = self._finish_status(obj, original, spec)
        if failed.reason != Reason.DEPENDENCY_NOT_READY:
            log.warning("Sync %s/%s: %s: %s", spec.namespace, spec.name, failed.reason, failed.message)
            if changed:
                self._event(
                    obj, api.EventType.WARNING, failed.reason, failed.message, status.get("lastAttemptedRevision")
                )
            was_ready = state.ready
            state.ready = False
            if was_ready is not False and self.notifier is not None and spec.notify_on_failure:
                self.notifier.failed(spec, status.get("lastAttemptedRevision"), failed.reason, failed.message)
        self._observe(
            obj, "failure" if failed.reason != Reason.DEPENDENCY_NOT_READY else "dependency", started, ready=False
        )
        return delay

    def report_drift_loop(self, key: tuple[str, str], report: str) -> None:
        """Called by the drift repairer: Ready=False with DriftLoopDetected (until the desired state changes)."""
        obj = self._get_sync(key)
        if obj is None:
            return
        original = copy.deepcopy(obj.get("status") or {})
        api.mark_failed(obj, Reason.DRIFT_LOOP_DETECTED, report)
        if self._finish_status(obj, original, None):
            self._event(obj, api.EventType.WARNING, Reason.DRIFT_LOOP_DETECTED, report, None)
        state = self.states.get(key)
        if state is not None:
            state.ready = False
            if self.notifier is not None and state.spec is not None and state.spec.notify_on_failure:
                self.notifier.failed(state.spec, state.revision, Reason.DRIFT_LOOP_DETECTED, report)
        if self.metrics is not None:
            self.metrics.ready.labels(*key).set(0)

    def _jittered(self, seconds: float) -> float:
        j = self.options.jitter
        return seconds * (1 - j + 2 * j * self.options.rng())

    def _finish_status(self, obj: dict, original: dict, spec: SyncSpec | None) -> bool:
        status = obj.get("status") or {}
        if status == original:
            return False
        # a merge patch keeps keys it does not name: a key that left status (e.g. webhookPath) is sent as null
        self.write_status(obj, {**{k: None for k in original if k not in status}, **status})
        return True

    def write_status(self, obj: dict, status: dict) -> None:
        meta = obj["metadata"]
        if not self.may_write():
            return
        key = (meta["namespace"], meta["name"])
        if key in self.local_objects:
            kept = self.local_objects[key].setdefault("status", {})
            kept.update(copy.deepcopy(status))
            for name in [k for k, v in status.items() if v is None]:
                kept.pop(name, None)
            return
        try:
            self.client.patch(
                API_VERSION,
                KIND,
                meta["name"],
                meta["namespace"],
                {"status": status},
                subresource="status",
                field_manager=self.options.field_manager,
            )
            self.status_writes += 1
        except KubeError as exc:
            log.warning("Sync %s/%s: cannot write status: %s", meta["namespace"], meta["name"], exc.message)

    def _event(self, obj: dict, type_: str, reason: str, message: str, revision: str | None) -> None:
        if self.recorder is not None:
            text = message if not revision or revision in message else f"{message} (revision {revision})"
            self.recorder.event(obj, type_, reason, text)

    def _observe(self, obj: dict, result: str, started: float, *, ready: bool) -> None:
        if self.metrics is not None:
            ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
            self.metrics.reconciled(ns, name, result, time.monotonic() - started, ready)


def _factory(func: Callable[[], Any]) -> Callable[[], Any]:
    from secretsync.render.pipeline import factory

    return factory(func)
