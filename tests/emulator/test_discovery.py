"""Discovery contract: /version, /api, /apis, group and resource lists, as clients read them.

Covers: the legacy discovery documents (APIVersions, APIGroupList, APIGroup,
APIResourceList with name/singularName/namespaced/kind/verbs/shortNames and
``<resource>/status`` subresources) for every built-in kind the issue lists;
aggregated discovery (``apidiscovery.k8s.io/v2``) for clients that ask for it;
DynamicClient lookups by apiVersion+kind; ``kubectl api-resources`` and
``kubectl get --raw``; the OpenAPI v3 index kubectl uses for field validation.
Source: Kubernetes API concepts, "Discovery API" and "API groups and versioning".
Runs on a real cluster too (SECRETSYNC_TEST_KUBECONFIG).
"""

import json

import pytest

BUILTINS = [
    ("v1", "Namespace", "namespaces", False),
    ("v1", "Secret", "secrets", True),
    ("v1", "ConfigMap", "configmaps", True),
    ("v1", "ServiceAccount", "serviceaccounts", True),
    ("v1", "Service", "services", True),
    ("v1", "Event", "events", True),
    ("apps/v1", "Deployment", "deployments", True),
    ("batch/v1", "Job", "jobs", True),
    ("coordination.k8s.io/v1", "Lease", "leases", True),
    ("events.k8s.io/v1", "Event", "events", True),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", False),
    ("rbac.authorization.k8s.io/v1", "Role", "roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False),
]


def test_version_and_core_group(apiserver):
    code, version, _ = apiserver.raw("GET", "/version")
    assert code == 200 and version["major"] == "1" and version["gitVersion"].startswith("v1.")
    code, api, _ = apiserver.raw("GET", "/api")
    assert code == 200 and api["kind"] == "APIVersions" and "v1" in api["versions"]


def test_group_list_names_preferred_versions(apiserver):
    code, groups, _ = apiserver.raw("GET", "/apis")
    assert code == 200 and groups["kind"] == "APIGroupList"
    by_name = {g["name"]: g for g in groups["groups"]}
    for group in (
        "apps",
        "batch",
        "coordination.k8s.io",
        "events.k8s.io",
        "apiextensions.k8s.io",
        "rbac.authorization.k8s.io",
        "authentication.k8s.io",
    ):
        assert by_name[group]["preferredVersion"]["groupVersion"] == f"{group}/v1"
    code, apps, _ = apiserver.raw("GET", "/apis/apps")
    assert code == 200 and apps["kind"] == "APIGroup" and apps["name"] == "apps"


@pytest.mark.parametrize("api_version,kind,plural,namespaced", BUILTINS)
def test_resource_lists_describe_builtins(apiserver, api_version, kind, plural, namespaced):
    path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    code, body, _ = apiserver.raw("GET", path)
    assert code == 200 and body["kind"] == "APIResourceList" and body["groupVersion"] == api_version
    entry = next(r for r in body["resources"] if r["name"] == plural)
    assert entry["kind"] == kind
    assert entry["namespaced"] is namespaced
    assert entry["singularName"] == kind.lower()
    assert {"create", "get", "list", "watch", "delete", "patch", "update"} <= set(entry["verbs"])


def test_status_subresources_and_short_names(apiserver):
    _, apps, _ = apiserver.raw("GET", "/apis/apps/v1")
    names = {r["name"]: r for r in apps["resources"]}
    assert "deployments/status" in names and "deploy" in names["deployments"]["shortNames"]
    _, core, _ = apiserver.raw("GET", "/api/v1")
    names = {r["name"]: r for r in core["resources"]}
    assert "cm" in names["configmaps"]["shortNames"] and "ns" in names["namespaces"]["shortNames"]
    assert "secrets/status" not in names  # Secrets have no status subresource


def test_aggregated_discovery(apiserver):
    accept = (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
    )
    code, body, headers = apiserver.raw("GET", "/apis", headers={"Accept": accept})
    assert code == 200
    content_type = headers.get("Content-Type", "")
    assert "as=APIGroupDiscoveryList" in content_type and "v=v2" in content_type
    assert body["kind"] == "APIGroupDiscoveryList" and body["apiVersion"] == "apidiscovery.k8s.io/v2"
    apps = next(item for item in body["items"] if item["metadata"].get("name") == "apps")
    v1 = next(v for v in apps["versions"] if v["version"] == "v1")
    deployments = next(r for r in v1["resources"] if r["resource"] == "deployments")
    assert deployments["scope"] == "Namespaced" and deployments["singularResource"] == "deployment"
    assert deployments["responseKind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert "status" in {sub["subresource"] for sub in deployments["subresources"]}
    code, core, headers = apiserver.raw("GET", "/api", headers={"Accept": accept})
    assert code == 200 and core["kind"] == "APIGroupDiscoveryList"
    secrets = next(r for r in core["items"][0]["versions"][0]["resources"] if r["resource"] == "secrets")
    assert secrets["responseKind"]["kind"] == "Secret"
    code, plain, _ = apiserver.raw("GET", "/apis")  # without the Accept: legacy discovery
    assert plain["kind"] == "APIGroupList"


def test_unknown_group_version_is_404(apiserver):
    code, body, _ = apiserver.raw("GET", "/apis/nope.example.com/v1")
    assert code == 404
    code, body, _ = apiserver.raw("GET", "/apis/nope.example.com/v1/namespaces/default/things")
    assert code == 404


@pytest.mark.parametrize("api_version,kind,plural,namespaced", BUILTINS)
def test_dynamic_client_finds_builtins(apiserver_session, api_version, kind, plural, namespaced):
    resource = _dynamic(apiserver_session).resources.get(api_version=api_version, kind=kind)
    assert resource.name == plural and resource.namespaced is namespaced


def _dynamic(cluster, _cache={}):  # noqa: B006 - a deliberate per-process cache
    key = cluster.url
    if key not in _cache:
        _cache[key] = cluster.dynamic()
    return _cache[key]


def test_dynamic_client_sees_subresources(apiserver_session):
    deployments = _dynamic(apiserver_session).resources.get(api_version="apps/v1", kind="Deployment")
    assert "status" in deployments.subresources


@pytest.mark.peer
def test_kubectl_api_resources_and_raw(apiserver):
    out = apiserver.kubectl("api-resources", "--no-headers").stdout
    lines = [line.split() for line in out.splitlines()]
    assert any(cols[0] == "secrets" and "Secret" in cols for cols in lines)
    assert any(cols[0] == "leases" and "coordination.k8s.io/v1" in cols for cols in lines)
    assert any(cols[0] == "customresourcedefinitions" and "crd,crds" in cols for cols in lines)
    raw = json.loads(apiserver.kubectl("get", "--raw", "/apis/coordination.k8s.io/v1").stdout)
    assert raw["groupVersion"] == "coordination.k8s.io/v1"


def test_openapi_v3_index_lists_group_versions(apiserver):
    code, index, _ = apiserver.raw("GET", "/openapi/v3")
    assert code == 200
    assert "api/v1" in index["paths"] and "apis/apps/v1" in index["paths"]
    url = index["paths"]["api/v1"]["serverRelativeURL"]
    code, doc, _ = apiserver.raw("GET", url)
    assert code == 200
    patch_ops = [item["patch"] for item in doc["paths"].values() if "patch" in item]
    secret_ops = [op for op in patch_ops if op.get("x-kubernetes-group-version-kind", {}).get("kind") == "Secret"]
    assert secret_ops and any(p["name"] == "fieldValidation" for p in secret_ops[0]["parameters"])
