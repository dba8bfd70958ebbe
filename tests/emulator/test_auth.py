"""Authentication and RBAC contract: tokens, Roles and bindings, impersonation, TokenReview.

Covers: 401 for an unknown bearer token; ServiceAccount tokens from the
TokenRequest subresource; with RBAC on, 403 Forbidden with the real message
for a subject without bindings; Role/RoleBinding scoping (verbs, resources,
namespace), resourceNames (also for a list or watch limited by
``metadata.name``), ``resource/subresource`` rules, ClusterRole through
a RoleBinding (namespaced only) and through a ClusterRoleBinding (everywhere),
Group subjects; discovery open to authenticated users; ``Impersonate-User``
and ``Impersonate-Group`` refused without the ``impersonate`` verb and honoured
with it; TokenReview of issued, foreign and revoked (deleted account) tokens;
SelfSubjectAccessReview via ``kubectl auth can-i``. Sources: "Using RBAC
Authorization", "Authenticating" (service account tokens, impersonation,
webhook token review), API reference TokenRequest/TokenReview. Runs on a real
cluster too (RBAC is always on there).
"""

import pytest

from tests.fixtures.apiserver import _with_namespace, make_cluster

RBAC = "/apis/rbac.authorization.k8s.io/v1"


@pytest.fixture
def cluster(tmp_path):
    c = make_cluster(tmp_path / "rbac", rbac=True)
    _with_namespace(c)
    yield c
    if not c.is_emulator:
        from tests.fixtures.apiserver import _drop_namespace

        _drop_namespace(c, c.namespace)
    c.close()
    if c.server is not None:
        c.server.stop()


def _sa_token(cluster, name, namespace=None, audiences=None):
    ns = namespace or cluster.namespace
    code, _, _ = cluster.raw(
        "POST",
        f"/api/v1/namespaces/{ns}/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}},
    )
    assert code in (201, 409)
    spec = {"audiences": audiences} if audiences else {}
    code, tr, _ = cluster.raw(
        "POST",
        f"/api/v1/namespaces/{ns}/serviceaccounts/{name}/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
    )
    assert code == 201, tr
    return tr["status"]["token"]


def _role(cluster, name, rules, cluster_scope=False):
    path = f"{RBAC}/clusterroles" if cluster_scope else f"{RBAC}/namespaces/{cluster.namespace}/roles"
    kind = "ClusterRole" if cluster_scope else "Role"
    code, obj, _ = cluster.raw(
        "POST",
        path,
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": name}, "rules": rules},
    )
    assert code == 201, obj


def _bind(cluster, name, role_kind, role_name, subjects, cluster_scope=False):
    path = f"{RBAC}/clusterrolebindings" if cluster_scope else f"{RBAC}/namespaces/{cluster.namespace}/rolebindings"
    kind = "ClusterRoleBinding" if cluster_scope else "RoleBinding"
    code, obj, _ = cluster.raw(
        "POST",
        path,
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": kind,
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
            "subjects": subjects,
        },
    )
    assert code == 201, obj


def _sa_subject(cluster, name):
    return [{"kind": "ServiceAccount", "name": name, "namespace": cluster.namespace}]


def _cleanup_cluster_scoped(cluster, *names):
    for name in names:
        cluster.raw("DELETE", f"{RBAC}/clusterroles/{name}")
        cluster.raw("DELETE", f"{RBAC}/clusterrolebindings/{name}")


def test_unknown_token_is_401(cluster):
    code, status, _ = cluster.raw("GET", "/api/v1/namespaces", token="not-a-token")
    assert code == 401 and status["reason"] == "Unauthorized"


def test_subject_without_bindings_is_forbidden_with_real_message(cluster):
    token = _sa_token(cluster, "nobody")
    code, status, _ = cluster.raw("GET", f"/api/v1/namespaces/{cluster.namespace}/secrets", token=token)
    assert code == 403 and status["reason"] == "Forbidden"
    assert status["message"] == (
        f'secrets is forbidden: User "system:serviceaccount:{cluster.namespace}:nobody" '
        f'cannot list resource "secrets" in API group "" in the namespace '
        f'"{cluster.namespace}"'
    )
    code, status, _ = cluster.raw("GET", f"/api/v1/namespaces/{cluster.namespace}/secrets/x", token=token)
    assert code == 403 and status["message"].startswith('secrets "x" is forbidden: ')
    assert status["details"] == {"name": "x", "kind": "secrets"}
    code, status, _ = cluster.raw("GET", "/api/v1/namespaces", token=token)
    assert code == 403 and status["message"].endswith(
        'cannot list resource "namespaces" in API group "" at the cluster scope'
    )


def test_discovery_is_open_to_authenticated_subjects(cluster):
    token = _sa_token(cluster, "discoverer")
    for path in ("/api", "/apis", "/api/v1", "/version"):
        assert cluster.raw("GET", path, token=token)[0] == 200


def test_role_binding_scopes_verbs_resources_and_namespace(cluster):
    token = _sa_token(cluster, "reader")
    _role(cluster, "cm-reader", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}])
    _bind(cluster, "cm-reader", "Role", "cm-reader", _sa_subject(cluster, "reader"))
    ns = cluster.namespace
    assert cluster.raw("GET", f"/api/v1/namespaces/{ns}/configmaps", token=token)[0] == 200
    assert cluster.raw("GET", f"/api/v1/namespaces/{ns}/secrets", token=token)[0] == 403
    assert cluster.raw("GET", "/api/v1/namespaces/default/configmaps", token=token)[0] == 403
    code, status, _ = cluster.raw(
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "no"}},
        token=token,
    )
    assert code == 403 and 'cannot create resource "configmaps"' in status["message"]


def test_resource_names_limit_access(cluster):
    token = _sa_token(cluster, "named")
    ns = cluster.namespace
    for name in ("one", "two"):
        cluster.raw(
            "POST",
            f"/api/v1/namespaces/{ns}/configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}},
        )
    _role(
        cluster,
        "only-one",
        [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["one"], "verbs": ["get"]}],
    )
    _bind(cluster, "only-one", "Role", "only-one", _sa_subject(cluster, "named"))
    assert cluster.raw("GET", f"/api/v1/namespaces/{ns}/configmaps/one", token=token)[0] == 200
    assert cluster.raw("GET", f"/api/v1/namespaces/{ns}/configmaps/two", token=token)[0] == 403
    assert cluster.raw("GET", f"/api/v1/namespaces/{ns}/configmaps", token=token)[0] == 403


def test_resource_names_allow_a_single_object_watch(cluster):
    token = _sa_token(cluster, "single")
    ns = cluster.namespace
    _role(
        cluster,
        "watch-one",
        [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["one"], "verbs": ["list", "watch"]}],
    )
    _bind(cluster, "watch-one", "Role", "watch-one", _sa_subject(cluster, "single"))
    base = f"/api/v1/namespaces/{ns}/configmaps"
    assert cluster.raw("GET", f"{base}?fieldSelector=metadata.name%3Done", token=token)[0] == 200
    assert cluster.raw("GET", f"{base}?fieldSelector=metadata.name%3Dtwo", token=token)[0] == 403
    assert (
        cluster.raw("GET", f"{base}?watch=true&timeoutSeconds=1&fieldSelector=metadata.name%3Done", token=token)[0]
        == 200
    )


def test_subresource_rules(cluster):
    token = _sa_token(cluster, "statuser")
    ns = cluster.namespace
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
        },
    }
    _, obj, _ = cluster.raw("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", dep)
    _role(
        cluster,
        "status-only",
        [{"apiGroups": ["apps"], "resources": ["deployments/status"], "verbs": ["get", "patch"]}],
    )
    _bind(cluster, "status-only", "Role", "status-only", _sa_subject(cluster, "statuser"))
    base = f"/apis/apps/v1/namespaces/{ns}/deployments/d"
    patch = {"status": {"observedGeneration": 1}}
    code, _, _ = cluster.raw("PATCH", base + "/status", patch, content_type="application/merge-patch+json", token=token)
    assert code == 200
    code, status, _ = cluster.raw(
        "PATCH", base, {"metadata": {"labels": {"x": "y"}}}, content_type="application/merge-patch+json", token=token
    )
    assert code == 403 and 'cannot patch resource "deployments" in API group "apps"' in status["message"]


def test_cluster_role_via_role_binding_is_namespaced(cluster):
    token = _sa_token(cluster, "viewer")
    name = f"view-cm-{cluster.namespace}"
    _role(cluster, name, [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}], cluster_scope=True)
    try:
        _bind(cluster, "view-cm", "ClusterRole", name, _sa_subject(cluster, "viewer"))
        assert cluster.raw("GET", f"/api/v1/namespaces/{cluster.namespace}/configmaps", token=token)[0] == 200
        assert cluster.raw("GET", "/api/v1/configmaps", token=token)[0] == 403
        _bind(cluster, name, "ClusterRole", name, _sa_subject(cluster, "viewer"), cluster_scope=True)
        assert cluster.raw("GET", "/api/v1/configmaps", token=token)[0] == 200
    finally:
        _cleanup_cluster_scoped(cluster, name)


def test_group_subjects(cluster):
    token = _sa_token(cluster, "member")
    _role(cluster, "group-read", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}])
    _bind(
        cluster,
        "group-read",
        "Role",
        "group-read",
        [
            {
                "kind": "Group",
                "name": f"system:serviceaccounts:{cluster.namespace}",
                "apiGroup": "rbac.authorization.k8s.io",
            }
        ],
    )
    assert cluster.raw("GET", f"/api/v1/namespaces/{cluster.namespace}/secrets", token=token)[0] == 200


def test_impersonation_needs_the_impersonate_verb(cluster):
    token = _sa_token(cluster, "imp")
    target = f"system:serviceaccount:{cluster.namespace}:target"
    _sa_token(cluster, "target")
    headers = {"Impersonate-User": target}
    code, status, _ = cluster.raw(
        "GET", f"/api/v1/namespaces/{cluster.namespace}/configmaps", token=token, headers=headers
    )
    assert code == 403
    assert status["message"] == (
        f'serviceaccounts "target" is forbidden: User "system:serviceaccount:'
        f'{cluster.namespace}:imp" cannot impersonate resource "serviceaccounts" in API '
        f'group "" in the namespace "{cluster.namespace}"'
    )
    _role(
        cluster,
        "impersonator",
        [{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"], "resourceNames": ["target"]}],
    )
    _bind(cluster, "impersonator", "Role", "impersonator", _sa_subject(cluster, "imp"))
    code, status, _ = cluster.raw(
        "GET", f"/api/v1/namespaces/{cluster.namespace}/configmaps", token=token, headers=headers
    )
    assert code == 403 and f'User "{target}" cannot list' in status["message"]  # now acting as the target
    _role(cluster, "target-read", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}])
    _bind(cluster, "target-read", "Role", "target-read", _sa_subject(cluster, "target"))
    assert (
        cluster.raw("GET", f"/api/v1/namespaces/{cluster.namespace}/configmaps", token=token, headers=headers)[0] == 200
    )


def test_impersonating_a_group_needs_its_own_permission(cluster):
    token = _sa_token(cluster, "imp2")
    name = f"imp-users-{cluster.namespace}"
    _role(cluster, name, [{"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}], cluster_scope=True)
    try:
        _bind(cluster, name, "ClusterRole", name, _sa_subject(cluster, "imp2"), cluster_scope=True)
        headers = {"Impersonate-User": "jane", "Impersonate-Group": "devs"}
        code, status, _ = cluster.raw("GET", "/api/v1/namespaces", token=token, headers=headers)
        assert code == 403 and 'cannot impersonate resource "groups"' in status["message"]
        code, status, _ = cluster.raw("GET", "/api/v1/namespaces", token=token, headers={"Impersonate-User": "jane"})
        assert code == 403 and 'User "jane" cannot list resource "namespaces"' in status["message"]
    finally:
        _cleanup_cluster_scoped(cluster, name)


def test_token_review(cluster):
    token = _sa_token(cluster, "reviewed")
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
    code, out, _ = cluster.raw("POST", "/apis/authentication.k8s.io/v1/tokenreviews", review)
    assert code == 201 and out["status"]["authenticated"] is True
    user = out["status"]["user"]
    assert user["username"] == f"system:serviceaccount:{cluster.namespace}:reviewed"
    assert {"system:serviceaccounts", f"system:serviceaccounts:{cluster.namespace}", "system:authenticated"} <= set(
        user["groups"]
    )
    assert user["uid"]
    bogus = {**review, "spec": {"token": token[:-4] + "AAAA"}}
    _, out, _ = cluster.raw("POST", "/apis/authentication.k8s.io/v1/tokenreviews", bogus)
    assert not out["status"].get("authenticated")
    cluster.raw("DELETE", f"/api/v1/namespaces/{cluster.namespace}/serviceaccounts/reviewed")
    _, out, _ = cluster.raw("POST", "/apis/authentication.k8s.io/v1/tokenreviews", review)
    assert not out["status"].get("authenticated")  # the account is gone: its tokens are revoked


def test_token_review_checks_audiences(cluster):
    token = _sa_token(cluster, "aud", audiences=["vault"])
    review = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": token, "audiences": ["vault"]},
    }
    _, out, _ = cluster.raw("POST", "/apis/authentication.k8s.io/v1/tokenreviews", review)
    assert out["status"]["authenticated"] is True and out["status"]["audiences"] == ["vault"]
    review["spec"]["audiences"] = ["something-else"]
    _, out, _ = cluster.raw("POST", "/apis/authentication.k8s.io/v1/tokenreviews", review)
    assert not out["status"].get("authenticated")


def test_token_request_for_missing_account_is_404(cluster):
    code, status, _ = cluster.raw(
        "POST",
        f"/api/v1/namespaces/{cluster.namespace}/serviceaccounts/ghost/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
    )
    assert code == 404 and status["reason"] == "NotFound"


@pytest.mark.peer
def test_kubectl_with_a_service_account_token(cluster):
    token = _sa_token(cluster, "kc")
    _role(cluster, "kc", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}])
    _bind(cluster, "kc", "Role", "kc", _sa_subject(cluster, "kc"))
    kubeconfig = cluster.kubeconfig_for(token, "kc")
    allowed = cluster.kubectl("get", "configmaps", "-n", cluster.namespace, kubeconfig=kubeconfig, check=False)
    assert allowed.returncode == 0, allowed.stderr
    yes = cluster.kubectl(
        "auth", "can-i", "list", "configmaps", "-n", cluster.namespace, kubeconfig=kubeconfig, check=False
    )
    no = cluster.kubectl(
        "auth", "can-i", "delete", "configmaps", "-n", cluster.namespace, kubeconfig=kubeconfig, check=False
    )
    assert (yes.stdout.strip(), no.stdout.strip(), no.returncode) == ("yes", "no", 1)
    listed = cluster.kubectl("auth", "can-i", "--list", "-n", cluster.namespace, kubeconfig=kubeconfig).stdout
    rows = [line.split() for line in listed.splitlines()]
    assert ["configmaps", "[]", "[]", "[get", "list]"] in rows
    denied = cluster.kubectl("get", "secrets", "-n", cluster.namespace, kubeconfig=kubeconfig, check=False)
    assert denied.returncode == 1
    assert (
        f'Error from server (Forbidden): secrets is forbidden: User "system:serviceaccount:{cluster.namespace}:kc"'
        f' cannot list resource "secrets" in API group "" in the namespace "{cluster.namespace}"'
    ) in denied.stderr


def test_emulator_helpers_mint_tokens_and_users(cluster):
    cluster.require_emulator("uses APIServer.mint_token and add_user")
    token = cluster.server.mint_token(cluster.namespace, "minted")
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
    _, out, _ = cluster.raw("POST", "/apis/authentication.k8s.io/v1/tokenreviews", review)
    assert out["status"]["user"]["username"] == f"system:serviceaccount:{cluster.namespace}:minted"
    alice = cluster.server.add_user("alice", ["devs"])
    code, status, _ = cluster.raw("GET", "/api/v1/namespaces", token=alice)
    assert code == 403 and 'User "alice"' in status["message"]
