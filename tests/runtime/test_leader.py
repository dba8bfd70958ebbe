"""LeaderElector against an API server with two (or three) electors on one Lease: only one leads at a
time; the Lease record follows client-go (holderIdentity, leaseDurationSeconds, MicroTime acquire/renew
times, acquireTime kept on renewal, leaseTransitions counted); a leader killed without release is
replaced only after the lease duration; a released Lease is taken over at once; callbacks fire with a
term event that is set when leadership ends; a racing create/update leaves exactly one winner; settings
must give lease_duration > renew_deadline + retry_period, and renewals hanging on the server cannot keep
a leader past its renew deadline (each request is bounded by the time left)."""

from __future__ import annotations

import re
import threading
import time

import pytest

from secretsync.runtime.leader import LeaderElector, micro_time, parse_micro_time
from tests.fixtures.polling import wait_for

MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
FAST = dict(lease_duration=2, renew_deadline=1.5, retry_period=0.2)


def elector(kube, namespace, ident, **kw):
    return LeaderElector(kube, namespace, "lock", identity=ident, **{**FAST, **kw})


def lease(kube, namespace):
    return kube.get("coordination.k8s.io/v1", "Lease", "lock", namespace)["spec"]


def test_config_is_validated(kube):
    with pytest.raises(ValueError):
        LeaderElector(kube, "ns", "l", lease_duration=2, renew_deadline=3)
    with pytest.raises(ValueError):
        LeaderElector(kube, "ns", "l", lease_duration=15, renew_deadline=2, retry_period=2)
    with pytest.raises(ValueError):
        LeaderElector(kube, "ns", "l", lease_duration=1.5, renew_deadline=1, retry_period=0.1)


def test_micro_time_format():
    text = micro_time()
    assert MICRO.match(text)
    assert parse_micro_time(text).tzinfo is not None


def test_one_leader_kill_then_takeover_after_lease_duration(kube, namespace):
    events = []
    a = elector(
        kube,
        namespace,
        "a",
        on_started_leading=lambda term: events.append(("a", "start")),
        on_stopped_leading=lambda: events.append(("a", "stop")),
    )
    b = elector(kube, namespace, "b", on_started_leading=lambda term: events.append(("b", "start")))
    a.start()
    assert wait_for(a.is_leader)
    b.start()
    both = []
    t_end = time.monotonic() + 1.0  # a renews ~5 times; b must stay a follower
    while time.monotonic() < t_end:
        both.append(a.is_leader() and b.is_leader())
        assert not b.is_leader()
        time.sleep(0.02)
    assert not any(both)
    spec = lease(kube, namespace)
    assert spec["holderIdentity"] == "a" and spec["leaseDurationSeconds"] == 2
    assert MICRO.match(spec["acquireTime"]) and MICRO.match(spec["renewTime"])
    assert parse_micro_time(spec["renewTime"]) > parse_micro_time(spec["acquireTime"]), "renewals happened"
    transitions = spec.get("leaseTransitions", 0)
    assert b.leader == "a"

    killed_at = time.monotonic()
    a.stop(release=False)  # like a crash: the Lease still names a
    assert wait_for(b.is_leader, timeout=8)
    took = time.monotonic() - killed_at
    # b counts the 2s from the last change it *observed* (it polls every 0.2-0.44s), so it may act a poll
    # interval early by our clock; an immediate takeover (no waiting for expiry) would be well under 1s
    assert took >= 1.0, f"b took over after {took:.2f}s, before the 2s lease could have expired"
    assert took < 5.0
    spec = lease(kube, namespace)
    assert spec["holderIdentity"] == "b"
    assert spec["leaseTransitions"] == transitions + 1
    # on_started_leading runs in its own thread, started right after is_leader() turns true
    assert wait_for(lambda: ("b", "start") in events, timeout=2)
    assert ("a", "start") in events and ("a", "stop") in events and ("b", "start") in events
    b.stop()


def test_release_on_stop_hands_over_at_once(kube, namespace):
    a = elector(kube, namespace, "a", lease_duration=10, renew_deadline=5)
    b = elector(kube, namespace, "b", lease_duration=10, renew_deadline=5)
    a.start()
    assert wait_for(a.is_leader)
    b.start()
    time.sleep(0.3)
    assert not b.is_leader()
    released_at = time.monotonic()
    a.stop()  # release: holder cleared
    assert wait_for(b.is_leader, timeout=5)
    assert time.monotonic() - released_at < 2.0, "release must not wait for the 10s lease"
    assert lease(kube, namespace)["holderIdentity"] == "b"
    b.stop()
    spec = lease(kube, namespace)
    assert spec["holderIdentity"] in ("", None) and spec["leaseDurationSeconds"] == 1


def test_term_event_is_set_when_leadership_ends(kube, namespace):
    terms = []
    a = elector(kube, namespace, "a", on_started_leading=terms.append)
    a.start()
    assert wait_for(lambda: terms)
    assert not terms[0].is_set()
    a.stop()
    assert terms[0].is_set() and not a.is_leader()


def test_acquire_time_kept_while_renewing(kube, namespace):
    a = elector(kube, namespace, "a")
    assert a.try_acquire_or_renew()
    first = lease(kube, namespace)
    time.sleep(0.05)
    assert a.try_acquire_or_renew()
    second = lease(kube, namespace)
    assert second["acquireTime"] == first["acquireTime"]
    assert second["renewTime"] > first["renewTime"]
    assert second.get("leaseTransitions", 0) == first.get("leaseTransitions", 0)


def test_racing_candidates_have_exactly_one_winner(kube, namespace):
    electors = [elector(kube, namespace, f"c{i}") for i in range(3)]
    barrier = threading.Barrier(3)
    results = {}

    def attempt(e):
        barrier.wait()
        results[e.identity] = e.try_acquire_or_renew()

    threads = [threading.Thread(target=attempt, args=(e,)) for e in electors]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    winners = [k for k, v in results.items() if v]
    assert len(winners) == 1
    assert lease(kube, namespace)["holderIdentity"] == winners[0]


def test_leader_steps_down_at_once_when_the_lease_is_taken_over(kube, namespace):
    a = elector(kube, namespace, "a", lease_duration=10, renew_deadline=5, retry_period=0.2)
    a.start()
    assert wait_for(a.is_leader)
    current = kube.get("coordination.k8s.io/v1", "Lease", "lock", namespace)
    current["spec"]["holderIdentity"] = "usurper"  # e.g. a replica that saw the lease expire
    kube.update(current)
    taken_at = time.monotonic()
    assert wait_for(lambda: not a.is_leader(), timeout=4)
    assert time.monotonic() - taken_at < 2.0, "must not keep leading until the 5s renew deadline"
    a.stop(release=True)
    assert lease(kube, namespace)["holderIdentity"] == "usurper", "release must not clear someone else's lease"


def test_lease_duration_must_cover_renew_deadline_plus_retry_period(kube):
    with pytest.raises(ValueError, match="renew_deadline \\+ retry_period"):
        LeaderElector(kube, "ns", "l", lease_duration=15, renew_deadline=10, retry_period=6)
    LeaderElector(kube, "ns", "l", lease_duration=15, renew_deadline=10, retry_period=2)  # the defaults


def test_a_hanging_renewal_cannot_outlive_the_renew_deadline(kube, namespace, emulator):
    """Renewals hang on the server: the leader must stop within retry_period + renew_deadline of its last
    renewal (here 1 + 5 s), not up to one request timeout (2.5 s) later, past the 8 s lease."""
    a = elector(kube, namespace, "a", lease_duration=8, renew_deadline=5, retry_period=1.0)
    a.start()
    try:
        assert wait_for(a.is_leader)
        first = lease(kube, namespace)["renewTime"]
        assert wait_for(lambda: lease(kube, namespace)["renewTime"] != first, timeout=5, interval=0.01)
        renewed_at = time.monotonic()  # right after a renewal was written
        emulator.faults.fail_next(50, resource="leases", hang=10)
        assert wait_for(lambda: not a.is_leader(), timeout=10, interval=0.01)
        stopped_after = time.monotonic() - renewed_at
        assert stopped_after < 1.0 + 5 + 0.5, f"still leading {stopped_after:.2f}s after the last renewal"
        assert stopped_after > 5, "stepped down before the renew deadline"
    finally:
        emulator.faults.clear()
        a.stop(release=False)
