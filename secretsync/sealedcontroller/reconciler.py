"""The SealedSecret reconciler: a drop-in for the Bitnami controller's unseal loop.

Watches SealedSecrets (all namespaces, or the controller's namespace plus
``--additional-namespaces``; ``--label-selector`` filters SealedSecrets and Secrets) and
turns each into its Secret by the upstream rules (specs/sealed-secrets.md §3-4):

- enqueue on add and delete, and on update only when ``spec`` changed (metadata-only edits
  do not re-unseal); unless ``skip_recreate``, deleting a Secret controlled by a SealedSecret
  (or annotated ``managed: "true"``) re-enqueues it, so the Secret is recreated;
- unseal with every key (``secretsync.sealing.objects.unseal_sealed_secret``); a failure emits a
  Warning ``ErrUnsealFailed`` ("Failed to unseal: ...") and never touches the live Secret;
- create the Secret when absent; refuse a Secret that is neither controlled by this
  SealedSecret nor annotated ``managed``/``patch`` (``ErrUpdateFailed``, upstream's text);
  otherwise replace (default) or merge (``patch: "true"``) data, labels, annotations,
  ownerReferences (with ``patch`` only when also ``managed``) and type; ``immutable`` only on
  create; no write when nothing changed; an immutable Secret's data is not retried;
- Normal ``Unsealed`` on success; status condition ``Synced`` written when it flips or when
  ``observedGeneration`` lags ``metadata.generation``;
- errors are retried with per-key exponential backoff up to ``max_unseal_retries``.

Plaintext stays in ``SecretBytes`` from the unseal to the Kubernetes client edge; error texts,
events, status and logs name objects and items only. The controller runs only while it leads
(see ``secretsync.cli.controller``); ``start``/``stop`` may be called once per term.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from secretsync.api.conditions import ConditionStatus, ConditionType, EventReason, EventType, now_rfc3339
from secretsync.kube.client import KubeClient
from secretsync.kube.errors import AlreadyExists, Conflict, KubeAPIError, KubeError, NotFound
from secretsync.kube.watch import ADDED, DELETED, MODIFIED, Informer, WatchEvent, WatchStream
from secretsync.runtime.queue import WorkQueue
from secretsync.sealing import objects as sealedsecret

if TYPE_CHECKING:
    from secretsync.runtime.recorder import EventRecorder
    from secretsync.sealedcontroller.endpoints import ControllerMetrics
    from secretsync.sealing.keyring import Keyring

__all__ = [
    "SealedSecretController",
    "ControllerOptions",
    "SS_API_VERSION",
    "SS_KIND",
    "MANAGED_ANNOTATION",
    "PATCH_ANNOTATION",
    "immutable_message",
    "not_managed_message",
]

log = logging.getLogger(__name__)

SS_API_VERSION = sealedsecret.API_VERSION
SS_KIND = sealedsecret.KIND
MANAGED_ANNOTATION = "sealedsecrets.bitnami.com/managed"
PATCH_ANNOTATION = "sealedsecrets.bitnami.com/patch"
_IMMUTABLE_SUFFIX = "field is immutable when `immutable` is set"
_SERVER_OWNED_META = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "selfLink",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


def not_managed_message(name: str) -> str:
    return f'Resource "{name}" already exists and is not managed by SealedSecret'


def immutable_message(key: str) -> str:
    return (
        f"Error updating {key}: the target Secret is immutable. Once a Secret is marked as immutable, it is not "
        f"possible to revert this change nor to mutate the contents of the data field. You can only delete and "
        f"recreate the Secret."
    )


@dataclass
class ControllerOptions:
    """The reconciler's share of the upstream flags."""

    namespaces: list[str] | None = None  # None: all namespaces
    label_selector: str | None = None
    skip_recreate: bool = False
    update_status: bool = True
    old_gc_behavior: bool = False
    max_unseal_retries: int = 5
    accept_deprecated_v1: bool = True
    workers: int = 1
    backoff_base: float = 0.005  # client-go's DefaultControllerRateLimiter: 5 ms doubling ...
    backoff_cap: float = 1000.0  # ... capped at 1000 s
    field_manager: str = "sealed-secrets"
    extra: dict[str, Any] = field(default_factory=dict)


class _Failed(Exception):
    """A reconcile failed with ``message`` (the status text); ``retry`` says whether to requeue."""

    def __init__(self, message: str, retry: bool = True) -> None:
        super().__init__(message)
        self.message, self.retry = message, retry


def _meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _key_of(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = _meta(obj)
    return meta.get("namespace") or "", meta.get("name") or ""


def _controlled_by(secret: Mapping[str, Any], ss: Mapping[str, Any]) -> bool:
    uid = _meta(ss).get("uid")
    return any(
        ref.get("controller") is True and ref.get("uid") == uid
        for ref in _meta(secret).get("ownerReferences") or []
        if isinstance(ref, dict)
    )


def _annotated(secret: Mapping[str, Any], annotation: str) -> bool:
    return (_meta(secret).get("annotations") or {}).get(annotation) == "true"


def _set_or_drop(mapping: dict[str, Any], key: str, value: Any) -> None:
    """Go's nil/empty maps are equal for the update check: keep the field only when non-empty."""
    if value:
        mapping[key] = value
    else:
        mapping.pop(key, None)


def _api_text(exc: KubeError) -> str:
    """What Go's ``err.Error()`` shows for an API error: the Status message."""
    return getattr(exc, "api_message", "") or exc.message


def _without_values(obj: Any) -> Any:
    if isinstance(obj, dict):
        obj.pop("data", None)
        obj.pop("stringData", None)
    return obj


class _ValuelessStream:
    """A watch stream whose Secrets arrive without ``data``/``stringData``."""

    def __init__(self, stream: WatchStream) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        for etype, obj in self._stream:
            yield etype, _without_values(obj)

    def close(self) -> None:
        self._stream.close()


class _SecretMetadataView:
    """The client as the Secret watch sees it: list and watch results without values.

    The reconciler needs only a Secret's existence, ownerReferences and annotations from the
    watch (values are read fresh before any update), so it asks for metadata only
    (``PartialObjectMetadata``, as client-go's metadata informers do): no plaintext of the
    cluster's Secrets crosses the wire to the watch or stays in memory, and the server encodes
    and the controller decodes a fraction of the bytes. A server that answers with whole
    objects anyway has their values dropped on arrival.
    """

    def __init__(self, client: KubeClient) -> None:
        self._client = client

    def list(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        listed = self._client.list(*args, metadata_only=True, **kwargs)
        for item in listed.get("items") or []:
            _without_values(item)
        return listed

    def watch(self, *args: Any, **kwargs: Any) -> _ValuelessStream:
        return _ValuelessStream(self._client.watch(*args, metadata_only=True, **kwargs))


def _queue_key(key: Hashable) -> tuple[str, str]:
    """A work-queue key back as the (namespace, name) it was added as."""
    assert isinstance(key, tuple) and len(key) == 2
    return str(key[0]), str(key[1])


def _mark_synced(ss: dict[str, Any], error: _Failed | None) -> bool:
    """Set the ``Synced`` condition of ``ss`` (status, message, times) and ``observedGeneration``;
    whether the status must be written (the condition flipped or the generation moved on)."""
    found = ss.get("status")
    status: dict[str, Any] = found if isinstance(found, dict) else {}
    ss["status"] = status
    conditions = status.setdefault("conditions", []) or []
    status["conditions"] = conditions
    cond = next((c for c in conditions if isinstance(c, dict) and c.get("type") == ConditionType.SYNCED), None)
    if cond is None:
        cond = {"type": ConditionType.SYNCED}
        conditions.append(cond)
    wanted = ConditionStatus.TRUE if error is None else ConditionStatus.FALSE
    now = now_rfc3339()
    if error is None:
        cond.pop("message", None)
    else:
        cond["message"] = error.message
    cond["lastUpdateTime"] = now
    flipped = cond.get("status") != wanted
    if flipped:
        cond["status"] = wanted
        cond["lastTransitionTime"] = now
    generation = _meta(ss).get("generation")
    if not flipped and status.get("observedGeneration") == generation:
        return False
    if generation is not None:
        status["observedGeneration"] = generation
    return True


class SealedSecretController:
    """Reconciles SealedSecrets into Secrets with the upstream semantics."""

    def __init__(
        self,
        client: KubeClient,
        keyring: Callable[[], Keyring | None],
        options: ControllerOptions | None = None,
        *,
        recorder: EventRecorder | None = None,
        metrics: ControllerMetrics | None = None,
        may_write: Callable[[], bool] = lambda: True,
    ) -> None:
        self.client = client
        self.keyring = keyring
        self.options = options or ControllerOptions()
        self.recorder, self.metrics, self.may_write = recorder, metrics, may_write
        self._ss_informers: list[Informer] = []
        self._secret_informers: list[Informer] = []
        self._queue: WorkQueue | None = None
        self._stop = threading.Event()
        self.writes = 0  # Secret creates + updates made (tests and the bench count them)
        self._lock = threading.Lock()
        self._stopped = False

    # -- wiring -------------------------------------------------------------------------
    def _namespaces(self) -> list[str | None]:
        return [None] if self.options.namespaces is None else list(dict.fromkeys(self.options.namespaces))

    def start(self) -> SealedSecretController:
        """Start the informers and workers (daemon threads); returns once the first lists are in.

        A controller serves one leader term: once ``stop`` has been called (even before or during
        ``start``), ``start`` starts nothing more, so no thread outlives the term."""
        opts = self.options
        with self._lock:
            if self._stopped:
                return self
            self._queue = WorkQueue(name="sealedsecrets", base_delay=opts.backoff_base, max_delay=opts.backoff_cap)
            self._ss_informers, self._secret_informers = [], []
            for ns in self._namespaces():
                self._ss_informers.append(
                    Informer(
                        self.client,
                        SS_API_VERSION,
                        SS_KIND,
                        ns,
                        label_selector=opts.label_selector,
                        handler=self._on_sealed_secret,
                        stop_event=self._stop,
                    )
                )
                if not opts.skip_recreate:
                    self._secret_informers.append(
                        Informer(
                            _SecretMetadataView(self.client),  # type: ignore[arg-type]  # list and watch are all an Informer calls
                            "v1",
                            "Secret",
                            ns,
                            label_selector=opts.label_selector,
                            handler=self._on_secret,
                            stop_event=self._stop,
                        )
                    )
            informers = self._ss_informers + self._secret_informers
            for informer in informers:
                informer.start()
        for informer in informers:
            informer.wait_synced(30)
        with self._lock:
            if not self._stopped:
                self._queue.start(
                    self._handle,
                    workers=max(1, opts.workers),
                    max_retries=opts.max_unseal_retries,
                    on_drop=self._dropped,
                )
        return self

    def stop(self) -> None:
        """Stop watching and working (running reconciles finish first); also when called before or
        while ``start`` runs."""
        with self._lock:
            self._stopped = True
            informers, queue = self._ss_informers + self._secret_informers, self._queue
        self._stop.set()
        for informer in informers:
            informer.stop()
        if queue is not None:
            queue.shutdown()

    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self._ss_informers + self._secret_informers)

    def idle(self) -> bool:
        """Nothing queued, delayed or running (tests wait for this)."""
        q = self._queue
        return q is not None and q.pending() == 0 and not q.processing()

    # -- events from the watches ----------------------------------------------------------
    def _enqueue(self, key: tuple[str, str]) -> None:
        assert self._queue is not None  # made before the informers that call this start
        self._queue.add(key)

    def _on_sealed_secret(self, event: WatchEvent) -> None:
        obj = event.object
        key = _key_of(obj)
        if event.type == ADDED:
            self._enqueue(key)
        elif event.type == MODIFIED:
            old = event.old or {}
            if old.get("spec") != obj.get("spec"):
                self._enqueue(key)
            else:
                log.debug("update suppressed, no changes in spec of %s/%s", *key)
        elif event.type == DELETED:
            self._enqueue(key)
            if self.metrics is not None:
                self.metrics.forget_conditions(obj)

    def _sealed_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        for informer in self._ss_informers:
            if informer.namespace in (None, namespace):
                found = informer.get(namespace, name)
                if found is not None:
                    return found
        return None

    def _on_secret(self, event: WatchEvent) -> None:
        if event.type != DELETED:
            return
        secret = event.object
        namespace, name = _key_of(secret)
        if self._sealed_secret(namespace, name) is None:
            return
        try:  # read it live, as upstream does: garbage collection may have just removed both
            ss = self.client.get(SS_API_VERSION, SS_KIND, name, namespace)
        except NotFound:
            return
        except KubeError as exc:
            log.warning(
                "Secret %s/%s was deleted, but its SealedSecret could not be read: %s", namespace, name, exc.message
            )
            return
        if (ss.get("metadata") or {}).get("deletionTimestamp"):
            return
        if _controlled_by(secret, ss) or _annotated(secret, MANAGED_ANNOTATION):
            log.info("Secret %s/%s was deleted; recreating it from its SealedSecret", namespace, name)
            self._enqueue((namespace, name))

    def _dropped(self, key: Hashable, exc: BaseException) -> None:
        namespace, name = _queue_key(key)
        log.error("Error updating %s/%s, giving up after %d retries", namespace, name, self.options.max_unseal_retries)

    # -- one reconcile ------------------------------------------------------------------
    def _handle(self, key: Hashable) -> None:
        try:
            self.reconcile(_queue_key(key))
        except _Failed as exc:
            if exc.retry:
                raise
            log.error("%s", exc.message)

    def _event(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        if self.recorder is not None:
            self.recorder.event(obj, event_type, reason, message)

    def _count_error(self, reason: str, namespace: str) -> None:
        if self.metrics is not None:
            self.metrics.unseal_error(reason, namespace)

    def reconcile(self, key: tuple[str, str]) -> None:
        """Make the Secret of SealedSecret ``key`` (namespace, name) match it; raises ``_Failed`` to retry."""
        namespace, name = key
        if not self.may_write():  # leadership lost: the next leader reconciles everything anew
            log.info("not the leader any more: leaving %s/%s to the next one", namespace, name)
            return
        if self.metrics is not None:
            self.metrics.unseal_requests.inc()
        ss = self._sealed_secret(namespace, name)
        if ss is None:
            if self.options.old_gc_behavior:
                log.info("SealedSecret %s/%s has gone, deleting Secret", namespace, name)
                try:
                    self.client.delete("v1", "Secret", name, namespace)
                except NotFound:
                    pass
                except KubeError as exc:
                    raise _Failed(_api_text(exc)) from None
            return
        # the informer's copy stays untouched: only status is edited here (a full deep copy of the
        # SealedSecret, ciphertexts and managedFields included, cost more than its unseal's AES part)
        ss = {**ss, "status": copy.deepcopy(ss["status"])} if isinstance(ss.get("status"), dict) else dict(ss)
        error: _Failed | None = None
        try:
            self._unseal_and_write(ss, f"{namespace}/{name}")
        except _Failed as exc:
            error = exc
        self._write_status(ss, error)
        if error is not None:
            raise error

    def _unseal_and_write(self, ss: dict[str, Any], key: str) -> None:
        namespace, name = _key_of(ss)
        ring = self.keyring()
        try:
            if ring is None:
                raise sealedsecret.UnsealError(
                    namespace, name, {"no key could decrypt secret": []}, hint="the controller has no sealing key yet"
                )
            desired = sealedsecret.unseal_sealed_secret(
                ss, ring, accept_deprecated_v1=self.options.accept_deprecated_v1
            )
        except sealedsecret.UnsealError as exc:
            self._event(ss, EventType.WARNING, EventReason.ERR_UNSEAL_FAILED, f"Failed to unseal: {exc.kubeseal_text}")
            self._count_error("unseal", namespace)
            log.warning("cannot unseal SealedSecret %s: %s", key, exc.kubeseal_text)
            raise _Failed(exc.kubeseal_text) from None
        except sealedsecret.InputError as exc:
            self._event(ss, EventType.WARNING, EventReason.ERR_UNSEAL_FAILED, f"Failed to unseal: {exc.message}")
            self._count_error("unseal", namespace)
            raise _Failed(exc.message) from None
        for field_name in _SERVER_OWNED_META:
            desired["metadata"].pop(field_name, None)

        live = self._live_secret(namespace, name)
        if live is None:
            try:
                self.client.create(desired, field_manager=self.options.field_manager, answer=False)
                self._wrote()
                self._success(ss)
                return
            except AlreadyExists:
                live = self._live_secret(namespace, name, fresh=True)
            except KubeError as exc:
                self._update_failed(ss, namespace, _api_text(exc))
        if live is None:  # vanished between create and get: let the retry create it
            raise _Failed(f'secrets "{name}" not found')

        if (
            not _controlled_by(live, ss)
            and not _annotated(live, MANAGED_ANNOTATION)
            and not _annotated(live, PATCH_ANNOTATION)
        ):
            msg = not_managed_message(name)
            self._event(ss, EventType.WARNING, EventReason.ERR_UPDATE_FAILED, msg)
            self._count_error("unmanaged", namespace)
            raise _Failed(f"failed update: {msg}")

        updated = self._merged(live, desired)
        if updated != live:
            try:
                self.client.update(updated, field_manager=self.options.field_manager, answer=False)
                self._wrote()
            except KubeAPIError as exc:
                text = _api_text(exc)
                if _IMMUTABLE_SUFFIX in text:
                    self._event(ss, EventType.WARNING, EventReason.ERR_UPDATE_FAILED, immutable_message(key))
                    self._count_error("update", namespace)
                    raise _Failed(text, retry=False) from None
                self._update_failed(ss, namespace, text)
            except KubeError as exc:
                self._update_failed(ss, namespace, _api_text(exc))
        self._success(ss)

    def _wrote(self) -> None:
        with self._lock:
            self.writes += 1

    def _update_failed(self, ss: dict[str, Any], namespace: str, text: str) -> NoReturn:
        self._event(ss, EventType.WARNING, EventReason.ERR_UPDATE_FAILED, text)
        self._count_error("update", namespace)
        raise _Failed(text)

    def _success(self, ss: dict[str, Any]) -> None:
        self._event(ss, EventType.NORMAL, EventReason.UNSEALED, "SealedSecret unsealed successfully")

    def _live_secret(self, namespace: str, name: str, fresh: bool = False) -> dict[str, Any] | None:
        """The Secret as the API holds it. With a synced Secret watch, an absent entry is trusted
        (the create answers AlreadyExists if the watch lags); present ones are read fresh."""
        if not fresh:
            for informer in self._secret_informers:
                if (
                    informer.namespace in (None, namespace)
                    and informer.synced.is_set()
                    and informer.get(namespace, name) is None
                ):
                    return None
        try:
            return self.client.get("v1", "Secret", name, namespace)
        except NotFound:
            return None
        except KubeError as exc:
            raise _Failed(_api_text(exc)) from None

    @staticmethod
    def _merged(live: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
        """The live Secret with the upstream update rules applied (a new dict; ``live`` untouched)."""
        out = copy.deepcopy(live)
        meta, new_meta = out.setdefault("metadata", {}), desired.get("metadata") or {}
        if _annotated(live, PATCH_ANNOTATION):
            data = dict(out.get("data") or {})
            data.update(desired.get("data") or {})
            _set_or_drop(out, "data", data)
            for part in ("labels", "annotations"):
                merged = dict(meta.get(part) or {})
                merged.update(new_meta.get(part) or {})
                _set_or_drop(meta, part, merged)
            if _annotated(live, MANAGED_ANNOTATION):
                _set_or_drop(meta, "ownerReferences", new_meta.get("ownerReferences"))
        else:
            _set_or_drop(out, "data", dict(desired.get("data") or {}))
            for part in ("annotations", "labels", "ownerReferences"):
                _set_or_drop(meta, part, new_meta.get(part))
        out["type"] = desired.get("type") or "Opaque"
        return out

    # -- status -------------------------------------------------------------------------
    def _write_status(self, ss: dict[str, Any], error: _Failed | None) -> None:
        """Write the ``Synced`` condition when it flips or ``observedGeneration`` lags; a conflict
        redoes the decision once on a fresh copy."""
        if not self.may_write():
            return
        if not self.options.update_status:
            self._observe(ss)
            return
        for attempt in (1, 2):
            if not _mark_synced(ss, error):
                self._observe(ss)
                return
            outcome = self._put_status(ss)
            if outcome == "written":
                self._observe(ss)
                return
            if outcome == "failed" or attempt == 2 or not self._refresh(ss):
                break
        if outcome != "failed":
            log.error("Error updating SealedSecret %s/%s status: it kept changing", *_key_of(ss))
            self._count_error("status", _meta(ss).get("namespace") or "")

    def _put_status(self, ss: dict[str, Any]) -> str:
        """``written``, ``conflict`` (someone changed the object) or ``failed`` (logged and counted)."""
        try:
            # managedFields left out: the server keeps them as they are (and has less to decode and compare)
            meta = {k: v for k, v in _meta(ss).items() if k != "managedFields"}
            self.client.update_status({**ss, "metadata": meta}, field_manager=self.options.field_manager, answer=False)
        except Conflict:
            return "conflict"
        except KubeError as exc:
            log.error("Error updating SealedSecret %s/%s status: %s", *_key_of(ss), _api_text(exc))
            self._count_error("status", _meta(ss).get("namespace") or "")
            return "failed"
        return "written"

    def _refresh(self, ss: dict[str, Any]) -> bool:
        """Replace ``ss`` by a fresh copy from the API (False when it cannot be read)."""
        try:
            fresh = self.client.get(SS_API_VERSION, SS_KIND, _meta(ss)["name"], _meta(ss)["namespace"])
        except KubeError:
            return False
        ss.clear()
        ss.update(fresh)
        return True

    def _observe(self, ss: dict[str, Any]) -> None:
        if self.metrics is not None:
            self.metrics.observe_conditions(ss)
