"""Plaintext canary, end to end: secret values reach stdout only where the user asked for them.

Covers: the examples repo (examples/prepare.py, real sops + age-keygen keys, a fresh sealing
key, a value in a real OpenBao) with every template value replaced by a canary, then
``secretsync --log-level debug`` running ``render`` (redacted and ``--show-secrets``), ``render``
of broken input holding the canary (malformed YAML, bad base64, a tampered sops value, a
SealedSecret for another scope), ``sops decrypt`` / ``sops -d`` / ``--extract`` and a tampered
file, ``unseal`` and ``unseal`` with the wrong key. Each run: the canary never on stderr,
never in any file under the test's temporary folders (TMPDIR of the processes included) or
the working directory; on stdout only for ``--show-secrets``, ``sops -d`` and ``unseal``.
Skips: ``-w``/``--output``/``-i``, which write plaintext where the user said.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.render.conftest import age_key, sealing_key_dir  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
CANARY = "cnry-8d41e7-plaintext"
# Distinct canaries per template, so a failure says which path leaked.
VALUES = {"db": f"{CANARY}-db", "redis": f"{CANARY}-redis", "token": f"{CANARY}-token", "vault": f"{CANARY}-vault"}
TEMPLATE_VALUES = {
    "demo-db-password-not-secret": VALUES["db"],
    "demo-redis-password-not-secret": VALUES["redis"],
    "demo-api-token-not-secret": VALUES["token"],
    "demo-vault-password-not-secret": VALUES["vault"],
}
NEEDLES = [CANARY.encode(), base64.b64encode(CANARY.encode())[:16]]


def canary_templates(examples: Path) -> None:
    """Replace every demo value in the copied templates by its canary (data values stay base64)."""
    for path in (examples / "templates").rglob("*.yaml"):
        text = path.read_text()
        for old, new in TEMPLATE_VALUES.items():
            text = text.replace(old, new)
            text = text.replace(base64.b64encode(old.encode()).decode(), base64.b64encode(new.encode()).decode())
        path.write_text(text)


def load_prepare(examples: Path):
    spec = importlib.util.spec_from_file_location("examples_prepare_canary", examples / "prepare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def world(tmp_path, age_key, sealing_key_dir, openbao):  # noqa: F811
    """A prepared canary repo, a clean cwd and TMPDIR, and the runner for ``secretsync`` processes."""
    from secretsync.sealing.keyring import Keyring
    from tests.fixtures.peers import peer_binary

    examples = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", examples, ignore=shutil.ignore_patterns("__pycache__"))
    canary_templates(examples)
    cert = Keyring.from_dir(sealing_key_dir).certificate_pem()
    repo = load_prepare(examples).prepare(tmp_path / "repo", age_key.recipient, cert, sops=peer_binary("sops"))
    values = yaml.safe_load((examples / "templates" / "vault-values.yaml").read_text())
    mount = openbao.unique_mount()
    openbao.client().sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path=values["path"], secret=values["data"], mount_point=mount
    )
    vault_secret = repo / "vault-secret.yaml"
    vault_secret.write_text(vault_secret.read_text().replace("secret/data/demo/app", f"{mount}/data/demo/app"))
    shutil.rmtree(examples)  # the test's own plaintext input: gone before any secretsync process runs
    for d in ("cwd", "tmp", "home"):
        (tmp_path / d).mkdir()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
        "TMPDIR": str(tmp_path / "tmp"),
        "SOPS_DISABLE_VERSION_CHECK": "1",
        "AVP_TYPE": "vault",
        "AVP_AUTH_TYPE": "token",
        "VAULT_ADDR": openbao.addr,
        "VAULT_TOKEN": openbao.token,
        "SECRETSYNC_REDACTION_KEY": "canary-test",
    }

    def run(*args: str, extra_env: dict | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "-m", "secretsync", "--log-level", "debug", *args],
            capture_output=True,
            env={**env, **(extra_env or {})},
            timeout=120,
            cwd=tmp_path / "cwd",
        )
        assert CANARY.encode() not in proc.stderr, proc.stderr.decode(errors="replace")
        return proc

    return {"repo": repo, "run": run, "age": age_key, "keys": sealing_key_dir, "tmp": tmp_path}


def _data_regions(handle) -> Iterator[tuple[int, int]]:
    """(start, end) of the regions of a file that hold data; holes of sparse files read as zeros."""
    size = os.fstat(handle.fileno()).st_size
    offset = 0
    while offset < size:
        try:
            start = os.lseek(handle.fileno(), offset, os.SEEK_DATA)
            end = os.lseek(handle.fileno(), start, os.SEEK_HOLE)
        except OSError:  # ENXIO: no data after offset (or SEEK_DATA unsupported: one region)
            if offset == 0 and not hasattr(os, "SEEK_DATA"):
                yield 0, size
            return
        yield start, end
        offset = end


def file_contains(path: Path, needles: tuple[bytes, ...], chunk: int = 1 << 20) -> bool:
    """Stream ``path`` (data regions only, so a sparse 1 TiB file costs nothing) looking for needles."""
    overlap = max(len(n) for n in needles) - 1
    with open(path, "rb") as handle:
        for start, end in _data_regions(handle):
            handle.seek(start)
            tail = b""
            position = start
            while position < end:
                block = handle.read(min(chunk, end - position))
                if not block:
                    break
                position += len(block)
                window = tail + block
                if any(n in window for n in needles):
                    return True
                tail = window[-overlap:] if overlap else b""
    return False


def assert_no_canary_on_disk(*roots: Path) -> None:
    found = []
    for root in roots:
        for path in Path(root).rglob("*"):
            if path.is_file() and not path.is_symlink() and file_contains(path, tuple(NEEDLES)):
                found.append(str(path))
    assert not found, f"canary written to disk: {found}"


def test_disk_scan_finds_needles_across_chunks_and_skips_holes(tmp_path):
    needle = b"scan-self-test-needle"  # not the canary: the other tests scan this tmp tree
    sparse = tmp_path / "sparse.bin"
    with open(sparse, "wb") as handle:
        handle.truncate(1 << 40)
        handle.seek((1 << 30) - 3)
        handle.write(b"xx" + needle)
    assert file_contains(sparse, (needle,), chunk=4)
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"a" * 10 + needle)
    assert file_contains(plain, (needle,), chunk=3)
    plain.write_bytes(b"nothing here")
    assert not file_contains(plain, (needle,))


def source_args(world) -> list[str]:
    return ["--age-key-file", str(world["age"].identity_file), "--key-dir", str(world["keys"])]


@pytest.mark.peer
def test_render_show_secrets_sops_and_unseal_keep_the_canary_to_stdout(world, tmp_path_factory):
    run, repo = world["run"], world["repo"]

    redacted = run("render", str(repo), *source_args(world))
    assert redacted.returncode == 0, redacted.stderr
    assert CANARY.encode() not in redacted.stdout
    assert b"<redacted:hmac-sha256:" in redacted.stdout

    shown = run("render", str(repo), *source_args(world), "--show-secrets")
    assert shown.returncode == 0, shown.stderr
    docs = {d["metadata"]["name"]: d for d in yaml.safe_load_all(shown.stdout) if d}
    assert docs["db-credentials"]["stringData"]["password"] == VALUES["db"]
    assert base64.b64decode(docs["redis-auth"]["data"]["password"]).decode() == VALUES["redis"]
    assert base64.b64decode(docs["api-token"]["data"]["token"]).decode() == VALUES["token"]
    assert docs["vault-credentials"]["stringData"]["password"] == VALUES["vault"]

    age_env = {"SOPS_AGE_KEY_FILE": str(world["age"].identity_file)}
    sops_file = str(repo / "db-credentials.sops.yaml")
    decrypted = run("sops", "decrypt", sops_file, extra_env=age_env)
    assert decrypted.returncode == 0, decrypted.stderr
    assert yaml.safe_load(decrypted.stdout)["stringData"]["password"] == VALUES["db"]
    short = run("sops", "-d", sops_file, extra_env=age_env)
    assert short.returncode == 0 and short.stdout == decrypted.stdout
    extract = run("sops", "decrypt", "--extract", '["stringData"]["password"]', sops_file, extra_env=age_env)
    assert extract.returncode == 0 and extract.stdout.decode() == VALUES["db"]

    unsealed = run("unseal", "-f", str(repo / "api-token.sealedsecret.yaml"), "--key-dir", str(world["keys"]))
    assert unsealed.returncode == 0, unsealed.stderr
    secret = yaml.safe_load(unsealed.stdout)
    assert base64.b64decode(secret["data"]["token"]).decode() == VALUES["token"]

    assert_no_canary_on_disk(world["tmp"], tmp_path_factory.getbasetemp())


@pytest.mark.peer
def test_failures_name_the_object_and_never_echo_the_canary(world, tmp_path_factory):
    run, repo = world["run"], world["repo"]
    age_env = {"SOPS_AGE_KEY_FILE": str(world["age"].identity_file)}

    # a sops value tampered with: the MAC (or the cipher) refuses it, the message names the file
    sops_file = repo / "db-credentials.sops.yaml"
    text = sops_file.read_text()
    start = text.index("password: ENC[AES256_GCM,data:") + len("password: ENC[AES256_GCM,data:")
    flipped = "B" if text[start] != "B" else "C"
    (repo / "tampered.sops.yaml").write_text(text[:start] + flipped + text[start + 1 :])
    tampered = run("sops", "decrypt", str(repo / "tampered.sops.yaml"), extra_env=age_env)
    assert tampered.returncode != 0 and tampered.stdout == b""
    assert b"tampered.sops.yaml" in tampered.stderr or b"MAC" in tampered.stderr

    # another key for the SealedSecret: no plaintext, a message naming the object
    other = world["tmp"] / "other-keys"
    from secretsync.sealing.keyring import FileKeyStore, generate_key, key_secret

    FileKeyStore(other).put(key_secret(generate_key(bits=2048, name="sealed-secrets-keyother")))
    wrong = run("unseal", "-f", str(repo / "api-token.sealedsecret.yaml"), "--key-dir", str(other))
    assert wrong.returncode != 0 and wrong.stdout == b""
    assert b"api-token" in wrong.stderr

    # plaintext manifests that are broken right where the canary stands
    broken = {
        "unterminated.yaml": f'apiVersion: v1\nkind: Secret\nmetadata:\n  name: u\nstringData:\n  a: "{CANARY}\n',
        "badindent.yaml": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: i\nstringData:\n  a: {CANARY}\n"
        f" b: {CANARY}: x\n",
        "bad64.yaml": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: b\ndata:\n  k: {CANARY}!\n",
        "tab.yaml": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: t\nstringData:\n\ta: {CANARY}\n",
        "dupkey.yaml": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: d\nstringData:\n  a: {CANARY}\n"
        f"  a: {CANARY}2\n",
    }
    for name, content in broken.items():
        bad_repo = world["tmp"] / f"bad-{name}"
        bad_repo.mkdir()
        (bad_repo / name).write_text(content)
        result = run("render", str(bad_repo), "--show-secrets")
        shutil.rmtree(bad_repo)
        assert result.returncode != 0, name
        assert result.stdout == b"", name
        assert name.encode() in result.stderr, (name, result.stderr)

    (repo / "tampered.sops.yaml").unlink()
    assert_no_canary_on_disk(world["tmp"], tmp_path_factory.getbasetemp())
