"""Fixtures for the sealing tests: keys generated once per session, CLI runner, key dirs.

4096-bit generation is slow, so there is exactly one 4096-bit key per session
(where the key size matters: byte layout, upstream defaults); everything else uses
2048-bit keys from a small session pool. Key dirs are written per test under tmp_path.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from secretsync.sealing import keyring as keyring_mod

CANARY = "canary-Zq9xW2-plaintext"  # a plaintext that must never appear in errors or logs


@pytest.fixture(scope="session")
def key4096():
    return keyring_mod.generate_key(4096, name="sealed-secrets-key4096x")


@pytest.fixture(scope="session")
def key_pool():
    """Five 2048-bit keys with distinct, increasing NotBefore (index 4 is the newest)."""
    import datetime as dt

    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return [
        keyring_mod.generate_key(2048, now=base + dt.timedelta(days=i), name=f"sealed-secrets-key{i}abcd")
        for i in range(5)
    ]


@pytest.fixture(scope="session")
def raw_rsa_2048():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def write_key_dir(path: Path, keys) -> Path:
    store = keyring_mod.FileKeyStore(path)
    for key in keys:
        store.put(keyring_mod.key_secret(key))
    return path


@pytest.fixture
def key_dir(tmp_path, key_pool):
    """A key dir holding the first two pool keys (key 1 is the newest)."""
    return write_key_dir(tmp_path / "keys", key_pool[:2])


def run_cli(*args, input: bytes | str | None = None, env: dict | None = None, cwd=None):
    """Run ``python -m secretsync`` for real; returns CompletedProcess with text output."""
    if isinstance(input, str):
        input = input.encode()
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SEALED_SECRETS_")}
    full_env["KUBECONFIG"] = "/nonexistent/secretsync-test-kubeconfig"  # namespace falls back to default
    full_env.update(env or {})
    result = subprocess.run(
        [sys.executable, "-m", "secretsync", *args],
        input=input,
        capture_output=True,
        env=full_env,
        cwd=cwd,
        timeout=120,
    )
    result.stdout_text = result.stdout.decode("utf-8", "replace")
    result.stderr_text = result.stderr.decode("utf-8", "replace")
    return result


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def cert_file(tmp_path, key_pool):
    """PEM certificate of the newest key of ``key_dir`` (pool key 1)."""
    path = tmp_path / "cert.pem"
    path.write_bytes(key_pool[1].certificate_pem())
    return path
