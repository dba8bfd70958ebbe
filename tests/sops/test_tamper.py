"""Tampering with a sops-written file: each change is refused with sops's error class and exit code.

Covers (against a file written by the real ``sops -e``): a flipped ciphertext byte,
two values swapped between keys (AAD binds the path), an edited clear
(``_unencrypted``) value, a reordered list (only the MAC sees it), an edited
``lastmodified``, a missing MAC, and the wrong identity. For each, the real sops
and secretsync give the same exit code, secretsync's library raises the matching
error class, and ``--output`` leaves no file behind. ``--ignore-mac`` lets MAC-only
damage through, as in sops. Errors never contain a plaintext value.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from secretsync.crypto.sops.errors import (
    DataKeyUnavailable,
    MacDecryptError,
    MacMismatch,
    MacNotFound,
    ValueDecryptError,
)
from secretsync.sops import files as sopsfiles
from tests.sops.conftest import CANARY

PLAIN = {
    "user": "admin",
    "password": CANARY,
    "other": "value-two",
    "port_unencrypted": 5432,
    "list": ["first", "second", "third"],
}


@pytest.fixture
def original(age_keys, sops_run, workdir) -> dict:
    (workdir / "plain.json").write_text(json.dumps(PLAIN))
    return json.loads(sops_run("-e", "--age", age_keys[0].recipient, "plain.json").stdout)


def _flip(enc: str) -> str:
    head, data, rest = enc.partition("data:")
    b64, comma, tail = rest.partition(",")
    raw = bytearray(base64.b64decode(b64))
    raw[0] ^= 0x01
    return head + data + base64.b64encode(bytes(raw)).decode() + comma + tail


def _tamper(doc: dict, how: str, age_keys) -> dict:
    doc = json.loads(json.dumps(doc))
    if how == "flipped-byte":
        doc["password"] = _flip(doc["password"])
    elif how == "swapped-values":
        doc["user"], doc["other"] = doc["other"], doc["user"]
    elif how == "edited-clear-value":
        doc["port_unencrypted"] = 5433
    elif how == "reordered-list":
        doc["list"][0], doc["list"][1] = doc["list"][1], doc["list"][0]
    elif how == "edited-lastmodified":
        when = dt.datetime.strptime(doc["sops"]["lastmodified"], "%Y-%m-%dT%H:%M:%SZ") + dt.timedelta(seconds=1)
        doc["sops"]["lastmodified"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif how == "missing-mac":
        del doc["sops"]["mac"]
    return doc


CASES = [
    ("flipped-byte", ValueDecryptError, 25),
    ("swapped-values", ValueDecryptError, 25),
    ("edited-clear-value", MacMismatch, 51),
    ("reordered-list", MacMismatch, 51),
    ("edited-lastmodified", MacDecryptError, 51),
    ("missing-mac", MacNotFound, 51),
]


@pytest.mark.parametrize("how,error,code", CASES, ids=[c[0] for c in CASES])
def test_tampering_is_refused_like_sops(how, error, code, original, age_keys, sops_run, ours_run, workdir, keys_for):
    tampered = _tamper(original, how, age_keys)
    assert tampered != original
    path = workdir / "tampered.json"
    path.write_text(json.dumps(tampered, indent=1))
    env = {"SOPS_AGE_KEY_FILE": str(age_keys[0].path)}
    theirs = sops_run("-d", path.name, env=env, check=False)
    assert theirs.returncode == code, theirs.stderr
    with pytest.raises(error) as info:
        sopsfiles.decrypt_bytes(path.read_bytes(), path.name, keys_for(age_keys[0]))
    assert info.value.exit_code == code
    assert CANARY not in info.value.report() and "tampered.json" in info.value.report()
    ours = ours_run("-d", "--output", "out.json", path.name, env=env)
    assert ours.returncode == code
    assert not (workdir / "out.json").exists()
    assert CANARY.encode() not in ours.stderr and ours.stdout == b""


@pytest.mark.parametrize("how", ["edited-clear-value", "reordered-list", "missing-mac"])
def test_ignore_mac_lets_mac_only_damage_through(how, original, age_keys, sops_run, workdir, keys_for):
    tampered = json.dumps(_tamper(original, how, age_keys)).encode()
    ours = sopsfiles.decrypt_bytes(tampered, "t.json", keys_for(age_keys[0]), ignore_mac=True)
    (workdir / "t.json").write_bytes(tampered)
    theirs = sops_run("-d", "--ignore-mac", "t.json", env={"SOPS_AGE_KEY_FILE": str(age_keys[0].path)}).stdout
    assert ours == theirs


def test_wrong_identity_is_exit_128(original, age_keys, sops_run, ours_run, workdir, keys_for):
    path = workdir / "file.json"
    path.write_text(json.dumps(original))
    env = {"SOPS_AGE_KEY_FILE": str(age_keys[1].path)}
    assert sops_run("-d", path.name, env=env, check=False).returncode == 128
    with pytest.raises(DataKeyUnavailable) as info:
        sopsfiles.decrypt_bytes(path.read_bytes(), path.name, keys_for(age_keys[1]))
    report = info.value.report()
    assert age_keys[0].recipient in report and "Group 0: FAILED" in report
    assert age_keys[1].secret not in report
    ours = ours_run("-d", path.name, env=env)
    assert ours.returncode == 128 and age_keys[0].recipient.encode() in ours.stderr
