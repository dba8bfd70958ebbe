"""High availability and faults. Two controller replicas against one API server elect one leader through a
coordination.k8s.io/v1 Lease: only the leader generates the key and writes Secrets; both serve /v1/cert.pem and
/v1/verify; a leader stopped without releasing (a killed process) is replaced within the lease duration and no
Secret is written twice; a clean stop hands over at once. Faults injected by the emulator (500, 429 with
Retry-After, 409 on Secret writes, on status writes, dropped watches) end in every Secret existing exactly once
with the right value. Fault injection needs the emulator (skipped on a real cluster)."""

from __future__ import annotations

import time

from secretsync.sealedcontroller.reconciler import ControllerOptions
from tests.sealedcontroller.conftest import get_secret, make_sealed, plain, synced_condition, wait_for
from tests.sealedcontroller.test_endpoints import direct

# Lease timings with headroom for a loaded 2-core CI machine (a slow renewal is cut at the deadline).
HA = dict(leader_elect=True, lease_duration=4, renew_deadline=3, retry_period=0.5)


def _replicas(start_controller, count=2):
    runtimes = [start_controller(identity=f"replica-{i}", **HA) for i in range(count)]
    leader = wait_for(lambda: next((r for r in runtimes if r.is_leader()), None), what="a leader")
    wait_for(lambda: all(r.keys.keyring() is not None for r in runtimes), what="every replica to see the key")
    wait_for(lambda: leader.controller is not None and leader.controller.synced(), what="the leader to sync")
    return leader, [r for r in runtimes if r is not leader]


def _writes(runtimes):
    return sum(r.controller.writes for r in runtimes if r.controller is not None)


def test_one_leader_writes_followers_serve(start_controller, sealed_kube, namespace, apiserver):
    leader, [follower] = _replicas(start_controller)
    assert not follower.is_leader() and follower.controller is None
    assert leader.keys.generated == 1 and follower.keys.generated == 0
    before = apiserver.server.requests.snapshot() if apiserver.server is not None else None
    for i in range(5):
        sealed_kube.create(make_sealed(leader, namespace, f"s{i}", {"v": str(i)}))
    for i in range(5):
        assert plain(wait_for(lambda: get_secret(sealed_kube, namespace, f"s{i}"), what=f"s{i}")) == {
            "v": str(i).encode()
        }
    if before is not None:
        # Every Secret written exactly once, by whichever replica led at the time (a loaded machine may
        # move the lease mid-test, which starts a new controller object with its own counter).
        assert (
            apiserver.server.requests.count(
                verb={"create", "update", "patch"}, resource="secrets", namespace=namespace, since=before
            )
            == 5
        )
    else:
        assert leader.controller.writes == 5
    # the follower serves the same certificate and verifies
    assert direct(follower, "GET", "/v1/cert.pem")[1] == direct(leader, "GET", "/v1/cert.pem")[1]
    import json

    body = json.dumps(make_sealed(leader, namespace, "v", {"a": "b"})).encode()
    assert direct(follower, "POST", "/v1/verify", body)[0] == 200


def test_killed_leader_is_replaced_within_the_lease_and_nothing_is_written_twice(
    start_controller, sealed_kube, namespace
):
    leader, [follower] = _replicas(start_controller)
    for i in range(3):
        sealed_kube.create(make_sealed(leader, namespace, f"before{i}", {"v": "x"}))
    before = {
        i: wait_for(lambda: get_secret(sealed_kube, namespace, f"before{i}"), what="before")["metadata"][
            "resourceVersion"
        ]
        for i in range(3)
    }
    wait_for(lambda: leader.controller.idle(), what="the leader to finish")
    killed_at = time.monotonic()
    leader.stop(release=False)  # no release: like a killed process
    wait_for(follower.is_leader, timeout=10, what="the follower to take over")
    took = time.monotonic() - killed_at
    assert took <= HA["lease_duration"] + 2 * HA["retry_period"] * 2.2 + 1.0, took
    wait_for(lambda: follower.controller is not None and follower.controller.synced(), what="the new leader to sync")
    sealed_kube.create(make_sealed(follower, namespace, "after", {"v": "y"}))
    assert plain(wait_for(lambda: get_secret(sealed_kube, namespace, "after"), what="after")) == {"v": b"y"}
    wait_for(lambda: follower.controller.idle(), what="the new leader to finish")
    time.sleep(0.5)
    assert follower.controller.writes == 1  # only the new Secret
    for i in range(3):
        assert get_secret(sealed_kube, namespace, f"before{i}")["metadata"]["resourceVersion"] == before[i]


def test_released_lease_is_taken_over_at_once(start_controller, sealed_kube, namespace):
    leader, [follower] = _replicas(start_controller)
    stopped = time.monotonic()
    leader.stop(release=True)
    wait_for(follower.is_leader, timeout=5, what="the follower to take over")
    assert time.monotonic() - stopped < HA["lease_duration"]


def test_api_errors_are_retried_without_loss_or_duplicates(emulator, controller, sealed_kube, namespace):
    faults = emulator.faults
    faults.fail_next(2, verb="create", resource="secrets", namespace=namespace, code=500)
    faults.fail_next(2, verb="create", resource="secrets", namespace=namespace, code=429, retry_after=1)
    faults.fail_next(2, verb="create", resource="secrets", namespace=namespace, code=409)
    faults.fail_next(2, verb="update", resource="sealedsecrets/status", namespace=namespace, code=409)
    faults.fail_next(1, verb="update", resource="sealedsecrets/status", namespace=namespace, code=500)
    names = [f"app{i}" for i in range(6)]
    for name in names:
        sealed_kube.create(make_sealed(controller, namespace, name, {"v": name}))
    for name in names:
        secret = wait_for(lambda: get_secret(sealed_kube, namespace, name), timeout=30, what=name)
        assert plain(secret) == {"v": name.encode()}
    wait_for(lambda: faults.pending() == 0 or controller.controller.idle(), what="the faults to be used")
    assert faults.injected >= 6
    wait_for(lambda: controller.controller.idle(), timeout=30, what="the queue to drain")
    assert controller.controller.writes == len(names)  # each Secret written once
    assert len(
        [s for s in sealed_kube.list("v1", "Secret", namespace)["items"] if s["metadata"]["name"].startswith("app")]
    ) == len(names)
    for name in names:
        wait_for(
            lambda: (synced_condition(sealed_kube, namespace, name) or {}).get("status") == "True",
            timeout=30,
            what=f"{name} status",
        )


def test_dropped_watches_are_resumed(emulator, controller, sealed_kube, namespace):
    sealed_kube.create(make_sealed(controller, namespace, "first", {"v": "1"}))
    wait_for(lambda: get_secret(sealed_kube, namespace, "first"), what="first")
    assert emulator.faults.close_watches() >= 1
    sealed_kube.create(make_sealed(controller, namespace, "second", {"v": "2"}))
    assert plain(wait_for(lambda: get_secret(sealed_kube, namespace, "second"), timeout=20, what="second")) == {
        "v": b"2"
    }


def test_unreachable_writes_give_up_after_max_retries(emulator, start_controller, sealed_kube, namespace):
    runtime = start_controller(
        controller=ControllerOptions(namespaces=[namespace], max_unseal_retries=2, backoff_base=0.02)
    )
    runtime.keys.wait_for_key(20)
    wait_for(lambda: runtime.controller is not None and runtime.controller.synced(), what="sync")
    emulator.faults.fail_next(3, verb="create", resource="secrets", namespace=namespace, code=500)
    sealed_kube.create(make_sealed(runtime, namespace, "app", {"v": "1"}))
    cond = wait_for(lambda: synced_condition(sealed_kube, namespace, "app"), what="a status")
    assert cond["status"] == "False"
    wait_for(lambda: runtime.controller.idle(), what="the queue to give up")
    assert emulator.faults.pending() == 0 and get_secret(sealed_kube, namespace, "app") is None
