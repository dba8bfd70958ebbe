"""TokenReview with a real peer: OpenBao's Kubernetes auth method logs service accounts in through the emulator.

Covers: OpenBao (``bao server -dev``) configured with the emulator as
``kubernetes_host`` (its CA as ``kubernetes_ca_cert``) and a reviewer token
that RBAC allows to create TokenReviews; a login with a service-account token
from the TokenRequest subresource succeeds for the bound account and namespace
and yields the role's policies; tokens of other accounts, tokens of a deleted
account and garbage are refused. This is the flow Vault's Kubernetes auth uses
against a real cluster (``auth/kubernetes/login`` → TokenReview).
Source: OpenBao/Vault "Kubernetes auth method"; Kubernetes TokenReview API.
"""

import hvac
import pytest

pytestmark = pytest.mark.peer

RBAC = "/apis/rbac.authorization.k8s.io/v1"


@pytest.fixture
def cluster(tmp_path):
    from tests.fixtures.apiserver import _serve

    gen = _serve(tmp_path / "k8s")
    c = next(gen)
    c.require_emulator("OpenBao must reach the API server from its own process")
    c.server.rbac = True
    yield c
    gen.close()


def _token(cluster, name, audiences=None):
    ns = cluster.namespace
    cluster.raw(
        "POST",
        f"/api/v1/namespaces/{ns}/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}},
    )
    spec = {"audiences": audiences} if audiences else {}
    _, tr, _ = cluster.raw(
        "POST",
        f"/api/v1/namespaces/{ns}/serviceaccounts/{name}/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
    )
    return tr["status"]["token"]


def test_openbao_kubernetes_login(cluster, openbao):
    ns = cluster.namespace
    reviewer = _token(cluster, "vault-reviewer")
    cluster.raw(
        "POST",
        f"{RBAC}/clusterrolebindings",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"reviewer-{ns}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"tokenreview-{ns}"},
            "subjects": [{"kind": "ServiceAccount", "name": "vault-reviewer", "namespace": ns}],
        },
    )
    cluster.raw(
        "POST",
        f"{RBAC}/clusterroles",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": f"tokenreview-{ns}"},
            "rules": [{"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]}],
        },
    )

    admin = openbao.client()
    mount = openbao.unique_mount("k8s")
    admin.sys.enable_auth_method("kubernetes", path=mount)
    admin.write(
        f"auth/{mount}/config",
        kubernetes_host=cluster.url,
        kubernetes_ca_cert=cluster.server.ca_pem.decode(),
        token_reviewer_jwt=reviewer,
        disable_local_ca_jwt=True,
    )
    admin.write(
        f"auth/{mount}/role/app",
        bound_service_account_names=["app"],
        bound_service_account_namespaces=[ns],
        token_policies=["app-read"],
        token_ttl="5m",
    )

    app = _token(cluster, "app")
    client = hvac.Client(url=openbao.addr)
    login = client.write(f"auth/{mount}/login", role="app", jwt=app)
    assert "app-read" in login["auth"]["policies"]
    assert login["auth"]["metadata"]["service_account_name"] == "app"
    assert login["auth"]["metadata"]["service_account_namespace"] == ns

    other = _token(cluster, "other")
    with pytest.raises(hvac.exceptions.Forbidden) as info:
        client.write(f"auth/{mount}/login", role="app", jwt=other)  # not a bound account
    assert "service account name not authorized" in str(info.value)
    with pytest.raises((hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden)):
        client.write(f"auth/{mount}/login", role="app", jwt=app[:-6] + "AAAAAA")  # signature broken
    cluster.raw("DELETE", f"/api/v1/namespaces/{ns}/serviceaccounts/app")
    with pytest.raises((hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden)):
        client.write(f"auth/{mount}/login", role="app", jwt=app)  # account deleted: token revoked
