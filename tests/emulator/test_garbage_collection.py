"""Owner references and the garbage collector.

Covers: a dependent created after its owner is gone (an ownerReference to a uid
that no longer exists, or to a name that was re-created with another uid) is
deleted shortly after; a dependent with one live and one gone owner keeps
living and loses only the dangling reference; a reference to a kind the server
does not serve is left alone; Foreground deletion removes dependents before the
owner (seen through a watch). The emulator collects synchronously inside the
write; a real cluster does it within seconds, so the tests poll.
Sources: "Garbage Collection" (owners and dependents, cascading deletion,
"the owner reference is treated as absent"). Runs on a real cluster too.
"""

import time

from kubernetes import client, watch


def _cm(name, owners=()):
    meta = {"name": name}
    if owners:
        meta["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": o.metadata.name, "uid": o.metadata.uid} for o in owners
        ]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


def _eventually(check, timeout=30):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.2)


def _exists(core, ns, name):
    return bool(core.list_namespaced_config_map(ns, field_selector=f"metadata.name={name}").items)


def test_dependent_of_a_deleted_owner_is_collected(apiserver):
    core = client.CoreV1Api(apiserver.api_client())
    ns = apiserver.namespace
    owner = core.create_namespaced_config_map(ns, _cm("gone-owner"))
    core.delete_namespaced_config_map("gone-owner", ns)
    created = core.create_namespaced_config_map(ns, _cm("late-child", [owner]))
    assert created.metadata.owner_references[0].uid == owner.metadata.uid  # the create itself succeeds
    _eventually(lambda: not _exists(core, ns, "late-child"))


def test_owner_recreated_with_another_uid_does_not_count(apiserver):
    core = client.CoreV1Api(apiserver.api_client())
    ns = apiserver.namespace
    first = core.create_namespaced_config_map(ns, _cm("reborn"))
    core.delete_namespaced_config_map("reborn", ns)
    core.create_namespaced_config_map(ns, _cm("reborn"))
    core.create_namespaced_config_map(ns, _cm("stale-child", [first]))
    _eventually(lambda: not _exists(core, ns, "stale-child"))


def test_one_live_owner_keeps_the_dependent_and_drops_the_dangling_reference(apiserver):
    core = client.CoreV1Api(apiserver.api_client())
    ns = apiserver.namespace
    alive = core.create_namespaced_config_map(ns, _cm("alive"))
    dead = core.create_namespaced_config_map(ns, _cm("dead"))
    core.delete_namespaced_config_map("dead", ns)
    core.create_namespaced_config_map(ns, _cm("two-owners", [alive, dead]))

    def refs():
        return [r.uid for r in core.read_namespaced_config_map("two-owners", ns).metadata.owner_references or []]

    _eventually(lambda: refs() == [alive.metadata.uid])
    core.delete_namespaced_config_map("alive", ns)
    _eventually(lambda: not _exists(core, ns, "two-owners"))


def test_reference_to_an_unserved_kind_is_left_alone(apiserver):
    core = client.CoreV1Api(apiserver.api_client())
    ns = apiserver.namespace
    body = _cm("odd-owner")
    body["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "nothing.example.com/v1",
            "kind": "Nothing",
            "name": "x",
            "uid": "00000000-0000-0000-0000-000000000001",
        }
    ]
    core.create_namespaced_config_map(ns, body)
    time.sleep(1)
    assert _exists(core, ns, "odd-owner")


def test_foreground_deletion_removes_dependents_first(apiserver):
    core = client.CoreV1Api(apiserver.api_client())
    ns = apiserver.namespace
    owner = core.create_namespaced_config_map(ns, _cm("fg-owner"))
    core.create_namespaced_config_map(ns, _cm("fg-child", [owner]))
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    core.delete_namespaced_config_map("fg-owner", ns, propagation_policy="Foreground")
    deleted = []
    for event in watch.Watch().stream(core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=30):
        if event["type"] == "DELETED":
            deleted.append(event["object"].metadata.name)
        if "fg-owner" in deleted:
            break
    assert deleted.index("fg-child") < deleted.index("fg-owner")
