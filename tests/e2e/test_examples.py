"""The issue's scenario end to end: ``secretsync apply`` on examples/ against the API emulator through the
real ``kubernetes`` client, with the real sops binary, age keys, a sealing key and OpenBao.

Covers, in order on one cluster: first apply (every object created with its decrypted, unsealed or
Vault-resolved values; owner labels and the ApplySet parent; wave 1 after wave 0); a no-op
re-apply (zero write requests, every resourceVersion unchanged); one Secret changed in Git (only
that object written); a file removed with --prune (only it deleted); a broken sops file plus a
removed file (nothing applied, nothing pruned, the live Secret untouched); the sealing key rotated
and the repository resealed (no write: unsealed values are unchanged); ``secretsync diff`` agreeing
with apply. Request counts are taken inside the emulator; resourceVersions prove the same on a real
cluster.
"""

from __future__ import annotations

import base64

import pytest
import yaml

from secretsync.cli.main import main
from tests.fixtures.peers import isolated_env, peer_binary
from tests.reconcile.conftest import ROOT

pytestmark = pytest.mark.timeout(240)

TEMPLATE_VALUES = [
    "demo-db-password-not-secret",
    "demo-redis-password-not-secret",
    "demo-api-token-not-secret",
    "demo-vault-password-not-secret",
    "vault-user",
]
KINDS = [("v1", "ConfigMap"), ("v1", "Secret"), ("apps/v1", "Deployment"), ("demo.secretsync.io/v1", "Widget")]


def run_cli(capsys, *args, kube=None):
    """Run the CLI in-process; with ``kube``, its request counter covers exactly this run."""
    capsys.readouterr()
    if kube is not None:
        kube.reset()
    rc = main(list(args))
    if kube is not None:
        kube.counted = dict(kube.requests)
    out, err = capsys.readouterr()
    return rc, out, err


def versions(kube) -> dict[str, str]:
    out = {}
    for api_version, kind in KINDS:
        for obj in kube.client.list(api_version, kind, "demo")["items"]:
            out[f"{kind}/{obj['metadata']['name']}"] = obj["metadata"]["resourceVersion"]
    return out


def secret_value(kube, name: str, key: str) -> bytes:
    return kube.client.get("v1", "Secret", name, "demo")["data"][key].reveal()


def sops_encrypt(tmp_path, age_key, plain: str, out) -> None:
    import subprocess

    src = tmp_path / "plain-input.yaml"  # the sops binary's input file (test values only)
    src.write_text(plain)
    proc = subprocess.run(
        [
            peer_binary("sops"),
            "--disable-version-check",
            "encrypt",
            "--age",
            age_key.recipient,
            "--encrypted-regex",
            "^(data|stringData)$",
            str(src),
        ],
        capture_output=True,
        timeout=60,
        env=isolated_env(tmp_path, SOPS_DISABLE_VERSION_CHECK="1"),
    )
    src.unlink()
    assert proc.returncode == 0, proc.stderr.decode()
    out.write_bytes(proc.stdout)


@pytest.mark.peer
def test_examples_scenario(kube, controllers, demo, tmp_path, capsys):
    kubeconfig = str(kube.cluster.kubeconfig)
    base = [
        "apply",
        str(demo.repo),
        "--kubeconfig",
        kubeconfig,
        *demo.args(),
        "--substitute",
        "CLUSTER_NAME=ci",
        "--timeout",
        "60s",
    ]

    # 1. first apply
    rc, out, err = run_cli(capsys, *base, "--prune")
    assert rc == 0, err
    lines = out.splitlines()
    assert "CustomResourceDefinition.apiextensions.k8s.io/widgets.demo.secretsync.io created" in lines
    assert "Widget.demo.secretsync.io/demo/sprocket created" in lines
    wave0 = max(
        lines.index(f"Secret/demo/{n} created")
        for n in ("db-credentials", "redis-auth", "api-token", "vault-credentials")
    )
    wave1 = min(
        lines.index(x)
        for x in (
            "Deployment.apps/demo/web created",
            "Deployment.apps/demo/redis created",
            "Widget.demo.secretsync.io/demo/sprocket created",
        )
    )
    assert wave0 < wave1
    assert secret_value(kube, "db-credentials", "password") == b"demo-db-password-not-secret"
    assert secret_value(kube, "redis-auth", "password") == b"demo-redis-password-not-secret"
    assert secret_value(kube, "api-token", "token") == b"demo-api-token-not-secret"
    assert secret_value(kube, "vault-credentials", "password") == b"demo-vault-password-not-secret"
    assert kube.client.get("v1", "ConfigMap", "app-config", "demo")["data"]["greeting"] == "hello from ci"
    assert (
        not kube.client.list("bitnami.com/v1alpha1", "SealedSecret", "demo")["items"] if _has_sealed_crd(kube) else True
    )
    for text in TEMPLATE_VALUES:
        assert text not in out and text not in err
    secret = kube.client.get("v1", "Secret", "db-credentials", "demo")
    part_of = secret["metadata"]["labels"]["applyset.kubernetes.io/part-of"]
    parents = kube.client.list("v1", "Secret", "default", label_selector=f"applyset.kubernetes.io/id={part_of}")
    assert len(parents["items"]) == 1
    kinds = parents["items"][0]["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"]
    assert kinds == (
        "ConfigMap,CustomResourceDefinition.apiextensions.k8s.io,Deployment.apps,Namespace,Secret,"
        "Widget.demo.secretsync.io"
    )
    assert kube.cluster.kubectl(
        "get", "secrets", "-n", "demo", "-l", f"applyset.kubernetes.io/part-of={part_of}", "-o", "name"
    ).stdout.split() == ["secret/api-token", "secret/db-credentials", "secret/redis-auth", "secret/vault-credentials"]

    # 2. nothing changed: nothing written
    before = versions(kube)
    rc, out, err = run_cli(capsys, *base, "--prune", kube=kube)
    assert rc == 0, err
    assert "0 created, 0 configured, 10 unchanged, 0 deleted" in out
    assert versions(kube) == before
    if kube.cluster.is_emulator:
        assert kube.writes(kube.counted) == {}
        assert kube.counted[("list", False)] == 6, kube.counted  # one list per kind, not a request per object
        assert kube.counted.get(("patch", True), 0) == 0  # and no dry-run: managedFields decided

    # 3. one Secret changed in Git: only it is written
    template = (ROOT / "examples" / "templates" / "db-credentials.yaml").read_text()
    sops_encrypt(
        tmp_path,
        demo.age_key,
        template.replace("demo-db-password-not-secret", "rotated-db-password-0042"),
        demo.repo / "db-credentials.sops.yaml",
    )
    rc, out, err = run_cli(capsys, *base, "--prune", kube=kube)
    assert rc == 0, err
    assert out.splitlines()[0] == "Secret/demo/db-credentials configured"
    after = versions(kube)
    assert {k for k in after if after[k] != before[k]} == {"Secret/db-credentials"}
    assert secret_value(kube, "db-credentials", "password") == b"rotated-db-password-0042"
    if kube.cluster.is_emulator:
        assert kube.writes(kube.counted) == {"patch": 1}
    rc, out, err = run_cli(
        capsys, "diff", str(demo.repo), "--kubeconfig", kubeconfig, *demo.args(), "--substitute", "CLUSTER_NAME=ci"
    )
    assert rc == 0, out + err

    # 4. a file removed from Git: pruned
    (demo.repo / "widget.yaml").unlink()
    before = versions(kube)
    rc, out, err = run_cli(capsys, *base, "--prune", kube=kube)
    assert rc == 0, err
    assert "Widget.demo.secretsync.io/demo/sprocket deleted" in out.splitlines()
    assert kube.client.get_or_none("demo.secretsync.io/v1", "Widget", "sprocket", "demo") is None
    after = versions(kube)
    assert after == {k: v for k, v in before.items() if k != "Widget/sprocket"}
    if kube.cluster.is_emulator:
        assert kube.writes(kube.counted) == {"delete": 1, "patch": 1}  # the object, and the parent's kind list

    # 5. a broken sops file (and a removed file): nothing applied, nothing pruned
    sops_file = demo.repo / "db-credentials.sops.yaml"
    good = sops_file.read_text()
    doc = yaml.safe_load(good)
    doc["stringData"]["password"] = doc["stringData"]["username"]  # swap ciphertexts: MAC mismatch
    sops_file.write_text(yaml.safe_dump(doc))
    (demo.repo / "configmap.yaml").rename(tmp_path / "configmap.yaml")
    before = versions(kube)
    rc, out, err = run_cli(capsys, *base, "--prune", kube=kube)
    assert rc == 3, err
    assert "db-credentials" in err and "nothing may be applied or pruned" in err
    assert out == ""
    assert versions(kube) == before
    assert secret_value(kube, "db-credentials", "password") == b"rotated-db-password-0042"
    assert kube.client.get_or_none("v1", "ConfigMap", "app-config", "demo") is not None
    if kube.cluster.is_emulator:
        assert kube.writes(kube.counted) == {}
    sops_file.write_text(good)
    (tmp_path / "configmap.yaml").rename(demo.repo / "configmap.yaml")

    # 6. rotate the sealing key and reseal: the SealedSecret changes, the Secret does not
    from secretsync.sealing.keyring import FileKeyStore, rotate

    rotate(FileKeyStore(demo.key_dir), bits=2048)
    sealed_file = demo.repo / "api-token.sealedsecret.yaml"
    sealed_before = sealed_file.read_text()
    rc, out, err = run_cli(capsys, "reseal", str(demo.repo), "--key-dir", str(demo.key_dir), "-j", "1")
    assert rc == 0, err
    assert sealed_file.read_text() != sealed_before
    before = versions(kube)
    rc, out, err = run_cli(capsys, *base, "--prune", kube=kube)
    assert rc == 0, err
    assert "0 created, 0 configured, 9 unchanged, 0 deleted" in out
    assert versions(kube) == before
    assert secret_value(kube, "api-token", "token") == b"demo-api-token-not-secret"
    if kube.cluster.is_emulator:
        assert kube.writes(kube.counted) == {}


def _has_sealed_crd(kube) -> bool:
    from secretsync.kube.errors import UnknownResource

    try:
        kube.client.resource("bitnami.com/v1alpha1", "SealedSecret")
        return True
    except UnknownResource:
        return False


@pytest.mark.peer
def test_diff_masks_secret_values(kube, demo, capsys):
    kubeconfig = str(kube.cluster.kubeconfig)
    rc, out, err = run_cli(capsys, "diff", str(demo.repo), "--kubeconfig", kubeconfig, *demo.args())
    assert rc == 1, err
    assert "# Secret/demo/db-credentials: create" in out
    assert "+  password: '*** (added)'" in out
    for text in TEMPLATE_VALUES + [base64.b64encode(t.encode()).decode() for t in TEMPLATE_VALUES]:
        assert text not in out and text not in err
    assert kube.client.get_or_none("v1", "Namespace", "demo") is None  # diff wrote nothing
