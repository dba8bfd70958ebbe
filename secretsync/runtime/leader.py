"""Leader election on a ``coordination.k8s.io/v1`` Lease, with client-go's semantics.

Several replicas run ``LeaderElector.run()``; at most one leads at a time:

- acquire/renew is a get followed by a create (no Lease yet) or an update carrying the read
  ``resourceVersion``, so two replicas racing for the Lease cannot both win (the loser gets
  409 Conflict);
- a Lease held by someone else counts as taken until ``leaseDurationSeconds`` have passed
  *on our own clock* since we last saw its record change (no trust in other nodes' clocks);
- ``leaseTransitions`` grows by one whenever the holder changes, ``acquireTime`` is kept
  while the same holder renews, ``acquireTime``/``renewTime`` are MicroTime
  (``2006-01-02T15:04:05.000000Z``);
- followers retry every ``retry_period`` with jitter (factor 1.2); the leader renews every
  ``retry_period`` and gives up leadership if it could not renew within ``renew_deadline``;
- ``stop()`` releases the Lease (empty holder, leaseDurationSeconds 1) so another replica
  takes over at once; ``stop(release=False)`` behaves like a killed process;
- unlike client-go, a leader that sees another holder in the Lease steps down at once
  instead of waiting for its renew deadline.

``lease_duration > renew_deadline + retry_period`` is required (defaults 15 > 10 + 2): the
last successful renewal is followed by ``retry_period`` of waiting and at most
``renew_deadline`` of renewal attempts, and every request of an attempt is bounded by the time
left until that deadline (``KubeClient.time_limit``), so a leader that cannot renew has
stopped leading before any other replica may consider the Lease expired. (Without that bound
a request started just before the deadline could outlive it by its own timeout, half the
renew deadline, and two leaders could overlap.) Requests use a timeout of at most half the
renew deadline in any case.

Callbacks: ``on_started_leading(term)`` runs in its own thread with a ``threading.Event``
that is set when this term of leadership ends; ``on_stopped_leading()`` runs when it ends;
``on_new_leader(identity)`` whenever the observed holder changes. After losing the Lease the
elector goes back to following (``run()`` returns only on ``stop()``).
"""

from __future__ import annotations

import datetime as _dt
import logging
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from secretsync.gocompat import gotime
from secretsync.kube.client import KubeClient
from secretsync.kube.errors import Conflict, KubeError, NotFound

__all__ = ["LeaderElector", "micro_time", "parse_micro_time"]

log = logging.getLogger(__name__)

JITTER_FACTOR = 1.2
LEASE_API = "coordination.k8s.io/v1"


def micro_time(when: _dt.datetime | None = None) -> str:
    """``metav1.MicroTime`` text: UTC, microseconds, ``Z``."""
    when = when or _dt.datetime.now(_dt.UTC)
    return gotime.format_micro_time(when)


def parse_micro_time(text: str) -> _dt.datetime:
    return gotime.parse_time(text)


def default_identity() -> str:
    """client-go's default shape: ``<hostname>_<uuid>``."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


class LeaderElector:
    """Campaign for the Lease ``namespace/name`` as ``identity``."""

    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        name: str,
        *,
        identity: str | None = None,
        lease_duration: int = 15,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        on_started_leading: Callable[[threading.Event], None] | None = None,
        on_stopped_leading: Callable[[], None] | None = None,
        on_new_leader: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if int(lease_duration) != lease_duration or lease_duration < 1:
            raise ValueError("lease_duration must be a whole number of seconds >= 1")
        if not lease_duration > renew_deadline:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if not renew_deadline > JITTER_FACTOR * retry_period:
            raise ValueError(f"renew_deadline must be greater than {JITTER_FACTOR} * retry_period")
        if not lease_duration > renew_deadline + retry_period:
            raise ValueError(
                "lease_duration must be greater than renew_deadline + retry_period, or a leader "
                "that cannot renew could still be leading when others see the Lease expire"
            )
        # every request must end before the renew deadline, or a hung call would outlive leadership;
        # each is sent once: the elector's own loop (every retry_period) is the retry, as in client-go
        self.client = client.with_timeout(
            min(client.timeout, renew_deadline / 2), min(client.connect_timeout, renew_deadline / 2)
        ).with_read_retry(None)
        self.namespace, self.name = namespace, name
        self.identity = identity or default_identity()
        self.lease_duration, self.renew_deadline, self.retry_period = int(lease_duration), renew_deadline, retry_period
        self.on_started_leading, self.on_stopped_leading, self.on_new_leader = (
            on_started_leading,
            on_stopped_leading,
            on_new_leader,
        )
        self._clock, self._rng = clock, rng
        self._stop = threading.Event()
        self._term: threading.Event | None = None  # set when the current term ends
        self._observed_spec: dict[str, Any] | None = None
        self._observed_time = 0.0
        self._observed_rv: str | None = None
        self._reported_leader: str | None = None
        self._leading = False
        self._thread: threading.Thread | None = None
        self._release_on_stop = True

    # -- state --------------------------------------------------------------------------
    def is_leader(self) -> bool:
        return self._leading

    @property
    def leader(self) -> str | None:
        """The holder we last observed (may be us), or None."""
        return (self._observed_spec or {}).get("holderIdentity") or None

    # -- one attempt --------------------------------------------------------------------
    def _lease(self, spec: dict[str, Any], rv: str | None = None) -> dict[str, Any]:
        meta = {"name": self.name, "namespace": self.namespace}
        if rv:
            meta["resourceVersion"] = rv
        return {"apiVersion": LEASE_API, "kind": "Lease", "metadata": meta, "spec": spec}

    def _observe(self, spec: dict[str, Any], rv: str | None) -> None:
        if spec != self._observed_spec:
            self._observed_spec = dict(spec)
            self._observed_time = self._clock()
        self._observed_rv = rv
        holder = spec.get("holderIdentity") or ""
        if holder and holder != self._reported_leader:
            self._reported_leader = holder
            if self.on_new_leader:
                try:
                    self.on_new_leader(holder)
                except Exception:  # noqa: BLE001
                    log.exception("leader election: on_new_leader failed")

    def try_acquire_or_renew(self) -> bool:
        """One client-go ``tryAcquireOrRenew``: True if we hold the Lease afterwards."""
        now = micro_time()
        desired = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.lease_duration,
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": 0,
        }
        try:
            current = self.client.get(LEASE_API, "Lease", self.name, self.namespace)
        except NotFound:
            return self._write("create", desired)
        except KubeError as exc:
            log.info("leader election %s/%s: get failed (%s)", self.namespace, self.name, type(exc).__name__)
            return False
        spec = current.get("spec") or {}
        rv = (current.get("metadata") or {}).get("resourceVersion")
        self._observe(spec, rv)
        holder = spec.get("holderIdentity") or ""
        duration = spec.get("leaseDurationSeconds") or self.lease_duration
        i_hold = holder == self.identity
        if holder and not i_hold and self._observed_time + duration > self._clock():
            return False  # someone else holds a live lease
        if i_hold:
            desired["acquireTime"] = spec.get("acquireTime") or now
            desired["leaseTransitions"] = spec.get("leaseTransitions") or 0
        else:
            desired["leaseTransitions"] = (spec.get("leaseTransitions") or 0) + 1
        return self._write("update", desired, rv)

    def _write(self, verb: str, spec: dict[str, Any], rv: str | None = None) -> bool:
        """Create or update (with ``rv``: optimistic concurrency) the Lease; True if our write won."""
        try:
            if verb == "create":
                written = self.client.create(self._lease(spec))
            else:
                written = self.client.update(self._lease(spec, rv))
        except Conflict:
            return False  # somebody else wrote first
        except KubeError as exc:
            level = logging.WARNING if not spec.get("holderIdentity") else logging.INFO
            log.log(level, "leader election %s/%s: %s failed (%s)", self.namespace, self.name, verb, type(exc).__name__)
            return False
        written = written or {}  # create/update answer unless asked not to
        self._observe(written.get("spec") or spec, (written.get("metadata") or {}).get("resourceVersion"))
        return True

    def release(self) -> bool:
        """Give the Lease up now (only if we hold it): empty holder, duration 1 s."""
        if not self._observed_spec or self._observed_spec.get("holderIdentity") != self.identity:
            return False
        now = micro_time()
        spec = {
            "holderIdentity": "",
            "leaseDurationSeconds": 1,
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": self._observed_spec.get("leaseTransitions") or 0,
        }
        return self._write("update", spec, self._observed_rv)

    # -- loops --------------------------------------------------------------------------
    def _acquire(self) -> bool:
        while not self._stop.is_set():
            if self.try_acquire_or_renew():
                return True
            self._stop.wait(self.retry_period * (1 + JITTER_FACTOR * self._rng()))
        return False

    def _renew(self) -> None:
        """Renew every retry_period; return when a renewal could not succeed within renew_deadline."""
        while not self._stop.wait(self.retry_period):
            deadline = self._clock() + self.renew_deadline
            while True:
                if self._stop.is_set():
                    return
                remaining = deadline - self._clock()
                if remaining <= 0:
                    self._renew_failed()
                    return
                with self.client.time_limit(remaining):  # no request may outlive the deadline
                    renewed = self.try_acquire_or_renew()
                if renewed:
                    break
                if self.leader and self.leader != self.identity:
                    log.warning(
                        "leader election %s/%s: lease taken by %s, stepping down",
                        self.namespace,
                        self.name,
                        self.leader,
                    )
                    return  # someone else holds it now: stop at once, not at the deadline
                if self._clock() + self.retry_period >= deadline:
                    self._renew_failed()
                    return
                self._stop.wait(self.retry_period)

    def _renew_failed(self) -> None:
        log.warning(
            "leader election %s/%s: failed to renew within %.1fs, stepping down",
            self.namespace,
            self.name,
            self.renew_deadline,
        )

    def _begin_term(self) -> None:
        self._leading = True
        self._term = threading.Event()
        log.info("leader election %s/%s: %s became leader", self.namespace, self.name, self.identity)
        if self.on_started_leading:
            threading.Thread(target=self._run_started, args=(self._term,), name="leader-term", daemon=True).start()

    def _run_started(self, term: threading.Event) -> None:
        callback = self.on_started_leading
        if callback is None:
            return
        try:
            callback(term)
        except Exception:  # noqa: BLE001
            log.exception("leader election: on_started_leading failed")

    def _end_term(self) -> None:
        if not self._leading:
            return
        self._leading = False
        if self._term is not None:
            self._term.set()
        log.info("leader election %s/%s: %s stopped leading", self.namespace, self.name, self.identity)
        if self.on_stopped_leading:
            try:
                self.on_stopped_leading()
            except Exception:  # noqa: BLE001
                log.exception("leader election: on_stopped_leading failed")

    def run(self) -> None:
        """Campaign, lead, renew; on loss go back to campaigning. Returns after ``stop()``."""
        try:
            while not self._stop.is_set():
                if not self._acquire():
                    break
                self._begin_term()
                self._renew()
                # Stop leading before anything else: a term must end before the lease can lapse.
                self._end_term()
        finally:
            self._end_term()
            if self._release_on_stop:
                self.release()

    def start(self) -> LeaderElector:
        """Run ``run()`` in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name=f"leader-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, *, release: bool = True, timeout: float = 10.0) -> None:
        """End the campaign; with ``release`` (default) hand the Lease over at once."""
        self._release_on_stop = release
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
