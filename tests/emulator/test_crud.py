"""CRUD contract: status codes, Status bodies and the metadata the server owns.

Covers: create (201; 409 AlreadyExists; generateName), get (404 NotFound with a
Status naming resource and name), list (list resourceVersion; labelSelector
operators =, ==, !=, in, notin, exists, !exists; fieldSelector on metadata.name
and metadata.namespace; 400 for bad selectors; limit/continue), replace (PUT;
409 Conflict on a stale resourceVersion), delete (Status Success with uid;
finalizers keep the object with deletionTimestamp until removed), namespaces
(404 in a missing namespace; content deleted with its namespace), server-owned
metadata (uid, monotonic resourceVersion, generation bumped on spec changes
only, creationTimestamp). Sources: API concepts ("Resource versions",
"Efficient detection of changes", "Retrieving large results sets in chunks"),
API conventions ("Response Status Kind", "Concurrency Control and Consistency",
"Metadata"), "Finalizers", "Labels and Selectors". Runs on a real cluster too.
"""

import pytest


def _secret(name, labels=None, **extra):
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "Opaque"}
    if labels:
        body["metadata"]["labels"] = labels
    body.update(extra)
    return body


def _cm(name, labels=None, data=None):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data or {"k": "v"}}
    if labels:
        body["metadata"]["labels"] = labels
    return body


def _path(cluster, plural, name=""):
    base = f"/api/v1/namespaces/{cluster.namespace}/{plural}"
    return f"{base}/{name}" if name else base


def test_create_returns_201_with_server_metadata(apiserver):
    code, obj, _ = apiserver.raw("POST", _path(apiserver, "configmaps"), _cm("a"))
    assert code == 201
    meta = obj["metadata"]
    assert meta["uid"] and meta["resourceVersion"].isdigit()
    assert meta["creationTimestamp"].endswith("Z") and meta["namespace"] == apiserver.namespace
    assert obj["kind"] == "ConfigMap" and obj["apiVersion"] == "v1"


def test_create_twice_is_409_already_exists(apiserver):
    assert apiserver.raw("POST", _path(apiserver, "configmaps"), _cm("dup"))[0] == 201
    code, status, _ = apiserver.raw("POST", _path(apiserver, "configmaps"), _cm("dup"))
    assert code == 409
    assert status["kind"] == "Status" and status["status"] == "Failure" and status["reason"] == "AlreadyExists"
    assert status["message"] == 'configmaps "dup" already exists'
    assert status["details"] == {"name": "dup", "kind": "configmaps"}


def test_get_missing_is_404_with_status_body(apiserver):
    code, status, _ = apiserver.raw("GET", _path(apiserver, "secrets", "nope"))
    assert code == 404
    assert status["reason"] == "NotFound" and status["code"] == 404
    assert status["message"] == 'secrets "nope" not found'
    assert status["details"]["name"] == "nope" and status["details"]["kind"] == "secrets"


def test_generate_name(apiserver):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}}
    code, obj, _ = apiserver.raw("POST", _path(apiserver, "configmaps"), body)
    assert code == 201
    assert obj["metadata"]["name"].startswith("gen-") and len(obj["metadata"]["name"]) == len("gen-") + 5


def test_resource_versions_increase_across_kinds(apiserver):
    _, a, _ = apiserver.raw("POST", _path(apiserver, "configmaps"), _cm("rv1"))
    _, b, _ = apiserver.raw("POST", _path(apiserver, "secrets"), _secret("rv2"))
    _, c, _ = apiserver.raw("PUT", _path(apiserver, "configmaps", "rv1"), {**a, "data": {"k": "changed"}})
    # resourceVersions are opaque to clients; on etcd they are one increasing revision
    assert (
        int(a["metadata"]["resourceVersion"])
        < int(b["metadata"]["resourceVersion"])
        < int(c["metadata"]["resourceVersion"])
    )
    _, listing, _ = apiserver.raw("GET", _path(apiserver, "configmaps"))
    assert int(listing["metadata"]["resourceVersion"]) >= int(c["metadata"]["resourceVersion"])
    assert listing["kind"] == "ConfigMapList"


def test_put_with_stale_resource_version_is_409_conflict(apiserver):
    _, first, _ = apiserver.raw("POST", _path(apiserver, "configmaps"), _cm("c"))
    code, second, _ = apiserver.raw("PUT", _path(apiserver, "configmaps", "c"), {**first, "data": {"k": "2"}})
    assert code == 200 and second["metadata"]["resourceVersion"] != first["metadata"]["resourceVersion"]
    code, status, _ = apiserver.raw("PUT", _path(apiserver, "configmaps", "c"), {**first, "data": {"k": "3"}})
    assert code == 409 and status["reason"] == "Conflict"
    assert status["message"] == (
        'Operation cannot be fulfilled on configmaps "c": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


def test_put_keeps_uid_and_creation_timestamp(apiserver):
    _, first, _ = apiserver.raw("POST", _path(apiserver, "configmaps"), _cm("keep"))
    body = {**first, "metadata": {**first["metadata"], "uid": "not-mine", "creationTimestamp": "2000-01-01T00:00:00Z"}}
    del body["metadata"]["resourceVersion"]
    code, second, _ = apiserver.raw("PUT", _path(apiserver, "configmaps", "keep"), body)
    assert code == 200
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    assert second["metadata"]["creationTimestamp"] == first["metadata"]["creationTimestamp"]


def test_put_of_missing_object_is_404(apiserver):
    code, status, _ = apiserver.raw("PUT", _path(apiserver, "configmaps", "ghost"), _cm("ghost"))
    assert code == 404 and status["reason"] == "NotFound"


@pytest.mark.parametrize(
    "selector,expected",
    [
        ("app=web", {"a", "b"}),
        ("app==web", {"a", "b"}),
        ("app!=web", {"c", "d"}),
        ("tier in (front,back)", {"a", "c"}),
        ("tier notin (front)", {"b", "c", "d"}),
        ("tier", {"a", "c"}),
        ("!tier", {"b", "d"}),
        ("app=web,tier=front", {"a"}),
    ],
)
def test_list_label_selectors(apiserver_session, selector, expected):
    cluster = apiserver_session
    objects = {
        "a": {"app": "web", "tier": "front", "set": "sel"},
        "b": {"app": "web", "set": "sel"},
        "c": {"app": "db", "tier": "back", "set": "sel"},
        "d": {"set": "sel"},
    }
    for name, labels in objects.items():
        cluster.raw("POST", _path(cluster, "configmaps"), _cm(f"sel-{name}", labels))
    code, listing, _ = cluster.raw(
        "GET", _path(cluster, "configmaps") + "?labelSelector=" + _quote(f"set=sel,{selector}")
    )
    assert code == 200
    assert {i["metadata"]["name"].removeprefix("sel-") for i in listing["items"]} == expected


def _quote(text):
    from urllib.parse import quote

    return quote(text, safe="")


def test_list_field_selectors(apiserver):
    for name in ("f1", "f2"):
        apiserver.raw("POST", _path(apiserver, "configmaps"), _cm(name))
    code, listing, _ = apiserver.raw("GET", _path(apiserver, "configmaps") + "?fieldSelector=metadata.name%3Df2")
    assert code == 200 and [i["metadata"]["name"] for i in listing["items"]] == ["f2"]
    code, listing, _ = apiserver.raw(
        "GET",
        "/api/v1/configmaps?fieldSelector=" + _quote(f"metadata.namespace={apiserver.namespace},metadata.name!=f2"),
    )
    assert code == 200 and "f1" in [i["metadata"]["name"] for i in listing["items"]]
    assert all(i["metadata"]["namespace"] == apiserver.namespace for i in listing["items"])


def test_bad_selectors_are_400(apiserver):
    code, status, _ = apiserver.raw("GET", _path(apiserver, "configmaps") + "?labelSelector=" + _quote("a in (b"))
    assert code == 400 and status["reason"] == "BadRequest"
    code, status, _ = apiserver.raw("GET", _path(apiserver, "configmaps") + "?fieldSelector=spec.nope%3D1")
    assert code == 400 and status["reason"] == "BadRequest"


def test_list_chunks_with_limit_and_continue(apiserver):
    for i in range(5):
        apiserver.raw("POST", _path(apiserver, "configmaps"), _cm(f"page-{i}", {"page": "yes"}))
    seen, token = [], ""
    while True:
        query = "?labelSelector=page%3Dyes&limit=2" + (f"&continue={token}" if token else "")
        code, listing, _ = apiserver.raw("GET", _path(apiserver, "configmaps") + query)
        assert code == 200 and len(listing["items"]) <= 2
        seen += [i["metadata"]["name"] for i in listing["items"]]
        token = listing["metadata"].get("continue")
        if not token:
            break
    assert sorted(seen) == [f"page-{i}" for i in range(5)]


def test_delete_returns_success_status_then_404(apiserver):
    _, obj, _ = apiserver.raw("POST", _path(apiserver, "configmaps"), _cm("gone"))
    code, status, _ = apiserver.raw("DELETE", _path(apiserver, "configmaps", "gone"))
    assert code == 200
    # The generic registry answers an immediate delete with a Success Status naming the uid.
    if status.get("kind") == "Status":
        assert status["status"] == "Success" and status["details"]["uid"] == obj["metadata"]["uid"]
    else:
        assert status["metadata"]["uid"] == obj["metadata"]["uid"]
    assert apiserver.raw("GET", _path(apiserver, "configmaps", "gone"))[0] == 404
    code, status, _ = apiserver.raw("DELETE", _path(apiserver, "configmaps", "gone"))
    assert code == 404 and status["reason"] == "NotFound"


@pytest.mark.parametrize("policy", ["Background", "Foreground", "Orphan"])
def test_delete_accepts_propagation_policy(apiserver, policy):
    apiserver.raw("POST", _path(apiserver, "configmaps"), _cm("p"))
    body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy}
    code, _, _ = apiserver.raw("DELETE", _path(apiserver, "configmaps", "p"), body)
    assert code in (200, 202)


def test_finalizers_hold_deletion_until_removed(apiserver):
    body = _cm("fin")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    apiserver.raw("POST", _path(apiserver, "configmaps"), body)
    code, held, _ = apiserver.raw("DELETE", _path(apiserver, "configmaps", "fin"))
    assert code in (200, 202)
    assert held["metadata"]["deletionTimestamp"] and held["metadata"]["finalizers"] == ["example.com/hold"]
    code, still, _ = apiserver.raw("GET", _path(apiserver, "configmaps", "fin"))
    assert code == 200 and still["metadata"]["deletionTimestamp"]
    still["metadata"]["finalizers"] = []
    code, _, _ = apiserver.raw("PUT", _path(apiserver, "configmaps", "fin"), still)
    assert code == 200
    assert apiserver.raw("GET", _path(apiserver, "configmaps", "fin"))[0] == 404


def test_create_in_missing_namespace_is_404(apiserver):
    code, status, _ = apiserver.raw("POST", "/api/v1/namespaces/does-not-exist-x1/configmaps", _cm("a"))
    assert code == 404 and status["reason"] == "NotFound"
    assert status["details"] == {"name": "does-not-exist-x1", "kind": "namespaces"}


def test_namespace_deletion_removes_content(apiserver):
    import time

    ns = apiserver.namespace + "-x"
    apiserver.raw("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    assert apiserver.raw("POST", f"/api/v1/namespaces/{ns}/configmaps", _cm("inside"))[0] == 201
    code, deleting, _ = apiserver.raw("DELETE", f"/api/v1/namespaces/{ns}")
    assert code == 200 and deleting["kind"] == "Namespace" and deleting["status"]["phase"] == "Terminating"
    deadline = time.monotonic() + 60
    while apiserver.raw("GET", f"/api/v1/namespaces/{ns}")[0] != 404:
        assert time.monotonic() < deadline, "namespace never went away"
        time.sleep(0.2)
    assert apiserver.raw("GET", f"/api/v1/namespaces/{ns}/configmaps/inside")[0] == 404


def test_namespace_is_active_with_default_service_account(apiserver):
    code, ns, _ = apiserver.raw("GET", f"/api/v1/namespaces/{apiserver.namespace}")
    assert code == 200 and ns["status"]["phase"] == "Active"
    assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == apiserver.namespace


def test_generation_tracks_spec_not_metadata_or_status(apiserver):
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    base = f"/apis/apps/v1/namespaces/{apiserver.namespace}/deployments"
    code, obj, _ = apiserver.raw("POST", base, dep)
    assert code == 201 and obj["metadata"]["generation"] == 1
    obj["metadata"].setdefault("labels", {})["touched"] = "yes"
    _, obj, _ = apiserver.raw("PUT", f"{base}/web", obj)
    assert obj["metadata"]["generation"] == 1
    obj["spec"]["replicas"] = 3
    _, obj, _ = apiserver.raw("PUT", f"{base}/web", obj)
    assert obj["metadata"]["generation"] == 2
    obj["status"] = {"observedGeneration": 2}
    _, status_obj, _ = apiserver.raw("PUT", f"{base}/web/status", obj)
    assert status_obj["metadata"]["generation"] == 2
    assert status_obj["status"]["observedGeneration"] == 2


def test_dynamic_client_crud_round_trip(apiserver):
    from kubernetes.dynamic.exceptions import ConflictError, NotFoundError

    secrets = apiserver.dynamic().resources.get(api_version="v1", kind="Secret")
    ns = apiserver.namespace
    created = secrets.create(body=_secret("dyn", data={"k": "dmFsdWU="}), namespace=ns)
    assert created.metadata.name == "dyn"
    with pytest.raises(ConflictError) as info:
        secrets.create(body=_secret("dyn"), namespace=ns)
    assert info.value.status == 409
    assert [s.metadata.name for s in secrets.get(namespace=ns).items] == ["dyn"]
    secrets.delete(name="dyn", namespace=ns)
    with pytest.raises(NotFoundError):
        secrets.get(name="dyn", namespace=ns)
