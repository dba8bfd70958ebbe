"""HA and scale: leader failover without double writes, and sharding by a stable hash.

Failover: two agents (own identities) campaign for one Lease; only the leader writes; the leader
is killed without releasing the Lease; the standby takes over after the lease expires and
reconciles the next change; no write request came from the standby before that, nor from the old
leader after it. Sharding: two replicas with --shard-count 2 split six Syncs by ``shard_of`` with
no overlap and nothing left out. Writes are counted per user inside the emulator.
"""

from __future__ import annotations

import collections

import pytest

from secretsync.agent.runtime import shard_of
from secretsync.kube.client import KubeClient
from tests.agent.conftest import configmap, write_tree
from tests.fixtures.polling import wait_for

pytestmark = pytest.mark.timeout(120)
WRITES = ("create", "update", "patch", "delete")


def counted(cluster):
    counter: collections.Counter = collections.Counter()
    faults = cluster.server.faults
    original = faults.intercept

    def count(handler, req):
        dry = req.query.get("dryRun") == "All"
        if req.is_resource and req.verb in WRITES and req.user is not None and not dry:
            counter[(req.user.name, req.resource)] += 1
        return original(handler, req)

    faults.intercept = count
    return counter


def identity_client(cluster, name: str) -> KubeClient:
    token = cluster.server.add_user(name, ["system:masters"])
    return KubeClient.from_host_token(cluster.url, token, ca_data=cluster.server.ca_pem, timeout=10)


def test_leader_failover_without_double_writes(agent_kube, syncs, make_agent, tmp_path):
    cluster = agent_kube.cluster
    cluster.require_emulator("counts requests per user inside the emulator")
    ns, client = agent_kube.namespace, agent_kube.client
    writes = counted(cluster)
    ha = dict(leader_elect=True, lease_namespace=ns, lease_duration=2, renew_deadline=1.5, retry_period=0.3)
    a = make_agent(client=identity_client(cluster, "agent-a"), identity="a", **ha)
    wait_for(a.is_active, 10, 0.05, what="agent a to lead")
    b = make_agent(client=identity_client(cluster, "agent-b"), identity="b", **ha)
    root = write_tree(tmp_path / "src", {"cm.yaml": configmap("app", ns, {"v": "1"})})
    syncs.create("ha", {"source": {"path": str(root)}, "interval": "1h", "prune": True})
    syncs.wait_ready("ha")
    assert writes[("agent-a", "configmaps")] == 1 and writes[("agent-a", "syncs")] >= 1
    assert not b.is_active()
    assert not any(user == "agent-b" and res != "leases" for user, res in writes)

    a.stop(release=False)  # killed: the Lease is not released
    a_writes = {k: v for k, v in writes.items() if k[0] == "agent-a" and k[1] != "leases"}
    write_tree(root, {"cm.yaml": configmap("app", ns, {"v": "2"})})
    wait_for(b.is_active, 15, 0.05, what="the standby to take over")
    syncs.patch("ha", {"metadata": {"annotations": {"secretsync.io/requestedAt": "failover"}}})
    syncs.wait(
        ("ha"),
        lambda o: client.get("v1", "ConfigMap", "app", ns)["data"] == {"v": "2"},
        15,
        what="the new leader applied the change",
    )
    assert writes[("agent-b", "configmaps")] == 1
    assert {k: v for k, v in writes.items() if k[0] == "agent-a" and k[1] != "leases"} == a_writes
    lease = client.get("coordination.k8s.io/v1", "Lease", "secretsync-agent", ns)
    assert lease["spec"]["holderIdentity"] == "b" and lease["spec"]["leaseTransitions"] >= 1


def test_shards_split_syncs_without_overlap(agent_kube, syncs, make_agent, tmp_path):
    ns = agent_kube.namespace
    # The namespace is random, so pick names until both shards hold at least two (the hash is stable).
    names, expected = [], {0: set(), 1: set()}
    for i in range(200):
        if len(names) >= 6 and min(len(expected[0]), len(expected[1])) >= 2:
            break
        names.append(f"s{i}")
        expected[shard_of(ns, names[-1], 2)].add(names[-1])
    assert len(expected[0]) >= 2 and len(expected[1]) >= 2, "a stable hash spreads 200 names over both shards"
    assert shard_of(ns, "s0", 2) == shard_of(ns, "s0", 2) and shard_of(ns, "s0", 1) == 0
    replicas = [make_agent(shard_index=i, shard_count=2) for i in (0, 1)]
    for name in names:
        root = write_tree(tmp_path / name, {"cm.yaml": configmap(name, ns, {"v": "1"})})
        syncs.create(name, {"source": {"path": str(root)}, "interval": "1h", "prune": True})
    for name in names:
        syncs.wait_ready(name)
    for index, runtime in enumerate(replicas):
        assert {k[1] for k in runtime.reconciler.states} == expected[index]
