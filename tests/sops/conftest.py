"""Fixtures for the sops tests: the real ``sops`` binary run isolated, age keys made by ``age-keygen``.

``sops_run`` runs ``.venv/bin/sops`` with an empty HOME/XDG tree, only the SOPS_*
variables a test passes, in a working directory under ``tmp_path`` with no
``.sops.yaml`` above it. Age identities come from the reference ``age-keygen`` CLI
(session pool, so tests stay fast); ``keys_for`` builds our ``SopsKeys`` from
identity files the same way a user's environment would.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.peers import isolated_env, peer_binary

CANARY = "canary-Kd83-plaintext"  # a plaintext that must never show up in errors or logs


@dataclass(frozen=True)
class AgeTestKey:
    """One age identity made by age-keygen: its file, public recipient and secret text."""

    path: Path
    recipient: str
    secret: str


def _keygen(path: Path) -> AgeTestKey:
    exe = peer_binary("age-keygen")
    subprocess.run([exe, "-o", str(path)], check=True, capture_output=True, timeout=30)
    text = path.read_text()
    recipient = next(line.split(":", 1)[1].strip() for line in text.splitlines() if "public key" in line)
    secret = next(line for line in text.splitlines() if line.startswith("AGE-SECRET-KEY-"))
    return AgeTestKey(path, recipient, secret)


@pytest.fixture(scope="session")
def age_keys(tmp_path_factory) -> list[AgeTestKey]:
    """Four age identities (index 0 is the usual one), generated once per session by age-keygen."""
    base = tmp_path_factory.mktemp("age-keys")
    return [_keygen(base / f"key{i}.txt") for i in range(4)]


@pytest.fixture
def workdir(tmp_path) -> Path:
    """An empty working directory; asserts no .sops.yaml sits above it (sops would pick it up)."""
    work = tmp_path / "work"
    work.mkdir()
    for parent in [work, *work.parents]:
        assert not (parent / ".sops.yaml").exists(), f"stray {parent / '.sops.yaml'} would change sops's behaviour"
    return work


@dataclass
class SopsRunner:
    exe: str
    tmp_path: Path
    workdir: Path

    def __call__(
        self,
        *args: str,
        env: dict | None = None,
        input: bytes | None = None,
        cwd: Path | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess:
        full_env = isolated_env(self.tmp_path, SOPS_DISABLE_VERSION_CHECK="1", **(env or {}))
        proc = subprocess.run(
            [self.exe, *args], env=full_env, input=input, capture_output=True, cwd=str(cwd or self.workdir), timeout=60
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"sops {' '.join(args)} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
        return proc


@pytest.fixture
def sops_run(tmp_path, workdir) -> SopsRunner:
    return SopsRunner(peer_binary("sops"), tmp_path, workdir)


@pytest.fixture
def keys_for():
    """``keys_for(*age_test_keys)`` → our SopsKeys holding those identities (nothing else)."""
    from secretsync.sops.identities import load_keys

    def build(*keys: AgeTestKey, transit=None):
        return load_keys(age_key_text="\n".join(k.secret for k in keys), env={}, use_defaults=False, transit=transit)

    return build


@dataclass
class OursRunner:
    """``python -m secretsync sops ...`` as a user runs it, isolated like the sops peer."""

    tmp_path: Path
    workdir: Path

    def __call__(
        self,
        *args: str,
        env: dict | None = None,
        input: bytes | None = None,
        cwd: Path | None = None,
        check: bool = False,
    ) -> subprocess.CompletedProcess:
        import sys

        full_env = isolated_env(self.tmp_path, **(env or {}))
        full_env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
        proc = subprocess.run(
            [sys.executable, "-m", "secretsync", "sops", *args],
            env=full_env,
            input=input,
            capture_output=True,
            cwd=str(cwd or self.workdir),
            timeout=60,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"secretsync sops {' '.join(args)} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}"
            )
        return proc


@pytest.fixture
def ours_run(tmp_path, workdir) -> OursRunner:
    return OursRunner(tmp_path, workdir)
