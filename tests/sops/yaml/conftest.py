"""The real sops 3.11 binary as an oracle for the YAML store, run isolated.

``sops`` gives a ``SopsPeer``: a throwaway age identity generated at test time, an
empty HOME/XDG, only the SOPS_* variables set here, and a working directory
without any ``.sops.yaml`` above it. Files sops needs as input go under tmp_path.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pyrage
import pytest

from tests.fixtures.peers import isolated_env, peer_binary

NEVER = "^secretsync-never-matches$"  # --encrypted-regex that encrypts nothing


class SopsPeer:
    def __init__(self, workdir: Path):
        self.binary = peer_binary("sops")
        self.workdir = workdir
        identity = pyrage.x25519.Identity.generate()
        self.recipient = str(identity.to_public())
        key_file = workdir / "age-key.txt"
        key_file.write_text(str(identity) + "\n")
        self.key_file = key_file
        key_file.chmod(0o600)
        self.env = isolated_env(workdir, SOPS_DISABLE_VERSION_CHECK="1", SOPS_AGE_KEY_FILE=str(key_file))
        self.counter = 0

    def key_text(self) -> str:
        return self.key_file.read_text()

    def run(self, *args: str, input_bytes: bytes | None = None, check: bool = True):
        result = subprocess.run(
            [self.binary, *args], cwd=self.workdir, env=self.env, input=input_bytes, capture_output=True, timeout=60
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"sops {' '.join(args[:3])} failed ({result.returncode}): "
                f"{result.stderr.decode(errors='replace')[:500]}"
            )
        return result

    def write(self, data: bytes) -> Path:
        self.counter += 1
        path = self.workdir / f"in{self.counter}.yaml"
        path.write_bytes(data)
        return path

    def encrypt(self, data: bytes, *extra: str, check: bool = True):
        path = self.write(data)
        result = self.run(
            "-e",
            "--age",
            self.recipient,
            *extra,
            "--input-type",
            "yaml",
            "--output-type",
            "yaml",
            str(path),
            check=check,
        )
        return result if not check else result.stdout

    def decrypt(self, encrypted: bytes, output_type: str = "yaml", *extra: str) -> bytes:
        path = self.write(encrypted)
        return self.run("-d", *extra, "--input-type", "yaml", "--output-type", output_type, str(path)).stdout


@pytest.fixture(scope="session")
def sops(tmp_path_factory) -> SopsPeer:
    return SopsPeer(tmp_path_factory.mktemp("sops-peer"))
