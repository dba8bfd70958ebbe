"""Vault transit (``hc_vault``) master keys against a real OpenBao transit engine, both ways with sops.

Covers: sops encrypts with ``--hc-vault-transit`` and secretsync decrypts with the
same token; secretsync encrypts and ``sops -d`` decrypts; the metadata fields
sops writes (address, engine path, key name, ``vault:v1:`` ciphertext); a wrong
token or a missing key gives exit 128 with a report naming the address and path
and never the token; an unreachable Vault fails within the timeout.
"""

from __future__ import annotations

import json

import pytest

from secretsync.crypto.sops.errors import DataKeyUnavailable
from secretsync.crypto.sops.keys.hc_vault import VaultTransitKey
from secretsync.sops import files as sopsfiles
from secretsync.sops.files import EncryptSettings
from secretsync.sops.identities import load_keys
from secretsync.sops.transit import VaultTransit

pytestmark = pytest.mark.peer

PLAIN = b'{"password": "from-transit", "n": 1}'


@pytest.fixture
def transit(openbao):
    mount = openbao.unique_mount("transit")
    client = openbao.client()
    client.sys.enable_secrets_engine("transit", path=mount)
    client.secrets.transit.create_key(name="sops", mount_point=mount)
    return f"{openbao.addr}/v1/{mount}/keys/sops", openbao, mount


def _keys(token):
    return load_keys(env={}, use_defaults=False, transit=VaultTransit(token, timeout=5, attempts=1))


def test_sops_transit_file_decrypts_with_secretsync(transit, sops_run, workdir):
    uri, server, mount = transit
    (workdir / "t.json").write_bytes(PLAIN)
    encrypted = sops_run("-e", "--hc-vault-transit", uri, "t.json", env={"VAULT_TOKEN": server.token}).stdout
    entry = json.loads(encrypted)["sops"]["hc_vault"][0]
    assert entry["vault_address"] == server.addr and entry["engine_path"] == mount and entry["key_name"] == "sops"
    assert entry["enc"].startswith("vault:v1:")
    out = sopsfiles.decrypt_bytes(encrypted, "t.json", _keys(server.token))
    assert json.loads(out) == json.loads(PLAIN)


def test_secretsync_transit_file_decrypts_with_sops(transit, sops_run, workdir):
    uri, server, mount = transit
    ours = sopsfiles.encrypt_bytes(
        PLAIN, "t.json", _keys(server.token), EncryptSettings(key_groups=[[VaultTransitKey.from_uri(uri)]])
    )
    entry = json.loads(ours)["sops"]["hc_vault"][0]
    assert entry["enc"].startswith("vault:v1:") and entry["created_at"].endswith("Z")
    (workdir / "ours.json").write_bytes(ours)
    out = sops_run("-d", "ours.json", env={"VAULT_TOKEN": server.token}).stdout
    assert json.loads(out) == json.loads(PLAIN)


def test_cli_uses_vault_token_from_env(transit, ours_run, sops_run, workdir):
    uri, server, mount = transit
    (workdir / "t.json").write_bytes(PLAIN)
    enc = ours_run("-e", "--hc-vault-transit", uri, "t.json", env={"VAULT_TOKEN": server.token})
    assert enc.returncode == 0, enc.stderr
    (workdir / "t.enc.json").write_bytes(enc.stdout)
    dec = ours_run("-d", "t.enc.json", env={"VAULT_TOKEN": server.token})
    assert dec.returncode == 0 and json.loads(dec.stdout) == json.loads(PLAIN)


def test_wrong_token_and_missing_key_are_reported(transit, workdir):
    uri, server, mount = transit
    ours = sopsfiles.encrypt_bytes(
        PLAIN, "t.json", _keys(server.token), EncryptSettings(key_groups=[[VaultTransitKey.from_uri(uri)]])
    )
    with pytest.raises(DataKeyUnavailable) as info:
        sopsfiles.decrypt_bytes(ours, "t.json", _keys("not-a-valid-token-123"))
    report = info.value.report()
    assert info.value.exit_code == 128 and f"{mount}/decrypt/sops" in report and server.addr in report
    assert "not-a-valid-token-123" not in report and server.token not in report
    doc = json.loads(ours)
    doc["sops"]["hc_vault"][0]["key_name"] = "missing"
    with pytest.raises(DataKeyUnavailable) as info:
        sopsfiles.decrypt_bytes(json.dumps(doc).encode(), "t.json", _keys(server.token))
    assert f"{mount}/decrypt/missing" in info.value.report()


def test_unreachable_vault_fails_fast(workdir):
    from tests.fixtures.openbao import free_port

    key = VaultTransitKey(
        vault_address=f"http://127.0.0.1:{free_port()}", engine_path="transit", key_name="k", enc="vault:v1:AAAA"
    )
    transit = VaultTransit("token", timeout=2, attempts=2, backoff=0.01)
    with pytest.raises(Exception) as info:
        transit.decrypt(key.vault_address, key.engine_path, key.key_name, key.enc)
    assert "connection failed" in str(info.value) and "token" not in str(info.value).replace("VAULT_TOKEN", "")
