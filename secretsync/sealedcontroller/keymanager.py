"""The controller's key manager: loads, watches, generates and renews the sealing keys.

Keys are ``kubernetes.io/tls`` Secrets labelled ``sealedsecrets.bitnami.com/sealed-secrets-key:
active`` in the controller's namespace (``POD_NAMESPACE``, else the service-account namespace
file, else ``default``), plus a legacy Secret named exactly ``<key-prefix>`` when it exists.
New keys are created with ``generateName: <key-prefix>``, a PKCS#1 ``tls.key`` and a
self-signed ``tls.crt`` (``secretsync.sealing.keyring.generate_key``: upstream's parameters).

``KeyManager`` loads them, picks the newest (certificate NotBefore, or Secret creation time
with ``--key-order-priority SecretCreationTimestamp``), generates one on start when there is
none or the newest is older than ``--key-cutoff-time``, renews every ``--key-renew-period``
(counted from the newest key's time, so a restart does not renew early) and at once on
``renew_now()`` (SIGUSR1). Unlike upstream it watches the key Secrets, so a key added,
relabelled (e.g. ``compromised``) or deleted takes effect without a restart, and a malformed
key Secret is skipped with a log line and a ``KeySkipped`` Event naming it instead of
crashing. Old keys are never deleted. ``may_write`` (the leader check in HA) gates
automatic generation so replicas do not each add a key. The Secrets are read and written
through ``secretsync.sealing.clusterkeys.ClusterKeyStore`` (which the agent uses too).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from secretsync.api.conditions import EventReason, EventType
from secretsync.crypto import sealing
from secretsync.kube.client import KubeClient
from secretsync.kube.errors import KubeError
from secretsync.kube.watch import Informer, WatchEvent
from secretsync.sealing import keyring as kr
from secretsync.sealing.clusterkeys import ACTIVE, KEY_LABEL, ClusterKeyStore

if TYPE_CHECKING:
    from secretsync.runtime.recorder import EventRecorder

__all__ = [
    "KeyManager",
    "controller_namespace",
    "parse_cutoff_time",
    "ORDER_PRIORITIES",
    "KEY_LABEL",
    "ACTIVE",
]

log = logging.getLogger(__name__)

ORDER_PRIORITIES = ("CertNotBefore", "SecretCreationTimestamp")
_SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
_MIN_TIME = dt.datetime.min.replace(tzinfo=dt.UTC)


def controller_namespace(env: Mapping[str, str] = os.environ, sa_file: str = _SA_NAMESPACE_FILE) -> str:
    """``POD_NAMESPACE``, else the service account's namespace file, else ``default`` (upstream's order)."""
    if env.get("POD_NAMESPACE"):
        return env["POD_NAMESPACE"]
    try:
        with open(sa_file, encoding="utf-8") as handle:
            text = handle.read().strip()
        if text:
            return text
    except OSError:
        pass
    return "default"


def parse_cutoff_time(text: str) -> dt.datetime | None:
    """``--key-cutoff-time``: RFC 1123 with a numeric zone (``date -R``), e.g. ``Mon, 02 Jan 2006 15:04:05 -0700``."""
    if not text:
        return None
    try:
        return dt.datetime.strptime(text.strip(), "%a, %d %b %Y %H:%M:%S %z")
    except ValueError:
        raise ValueError(
            f"--key-cutoff-time {text!r} is not RFC 1123 with a numeric zone "
            f"(e.g. the output of date -R: Mon, 02 Jan 2006 15:04:05 -0700)"
        ) from None


def parse_key_values(text: str, flag: str) -> dict[str, str]:
    """``--privatekey-labels`` / ``--privatekey-annotations``: comma-separated ``k=v``."""
    out: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag}: {item!r} is not key=value")
        out[key] = value
    return out


class _CreationOrderedKeyring(kr.Keyring):
    """A Keyring whose newest key is the one whose Secret was created last (``SecretCreationTimestamp``)."""

    def __init__(self, keys: Sequence[kr.SealingKey]) -> None:
        super().__init__(keys)
        self.keys.sort(key=lambda k: (k.created or _MIN_TIME, k.name))
        self._unsealer = sealing.Unsealer([k.private_key for k in reversed(self.keys)])


def build_keyring(keys: Sequence[kr.SealingKey], order: str = "CertNotBefore") -> kr.Keyring | None:
    """The keyring for ``keys`` ordered by ``order``; None when there is no key."""
    if not keys:
        return None
    return _CreationOrderedKeyring(keys) if order == "SecretCreationTimestamp" else kr.Keyring(keys)


def _order_time(key: kr.SealingKey, order: str) -> dt.datetime:
    if order == "SecretCreationTimestamp":
        return key.created or _MIN_TIME
    return key.not_before or key.created or _MIN_TIME


class KeyManager:
    """Loads, watches, generates and renews the controller's keys; ``keyring()`` is the current set."""

    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        *,
        prefix: str = kr.DEFAULT_KEY_PREFIX,
        key_size: int = kr.DEFAULT_KEY_SIZE,
        key_ttl: dt.timedelta = kr.DEFAULT_KEY_TTL,
        my_cn: str = "",
        renew_period: dt.timedelta = dt.timedelta(hours=720),
        cutoff_time: dt.datetime | None = None,
        order_priority: str = "CertNotBefore",
        privatekey_labels: dict[str, str] | None = None,
        privatekey_annotations: dict[str, str] | None = None,
        recorder: EventRecorder | None = None,
        may_write: Callable[[], bool] = lambda: True,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        if order_priority not in ORDER_PRIORITIES:
            raise ValueError(f"--key-order-priority must be one of {', '.join(ORDER_PRIORITIES)}")
        self.client, self.namespace = client, namespace
        self.store = ClusterKeyStore(client, namespace, prefix)
        self.prefix, self.key_size, self.key_ttl, self.my_cn = prefix, key_size, key_ttl, my_cn
        self.renew_period, self.cutoff_time, self.order = renew_period, cutoff_time, order_priority
        self.labels, self.annotations = privatekey_labels or {}, privatekey_annotations or {}
        self.recorder, self.may_write, self._now = recorder, may_write, now
        self._lock = threading.RLock()
        self._keys: dict[str, kr.SealingKey] = {}  # Secret name -> key
        self._unseen: dict[str, kr.SealingKey] = {}  # generated here, not yet seen by the watch
        self._parsed: dict[str, tuple[str, kr.SealingKey | None]] = {}  # name -> (resourceVersion, key or None)
        self._ring: kr.Keyring | None = None
        self._changed = threading.Condition(self._lock)
        self._trigger = threading.Event()
        self._stop = threading.Event()
        self._informer: Informer | None = None
        self._legacy: dict[str, Any] | None = None  # the pre-0.9 key Secret named <prefix>, read at start
        self._renewer: threading.Thread | None = None
        self.generated = 0

    # -- reading ------------------------------------------------------------------------
    def keyring(self) -> kr.Keyring | None:
        """The current keys (newest seals, all unseal); None while there is none."""
        with self._lock:
            return self._ring

    def wait_for_key(self, timeout: float | None = None) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._ring is not None, timeout)

    def newest_time(self) -> dt.datetime | None:
        ring = self.keyring()
        return _order_time(ring.newest(), self.order) if ring is not None else None

    def _parse(self, secret: dict[str, Any]) -> kr.SealingKey | None:
        """The key of one Secret, or None (logged once per resourceVersion, with an Event) when malformed."""
        meta = secret.get("metadata") or {}
        name, rv = meta.get("name") or "", meta.get("resourceVersion") or ""
        cached = self._parsed.get(name)
        if cached is not None and cached[0] == rv and rv:
            return cached[1]
        key: kr.SealingKey | None = None
        problem = None
        try:
            key = kr._key_from_secret(secret, f"Secret {self.namespace}/{name}")  # noqa: SLF001 - shared parser
            if key.certificate is None:
                problem, key = 'data["tls.crt"] holds no readable certificate', None
        except kr.SealingKeyError as exc:
            problem = exc.message
        if problem is not None:
            log.warning("skipping malformed sealing key Secret %s/%s: %s", self.namespace, name, problem)
            if self.recorder is not None:
                self.recorder.event(
                    {"apiVersion": "v1", "kind": "Secret", "metadata": meta},
                    EventType.WARNING,
                    EventReason.KEY_SKIPPED,
                    f"sealing key Secret {self.namespace}/{name} skipped: {problem}",
                )
        self._parsed[name] = (rv, key)
        return key

    def _rebuild(self, secrets: list[dict[str, Any]]) -> None:
        keys: dict[str, kr.SealingKey] = {}
        for secret in secrets:
            key = self._parse(secret)
            if key is not None:
                keys[(secret.get("metadata") or {}).get("name") or ""] = key
        with self._changed:
            # a key we just wrote stays until the watch has shown it once (it may lag behind other events)
            for name, key in list(self._unseen.items()):
                if any((s.get("metadata") or {}).get("name") == name for s in secrets):
                    del self._unseen[name]
                else:
                    keys.setdefault(name, key)
            before = {k.fingerprint for k in self._keys.values()}
            self._keys = keys
            self._parsed = {
                n: v for n, v in self._parsed.items() if n in {(s.get("metadata") or {}).get("name") for s in secrets}
            }
            self._ring = build_keyring(list(keys.values()), self.order)
            after = {k.fingerprint for k in keys.values()}
            self._changed.notify_all()
        if before != after:
            newest = self._ring.newest() if self._ring is not None else None
            log.info(
                "sealing keys: %d active%s",
                len(keys),
                f", newest {newest.name} ({newest.fingerprint})" if newest is not None else "",
            )

    def load(self) -> kr.Keyring | None:
        """List the key Secrets now and make them the current keys."""
        self._rebuild(self.store.list())
        return self.keyring()

    # -- writing ------------------------------------------------------------------------
    def generate(self) -> kr.SealingKey:
        """Create a new newest key Secret and start using it at once (it also arrives by the watch)."""
        now = self._now().replace(microsecond=0)
        with self._lock:
            latest = max((k.not_before for k in self._keys.values() if k.not_before is not None), default=None)
        if latest is not None and now <= latest:
            now = latest + dt.timedelta(seconds=1)  # one-second NotBefore resolution: never a tie for "newest"
        key = kr.generate_key(self.key_size, self.key_ttl, self.my_cn, now=now)
        created = self.store.create_key(key, self.labels, self.annotations)
        meta = created.get("metadata") or {}
        key.name = meta.get("name") or ""
        key.source = f"Secret {self.namespace}/{key.name}"
        with self._changed:
            self._keys[key.name] = key
            self._unseen[key.name] = key
            self._parsed[key.name] = (meta.get("resourceVersion") or "", key)
            self._ring = build_keyring(list(self._keys.values()), self.order)
            self._changed.notify_all()
        self.generated += 1
        log.info("new sealing key written: %s/%s (%s)", self.namespace, key.name, key.fingerprint)
        log.info("certificate generated:\n%s", key.certificate_pem().decode())
        return key

    def ensure_key(self) -> None:
        """At start: generate a key when there is none or the newest is older than the cutoff time."""
        newest = self.newest_time()
        if newest is None or (self.cutoff_time is not None and newest < self.cutoff_time):
            self.generate()

    def renew_now(self) -> None:
        """Generate a key as soon as possible (SIGUSR1); safe to call from a signal handler."""
        self._trigger.set()

    def next_renewal(self) -> float | None:
        """Seconds until the next automatic renewal (None when renewal is off or there is no key yet:
        the first key is ``ensure_key``'s job)."""
        if self.renew_period <= dt.timedelta(0):
            return None
        newest = self.newest_time()
        if newest is None:
            return None
        return max(0.0, (newest + self.renew_period - self._now()).total_seconds())

    def _renew_loop(self) -> None:
        while not self._stop.is_set():
            delay = self.next_renewal()  # looked at again every half second: keys change under us
            forced = self._trigger.wait(timeout=min(delay, 0.5) if delay is not None else 0.5)
            if self._stop.is_set():
                return
            self._trigger.clear()
            due = self.next_renewal()
            if not forced and (due is None or due > 0):
                continue
            if not forced and not self.may_write():
                self._stop.wait(1.0)  # a follower: the leader renews; look again shortly
                continue
            try:
                self.generate()
            except (KubeError, kr.SealingKeyError) as exc:
                log.error("failed to generate a new sealing key: %s", exc.message)
                self._stop.wait(5.0)

    # -- watching -----------------------------------------------------------------------
    def _on_event(self, event: WatchEvent) -> None:
        if self._informer is None or not self._informer.synced.is_set():
            return
        with self._lock:  # any news of a key we wrote (even its deletion) ends its grace
            self._unseen.pop(str((event.object.get("metadata") or {}).get("name") or ""), None)
        secrets = self._informer.items()
        if self._legacy is not None and self.prefix not in {(s.get("metadata") or {}).get("name") for s in secrets}:
            secrets.append(self._legacy)
        self._rebuild(secrets)

    def start(self, *, watch: bool = True, renew: bool = True) -> KeyManager:
        """Load the keys, watch the key Secrets, start the renewal timer (in daemon threads)."""
        self.load()
        try:
            self._legacy = self.client.get_or_none("v1", "Secret", self.prefix, self.namespace)
        except KubeError:
            self._legacy = None
        if watch:
            self._informer = Informer(
                self.client,
                "v1",
                "Secret",
                self.namespace,
                label_selector=f"{KEY_LABEL}={ACTIVE}",
                handler=self._on_event,
                stop_event=self._stop,
            )
            self._informer.start()
        if renew:
            self._renewer = threading.Thread(target=self._renew_loop, name="key-renewal", daemon=True)
            self._renewer.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._trigger.set()
        if self._informer is not None:
            self._informer.stop()
        if self._renewer is not None:
            self._renewer.join(5)

    def __repr__(self) -> str:
        return f"KeyManager({self.namespace}, {len(self._keys)} keys)"
