"""``secretsync vault generate -s [namespace:]name``: AVP's configuration from a Kubernetes Secret.

Covers: a Secret holding every setting (AVP_TYPE, AVP_AUTH_TYPE, VAULT_ADDR, VAULT_TOKEN) is
enough, read through the Kubernetes API (the emulator, or a real cluster via
SECRETSYNC_TEST_KUBECONFIG) with ``$KUBECONFIG``; ``name`` alone means namespace ``argocd``;
AVP's precedence (``-c`` file over the Secret, ``AVP_*`` from the environment over both,
``VAULT_*`` from the Secret over the environment); a missing Secret or no cluster is an
error naming it, with nothing on stdout; configuration values never appear in errors;
``secret_reference`` splits like AVP (exactly two ``:`` fields, else ``argocd``).
"""

from __future__ import annotations

import os
import uuid

import pytest
import yaml

from secretsync.vault.config import secret_reference
from tests.fixtures.openbao import free_port
from tests.kube.conftest import client_for
from tests.vault.inprocess import call_main

pytestmark = pytest.mark.peer  # real peers: OpenBao dev server, the Kubernetes API (emulator)


@pytest.fixture
def generate(apiserver, monkeypatch, capsys, tmp_path):
    """Run ``secretsync vault generate`` in-process with only KUBECONFIG and the given variables."""
    for name in list(os.environ):
        if name.startswith(("VAULT_", "AVP_", "ARGOCD_ENV_", "KUBERNETES_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KUBECONFIG", str(apiserver.kubeconfig))
    manifest = tmp_path / "in" / "cm.yaml"
    manifest.parent.mkdir()

    def run(*args: str, text: str, **env: str) -> tuple[int, str, str]:
        manifest.write_text(text)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        try:
            code = call_main(["vault", "generate", str(manifest.parent), *args])
        finally:
            for key in env:
                monkeypatch.delenv(key)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def kube(apiserver):
    client = client_for(apiserver)
    yield client
    client.close()


def put_secret(kube, namespace: str, name: str, values: dict[str, str]) -> None:
    kube.create(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "stringData": values}
    )


def manifest(avp_vault) -> str:
    return avp_vault.fmt(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {name: '<path:{v2}/data/testing#name>'}\n"
    )


def settings(avp_vault, **extra: str) -> dict[str, str]:
    values = {
        "AVP_TYPE": "vault",
        "AVP_AUTH_TYPE": "token",
        "VAULT_ADDR": avp_vault.addr,
        "VAULT_TOKEN": avp_vault.server.token,
        "VAULT_RETRY_WAIT": "0.05",
    }
    values.update(extra)
    return values


def test_configuration_from_a_secret(avp_vault, apiserver, kube, generate):
    put_secret(kube, apiserver.namespace, "avp-credentials", settings(avp_vault))
    code, out, err = generate("-s", f"{apiserver.namespace}:avp-credentials", text=manifest(avp_vault))
    assert (code, err) == (0, ""), err
    assert yaml.safe_load(out.split("---")[0])["data"] == {"name": "test-kv-name"}
    # the same without -s: no configuration at all (AVP's wording)
    code, out, err = generate(text=manifest(avp_vault))
    assert (code, out) == (1, "") and "Must provide a supported Vault Type" in err


def test_name_alone_means_the_argocd_namespace(avp_vault, apiserver, kube, generate):
    apiserver.require_emulator("creates the argocd namespace")
    if kube.get_or_none("v1", "Namespace", "argocd") is None:
        kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}})
    name = f"avp-{uuid.uuid4().hex[:6]}"
    put_secret(kube, "argocd", name, settings(avp_vault))
    code, out, err = generate("-s", name, text=manifest(avp_vault))
    assert (code, err) == (0, ""), err
    assert yaml.safe_load(out.split("---")[0])["data"] == {"name": "test-kv-name"}


def test_precedence_file_over_secret_and_avp_environment_over_both(avp_vault, apiserver, kube, generate, tmp_path):
    # the Secret's token is wrong; the -c file's is right: the file wins
    put_secret(
        kube,
        apiserver.namespace,
        "avp",
        settings(avp_vault, VAULT_TOKEN="wrong-token-in-secret", AVP_AUTH_TYPE="approle"),
    )
    config = tmp_path / "avp.env"
    config.write_text(f"VAULT_TOKEN={avp_vault.server.token}\n")
    ref = f"{apiserver.namespace}:avp"
    # AVP_AUTH_TYPE=approle from the Secret is overridden by the environment's token
    code, out, err = generate("-s", ref, "-c", str(config), text=manifest(avp_vault), AVP_AUTH_TYPE="token")
    assert (code, err) == (0, ""), err
    # without the file the Secret's (wrong) VAULT_TOKEN beats the environment's right one (AVP's quirk)
    code, out, err = generate(
        "-s", ref, text=manifest(avp_vault), AVP_AUTH_TYPE="token", VAULT_TOKEN=avp_vault.server.token
    )
    assert (code, out) == (1, "") and "permission denied" in err
    assert "wrong-token-in-secret" not in err and avp_vault.server.token not in err


def test_missing_secret_or_cluster_is_an_error_naming_it(avp_vault, apiserver, generate, monkeypatch):
    code, out, err = generate("-s", f"{apiserver.namespace}:nope", text=manifest(avp_vault))
    assert (code, out) == (1, "")
    assert f"cannot read the configuration Secret {apiserver.namespace}/nope" in err and "not found" in err
    # a kubeconfig pointing at nothing listening
    dead = apiserver.workdir / "dead-kubeconfig"
    dead.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "x",
                "clusters": [{"name": "x", "cluster": {"server": f"http://127.0.0.1:{free_port()}"}}],
                "users": [{"name": "x", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}],
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(dead))
    code, out, err = generate("-s", "argocd:avp", text=manifest(avp_vault))
    assert (code, out) == (1, "") and "argocd/avp" in err


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("ns:name", ("ns", "name")),
        ("name", ("argocd", "name")),
        ("a:b:c", ("argocd", "a")),
        (":x", ("", "x")),
    ],
)
def test_secret_reference_splits_like_avp(spec, expected):
    assert secret_reference(spec) == expected
