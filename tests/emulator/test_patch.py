"""PATCH contract: JSON patch, JSON merge patch, strategic merge patch, 415 and 422 answers.

Covers: merge patch (null deletes a key), JSON patch (ops in order; a failing
``test`` op is 422 and changes nothing), strategic merge patch of a Deployment
merging ``containers`` by name, ``kubectl patch`` of each type, an optimistic
lock through a patch carrying a stale resourceVersion (409), a strategic merge
patch on a custom resource and an unknown patch content type (415
UnsupportedMediaType), and ``force`` on a non-apply patch (422).
Sources: API concepts "Patch operations", "Update a resource using kubectl
patch" (strategic merge, list merge keys). Runs on a real cluster too.
"""

import json

import pytest

MERGE = "application/merge-patch+json"
JSONPATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


def _cm_path(cluster, name=""):
    base = f"/api/v1/namespaces/{cluster.namespace}/configmaps"
    return f"{base}/{name}" if name else base


def _make_cm(cluster, name, data):
    code, obj, _ = cluster.raw(
        "POST", _cm_path(cluster), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    )
    assert code == 201
    return obj


def test_merge_patch_sets_and_deletes_keys(apiserver):
    _make_cm(apiserver, "m", {"a": "1", "b": "2"})
    code, obj, _ = apiserver.raw("PATCH", _cm_path(apiserver, "m"), {"data": {"a": None, "c": "3"}}, content_type=MERGE)
    assert code == 200 and obj["data"] == {"b": "2", "c": "3"}


def test_json_patch_applies_ops_in_order(apiserver):
    _make_cm(apiserver, "j", {"a": "1"})
    ops = [
        {"op": "add", "path": "/data/b", "value": "2"},
        {"op": "replace", "path": "/data/a", "value": "9"},
        {"op": "remove", "path": "/data/b"},
    ]
    code, obj, _ = apiserver.raw("PATCH", _cm_path(apiserver, "j"), ops, content_type=JSONPATCH)
    assert code == 200 and obj["data"] == {"a": "9"}


def test_json_patch_failed_test_is_422_and_changes_nothing(apiserver):
    before = _make_cm(apiserver, "t", {"a": "1"})
    ops = [{"op": "replace", "path": "/data/a", "value": "2"}, {"op": "test", "path": "/data/a", "value": "1"}]
    code, status, _ = apiserver.raw("PATCH", _cm_path(apiserver, "t"), ops, content_type=JSONPATCH)
    assert code == 422 and status["reason"] == "Invalid"
    _, after, _ = apiserver.raw("GET", _cm_path(apiserver, "t"))
    assert after["data"] == {"a": "1"} and after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_strategic_merge_patch_merges_containers_by_name(apiserver):
    path = f"/apis/apps/v1/namespaces/{apiserver.namespace}/deployments"
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "app", "image": "app:1"}, {"name": "sidecar", "image": "side:1"}]},
            },
        },
    }
    assert apiserver.raw("POST", path, dep)[0] == 201
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:2"}]}}}}
    code, obj, _ = apiserver.raw("PATCH", f"{path}/d", patch, content_type=STRATEGIC)
    assert code == 200
    containers = {c["name"]: c["image"] for c in obj["spec"]["template"]["spec"]["containers"]}
    assert containers == {"app": "app:2", "sidecar": "side:1"}
    code, obj, _ = apiserver.raw("PATCH", f"{path}/d", patch, content_type=MERGE)
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["app"]  # merge patch replaces


def test_patch_with_stale_resource_version_is_409(apiserver):
    first = _make_cm(apiserver, "lock", {"a": "1"})
    apiserver.raw("PATCH", _cm_path(apiserver, "lock"), {"data": {"a": "2"}}, content_type=MERGE)
    stale = {"metadata": {"resourceVersion": first["metadata"]["resourceVersion"]}, "data": {"a": "3"}}
    code, status, _ = apiserver.raw("PATCH", _cm_path(apiserver, "lock"), stale, content_type=MERGE)
    assert code == 409 and status["reason"] == "Conflict"


def test_unknown_patch_type_is_415(apiserver):
    _make_cm(apiserver, "u", {"a": "1"})
    code, status, _ = apiserver.raw("PATCH", _cm_path(apiserver, "u"), {"data": {}}, content_type="text/plain")
    assert code == 415 and status["reason"] == "UnsupportedMediaType"
    assert "application/merge-patch+json" in status["message"]


def test_force_on_non_apply_patch_is_422(apiserver):
    _make_cm(apiserver, "f", {"a": "1"})
    code, status, _ = apiserver.raw(
        "PATCH", _cm_path(apiserver, "f") + "?force=true", {"data": {"a": "2"}}, content_type=MERGE
    )
    assert code == 422 and status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "force"


def test_malformed_patch_is_400(apiserver):
    _make_cm(apiserver, "bad", {"a": "1"})
    code, status, _ = apiserver.raw("PATCH", _cm_path(apiserver, "bad"), b"{not json", content_type=MERGE)
    assert code == 400 and status["reason"] == "BadRequest"


def test_patch_of_missing_object_is_404(apiserver):
    code, status, _ = apiserver.raw("PATCH", _cm_path(apiserver, "nobody"), {"data": {}}, content_type=MERGE)
    assert code == 404 and status["reason"] == "NotFound"


@pytest.mark.peer
@pytest.mark.parametrize(
    "kind,patch,expected",
    [
        ("merge", '{"data":{"a":null,"b":"2"}}', {"b": "2"}),
        ("json", '[{"op":"add","path":"/data/b","value":"2"}]', {"a": "1", "b": "2"}),
        ("strategic", '{"data":{"b":"2"}}', {"a": "1", "b": "2"}),
    ],
)
def test_kubectl_patch(apiserver, kind, patch, expected):
    _make_cm(apiserver, "kp", {"a": "1"})
    out = apiserver.kubectl("-n", apiserver.namespace, "patch", "configmap", "kp", "--type", kind, "-p", patch)
    assert out.stdout.strip() == "configmap/kp patched"
    obj = json.loads(apiserver.kubectl("-n", apiserver.namespace, "get", "cm", "kp", "-o", "json").stdout)
    assert obj["data"] == expected


def test_scale_subresource(apiserver):
    path = f"/apis/apps/v1/namespaces/{apiserver.namespace}/deployments"
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "sc"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "sc"}},
            "template": {"metadata": {"labels": {"app": "sc"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
        },
    }
    apiserver.raw("POST", path, dep)
    code, scale, _ = apiserver.raw("GET", f"{path}/sc/scale")
    assert code == 200 and scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1
    code, scale, _ = apiserver.raw("PATCH", f"{path}/sc/scale", {"spec": {"replicas": 4}}, content_type=MERGE)
    assert code == 200 and scale["spec"]["replicas"] == 4
    _, obj, _ = apiserver.raw("GET", f"{path}/sc")
    assert obj["spec"]["replicas"] == 4 and obj["metadata"]["generation"] == 2
    code, status, _ = apiserver.raw("PATCH", f"{path}/sc/scale", {"spec": {"replicas": -1}}, content_type=MERGE)
    assert code == 422 and status["details"]["causes"][0]["field"] == "spec.replicas"


@pytest.mark.peer
def test_kubectl_scale(apiserver):
    ns = apiserver.namespace
    apiserver.kubectl(
        "-n",
        ns,
        "create",
        "-f",
        "-",
        input=json.dumps(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "ks"},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "ks"}},
                    "template": {
                        "metadata": {"labels": {"app": "ks"}},
                        "spec": {"containers": [{"name": "c", "image": "i"}]},
                    },
                },
            }
        ),
    )
    assert (
        apiserver.kubectl("-n", ns, "scale", "deployment/ks", "--replicas=3").stdout.strip()
        == "deployment.apps/ks scaled"
    )
    obj = json.loads(apiserver.kubectl("-n", ns, "get", "deploy", "ks", "-o", "json").stdout)
    assert obj["spec"]["replicas"] == 3
