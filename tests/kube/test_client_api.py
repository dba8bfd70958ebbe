"""KubeClient against an API server (emulator or real cluster): discovery and its refresh when a CRD
appears, CRUD with optimistic concurrency, label selectors and pagination, server-side apply (field
manager, conflicts, force, dry-run), patches, delete with propagation/preconditions, error classes for
404/409/422 without secret values, Secret values as SecretBytes both ways — checked against kubectl (the
real client) in both directions — watch streams that close from another thread, and timeouts."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid

import pytest

from secretsync import SecretBytes
from secretsync.kube.client import KubeClient
from secretsync.kube.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    Invalid,
    KubeConfigError,
    KubeUnavailable,
    NotFound,
    UnknownResource,
)
from tests.fixtures.apiserver import make_cluster
from tests.kube.conftest import client_for

PLAINTEXT = "s3cr3t-value-" + uuid.uuid4().hex


def cm(name, ns, data=None, labels=None):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "data": data or {"a": "1"},
    }


def test_discovery_core_and_grouped_kinds(kube):
    secret = kube.resource("v1", "Secret")
    assert (secret.group, secret.plural, secret.namespaced) == ("", "secrets", True)
    lease = kube.resource("coordination.k8s.io/v1", "Lease")
    assert (lease.group, lease.plural, lease.namespaced) == ("coordination.k8s.io", "leases", True)
    ns = kube.resource("v1", "Namespace")
    assert ns.namespaced is False
    with pytest.raises(UnknownResource) as info:
        kube.resource("example.com/v1", "NoSuchKind")
    assert "NoSuchKind" in info.value.message and info.value.hint


def test_a_new_crd_is_found_without_a_new_client(kube):
    group = f"g{uuid.uuid4().hex[:8]}.example.com"
    with pytest.raises(UnknownResource):
        kube.resource(f"{group}/v1", "Widget")  # cached as a miss? must not be
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }
    kube.create(crd)
    try:
        deadline = time.monotonic() + 10
        while True:  # a real cluster needs a moment to establish it
            try:
                info = kube.resource(f"{group}/v1", "Widget")
                break
            except UnknownResource:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert (info.plural, info.namespaced) == ("widgets", True)
    finally:
        kube.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"widgets.{group}")


def test_crud_with_optimistic_concurrency(kube, namespace):
    created = kube.create(cm("one", namespace, {"k": "v"}))
    assert created["metadata"]["uid"] and created["data"] == {"k": "v"}
    with pytest.raises(AlreadyExists) as info:
        kube.create(cm("one", namespace))
    assert isinstance(info.value, Conflict) and f"ConfigMap {namespace}/one" in info.value.message
    got = kube.get("v1", "ConfigMap", "one", namespace)
    got["data"]["k"] = "v2"
    updated = kube.update(got)
    assert updated["data"]["k"] == "v2"
    got["data"]["k"] = "stale"  # still carries the old resourceVersion
    with pytest.raises(Conflict):
        kube.update(got)
    assert kube.get("v1", "ConfigMap", "one", namespace)["data"]["k"] == "v2"
    kube.delete("v1", "ConfigMap", "one", namespace)
    with pytest.raises(NotFound) as info:
        kube.get("v1", "ConfigMap", "one", namespace)
    assert info.value.status == 404 and "one" in info.value.message
    assert kube.get_or_none("v1", "ConfigMap", "one", namespace) is None


def test_list_with_label_selector_and_pages(kube, namespace):
    for i in range(5):
        kube.create(cm(f"c{i}", namespace, labels={"team": "a" if i % 2 else "b", "n": str(i)}))
    everything = kube.list("v1", "ConfigMap", namespace, limit=2)
    names = {o["metadata"]["name"] for o in everything["items"]}
    assert {f"c{i}" for i in range(5)} <= names
    assert all(o["kind"] == "ConfigMap" and o["apiVersion"] == "v1" for o in everything["items"])
    assert everything["metadata"]["resourceVersion"]
    team_a = kube.list("v1", "ConfigMap", namespace, label_selector="team=a")
    assert sorted(o["metadata"]["name"] for o in team_a["items"]) == ["c1", "c3"]
    not_b = kube.list("v1", "ConfigMap", namespace, label_selector="team!=b,n in (1,2,3)")
    assert sorted(o["metadata"]["name"] for o in not_b["items"]) == ["c1", "c3"]


def test_server_side_apply_conflicts_force_and_dry_run(kube, namespace):
    desired = cm("applied", namespace, {"owned": "by-secretsync"})
    first = kube.apply(desired, field_manager="secretsync")
    managers = {m["manager"] for m in first["metadata"].get("managedFields", [])}
    assert "secretsync" in managers
    other = cm("applied", namespace, {"owned": "by-someone-else"})
    with pytest.raises(Conflict) as info:
        kube.apply(other, field_manager="intruder")
    assert info.value.status == 409
    assert kube.get("v1", "ConfigMap", "applied", namespace)["data"]["owned"] == "by-secretsync"
    dry = kube.apply(other, field_manager="intruder", force=True, dry_run=True)
    assert dry["data"]["owned"] == "by-someone-else"
    assert kube.get("v1", "ConfigMap", "applied", namespace)["data"]["owned"] == "by-secretsync"
    forced = kube.apply(other, field_manager="intruder", force=True)
    assert forced["data"]["owned"] == "by-someone-else"
    with pytest.raises(ValueError):
        kube.apply(desired, field_manager="")


def test_patches(kube, namespace):
    kube.create(cm("p", namespace, {"a": "1", "b": "2"}))
    merged = kube.patch("v1", "ConfigMap", "p", namespace, {"data": {"a": "x", "b": None}})
    assert merged["data"] == {"a": "x"}
    jp = kube.patch(
        "v1", "ConfigMap", "p", namespace, [{"op": "add", "path": "/data/c", "value": "3"}], patch_type="json"
    )
    assert jp["data"] == {"a": "x", "c": "3"}
    with pytest.raises(ValueError):
        kube.patch("v1", "ConfigMap", "p", namespace, {"x": 1}, patch_type="json")


def test_delete_preconditions_and_propagation(kube, namespace):
    created = kube.create(cm("d", namespace))
    with pytest.raises(Conflict):
        kube.delete("v1", "ConfigMap", "d", namespace, uid="00000000-0000-0000-0000-000000000000")
    kube.delete("v1", "ConfigMap", "d", namespace, dry_run=True)
    assert kube.get_or_none("v1", "ConfigMap", "d", namespace) is not None
    kube.delete("v1", "ConfigMap", "d", namespace, uid=created["metadata"]["uid"], propagation_policy="Background")
    assert kube.get_or_none("v1", "ConfigMap", "d", namespace) is None
    with pytest.raises(ValueError):
        kube.delete("v1", "ConfigMap", "d", namespace, propagation_policy="Sometimes")
    with pytest.raises(ValueError):
        kube.get("v1", "ConfigMap", "d")  # namespaced kind without a namespace


def secret_obj(name, ns, **data):
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "Opaque",
        "data": {k: SecretBytes(v) for k, v in data.items()},
    }


def test_secret_values_are_secretbytes_both_ways(kube, namespace):
    created = kube.create(secret_obj("s", namespace, password=PLAINTEXT, binary=b"\x00\x01\xfe"))
    assert created["data"]["password"] == SecretBytes(PLAINTEXT)
    got = kube.get("v1", "Secret", "s", namespace)
    assert got["data"]["binary"].reveal() == b"\x00\x01\xfe"
    assert PLAINTEXT not in repr(got) and PLAINTEXT not in str(got)
    listed = kube.list("v1", "Secret", namespace)
    item = [o for o in listed["items"] if o["metadata"]["name"] == "s"][0]
    assert isinstance(item["data"]["password"], SecretBytes)
    applied = kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s2", "namespace": namespace},
            "stringData": {"token": SecretBytes(PLAINTEXT)},
        },
        field_manager="secretsync",
    )
    assert applied["data"]["token"] == SecretBytes(PLAINTEXT)


@pytest.mark.peer
def test_kubectl_reads_what_we_wrote_and_we_read_what_it_wrote(kube, namespace, apiserver):
    kube.create(secret_obj("ours", namespace, password=PLAINTEXT))
    out = apiserver.kubectl("get", "secret", "ours", "-n", namespace, "-o", "json")
    assert base64.b64decode(json.loads(out.stdout)["data"]["password"]).decode() == PLAINTEXT
    apiserver.kubectl("create", "secret", "generic", "theirs", "-n", namespace, f"--from-literal=password={PLAINTEXT}")
    got = kube.get("v1", "Secret", "theirs", namespace)
    assert got["data"]["password"] == SecretBytes(PLAINTEXT)


def test_kubeconfig_construction(apiserver):
    with KubeClient.from_kubeconfig(str(apiserver.kubeconfig)) as client:
        assert client.resource("v1", "ConfigMap").plural == "configmaps"


def test_kubeconfig_env_is_read_when_the_client_is_built(apiserver, monkeypatch):
    # the kubernetes library fixes its default path when imported; a later $KUBECONFIG must count
    monkeypatch.setenv("KUBECONFIG", str(apiserver.kubeconfig))
    with KubeClient.from_kubeconfig() as client:
        assert client.resource("v1", "ConfigMap").plural == "configmaps"
    monkeypatch.setenv("KUBECONFIG", "/nonexistent/kubeconfig")
    with pytest.raises(KubeConfigError) as info:
        KubeClient.from_kubeconfig()
    assert "/nonexistent/kubeconfig" in info.value.message


def test_default_namespace_comes_from_the_context(apiserver, tmp_path):
    apiserver.require_emulator("writes a kubeconfig with a chosen namespace")
    path = apiserver.server.write_kubeconfig(tmp_path / "kc", namespace="team-a")
    with KubeClient.from_kubeconfig(str(path)) as client:
        assert client.default_namespace == "team-a"
        assert client.impersonate("alice").default_namespace == "team-a"
        assert client.with_timeout(3).default_namespace == "team-a"
    with KubeClient.from_kubeconfig_data(SecretBytes(path.read_bytes())) as client:
        assert client.default_namespace == "team-a"


def test_invalid_object_error_names_the_field_and_never_the_value(kube, namespace):
    bad = secret_obj("bad", namespace, **{"not a valid key!": PLAINTEXT})
    with pytest.raises(Invalid) as info:
        kube.create(bad)
    err = info.value
    text = " ".join([err.message, repr(err), str(err.details), err.report()])
    assert PLAINTEXT not in text
    assert base64.b64encode(PLAINTEXT.encode()).decode() not in text
    assert err.status == 422 and "bad" in err.message
    assert err.__cause__ is None and err.__context__ is None


def test_watch_sees_changes_and_closes_from_another_thread(kube, namespace):
    start_rv = kube.list("v1", "ConfigMap", namespace)["metadata"]["resourceVersion"]
    stream = kube.watch("v1", "ConfigMap", namespace, resource_version=start_rv, timeout_seconds=30)
    seen = []

    def consume():
        for etype, obj in stream:
            seen.append((etype, obj["metadata"]["name"]))

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    kube.create(cm("w", namespace))
    kube.patch("v1", "ConfigMap", "w", namespace, {"data": {"a": "2"}})
    kube.delete("v1", "ConfigMap", "w", namespace)
    deadline = time.monotonic() + 10
    while len([s for s in seen if s[0] != "BOOKMARK"]) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    closed_at = time.monotonic()
    stream.close()
    t.join(5)
    assert not t.is_alive() and time.monotonic() - closed_at < 5
    assert [s for s in seen if s[0] != "BOOKMARK"] == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


def test_metadata_only_list_and_watch_carry_no_values(kube, namespace):
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "m0", "namespace": namespace, "labels": {"x": "y"}},
            "stringData": {"k": PLAINTEXT},
        }
    )
    listed = kube.list("v1", "Secret", namespace, metadata_only=True)
    item = next(i for i in listed["items"] if i["metadata"]["name"] == "m0")
    assert item["kind"] == "PartialObjectMetadata" and item["metadata"]["labels"] == {"x": "y"}
    assert set(item) == {"apiVersion", "kind", "metadata"}
    stream = kube.watch(
        "v1",
        "Secret",
        namespace,
        resource_version=listed["metadata"]["resourceVersion"],
        timeout_seconds=30,
        metadata_only=True,
    )
    seen = []

    def consume():
        for etype, obj in stream:
            if etype != "BOOKMARK":
                seen.append((etype, obj))

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "m1", "namespace": namespace},
            "stringData": {"k": PLAINTEXT},
        }
    )
    kube.delete("v1", "Secret", "m1", namespace)
    deadline = time.monotonic() + 10
    while len(seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    stream.close()
    t.join(5)
    assert [(etype, obj["metadata"]["name"]) for etype, obj in seen] == [("ADDED", "m1"), ("DELETED", "m1")]
    assert all(
        obj["kind"] == "PartialObjectMetadata" and set(obj) == {"apiVersion", "kind", "metadata"} for _, obj in seen
    )
    assert PLAINTEXT not in repr(seen) + repr(listed)
    # whole objects still come when not asked otherwise
    assert "data" in kube.list("v1", "Secret", namespace)["items"][0]


def test_requests_go_on_after_the_pool_manager_closed_its_pools(kube, namespace):
    kube.create(cm("p", namespace))
    kube._api.rest_client.pool_manager.clear()  # what an evicting or closing manager does
    assert kube.get("v1", "ConfigMap", "p", namespace)["data"] == {"a": "1"}


def test_unreachable_server_is_a_transient_kube_error():
    with pytest.raises(KubeUnavailable) as info:
        KubeClient.from_host_token("http://127.0.0.1:1", "token", connect_timeout=1)
    assert info.value.transient and "127.0.0.1:1" in info.value.message


@pytest.fixture
def rbac_kube(tmp_path):
    """An admin client on a server that enforces RBAC: the real cluster, or an emulator started with rbac=True."""
    cluster = make_cluster(tmp_path / "rbac", rbac=True)
    client = client_for(cluster, timeout=20)
    yield client
    client.close()
    cluster.close()
    if cluster.server is not None:
        cluster.server.stop()


def test_impersonation_sends_user_and_every_group(rbac_kube):
    kube = rbac_kube
    ns = f"t-{uuid.uuid4().hex[:10]}"
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    try:
        alice = kube.impersonate("alice", groups=["team-a", "team-b"])
        with pytest.raises(Forbidden) as info:
            alice.list("v1", "Secret", ns)
        assert '"alice"' in info.value.message and info.value.status == 403
        kube.create(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "read-secrets", "namespace": ns},
                "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}],
            }
        )
        kube.create(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "team-b-reads", "namespace": ns},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-secrets"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "team-b"}],
            }
        )
        deadline = time.monotonic() + 10  # RBAC caches on a real cluster need a moment
        while True:
            try:
                assert alice.list("v1", "Secret", ns)["items"] == []  # allowed only through the SECOND group
                break
            except Forbidden:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        solo = kube.impersonate("alice", groups=["team-a"])
        with pytest.raises(Forbidden):
            solo.list("v1", "Secret", ns)
        sa = kube.impersonate_service_account(ns, "deployer")
        with pytest.raises(Forbidden) as info:
            sa.list("v1", "Secret", ns)
        assert "system:serviceaccount:" in info.value.message
    finally:
        kube.delete("v1", "Namespace", ns)


def test_kubeconfig_content_from_a_secret_stays_in_memory(apiserver, tmp_path, monkeypatch):
    apiserver.require_emulator("a token kubeconfig for the emulator")
    content = SecretBytes(apiserver.server.write_kubeconfig(tmp_path / "kc").read_bytes())
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))  # where the library would put temp files
    with KubeClient.from_kubeconfig_data(content, source="Secret flux-system/remote (key value)") as client:
        assert client.get("v1", "Namespace", apiserver.namespace)["metadata"]["name"] == apiserver.namespace
    assert list(private_tmp.iterdir()) == [], "no CA, token or discovery cache file was written"


def test_kubeconfig_content_with_a_client_key_is_refused_without_quoting_it():
    key_text = "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t" + uuid.uuid4().hex
    content = f"""
apiVersion: v1
kind: Config
current-context: c
contexts: [{{name: c, context: {{cluster: k, user: u}}}}]
clusters: [{{name: k, cluster: {{server: "https://127.0.0.1:1"}}}}]
users: [{{name: u, user: {{client-certificate-data: Zm9v, client-key-data: {key_text}}}}}]
"""
    from secretsync.kube.errors import KubeConfigError

    with pytest.raises(KubeConfigError) as info:
        KubeClient.from_kubeconfig_data(SecretBytes(content), source="Secret ns/remote")
    assert "Secret ns/remote" in info.value.message and "client-certificate-data" in info.value.message
    assert key_text not in info.value.report()
    with pytest.raises(KubeConfigError) as info:
        KubeClient.from_kubeconfig_data(SecretBytes(content), context="other", source="Secret ns/remote")
    assert "'other'" in info.value.message
    with pytest.raises(KubeConfigError):
        KubeClient.from_kubeconfig_data(SecretBytes(b"- just\n- a list\n"))


def test_status_subresource_writes(kube, namespace):
    group = f"s{uuid.uuid4().hex[:8]}.example.com"
    kube.create(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"gadgets.{group}"},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "subresources": {"status": {}},
                        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                    }
                ],
            },
        }
    )
    try:
        api = f"{group}/v1"
        deadline = time.monotonic() + 10
        while True:
            try:
                created = kube.create(
                    {
                        "apiVersion": api,
                        "kind": "Gadget",
                        "metadata": {"name": "g", "namespace": namespace},
                        "spec": {"size": 1},
                    }
                )
                break
            except UnknownResource:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert kube.resource(api, "Gadget").subresources == ("status",)
        created["status"] = {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}
        created["spec"]["size"] = 99  # ignored by the status endpoint
        after = kube.update_status(created)
        assert after["status"]["observedGeneration"] == 1 and after["spec"]["size"] == 1
        patched = kube.patch(api, "Gadget", "g", namespace, {"status": {"observedGeneration": 2}}, subresource="status")
        assert patched["status"]["observedGeneration"] == 2
        got = kube.get(api, "Gadget", "g", namespace)
        got["status"] = {"observedGeneration": 7}
        got["spec"]["size"] = 3
        main = kube.update(got)  # the main endpoint ignores status
        assert main["spec"]["size"] == 3 and main["status"]["observedGeneration"] == 2
    finally:
        kube.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"gadgets.{group}")


def test_kubeconfig_file_credentials_go_to_ram_not_the_temp_dir(apiserver, tmp_path, monkeypatch):
    import os
    import tempfile

    if not (os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK)):
        pytest.skip("no /dev/shm on this system")
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    with KubeClient.from_kubeconfig(str(apiserver.kubeconfig)) as client:
        client.resource("v1", "Secret")
    assert list(private_tmp.iterdir()) == []


def test_writes_without_an_answer(kube, namespace):
    """answer=False: the write happens, the reply is not decoded (the caller gets None)."""
    assert (
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "quiet", "namespace": namespace},
                "stringData": {"k": PLAINTEXT},
            },
            answer=False,
        )
        is None
    )
    live = kube.get("v1", "Secret", "quiet", namespace)
    assert live["data"]["k"].reveal() == PLAINTEXT.encode()
    live["metadata"]["labels"] = {"edited": "yes"}
    assert kube.update(live, answer=False) is None
    assert kube.get("v1", "Secret", "quiet", namespace)["metadata"]["labels"] == {"edited": "yes"}
    with pytest.raises(AlreadyExists):  # errors still come through
        kube.create(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "quiet", "namespace": namespace}}, answer=False
        )
