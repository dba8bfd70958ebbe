"""``secretsync demo`` (the README's first command): exits 0, shows a SealedSecret, masks values, cleans up."""

import re
from pathlib import Path

import yaml


def test_demo_runs_and_masks(cli):
    r = cli("demo", "--key-size", "2048")
    assert r.returncode == 0, r.stderr_text
    out = r.stdout_text
    assert "kind: SealedSecret" in out and "round trip OK" in out
    assert "demo-password-not-a-secret" not in out and "<26 bytes, masked>" in out
    assert "no key could decrypt secret (password, username)" in out
    key_dir = Path(re.search(r"key in (\S+) ", out).group(1))
    assert not key_dir.exists() and not key_dir.parent.exists()
    sealed = yaml.safe_load(out.split("---\n")[1].split("\n\n")[0])
    assert sealed["spec"]["encryptedData"]["password"].startswith("AQ")
