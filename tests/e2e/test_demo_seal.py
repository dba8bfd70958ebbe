"""``secretsync demo`` (the README's first command) seals with a throwaway key and the agent unseals:
exit 0, the SealedSecret reported sealed, its Secret applied with values masked, the key directory
removed. The full demo (Vault, live edits, drift) is covered in tests/e2e/test_demo_agent.py."""

import re
from pathlib import Path


def test_demo_seals_and_masks(cli):
    r = cli("demo", "--no-vault")
    assert r.returncode == 0, r.stdout_text + r.stderr_text
    out = r.stdout_text
    assert "api-token.sealedsecret.yaml: sealed (kubeseal format)" in out
    assert "Secret                     demo/api-token  [token=<25 bytes, masked>]" in out
    assert "demo-api-token-not-secret" not in out and "demo-db-password-not-secret" not in out
    assert "vault-secret.yaml: left out" in out
    key_dir = Path(re.search(r"Throwaway keys in (\S+) ", out).group(1))
    assert not key_dir.exists()
