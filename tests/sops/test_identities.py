"""Where identities come from: the places sops 3.11 looks, and SSH keys through age-ssh.

Covers: ``SOPS_AGE_KEY``, ``SOPS_AGE_KEY_FILE``, the default key file under
``$XDG_CONFIG_HOME`` and under ``~/.config``, ``SOPS_AGE_SSH_PRIVATE_KEY_FILE`` and
``~/.ssh/id_ed25519``/``id_rsa`` — each used alone by the secretsync CLI to open a
file the real sops wrote; files we encrypt to SSH recipients open with sops; a
broken source does not hide a working one and is named when nothing works; key
material never appears in ``repr`` or reports.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from secretsync.crypto.sops.keys.age import AgeKey
from secretsync.sops import files as sopsfiles
from secretsync.sops.files import EncryptSettings
from secretsync.sops.identities import load_keys
from tests.fixtures.peers import peer_binary

PLAIN = b'{"k": "v"}'


@pytest.fixture
def encrypted(age_keys, sops_run, workdir):
    (workdir / "f.json").write_bytes(PLAIN)
    sops_run("-e", "-i", "--age", age_keys[0].recipient, "f.json")
    return workdir / "f.json"


def test_each_age_source_alone(encrypted, age_keys, ours_run, tmp_path):
    key = age_keys[0]
    home = tmp_path / "peer-home"
    cases = {
        "SOPS_AGE_KEY": ({"SOPS_AGE_KEY": f"# comment\n\n{key.secret}\n"}, None),
        "SOPS_AGE_KEY_FILE": ({"SOPS_AGE_KEY_FILE": str(key.path)}, None),
        "xdg default": ({}, home / ".config" / "sops" / "age" / "keys.txt"),
    }
    for name, (env, default_file) in cases.items():
        if default_file:
            default_file.parent.mkdir(parents=True, exist_ok=True)
            default_file.write_text(key.path.read_text())
        proc = ours_run("-d", encrypted.name, env=env)
        assert proc.returncode == 0, (name, proc.stderr)
        assert json.loads(proc.stdout) == json.loads(PLAIN)
        if default_file:
            default_file.unlink()
    proc = ours_run("-d", encrypted.name)
    assert proc.returncode == 128


def test_home_config_fallback_without_xdg(encrypted, age_keys, tmp_path):
    home = tmp_path / "h"
    (home / ".config" / "sops" / "age").mkdir(parents=True)
    (home / ".config" / "sops" / "age" / "keys.txt").write_text(age_keys[0].path.read_text())
    keys = load_keys(env={"HOME": str(home)})
    assert len(keys.age_identities) == 1
    assert json.loads(sopsfiles.decrypt_bytes(encrypted.read_bytes(), "f.json", keys)) == json.loads(PLAIN)


@pytest.fixture(scope="module")
def ssh_keys(tmp_path_factory):
    base = tmp_path_factory.mktemp("ssh")
    out = {}
    for kind, extra in (("ed25519", []), ("rsa", ["-b", "2048"])):
        path = base / f"id_{kind}"
        subprocess.run(
            [peer_binary("ssh-keygen"), "-q", "-t", kind, *extra, "-N", "", "-f", str(path)], check=True, timeout=60
        )
        out[kind] = (path, path.with_suffix(".pub").read_text().strip())
    return out


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_ssh_keys_both_ways(kind, ssh_keys, sops_run, ours_run, workdir, tmp_path):
    private, public = ssh_keys[kind]
    (workdir / "s.json").write_bytes(PLAIN)
    theirs = sops_run("-e", "--age", public, "s.json").stdout
    (workdir / "theirs.json").write_bytes(theirs)
    # ~/.ssh/id_<kind> of the (isolated) home, as sops would use it
    ssh_dir = tmp_path / "peer-home" / ".ssh"
    ssh_dir.mkdir(parents=True, exist_ok=True)
    (ssh_dir / f"id_{kind}").write_bytes(private.read_bytes())
    proc = ours_run("-d", "theirs.json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(PLAIN)
    (ssh_dir / f"id_{kind}").unlink()
    keys = load_keys(env={"SOPS_AGE_SSH_PRIVATE_KEY_FILE": str(private)})
    ours = sopsfiles.encrypt_bytes(PLAIN, "s.json", keys, EncryptSettings(key_groups=[[AgeKey(public)]]))
    (workdir / "ours.json").write_bytes(ours)
    out = sops_run("-d", "ours.json", env={"SOPS_AGE_SSH_PRIVATE_KEY_FILE": str(private)}).stdout
    assert json.loads(out) == json.loads(PLAIN)


def test_broken_source_is_reported_not_fatal(encrypted, age_keys, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("AGE-SECRET-KEY-1NOTAKEY\n")
    keys = load_keys(env={"SOPS_AGE_KEY_FILE": str(bad), "SOPS_AGE_KEY": age_keys[0].secret})
    assert len(keys.age_identities) == 1 and any("SOPS_AGE_KEY_FILE" in e for e in keys.source_errors)
    assert json.loads(sopsfiles.decrypt_bytes(encrypted.read_bytes(), "f.json", keys)) == json.loads(PLAIN)
    assert "NOTAKEY" not in " ".join(keys.source_errors)
    assert age_keys[0].secret not in repr(keys) and age_keys[0].secret not in repr(keys.age_identities)


def test_failed_sources_are_listed_when_no_key_works(encrypted, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("not an identity\n")
    keys = load_keys(env={"SOPS_AGE_KEY_FILE": str(bad)})
    with pytest.raises(Exception) as info:
        sopsfiles.decrypt_bytes(encrypted.read_bytes(), "f.json", keys)
    report = info.value.report()
    assert "could not be loaded" in report and str(bad) in report and "not an identity" not in report
