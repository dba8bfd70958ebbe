"""``secretsync vault generate``: argocd-vault-plugin's generate, and no plaintext in logs or errors.

Covers: directory walk (.yaml/.yml/.json, recursive, other files skipped), multi-document
files, empty and comment-only input (no output, exit 0), stdin, JSON in → YAML out with
sorted keys and a ``---`` after each document, "no YAML or JSON files were found", parse
errors naming the file, login before any manifest, nothing on stdout when anything fails,
the real entry point in a subprocess, and the canary rule: a
secret value rendered at DEBUG log level never appears in logs (caplog, stderr) or in
exception texts, only in the rendered output.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import uuid

import pytest
import yaml

from secretsync.secretvalue import SecretBytes
from secretsync.vault.placeholders import resolve
from tests.vault.inprocess import call_main

pytestmark = pytest.mark.peer  # real peers: OpenBao dev server, kubectl, bao CLI


@pytest.fixture
def cli(avp_vault, monkeypatch, capsys):
    """Run ``secretsync`` in-process with AVP's variables; returns (exit code, stdout, stderr)."""
    for name in list(__import__("os").environ):
        if name.startswith(("VAULT_", "AVP_", "ARGOCD_ENV_")):
            monkeypatch.delenv(name)

    def run(*args: str, stdin: bytes | None = None, **env: str) -> tuple[int, str, str]:
        for key, value in avp_vault.env(**env).items():
            monkeypatch.setenv(key, value)
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        code = call_main(args)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def write(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_generate_walks_a_directory_and_prints_yaml_documents(avp_vault, cli, tmp_path):
    write(
        tmp_path / "a.yaml",
        avp_vault.fmt("""
# a comment
apiVersion: v1
kind: ConfigMap
metadata: {name: one}
data: {v: "<path:{v2}/data/testing#name>", z: "1", a: "2"}
---
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: two, annotations: {avp.kubernetes.io/path: "{v2}/data/testing"}}
spec: {replicas: <target-port>, ratio: 1.0}
"""),
    )
    write(
        tmp_path / "sub" / "b.json",
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "three"},
                "data": {"PW": avp_vault.fmt("<path:{v1}/testing#secret-var-value>")},
            }
        ),
    )
    write(tmp_path / "sub" / "comments.yml", "# only a comment\n---\n")
    write(tmp_path / "notes.txt", "<path:nowhere#x>")
    code, out, err = cli("vault", "generate", str(tmp_path), AVP_KV_VERSION="2")
    assert code == 1  # the v1 path needs kv-version 1: nothing is printed
    assert out == ""
    assert "check that kv-v2 is the correct engine" in err and "Secret three" in err

    write(
        tmp_path / "sub" / "b.json",
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "three", "annotations": {"avp.kubernetes.io/kv-version": "1"}},
                "data": {"PW": avp_vault.fmt("<path:{v1}/testing#secret-var-value>")},
            }
        ),
    )
    code, out, err = cli("vault", "generate", str(tmp_path))
    assert (code, err) == (0, "")
    assert out.endswith("---\n") and out.count("---\n") == 3 and not out.startswith("---")
    docs = [d for d in yaml.safe_load_all(out) if d is not None]
    assert [d["metadata"]["name"] for d in docs] == ["one", "two", "three"]
    assert docs[0]["data"] == {"a": "2", "v": "test-kv-name", "z": "1"}
    assert list(docs[0]["data"]) == ["a", "v", "z"]  # keys sorted
    assert docs[1]["spec"] == {"ratio": 1, "replicas": 80}
    assert docs[2]["data"] == {"PW": "dGVzdC1wYXNzd29yZA=="}


def test_generate_from_stdin(avp_vault, cli):
    text = avp_vault.fmt(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata: {v: '<path:{v2}/data/testing#tag>'}\n"
    )
    code, out, _ = cli("vault", "generate", "-", stdin=text.encode())
    assert code == 0
    assert out == "apiVersion: v1\ndata:\n  v: '1.1'\nkind: ConfigMap\nmetadata:\n  name: s\n---\n"


def test_empty_input_prints_nothing(cli, tmp_path):
    write(tmp_path / "file.yaml", "---\n# nothing\n---\n")
    assert cli("vault", "generate", str(tmp_path)) == (0, "", "")


def test_no_manifest_files(cli, tmp_path):
    (tmp_path / "readme.md").write_text("x")
    code, out, err = cli("vault", "generate", str(tmp_path))
    assert (code, out) == (1, "") and f"no YAML or JSON files were found in {tmp_path}" in err


def test_invalid_yaml_names_the_file(cli, tmp_path):
    write(tmp_path / "invalid.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n")
    code, out, err = cli("vault", "generate", str(tmp_path))
    assert (code, out) == (1, "") and "invalid.yaml" in err


def test_login_happens_before_manifests_are_looked_at(cli, tmp_path):
    write(tmp_path / "plain.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    code, out, err = cli(
        "vault",
        "generate",
        str(tmp_path),
        AVP_AUTH_TYPE="userpass",
        AVP_USERNAME="nobody",
        AVP_PASSWORD="wrong-password",
    )
    assert (code, out) == (1, "") and "Vault login failed" in err and "wrong-password" not in err


def test_real_entry_point_in_a_subprocess(avp_vault, tmp_path):
    write(
        tmp_path / "m.yaml",
        avp_vault.fmt(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {v: '<path:{v2}/data/testing#name>'}\n"
        ),
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **avp_vault.env()}
    env = {k: v for k, v in env.items() if k != "VAULT_RETRY_WAIT"}
    proc = subprocess.run(
        [sys.executable, "-m", "secretsync", "vault", "generate", str(tmp_path / "m.yaml")],
        env={**env, "ARGOCD_ENV_VAULT_TOKEN": env.pop("VAULT_TOKEN")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(proc.stdout.split("---\n")[0])["data"] == {"v": "test-kv-name"}


# ---------------------------------------------------------------------------------------------- canary


@pytest.fixture
def canary(avp_vault, openbao):
    value = f"CANARY-{uuid.uuid4().hex}"
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path="canary",
        mount_point=avp_vault.v2,
        secret={"c": value, "json": json.dumps({"inner": value}), "b64": SecretBytes(value).to_base64()},
    )
    return value


CANARY_OK = """
apiVersion: v1
kind: Secret
metadata: {name: s, annotations: {avp.kubernetes.io/path: "{v2}/data/canary"}}
data: {a: <b64>, b: "<c | base64encode>"}
stringData: {c: "x-<c>-y", d: "<json | jsonPath {.inner}>"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {v: "<path:{v2}/data/canary#c>"}
"""

CANARY_FAILURES = [
    'data: {v: "<path:{v2}/data/canary#c | jsonParse>"}',  # JSON error on the value
    'data: {v: "<path:{v2}/data/canary#json | jsonParse | jsonPath {.inner.x}>"}',
    'data: {v: "<path:{v2}/data/canary#json | jsonParse | jsonPath {.inner[0]}>"}',
    'data: {v: "<path:{v2}/data/canary#c | indent 2 3>"}',
    'data: {v: "<path:{v2}/data/canary#json | yamlParse | sha256sum>"}',
]


def test_canary_never_reaches_logs_or_errors_in_the_library(avp_vault, canary, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    from secretsync.manifests.loader import load_manifests

    docs = [d for _, d in load_manifests(avp_vault.fmt(CANARY_OK).encode(), "ok.yaml")]
    backend = avp_vault.backend()
    secret, cm = resolve(docs, backend)
    assert secret["stringData"]["c"].reveal() == f"x-{canary}-y".encode()  # the value did go through
    assert cm["data"]["v"] == canary
    texts = [repr(secret), str(secret), repr(backend.reader().read(f"{avp_vault.v2}/data/canary"))]
    for failing in CANARY_FAILURES:
        body = avp_vault.fmt(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: f}}\n{failing}\n")
        with pytest.raises(Exception) as err:
            resolve([d for _, d in load_manifests(body.encode(), "f.yaml")], backend)
        texts += [str(err.value), repr(err.value), getattr(err.value, "report", lambda: "")()]
    bad_data = avp_vault.fmt(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s, annotations: "
        '{avp.kubernetes.io/path: "{v2}/data/canary"}}\ndata: {x: "<c>"}\n'
    )
    with pytest.raises(Exception) as err:
        resolve([d for _, d in load_manifests(bad_data.encode(), "s.yaml")], backend)
    texts += [str(err.value), repr(err.value)]
    out, errout = capfd.readouterr()
    assert caplog.records, "DEBUG logging was not active"
    for text in [caplog.text, out, errout, *texts]:
        assert canary not in text
        assert SecretBytes(canary).to_base64() not in text


def test_canary_never_reaches_stderr_of_the_cli(avp_vault, canary, cli, tmp_path):
    write(tmp_path / "ok.yaml", avp_vault.fmt(CANARY_OK))
    code, out, err = cli("--log-level", "debug", "vault", "generate", str(tmp_path))
    assert code == 0 and canary in out  # the output is the one place the value belongs
    assert "DEBUG" in err and canary not in err
    write(
        tmp_path / "zz-fail.yaml",
        avp_vault.fmt("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: f}\n" + CANARY_FAILURES[0] + "\n"),
    )
    code, out, err = cli("--log-level", "debug", "vault", "generate", str(tmp_path))
    assert (code, out) == (1, "") and "jsonParse: invalid JSON" in err and canary not in err
