"""``secretsync demo`` (the README's first command) as a user runs it: a real process, with OpenBao when
installed. Checks: exit 0 in under a minute; every step reported (Ready, objects listed, file edit
applied, Vault change reached its Secret, drift repaired); no demo value (template plaintext,
Vault values) in the output; the temporary directory removed and the OpenBao port closed."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.peers import peer_binary

pytestmark = [pytest.mark.timeout(120), pytest.mark.peer]

VALUES = [
    "demo-db-password-not-secret",
    "demo-redis-password-not-secret",
    "demo-api-token-not-secret",
    "demo-vault-password-not-secret",
    "rotated-in-vault-demo",
]


def test_full_demo(tmp_path):
    bao = peer_binary("bao")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "AVP_", "SOPS_", "KUBECONFIG"))}
    env["PATH"] = f"{Path(bao).parent}:{env.get('PATH', '/usr/bin:/bin')}"
    env["HOME"] = str(tmp_path)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "secretsync", "demo"], capture_output=True, env=env, timeout=110, cwd=tmp_path
    )
    took = time.monotonic() - started
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, out + err
    assert took < 60
    assert re.search(r"Ready after [\d.]+ s: local@sha256:[0-9a-f]{64}", out)
    assert "Secret                     demo/db-credentials  [password=<27 bytes, masked>" in out
    assert "Secret                     demo/vault-credentials  [password=<30 bytes, masked>" in out
    assert re.search(r"log-level: info -> debug, applied [\d.]+ s after the save", out)
    assert re.search(r"Secret demo/vault-credentials updated [\d.]+ s after the write \(password now <21 bytes", out)
    assert re.search(r"repaired [\d.]+ s later", out)
    assert "FAILED" not in out
    for value in VALUES:
        assert value not in out and value not in err
    tmp_dir = Path(re.search(r"Throwaway keys in (\S+) ", out).group(1))
    assert not tmp_dir.exists()
    port = int(re.search(r"OpenBao dev server at http://127.0.0.1:(\d+)", out).group(1))
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # the dev server is gone
    assert not (tmp_path / ".vault-token").exists()
