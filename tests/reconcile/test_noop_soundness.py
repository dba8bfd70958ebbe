"""Soundness of the cheap no-op check against the API server (property test).

The managedFields comparison may say "not proven" too often (a dry-run then decides) but must
never say "unchanged" when applying would change the object. For random Deployments (labels,
replicas, containers with env and ports: maps, atomic fields and associative lists) applied once and
then mutated at random (values changed, fields and list items added, removed or reordered), whenever
``provably_unchanged`` claims no change, a server-side dry-run of the mutated object must equal the
live object. Runs on the emulator or, with SECRETSYNC_TEST_KUBECONFIG, on a real cluster.
The reverse shortcut (``data_changed``): a changed ConfigMap/Secret data value is written without a
dry-run, and an unchanged one costs no write (request counts: emulator only).
"""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretsync.kube.plan import FIELD_MANAGER, comparable, prepare, provably_unchanged

NAMES = st.sampled_from(["a", "b", "c"])
VALUES = st.sampled_from(["x", "y", "1"])


@st.composite
def deployments(draw):
    containers = []
    for name in draw(st.lists(NAMES, min_size=1, max_size=2, unique=True)):
        container = {"name": name, "image": draw(VALUES)}
        env = draw(st.lists(NAMES, max_size=3, unique=True))
        if env:
            container["env"] = [{"name": e.upper(), "value": draw(VALUES)} for e in env]
        ports = draw(st.lists(st.sampled_from([80, 443, 8080]), max_size=2, unique=True))
        if ports:
            container["ports"] = [{"containerPort": p} for p in ports]
        containers.append(container)
    labels = draw(st.dictionaries(NAMES, VALUES, max_size=2))
    spec = {
        "selector": {"matchLabels": {"app": "w"}},
        "template": {"metadata": {"labels": {"app": "w"}}, "spec": {"containers": containers}},
    }
    if draw(st.booleans()):
        spec["replicas"] = draw(st.integers(0, 3))
    meta = {"name": "w"}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}


@st.composite
def mutations(draw, obj):
    out = copy.deepcopy(obj)
    for _ in range(draw(st.integers(0, 3))):
        containers = out["spec"]["template"]["spec"]["containers"]
        c = containers[draw(st.integers(0, len(containers) - 1))]
        choice = draw(
            st.sampled_from(
                [
                    "image",
                    "env-value",
                    "env-add",
                    "env-drop",
                    "env-reorder",
                    "port-drop",
                    "label",
                    "label-drop",
                    "replicas",
                    "none",
                ]
            )
        )
        if choice == "image":
            c["image"] = draw(VALUES)
        elif choice == "env-value" and c.get("env"):
            c["env"][0]["value"] = draw(VALUES)
        elif choice == "env-add":
            names = {e["name"] for e in c.get("env", [])}
            new = draw(NAMES).upper() + "2"
            if new not in names:
                c.setdefault("env", []).append({"name": new, "value": "v"})
        elif choice == "env-drop" and c.get("env"):
            c["env"].pop()
            if not c["env"]:
                del c["env"]
        elif choice == "env-reorder" and c.get("env"):
            c["env"].reverse()
        elif choice == "port-drop" and c.get("ports"):
            c["ports"].pop()
            if not c["ports"]:
                del c["ports"]
        elif choice == "label":
            out["metadata"].setdefault("labels", {})[draw(NAMES)] = draw(VALUES)
        elif choice == "label-drop" and out["metadata"].get("labels"):
            out["metadata"]["labels"].pop(sorted(out["metadata"]["labels"])[0])
            if not out["metadata"]["labels"]:
                del out["metadata"]["labels"]
        elif choice == "replicas":
            if "replicas" in out["spec"] and draw(st.booleans()):
                del out["spec"]["replicas"]
            else:
                out["spec"]["replicas"] = draw(st.integers(0, 3))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_op_claim_is_never_wrong(kube, data):
    ns = kube.cluster.namespace
    first = data.draw(deployments())
    first["metadata"]["namespace"] = ns
    second = data.draw(mutations(first))
    client = kube.client
    client.delete("apps/v1", "Deployment", "w", ns) if client.get_or_none("apps/v1", "Deployment", "w", ns) else None
    client.apply(prepare(first), field_manager=FIELD_MANAGER, force=True)
    live = client.get("apps/v1", "Deployment", "w", ns)
    desired = prepare(second)
    if provably_unchanged(desired, live):
        dry = client.apply(desired, field_manager=FIELD_MANAGER, force=True, dry_run=True)
        assert comparable(dry) == comparable(live), (first, second)
    if second == first:
        assert provably_unchanged(desired, live)  # and it does prove the plain no-op


def test_reordered_list_is_not_a_no_op(kube):
    """Found by the property above: reordering an associative list changes the object."""
    ns = kube.cluster.namespace
    first = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "r", "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": "r"}},
            "template": {
                "metadata": {"labels": {"app": "r"}},
                "spec": {
                    "containers": [
                        {"name": "c", "image": "i", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
                    ]
                },
            },
        },
    }
    kube.client.apply(prepare(first), field_manager=FIELD_MANAGER, force=True)
    live = kube.client.get("apps/v1", "Deployment", "r", ns)
    second = copy.deepcopy(first)
    second["spec"]["template"]["spec"]["containers"][0]["env"].reverse()
    assert provably_unchanged(prepare(first), live)
    assert not provably_unchanged(prepare(second), live)


def test_changed_configmap_and_secret_data_written_without_dry_run(kube, tmp_path):
    """A data value we own that changed is a certain change: one write, no dry-run first; unchanged stays free."""
    from secretsync.kube.apply import ApplyOptions, apply_all

    kube.cluster.require_emulator("counts requests inside the emulator")
    ns = kube.cluster.namespace
    from secretsync.secretvalue import SecretBytes

    def objects(value: str) -> list[dict]:
        return [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "cfg", "namespace": ns},
                "data": {"k": value, "same": "x"},
            },
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "sec", "namespace": ns},
                "type": "Opaque",
                "data": {"k": SecretBytes(value.encode())},
            },
        ]

    opts = ApplyOptions(client=kube.client, owner_labels={"test.secretsync.io/owner": "data"}, wait_waves=False)
    apply_all(objects("1"), opts)
    kube.reset()
    changes = apply_all(objects("2"), ApplyOptions(**{**opts.__dict__, "index": None}))
    assert changes.counts() == {"configured": 2}
    assert kube.client.get("v1", "Secret", "sec", ns)["data"]["k"].reveal() == b"2"
    assert kube.requests[("patch", True)] == 0, kube.requests  # no dry-run
    assert kube.writes() == {"patch": 2}
    kube.reset()
    assert apply_all(objects("2"), ApplyOptions(**{**opts.__dict__, "index": None})).counts() == {"unchanged": 2}
    assert kube.writes() == {}
