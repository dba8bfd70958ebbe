"""The Vault edge: AVP configuration, the four testable auth methods, token life cycle, transit.

Covers: configuration from AVP's variables, the ``ARGOCD_ENV_`` prefix and ``-c`` files
(YAML, JSON, envfile) with AVP's precedence and error wording; token, approle (default
and custom mount), userpass and k8s login against OpenBao (k8s through the API
emulator's TokenReview); renewal after two thirds of the lease; one re-login when a
revoked token gets 403, none for a policy denial; errors that name address, path,
auth method and status but never a token; AVP_PATH_VALIDATION; VAULT_NAMESPACE; transit both ways with
the ``bao`` CLI. Not covered: github auth (OpenBao has no github plugin), ``-s`` Secrets.
"""

from __future__ import annotations

import base64
import subprocess

import pytest

from secretsync.secretvalue import SecretBytes
from secretsync.vault.client import VaultBackend
from secretsync.vault.config import VaultConfig
from secretsync.vault.errors import VaultAuthError, VaultConfigError
from secretsync.vault.placeholders import PlaceholderError, resolve
from tests.fixtures.peers import isolated_env, peer_binary

pytestmark = pytest.mark.peer  # real peers: OpenBao dev server, kubectl, bao CLI

BASE = {"AVP_TYPE": "vault", "AVP_AUTH_TYPE": "token", "VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "t"}


# ---------------------------------------------------------------------------------------------- configuration


def test_config_from_environment_with_argocd_prefix_winning():
    cfg = VaultConfig.from_env(
        {
            **BASE,
            "AVP_AUTH_TYPE": " approle ",
            "AVP_ROLE_ID": "r",
            "AVP_SECRET_ID": "plain",
            "ARGOCD_ENV_AVP_SECRET_ID": "prefixed",
            "ARGOCD_ENV_VAULT_ADDR": "http://10.0.0.1:8200",
            "AVP_KV_VERSION": "1",
            "VAULT_NAMESPACE": "team",
        }
    )
    assert cfg.auth_type == "approle" and cfg.secret_id == "prefixed"
    assert cfg.addr == "http://10.0.0.1:8200" and cfg.kv_version == "1" and cfg.namespace == "team"
    assert cfg.mount_path == "auth/approle"
    assert "prefixed" not in repr(cfg) and "t'" not in repr(cfg)


@pytest.mark.parametrize(
    "name, text",
    [
        (
            "avp.yaml",
            "VAULT_ADDR: http://file:8200\nAVP_KV_VERSION: 1\nAVP_AUTH_TYPE: userpass\n"
            "AVP_USERNAME: u\nAVP_PASSWORD: p\n",
        ),
        (
            "avp.json",
            '{"vault_addr": "http://file:8200", "AVP_KV_VERSION": "1", "AVP_AUTH_TYPE": "userpass",'
            ' "AVP_USERNAME": "u", "AVP_PASSWORD": "p"}',
        ),
        (
            "avp.env",
            "# comment\nVAULT_ADDR=http://file:8200\nexport AVP_KV_VERSION='1'\nAVP_AUTH_TYPE=userpass\n"
            'AVP_USERNAME=u\nAVP_PASSWORD="p"\n',
        ),
    ],
)
def test_config_file_formats_and_precedence(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    env = {"AVP_TYPE": "vault", "VAULT_ADDR": "http://env:8200", "AVP_KV_VERSION": "2"}
    cfg = VaultConfig.from_env(env, path)
    assert cfg.addr == "http://file:8200"  # VAULT_* from the file is exported over the environment
    assert cfg.kv_version == "2"  # AVP_* from the environment beats the file
    assert cfg.auth_type == "userpass" and cfg.username == "u" and cfg.password == "p"


@pytest.mark.parametrize(
    "env, message",
    [
        ({"AVP_AUTH_TYPE": "token"}, "Must provide a supported Vault Type"),
        ({**BASE, "AVP_AUTH_TYPE": "kubernetes"}, "Must provide a supported Authentication Type, received kubernetes"),
        (
            {**BASE, "AVP_AUTH_TYPE": "approle", "AVP_ROLE_ID": "r"},
            "AVP_SECRET_ID for approle authentication cannot be empty",
        ),
        ({**BASE, "AVP_AUTH_TYPE": "k8s"}, "AVP_K8S_ROLE for k8s authentication cannot be empty"),
        ({**BASE, "VAULT_TOKEN": ""}, "VAULT_TOKEN for token authentication cannot be empty"),
        ({**BASE, "AVP_PATH_VALIDATION": "^(?!secret/)"}, "AVP_PATH_VALIDATION is not a valid RE2"),
        ({**BASE, "VAULT_SKIP_VERIFY": "maybe"}, "VAULT_SKIP_VERIFY"),
    ],
)
def test_config_errors(env, message):
    with pytest.raises(VaultConfigError) as err:
        VaultConfig.from_env(env)
    assert message in err.value.message


def test_config_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(VaultConfigError, match="bad.yaml must hold a mapping"):
        VaultConfig.from_env({}, bad)
    with pytest.raises(VaultConfigError, match="cannot read config file .*missing.env"):
        VaultConfig.from_env({}, tmp_path / "missing.env")


def test_k8s_mount_precedence_and_tls_settings():
    env = {
        **BASE,
        "AVP_AUTH_TYPE": "k8s",
        "AVP_K8S_ROLE": "r",
        "AVP_MOUNT_PATH": "auth/generic",
        "VAULT_CACERT": "/ca.pem",
        "VAULT_CLIENT_TIMEOUT": "5s",
        "VAULT_MAX_RETRIES": "4",
    }
    cfg = VaultConfig.from_env(env)
    assert cfg.mount_path == "auth/generic" and cfg.verify == "/ca.pem"
    assert cfg.timeout == 5 and cfg.max_retries == 4
    cfg = VaultConfig.from_env({**env, "AVP_K8S_MOUNT_PATH": "auth/k8s-special", "VAULT_SKIP_VERIFY": "true"})
    assert cfg.mount_path == "auth/k8s-special" and cfg.verify is False


# ---------------------------------------------------------------------------------------------- auth on OpenBao

POLICY = 'path "{v1}/*" {{ capabilities = ["read"] }}\npath "{v2}/*" {{ capabilities = ["read"] }}\n'


@pytest.fixture(scope="module")
def policy(avp_vault, openbao):
    name = openbao.unique_mount("avp-read")
    openbao.client().sys.create_or_update_policy(name, POLICY.format(v1=avp_vault.v1, v2=avp_vault.v2))
    return name


def approle(openbao, policy, mount="approle", **role):
    client = openbao.client()
    if f"{mount}/" not in client.sys.list_auth_methods():
        client.sys.enable_auth_method("approle", path=mount)
    name = openbao.unique_mount("role")
    client.auth.approle.create_or_update_approle(name, token_policies=[policy], mount_point=mount, **role)
    role_id = client.auth.approle.read_role_id(name, mount_point=mount)["data"]["role_id"]
    secret_id = client.auth.approle.generate_secret_id(name, mount_point=mount)["data"]["secret_id"]
    return role_id, secret_id


MANIFEST = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"v": "<path:{v2}/data/testing#name>"}}
]


def manifest(avp):
    return [{**MANIFEST[0], "data": {"v": avp.fmt(MANIFEST[0]["data"]["v"])}}]


@pytest.mark.parametrize("mount", ["approle", "approle-team1"])
def test_approle_login_default_and_custom_mount(avp_vault, openbao, policy, mount):
    role_id, secret_id = approle(openbao, policy, mount=mount)
    extra = {"AVP_MOUNT_PATH": f"auth/{mount}"} if mount != "approle" else {}
    backend = avp_vault.backend(
        AVP_AUTH_TYPE="approle", AVP_ROLE_ID=role_id, AVP_SECRET_ID=secret_id, VAULT_TOKEN="", **extra
    )
    (obj,) = resolve(manifest(avp_vault), backend)
    assert obj["data"]["v"] == "test-kv-name"


def test_approle_wrong_secret_id_error_names_mount_and_hides_credentials(avp_vault, openbao, policy):
    role_id, _ = approle(openbao, policy)
    backend = avp_vault.backend(AVP_AUTH_TYPE="approle", AVP_ROLE_ID=role_id, AVP_SECRET_ID="not-the-secret-id")
    with pytest.raises(VaultAuthError) as err:
        backend.login()
    text = err.value.report()
    assert "Vault login failed" in text and "auth/approle/login" in text and "auth approle" in text
    assert "HTTP 400" in text or "HTTP 403" in text
    assert "not-the-secret-id" not in text


def test_userpass_login(avp_vault, openbao, policy):
    client = openbao.client()
    if "userpass/" not in client.sys.list_auth_methods():
        client.sys.enable_auth_method("userpass")
    user = openbao.unique_mount("user")
    client.auth.userpass.create_or_update_user(user, password="pw-for-test", policies=[policy])
    backend = avp_vault.backend(AVP_AUTH_TYPE="userpass", AVP_USERNAME=user, AVP_PASSWORD="pw-for-test")
    (obj,) = resolve(manifest(avp_vault), backend)
    assert obj["data"]["v"] == "test-kv-name"


def test_token_auth_forbidden_names_everything_but_the_token(avp_vault):
    backend = avp_vault.backend(VAULT_TOKEN="s.definitely-not-valid")
    with pytest.raises(PlaceholderError) as err:
        resolve(manifest(avp_vault), backend)
    text = err.value.report()
    assert "permission denied" in text and avp_vault.addr in text and "auth token" in text and "HTTP 403" in text
    assert f"{avp_vault.v2}/data/testing" in text
    assert "definitely-not-valid" not in text


# -- kubernetes auth: OpenBao reviews the token with the API emulator's TokenReview


def test_kubernetes_auth_through_a_tokenreview_endpoint(avp_vault, openbao, policy, apiserver, tmp_path):
    apiserver.require_emulator("OpenBao must reach the API server and the test mints a service-account token")
    server, ns = apiserver.server, apiserver.namespace
    reviewer = server.mint_token(ns, "vault-reviewer")  # RBAC is off: any account may create reviews
    client = openbao.client()
    mount = openbao.unique_mount("k8s")
    client.sys.enable_auth_method("kubernetes", path=mount)
    client.write_data(
        f"auth/{mount}/config",
        data={
            "kubernetes_host": server.url,
            "kubernetes_ca_cert": server.ca_pem.decode(),
            "token_reviewer_jwt": reviewer,
            "disable_local_ca_jwt": True,
        },
    )
    client.write_data(
        f"auth/{mount}/role/avp",
        data={
            "bound_service_account_names": ["repo-server"],
            "bound_service_account_namespaces": [ns],
            "token_policies": [policy],
        },
    )
    token_file = tmp_path / "sa-token"
    token_file.write_text(server.mint_token(ns, "repo-server") + "\n")
    before = server.requests.snapshot()
    backend = avp_vault.backend(
        AVP_AUTH_TYPE="k8s",
        AVP_K8S_ROLE="avp",
        AVP_K8S_TOKEN_PATH=str(token_file),
        AVP_MOUNT_PATH="auth/wrong",
        AVP_K8S_MOUNT_PATH=f"auth/{mount}",
    )
    (obj,) = resolve(manifest(avp_vault), backend)
    assert obj["data"]["v"] == "test-kv-name"
    assert (
        server.requests.count(
            since=before,
            verb="create",
            group="authentication.k8s.io",
            resource="tokenreviews",
            user=f"system:serviceaccount:{ns}:vault-reviewer",
        )
        == 1
    )

    other = server.mint_token(ns, "someone-else")  # not a bound account
    token_file.write_text(other + "\n")
    with pytest.raises(VaultAuthError) as info:
        avp_vault.backend(
            AVP_AUTH_TYPE="k8s",
            AVP_K8S_ROLE="avp",
            AVP_K8S_TOKEN_PATH=str(token_file),
            AVP_K8S_MOUNT_PATH=f"auth/{mount}",
        ).login()
    assert f"auth/{mount}" in str(info.value) and other not in str(info.value)


def test_kubernetes_auth_missing_token_file_is_named(avp_vault, tmp_path):
    backend = avp_vault.backend(AVP_AUTH_TYPE="k8s", AVP_K8S_ROLE="avp", AVP_K8S_TOKEN_PATH=str(tmp_path / "none"))
    with pytest.raises(VaultAuthError, match="cannot read the service account token .*none"):
        backend.login()


# ---------------------------------------------------------------------------------------------- token life cycle


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_token_is_renewed_after_two_thirds_of_its_lease(avp_vault, openbao, policy):
    role_id, secret_id = approle(openbao, policy, token_ttl="60s", token_max_ttl="1h")
    clock = Clock()
    backend = VaultBackend(
        VaultConfig.from_env(avp_vault.env(AVP_AUTH_TYPE="approle", AVP_ROLE_ID=role_id, AVP_SECRET_ID=secret_id)),
        clock=clock,
    )
    backend.login()
    token = backend._client.token
    root = openbao.client()
    assert root.auth.token.lookup(token)["data"].get("last_renewal_time") in (None, 0)
    clock.now += 30  # half the lease: no renewal yet
    resolve(manifest(avp_vault), backend)
    assert root.auth.token.lookup(token)["data"].get("last_renewal_time") in (None, 0)
    clock.now += 15  # 45 s of 60: renew before the read
    resolve(manifest(avp_vault), backend)
    assert root.auth.token.lookup(token)["data"].get("last_renewal_time")
    assert backend._client.token == token


def test_revoked_token_gets_one_relogin(avp_vault, openbao, policy):
    role_id, secret_id = approle(openbao, policy)
    backend = avp_vault.backend(AVP_AUTH_TYPE="approle", AVP_ROLE_ID=role_id, AVP_SECRET_ID=secret_id)
    backend.login()
    first = backend._client.token
    openbao.client().auth.token.revoke(first)
    (obj,) = resolve(manifest(avp_vault), backend)
    assert obj["data"]["v"] == "test-kv-name"
    assert backend._client.token != first


def test_policy_denial_is_not_retried_with_a_new_login(avp_vault, openbao):
    client = openbao.client()
    name = openbao.unique_mount("narrow")
    client.sys.create_or_update_policy(name, f'path "{avp_vault.v1}/foo" {{ capabilities = ["read"] }}')
    role_id, secret_id = approle(openbao, name)
    backend = avp_vault.backend(AVP_AUTH_TYPE="approle", AVP_ROLE_ID=role_id, AVP_SECRET_ID=secret_id)
    backend.login()
    token = backend._client.token
    with pytest.raises(PlaceholderError, match="permission denied"):
        resolve(manifest(avp_vault), backend)
    assert backend._client.token == token


def test_path_validation(avp_vault):
    backend = avp_vault.backend(AVP_PATH_VALIDATION=r"^avp1-[0-9a-f]+/")
    with pytest.raises(PlaceholderError, match="is disallowed by AVP_PATH_VALIDATION restriction"):
        resolve(manifest(avp_vault), backend)
    assert backend.requests_sent == 0


# ---------------------------------------------------------------------------------------------- transit


def test_transit_round_trip_with_the_bao_cli_both_ways(avp_vault, openbao, tmp_path):
    client = openbao.client()
    mount = openbao.unique_mount("transit")
    client.sys.enable_secrets_engine("transit", path=mount)
    client.secrets.transit.create_key("sops", mount_point=mount)
    backend = avp_vault.backend()
    env = isolated_env(tmp_path, BAO_ADDR=openbao.addr, BAO_TOKEN=openbao.token)
    bao = peer_binary("bao")

    ours = backend.transit_encrypt("sops", SecretBytes(b"data key \x00\xff"), mount=mount)
    assert ours.startswith("vault:v1:")
    theirs_plain = subprocess.run(
        [bao, "write", "-field=plaintext", f"{mount}/decrypt/sops", f"ciphertext={ours}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    assert base64.b64decode(theirs_plain) == b"data key \x00\xff"

    plaintext_b64 = base64.b64encode(b"from the cli").decode()
    theirs = subprocess.run(
        [bao, "write", "-field=ciphertext", f"{mount}/encrypt/sops", f"plaintext={plaintext_b64}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    assert backend.transit_decrypt("sops", theirs, mount=mount).reveal() == b"from the cli"


def test_vault_namespace_is_sent(avp_vault, openbao):
    import requests

    namespace = openbao.unique_mount("ns")
    headers = {"X-Vault-Token": openbao.token}
    requests.post(
        f"{openbao.addr}/v1/sys/namespaces/{namespace}", headers=headers, json={}, timeout=10
    ).raise_for_status()
    headers["X-Vault-Namespace"] = namespace
    requests.post(
        f"{openbao.addr}/v1/sys/mounts/kvn",
        headers=headers,
        json={"type": "kv", "options": {"version": "2"}},
        timeout=10,
    ).raise_for_status()
    requests.post(
        f"{openbao.addr}/v1/kvn/data/app", headers=headers, json={"data": {"k": "in-namespace"}}, timeout=10
    ).raise_for_status()
    objs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"v": "<path:kvn/data/app#k>"}}
    ]
    (obj,) = resolve(objs, avp_vault.backend(VAULT_NAMESPACE=namespace))
    assert obj["data"]["v"] == "in-namespace"
    with pytest.raises(PlaceholderError, match="Could not find secrets at path kvn/data/app"):
        resolve(objs, avp_vault.backend())
