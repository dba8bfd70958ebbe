"""The Sync reconciler: one ``Sync`` object in, one pass of dependencies → source → build → apply/prune/health out.

``SyncReconciler.reconcile((namespace, name))`` returns the delay (seconds) after which the
Sync wants to run again, or None. It is the work-queue handler of the agent
(``secretsync.agent.runtime``); each step raises ``StepFailed`` (``secretsync.agent.state``)
with its own condition reason (``secretsync.api.conditions.Reason``):

- **dependencies** (``secretsync.agent.dependencies``): every ``dependsOn`` Sync exists, has
  observed its generation and is Ready → else ``DependencyNotReady`` (requeue soon, not an error);
- **source** (``secretsync.agent.fetch``): fetch Git (cached per commit; credentials from
  ``source.git.secretRef``) or a folder, verify the commit signature when asked →
  ``ArtifactFailed`` / ``VerificationFailed``;
- **build** (``secretsync.agent.rendercache``, inputs from ``secretsync.agent.inputs``): render
  with the Sync's keys (``decryption.secretRef``: Flux's sops-age layout, ``*.agekey``; sealing
  keys from the controller's key Secrets; Vault from ``spec.vault``) and postBuild variables →
  ``BuildFailed`` / ``DecryptionFailed`` / ``UnsealFailed`` / ...; nothing is applied or pruned
  after a failed build, the live objects keep their last values;
- **apply, prune, health**: ``secretsync.reconcile.reconcile_rendered`` with the inventory kept
  in ``status.inventory`` (local mode: in an ApplySet parent Secret, ``LocalSyncStore``, so it
  survives a restart; ``secretsync.agent.status``) and every request made as
  ``serviceAccountName`` (impersonation) or against the ``kubeConfig`` cluster
  (``secretsync.agent.targets``: one client per target cluster, shared by the Syncs that name
  the same kubeconfig Secret version, closed when the last of them lets go).

Failures: an invalid spec is *Stalled* (a human must change the Sync); every other failure is
transient and retried with bounded exponential backoff (``retryInterval`` the cap). Success
requeues after ``interval`` with jitter. Status is written only when it changed, so a Sync with
nothing to do costs no API write. The rendered desired objects of the last success are kept in
memory (``SyncState.desired``) so the drift repairer can re-apply one object without re-rendering.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from secretsync.agent.dependencies import check_dependencies
from secretsync.agent.fetch import SourceFetcher
from secretsync.agent.inputs import SecretReader
from secretsync.agent.rendercache import SyncBuilder
from secretsync.agent.state import (
    FINALIZER,
    NAME_LABEL,
    NAMESPACE_LABEL,
    ReconcilerOptions,
    StepFailed,
    SyncState,
    owner_labels,
)
from secretsync.agent.status import LocalSyncStore, SyncStatusStore, status_patch
from secretsync.agent.targets import TargetClusters
from secretsync.api import conditions as api
from secretsync.api.conditions import ConditionType, Reason
from secretsync.api.syncspec import API_VERSION, KIND, InvalidSyncSpec, SyncSpec
from secretsync.errors import SecretsyncError
from secretsync.kube.client import KubeClient
from secretsync.kube.errors import KubeError
from secretsync.objects import ObjectId

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

SyncObject = dict[str, Any]


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
        self.local_objects: dict[tuple[str, str], SyncObject] = {}  # local mode: implicit Syncs kept in memory
        self._lock = threading.Lock()
        self.secrets = SecretReader(client)
        self.sources = SourceFetcher(self.options, self.secrets)
        self.builder = SyncBuilder(client, self.options, self.secrets, metrics)
        self.targets = TargetClusters(
            client, self.secrets, lambda: self.states.values(), lambda: self.drift, self._lock
        )
        self.status_writes = 0

    @property
    def remotes(self) -> dict[tuple[Any, ...], Any]:
        """kubeConfig.secretRef clients, one per target cluster."""
        return self.targets.remotes

    @property
    def resolves(self) -> int:
        """git ls-remote calls made by reconciles."""
        return self.sources.resolves

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
            self.targets.release(state.remote_key)

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

    def _finalize(self, key: tuple[str, str], obj: SyncObject, state: SyncState) -> float | None:
        """A deleted Sync: prune what it owned when its ``prune`` says so (and not suspended), then let it go."""
        finalizers = list((obj.get("metadata") or {}).get("finalizers") or [])
        if FINALIZER not in finalizers:
            self.forget(key)
            return None
        try:
            spec: SyncSpec | None = SyncSpec.parse(obj)
        except InvalidSyncSpec:
            spec = None
        state.desired, state.client = {}, None  # the drift repairer must not recreate what we prune
        entries = ((obj.get("status") or {}).get("inventory") or {}).get("entries") or []
        if spec is not None and spec.prune and not spec.suspend and entries:
            try:
                self._prune_all(key, obj, spec, state)
            except (SecretsyncError, StepFailed) as exc:
                message = exc.message
                log.warning("Sync %s/%s deleted, but pruning what it owned failed: %s", key[0], key[1], message)
                self._event(obj, api.EventType.WARNING, Reason.PRUNE_FAILED, message, None)
                state.failures += 1
                return min(300.0, self.options.min_retry * 2.0 ** (state.failures - 1))
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

    def _prune_all(self, key: tuple[str, str], obj: SyncObject, spec: SyncSpec, state: SyncState) -> None:
        from secretsync.kube.prune import PruneOptions, prune

        inventory = SyncStatusStore(self, obj).load(None, {})[0]
        result = prune(
            self.targets.client_for(spec, state),
            inventory.entries,
            PruneOptions(owner_labels=owner_labels(*key), allow_empty=True),
            render_complete=True,
            new_count=0,
            previous_count=len(inventory),
        )
        log.info("Sync %s/%s deleted: %s", key[0], key[1], result.changes.summary())

    def _ensure_finalizer(self, obj: SyncObject) -> None:
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
            raise StepFailed(Reason.RECONCILIATION_FAILED, exc) from None

    # -- one reconcile: parse, the step pipeline, the outcome -----------------------------------
    def _reconcile(self, obj: SyncObject, state: SyncState) -> float | None:
        started = time.monotonic()
        original = copy.deepcopy(obj.get("status") or {})
        try:
            spec = SyncSpec.parse(obj)
        except InvalidSyncSpec as exc:
            api.mark_stalled(obj, Reason.INVALID_SPEC, exc.message)
            obj["status"]["observedGeneration"] = (obj.get("metadata") or {}).get("generation")  # kstatus: Stalled
            self._finish_status(obj, original)
            self._observe(obj, "stalled", started, ready=False)
            return None
        state.spec = spec
        if spec.suspend:
            log.info("Sync %s/%s is suspended", spec.namespace, spec.name)
            return None
        original = self._begin(obj, spec, original)
        try:
            result = self._steps(obj, spec, state)
        except StepFailed as failed:
            return self._failed(obj, original, spec, state, failed, started)
        except SecretsyncError as exc:
            return self._failed(obj, original, spec, state, StepFailed(Reason.RECONCILIATION_FAILED, exc), started)
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the Sync silent; no value in the text
            log.exception("Sync %s/%s: unexpected error", spec.namespace, spec.name)
            internal = StepFailed(
                Reason.RECONCILIATION_FAILED, f"internal error ({type(exc).__name__}); see the agent log"
            )
            return self._failed(obj, original, spec, state, internal, started)
        return self._succeeded(obj, original, spec, state, result, started)

    def _begin(self, obj: SyncObject, spec: SyncSpec, original: dict[str, Any]) -> dict[str, Any]:
        """Note a handled reconcile request and mark a new generation Reconciling; the status to compare to."""
        if obj.get("status") is None:
            obj["status"] = {}
        status = obj["status"]
        if spec.requested_at is not None:
            status["lastHandledReconcileAt"] = spec.requested_at
        if status.get("observedGeneration") != spec.generation:
            api.mark_reconciling(
                obj, Reason.PROGRESSING, f"reconciliation in progress for generation {spec.generation}"
            )
            self._finish_status(obj, original)
            original = copy.deepcopy(obj.get("status") or {})
        return original

    def _steps(self, obj: SyncObject, spec: SyncSpec, state: SyncState) -> Any:
        """The step pipeline; each step raises ``StepFailed`` with its reason."""
        status = obj["status"]
        self._ensure_finalizer(obj)
        self._webhook(spec, status)
        check_dependencies(spec, self._get_sync, self.options.dependency_requeue)
        fresh = (
            state.fresh_source
            or spec.generation != state.generation
            or (spec.requested_at is not None and spec.requested_at != state.handled_request)
        )
        state.fresh_source, state.handled_request = False, spec.requested_at
        source, revision = self.sources.fetch(spec, state, fresh=fresh)
        status["lastAttemptedRevision"] = revision.id
        state.attempted = revision.id
        self.sources.verify(spec, source, revision)
        rendered = self.builder.build(spec, state, revision, fresh=fresh)
        return self._apply(spec, state, obj, rendered)

    def _succeeded(
        self, obj: SyncObject, original: dict[str, Any], spec: SyncSpec, state: SyncState, result: Any, started: float
    ) -> float:
        status = obj["status"]
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
        self._finish_status(obj, original)
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
        if was_ready is False and self.notifier is not None and spec.notifications.on_recovery:
            self.notifier.recovered(spec, result.revision, message)
        self._observe(obj, "success", started, ready=not loop)
        return self._jittered(spec.interval)

    # -- steps ---------------------------------------------------------------------------------
    def _webhook(self, spec: SyncSpec, status: dict[str, Any]) -> None:
        if self.webhooks is None:
            return
        if spec.webhook is None:
            self.webhooks.unregister(spec.key)
            status.pop("webhookPath", None)
            return
        secret = spec.webhook.secret_ref
        token = self.secrets.data(spec.namespace, secret, "webhook token").get("token")
        if token is None:
            raise StepFailed(
                Reason.INVALID_SPEC,
                f"the Secret {spec.namespace}/{secret} has no key token for the webhook",
            )
        status["webhookPath"] = self.webhooks.register(spec.key, spec.webhook.type, token.reveal())

    def _get_sync(self, key: tuple[str, str]) -> SyncObject | None:
        if key in self.local_objects:
            return copy.deepcopy(self.local_objects[key])
        obj: SyncObject | None = self.client.get_or_none(API_VERSION, KIND, key[1], key[0])
        return obj

    def resolve_shared(
        self, spec: SyncSpec, state: SyncState, source: Any, *, fresh: bool = False
    ) -> tuple[str, str | None]:
        """The commit of the Sync's URL+ref, one ``git ls-remote`` serving every Sync that asks within
        ``resolve_share`` seconds (``secretsync.agent.fetch.SourceFetcher.resolve_shared``)."""
        return self.sources.resolve_shared(spec, state, source, fresh=fresh)

    def refresh_source(self, key: tuple[str, str]) -> None:
        """The next reconcile of ``key`` asks the remote (a webhook or a new commit seen by the poller)."""
        state = self.states.get(key)
        if state is not None:
            state.fresh_source = True

    def _apply(self, spec: SyncSpec, state: SyncState, obj: SyncObject, rendered: Any) -> Any:
        from secretsync.kube.plan import IgnoreRule
        from secretsync.kube.prune import MaxPrune
        from secretsync.reconcile import ReconcileOptions, reconcile_rendered

        client = self.targets.client_for(spec, state)
        opts = ReconcileOptions(
            prune=spec.prune,
            wait=spec.wait,
            timeout=spec.effective_timeout,
            allow_empty=spec.allow_empty,
            max_prune=MaxPrune.parse(spec.max_prune) if spec.max_prune else None,
            ignore=[IgnoreRule(r.json_pointers, r.kind, r.group, r.namespace, r.name) for r in spec.ignore_differences],
            field_manager=self.options.field_manager,
            poll_interval=self.options.poll_interval,
        )
        store = LocalSyncStore(client, spec) if spec.key in self.local_objects else SyncStatusStore(self, obj)
        result = reconcile_rendered(rendered, client, store, opts)
        if not result.ok:
            error: SecretsyncError | str = result.error if result.error is not None else result.reason
            if result.reason == Reason.ACCESS_DENIED and spec.service_account_name:
                detail = error.message if isinstance(error, SecretsyncError) else error
                raise StepFailed(
                    result.reason,
                    f"acting as service account {spec.namespace}/"
                    f"{spec.service_account_name} (spec.serviceAccountName): {detail}; "
                    "bind that account a Role allowing these objects",
                )
            raise StepFailed(result.reason, error)
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
            namespace = ref.namespace or spec.namespace
            live = client.get_or_none(ref.api_version, ref.kind, ref.name, namespace)
            if live is None:
                raise StepFailed(
                    Reason.HEALTH_CHECK_FAILED, f"health check: {ref.kind} {namespace}/{ref.name} not found"
                )
            objects.append(live)
        try:
            health.wait_for(client, objects, spec.effective_timeout, interval=self.options.poll_interval)
        except (health.HealthCheckFailed, health.HealthTimeout) as exc:
            raise StepFailed(Reason.HEALTH_CHECK_FAILED, exc) from None

    # -- outcome -------------------------------------------------------------------------------
    def _failed(
        self,
        obj: SyncObject,
        original: dict[str, Any],
        spec: SyncSpec,
        state: SyncState,
        failed: StepFailed,
        started: float,
    ) -> float | None:
        status = obj["status"]
        delay = self._mark_failed(obj, spec, state, failed)
        changed = self._finish_status(obj, original)
        waiting = failed.reason == Reason.DEPENDENCY_NOT_READY
        if not waiting:
            log.warning("Sync %s/%s: %s: %s", spec.namespace, spec.name, failed.reason, failed.message)
            if changed:
                self._event(
                    obj, api.EventType.WARNING, failed.reason, failed.message, status.get("lastAttemptedRevision")
                )
            was_ready = state.ready
            state.ready = False
            if was_ready is not False and self.notifier is not None and spec.notifications.on_failure:
                self.notifier.failed(spec, status.get("lastAttemptedRevision"), failed.reason, failed.message)
        self._observe(obj, "dependency" if waiting else "failure", started, ready=False)
        return delay

    def _mark_failed(self, obj: SyncObject, spec: SyncSpec, state: SyncState, failed: StepFailed) -> float | None:
        """Set the conditions of a failed step; the delay before the next try (None: stalled)."""
        status = obj["status"]
        if failed.stalled:
            api.mark_stalled(obj, failed.reason, failed.message)
            status["observedGeneration"] = spec.generation
            return None
        api.mark_failed(obj, failed.reason, failed.message)
        if failed.reason == Reason.DEPENDENCY_NOT_READY:
            return failed.requeue
        state.failures += 1
        api.set_condition(
            obj,
            ConditionType.RECONCILING,
            api.ConditionStatus.TRUE,
            Reason.PROGRESSING_WITH_RETRY,
            "retrying with exponential backoff",
        )
        status["observedGeneration"] = spec.generation
        return min(spec.retry, self.options.min_retry * 2.0 ** (state.failures - 1))

    def report_drift_loop(self, key: tuple[str, str], report: str) -> None:
        """Called by the drift repairer: Ready=False with DriftLoopDetected (until the desired state changes)."""
        obj = self._get_sync(key)
        if obj is None:
            return
        original = copy.deepcopy(obj.get("status") or {})
        api.mark_failed(obj, Reason.DRIFT_LOOP_DETECTED, report)
        if self._finish_status(obj, original):
            self._event(obj, api.EventType.WARNING, Reason.DRIFT_LOOP_DETECTED, report, None)
        state = self.states.get(key)
        if state is not None:
            state.ready = False
            if self.notifier is not None and state.spec is not None and state.spec.notifications.on_failure:
                self.notifier.failed(state.spec, state.revision, Reason.DRIFT_LOOP_DETECTED, report)
        if self.metrics is not None:
            self.metrics.ready.labels(*key).set(0)

    def _jittered(self, seconds: float) -> float:
        j = self.options.jitter
        return seconds * (1 - j + 2 * j * self.options.rng())

    def _finish_status(self, obj: SyncObject, original: dict[str, Any]) -> bool:
        patch = status_patch(original, obj.get("status") or {})
        if patch is None:
            return False
        self.write_status(obj, patch)
        return True

    def write_status(self, obj: SyncObject, status: dict[str, Any]) -> None:
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

    def _event(self, obj: SyncObject, type_: str, reason: str, message: str, revision: str | None) -> None:
        if self.recorder is not None:
            text = message if not revision or revision in message else f"{message} (revision {revision})"
            self.recorder.event(obj, type_, reason, text)

    def _observe(self, obj: SyncObject, result: str, started: float, *, ready: bool) -> None:
        if self.metrics is not None:
            ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
            self.metrics.reconciled(ns, name, result, time.monotonic() - started, ready)
