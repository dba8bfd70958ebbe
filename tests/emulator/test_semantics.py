"""Remaining documented semantics: owner garbage collection, warnings, metadata-only answers and more.

Covers: dependents of a deleted owner are deleted (Background) or keep living
without the ownerReference (Orphan); ``fieldValidation=Warn`` answers with a
``Warning`` header and drops the field; ``as=PartialObjectMetadata`` answers;
creating in a terminating namespace is 403 (emulator: a finalizer keeps the
namespace terminating); a list at a resourceVersion the server has not reached
is 504 (real servers wait ~3 s first); Lease and events.k8s.io Event CRUD through
the DynamicClient; strategic merge patch of a custom resource is 415.
Sources: "Garbage Collection" (owners and dependents, cascading deletion), API
concepts ("Field validation", "Resource versions"), "Namespaces".
"""

import time
from pathlib import Path

import pytest

from tests.fixtures.polling import wait_for

CRD_FILE = Path(__file__).parent / "data" / "widgets-crd.yaml"


def _cms(cluster):
    return f"/api/v1/namespaces/{cluster.namespace}/configmaps"


def _owned(cluster, name, owner):
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "name": owner["metadata"]["name"],
                    "uid": owner["metadata"]["uid"],
                }
            ],
        },
    }
    code, obj, _ = cluster.raw("POST", _cms(cluster), body)
    assert code == 201, obj
    return obj


def _wait_gone(cluster, path, timeout=30):
    wait_for(lambda: cluster.raw("GET", path)[0] == 404, timeout, 0.2, what=f"{path} to be gone")


def _owner_with_child_deleted(cluster, policy):
    _, owner, _ = cluster.raw(
        "POST", _cms(cluster), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}}
    )
    _owned(cluster, "child", owner)
    cluster.raw(
        "DELETE", f"{_cms(cluster)}/owner", {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy}
    )
    _wait_gone(cluster, f"{_cms(cluster)}/owner")


def test_background_deletion_removes_dependents(apiserver):
    _owner_with_child_deleted(apiserver, "Background")
    _wait_gone(apiserver, f"{_cms(apiserver)}/child")


def test_orphan_deletion_keeps_dependents(apiserver):
    _owner_with_child_deleted(apiserver, "Orphan")
    deadline = time.monotonic() + 30
    while True:
        code, child, _ = apiserver.raw("GET", f"{_cms(apiserver)}/child")
        assert code == 200
        if not child["metadata"].get("ownerReferences"):
            break
        assert time.monotonic() < deadline, "ownerReference never removed"
        time.sleep(0.2)


def test_warn_field_validation_sends_a_warning(apiserver):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "warned"}, "bogus": 1}
    code, obj, headers = apiserver.raw("POST", _cms(apiserver) + "?fieldValidation=Warn", body)
    assert code == 201 and "bogus" not in obj
    assert 'unknown field \\"bogus\\"' in headers.get("Warning", "") or 'unknown field "bogus"' in headers.get(
        "Warning", ""
    )


def test_partial_object_metadata(apiserver):
    apiserver.raw(
        "POST",
        _cms(apiserver),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "meta"}, "data": {"k": "v"}},
    )
    accept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
    code, obj, _ = apiserver.raw("GET", f"{_cms(apiserver)}/meta", headers={"Accept": accept})
    assert code == 200 and obj["kind"] == "PartialObjectMetadata" and "data" not in obj
    assert obj["metadata"]["name"] == "meta"
    accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
    code, listing, _ = apiserver.raw("GET", _cms(apiserver), headers={"Accept": accept})
    assert code == 200 and listing["kind"] == "PartialObjectMetadataList"
    assert all("data" not in item for item in listing["items"])


def test_create_in_terminating_namespace_is_forbidden(apiserver):
    apiserver.require_emulator("holds a namespace in Terminating with a finalizer on its content")
    ns = apiserver.namespace + "-t"
    apiserver.raw("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    apiserver.raw(
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "finalizers": ["x/y"]}},
    )
    code, deleting, _ = apiserver.raw("DELETE", f"/api/v1/namespaces/{ns}")
    assert code == 200 and deleting["status"]["phase"] == "Terminating"
    code, status, _ = apiserver.raw(
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}},
    )
    assert code == 403 and status["reason"] == "Forbidden"
    assert "because it is being terminated" in status["message"]
    code, held, _ = apiserver.raw("GET", f"/api/v1/namespaces/{ns}/configmaps/held")
    held["metadata"]["finalizers"] = []
    apiserver.raw("PUT", f"/api/v1/namespaces/{ns}/configmaps/held", held)
    assert apiserver.raw("GET", f"/api/v1/namespaces/{ns}")[0] == 404


def test_list_at_a_future_resource_version_times_out(apiserver):
    _, listing, _ = apiserver.raw("GET", _cms(apiserver))
    future = int(listing["metadata"]["resourceVersion"]) + 1000000
    code, status, _ = apiserver.raw("GET", f"{_cms(apiserver)}?resourceVersion={future}", timeout=30)
    assert code == 504 and status["reason"] == "Timeout"
    assert status["message"].startswith("Too large resource version")


@pytest.mark.parametrize(
    "api_version,kind,body",
    [
        ("coordination.k8s.io/v1", "Lease", {"spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}}),
        (
            "events.k8s.io/v1",
            "Event",
            {
                "eventTime": "2026-01-01T00:00:00.000000Z",
                "reportingController": "x/y",
                "reportingInstance": "i",
                "action": "Sync",
                "reason": "Synced",
                "type": "Normal",
                "regarding": {"kind": "ConfigMap", "name": "c", "namespace": "default"},
            },
        ),
    ],
)
def test_lease_and_event_crud(apiserver, api_version, kind, body):
    res = apiserver.dynamic().resources.get(api_version=api_version, kind=kind)
    ns = apiserver.namespace
    created = res.create(
        body={"apiVersion": api_version, "kind": kind, "metadata": {"name": "obj"}, **body}, namespace=ns
    )
    fetched = res.get(name="obj", namespace=ns)
    assert fetched.metadata.uid == created.metadata.uid
    res.delete(name="obj", namespace=ns)


@pytest.mark.peer
def test_strategic_merge_patch_of_a_custom_resource_is_415(apiserver):
    apiserver.kubectl("apply", "-f", str(CRD_FILE))
    apiserver.kubectl("wait", "--for", "condition=established", "--timeout=60s", "crd/widgets.example.secretsync.io")
    base = f"/apis/example.secretsync.io/v1/namespaces/{apiserver.namespace}/widgets"
    apiserver.raw(
        "POST",
        base,
        {"apiVersion": "example.secretsync.io/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}},
    )
    code, status, _ = apiserver.raw(
        "PATCH", f"{base}/w", {"spec": {"size": 2}}, content_type="application/strategic-merge-patch+json"
    )
    assert code == 415 and status["reason"] == "UnsupportedMediaType"
    # apiextensions-apiserver's crdHandler offers only these three (no strategic merge patch)
    assert status["message"] == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, "
        "application/apply-patch+yaml"
    )
    patched = apiserver.kubectl(
        "-n", apiserver.namespace, "patch", "widget", "w", "-p", '{"spec":{"size":3}}', check=False
    )  # kubectl's default --type is strategic
    assert patched.returncode != 0
    assert (
        "application/strategic-merge-patch+json is not supported by example.secretsync.io/v1, Kind=Widget: "
        "the body of the request was in an unknown format" in patched.stderr
    )
    assert apiserver.raw("GET", f"{base}/w")[1]["spec"]["size"] == 1
    apiserver.kubectl("delete", "-f", str(CRD_FILE), "--wait=true")
