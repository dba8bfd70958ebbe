"""Fixtures for the render tests: throwaway age and sealing keys made at run time, the real sops
binary for encryption, and a writer for source trees under tmp_path.

Keys are generated per session (``age-keygen``, ``secretsync.sealing.keyring.generate_key`` at 2048
bits for speed); nothing here is committed. CANARY values let tests grep every output.
"""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.peers import isolated_env, peer_binary

CANARY = "canary-5f3c9d-plaintext"
# A Secret template to encrypt with sops: stringData and data (base64) both hold canary values.
SECRET = f"""apiVersion: v1
kind: Secret
type: Opaque
metadata:
    name: db
stringData:
    password: {CANARY}-pw
    port: "5432"
data:
    token: {base64.b64encode(f"{CANARY}-token".encode()).decode()}
"""


@dataclass
class AgeKey:
    identity_file: Path
    recipient: str


@pytest.fixture(scope="session")
def age_key(tmp_path_factory) -> AgeKey:
    """A fresh age identity made by the real ``age-keygen``."""
    d = tmp_path_factory.mktemp("age")
    path = d / "keys.txt"
    proc = subprocess.run(
        [peer_binary("age-keygen"), "-o", str(path)], capture_output=True, text=True, timeout=60, env=isolated_env(d)
    )
    assert proc.returncode == 0, proc.stderr
    recipient = next(
        line.split(": ", 1)[1] for line in path.read_text().splitlines() if line.startswith("# public key: ")
    )
    return AgeKey(path, recipient)


@pytest.fixture(scope="session")
def sops_encrypt(age_key, tmp_path_factory):
    """``sops_encrypt(plain_path, out_path, **opts)``: the real sops binary encrypts to ``age_key``."""
    home = tmp_path_factory.mktemp("sops-home")

    def encrypt(
        src: Path, out: Path, encrypted_regex: str | None = "^(data|stringData)$", input_type: str | None = None
    ) -> bytes:
        cmd = [peer_binary("sops"), "--disable-version-check", "encrypt", "--age", age_key.recipient]
        if encrypted_regex:
            cmd += ["--encrypted-regex", encrypted_regex]
        if input_type:
            cmd += ["--input-type", input_type, "--output-type", input_type]
        proc = subprocess.run(
            [*cmd, str(src)], capture_output=True, timeout=60, env=isolated_env(home, SOPS_DISABLE_VERSION_CHECK="1")
        )
        assert proc.returncode == 0, proc.stderr.decode()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(proc.stdout)
        return proc.stdout

    return encrypt


@pytest.fixture(scope="session")
def sealing_key_dir(tmp_path_factory) -> Path:
    """A key directory holding one fresh sealing key (the FileKeyStore layout ``--key-dir`` reads)."""
    from secretsync.sealing.keyring import FileKeyStore, generate_key, key_secret

    d = tmp_path_factory.mktemp("sealing") / "keys"
    FileKeyStore(d).put(key_secret(generate_key(bits=2048, name="sealed-secrets-keytest1")))
    return d


@pytest.fixture
def seal(sealing_key_dir):
    """``seal(secret_dict, scope=None) -> SealedSecret dict`` with the session's sealing key."""
    from secretsync.sealing.keyring import Keyring
    from secretsync.sealing.objects import seal_secret

    cert = Keyring.from_dir(sealing_key_dir).newest().certificate

    def do(secret: dict, scope=None) -> dict:
        return seal_secret(secret, cert, scope)

    return do


@pytest.fixture
def tree(tmp_path):
    """``tree({"a.yaml": "...", ...}) -> root``: writes files under a fresh source root."""
    root = tmp_path / "src"

    def write(files: dict[str, str | bytes]) -> Path:
        for name, content in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content.encode() if isinstance(content, str) else content)
        root.mkdir(exist_ok=True)
        return root

    return write
