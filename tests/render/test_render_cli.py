"""``secretsync render`` as a process, over the demo repository in examples/ and small trees.

Covers: the examples repo prepared at run time (real sops + age-keygen keys, a fresh sealing
key, values in a real OpenBao) rendered from a folder and from a Git URL with --ref: every
object present, apply order (stage, waves), substitution, redacted Secret values, keyed
hashes comparable across runs with the same key and not otherwise, --show-secrets, no
plaintext canary on stdout/stderr without it; a failing object → exit code, nothing on
stdout, every failure on stderr; usage errors; clean stderr on success.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from secretsync_emulator.examples import prepare_repository, sops_binary_encrypter, vault_values
from tests.render.conftest import CANARY

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_VALUES = [
    "demo-db-password-not-secret",
    "demo-redis-password-not-secret",
    "demo-api-token-not-secret",
    "demo-vault-password-not-secret",
]


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"}
    return subprocess.run(
        [sys.executable, "-m", "secretsync", "render", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=120,
        cwd=ROOT,
    )


@pytest.fixture
def demo(tmp_path, age_key, sealing_key_dir, openbao):
    """The examples repo, prepared with throwaway keys; Vault values written to the dev server."""
    from secretsync.sealing.keyring import Keyring
    from tests.fixtures.peers import peer_binary

    cert = Keyring.from_dir(sealing_key_dir).certificate_pem()
    repo = tmp_path / "demo-repo"
    encrypt = sops_binary_encrypter(age_key.recipient, peer_binary("sops"), home=tmp_path)
    prepare_repository(ROOT / "examples", repo, cert, encrypt)
    path, data = vault_values(ROOT / "examples")
    openbao.client().secrets.kv.v2.create_or_update_secret(path=path, secret=data, mount_point="secret")
    env = {"AVP_TYPE": "vault", "AVP_AUTH_TYPE": "token", "VAULT_ADDR": openbao.addr, "VAULT_TOKEN": openbao.token}
    args = ["--age-key-file", str(age_key.identity_file), "--key-dir", str(sealing_key_dir)]
    return repo, env, args


def documents(stdout: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(stdout) if d is not None]


def ids(docs) -> list[str]:
    return [f"{d['kind']}/{d['metadata'].get('namespace', '')}/{d['metadata']['name']}" for d in docs]


@pytest.mark.peer
def test_examples_render_redacted(demo):
    repo, env, args = demo
    result = cli(str(repo), *args, "--substitute", "CLUSTER_NAME=ci", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for value in TEMPLATE_VALUES:
        assert value not in result.stdout
    docs = documents(result.stdout)
    assert ids(docs) == [
        "CustomResourceDefinition//widgets.demo.secretsync.io",
        "Namespace//demo",
        "ConfigMap/demo/app-config",
        "Secret/demo/api-token",
        "Secret/demo/db-credentials",
        "Secret/demo/redis-auth",
        "Secret/demo/vault-credentials",
        "Deployment/demo/redis",
        "Deployment/demo/web",
        "Widget/demo/sprocket",
    ]
    by_name = {d["metadata"]["name"]: d for d in docs}
    assert by_name["app-config"]["data"]["greeting"] == "hello from ci"
    assert by_name["redis-auth"]["metadata"]["labels"] == {"app.kubernetes.io/part-of": "cache"}
    marker = re.compile(r"^<redacted:hmac-sha256:[0-9a-f]{16}>$")
    for name in ("api-token", "db-credentials", "redis-auth", "vault-credentials"):
        values = {**(by_name[name].get("data") or {}), **(by_name[name].get("stringData") or {})}
        assert values and all(marker.match(v) for v in values.values()), name


@pytest.mark.peer
def test_examples_show_secrets_and_git_source(demo, gitrepo):
    repo, env, args = demo
    git = gitrepo("demo")
    files = {p.relative_to(repo).as_posix(): p.read_bytes() for p in repo.rglob("*") if p.is_file()}
    sha = git.commit(files, "demo repo")
    git.tag("v1.0.0")
    result = cli(git.url, "--ref", "v1.0.0", *args, "--show-secrets", env=env)
    assert result.returncode == 0, result.stderr
    by_name = {d["metadata"]["name"]: d for d in documents(result.stdout)}
    assert by_name["db-credentials"]["stringData"]["password"] == "demo-db-password-not-secret"
    assert base64.b64decode(by_name["redis-auth"]["data"]["password"]) == b"demo-redis-password-not-secret"
    assert by_name["api-token"]["data"]["token"] == base64.b64encode(b"demo-api-token-not-secret").decode()
    assert by_name["vault-credentials"]["stringData"]["password"] == "demo-vault-password-not-secret"
    assert by_name["app-config"]["data"]["greeting"] == "hello from ${CLUSTER_NAME:=demo}"  # no --substitute
    assert sha  # the render above came from the tagged commit


def secret_tree(tmp_path, value: str) -> Path:
    root = tmp_path / f"tree-{abs(hash(value))}"
    root.mkdir()
    (root / "s.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  a: {value}\n  b: same\n  c: same\n"
    )
    return root


def test_keyed_hashes(tmp_path):
    root = secret_tree(tmp_path, CANARY)
    key_env = {"SECRETSYNC_REDACTION_KEY": "installation-key"}
    one, two = cli(str(root), env=key_env), cli(str(root), env=key_env)
    assert one.returncode == 0 and one.stdout == two.stdout and CANARY not in one.stdout
    values = documents(one.stdout)[0]["stringData"]
    assert values["b"] == values["c"] != values["a"]
    changed = cli(str(secret_tree(tmp_path, CANARY + "x")), env=key_env)
    assert documents(changed.stdout)[0]["stringData"]["a"] != values["a"]
    assert documents(changed.stdout)[0]["stringData"]["b"] == values["b"]
    key_file = tmp_path / "key"
    key_file.write_text("installation-key\n")
    assert cli(str(root), "--redaction-key-file", str(key_file)).stdout == one.stdout
    random_one, random_two = cli(str(root)), cli(str(root))  # per-invocation keys differ
    assert documents(random_one.stdout)[0]["stringData"]["a"] != documents(random_two.stdout)[0]["stringData"]["a"]


def test_failure_prints_nothing_and_lists_every_error(tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    (root / "ok.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: fine\nstringData:\n  a: {CANARY}\n"
    )
    (root / "broken.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: [\n")
    (root / "bad64.yaml").write_text(f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: b\ndata:\n  k: {CANARY}!\n")
    result = cli(str(root))
    assert result.returncode == 1 and result.stdout == ""
    assert "broken.yaml (document 0)" in result.stderr and "bad64.yaml (document 0) Secret/b" in result.stderr
    assert "nothing may be applied or pruned" in result.stderr and CANARY not in result.stderr


def test_decrypt_failure_exit_code(tmp_path, seal):
    root = tmp_path / "sealed"
    root.mkdir()
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "x", "namespace": "d"},
        "stringData": {"t": CANARY},
    }
    (root / "s.yaml").write_text(yaml.safe_dump(seal(secret)))
    from secretsync.sealing.keyring import FileKeyStore, generate_key, key_secret

    other = tmp_path / "other-keys"
    FileKeyStore(other).put(key_secret(generate_key(bits=2048, name="sealed-secrets-keyother")))
    result = cli(str(root), "--key-dir", str(other))
    assert result.returncode == 3 and result.stdout == ""
    assert "s.yaml (document 0) SealedSecret.bitnami.com/d/x: unseal:" in result.stderr
    assert CANARY not in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--substitute", "NOEQUALS"], "expected NAME=VALUE"),
        (["--ref", "main"], "--ref needs a Git repository"),
        (["--redaction-key-file", os.devnull], "is empty"),  # an empty key would make the markers plain hashes
    ],
)
def test_usage_errors(tmp_path, args, message):
    result = cli(str(tmp_path), *args)
    assert result.returncode in (1, 2) and message in result.stderr and result.stdout == ""
