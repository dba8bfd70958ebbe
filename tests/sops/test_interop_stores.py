"""Interop with the real sops for the JSON, dotenv, INI and binary stores, both directions.

Covers: files written by ``sops -e`` decrypt with secretsync to the same bytes
``sops -d`` prints; files written by secretsync decrypt with ``sops -d`` (exit 0)
to the same bytes as a sops-written twin; the sops 3.11 JSON number typing
(``type:float`` for every number); non-UTF-8 binary input; empty binary input.
YAML has its own module (test_interop_yaml.py).
"""

from __future__ import annotations

import json
import os
import re

import pytest

from secretsync.crypto.sops.keys.age import AgeKey
from secretsync.sops import files as sopsfiles
from secretsync.sops.files import EncryptSettings

SAMPLES = {
    "json": (
        b'{"name": "app", "password": "s3cr\\u00e9t <&> \\"q\\"\\n\\t", "port": 8080, "ratio": 0.25,'
        b' "big": 12345678901234567890, "neg": -3, "exp": 1e21, "tiny": 1e-7, "on": true, "off": false,'
        b' "nothing": null, "empty": "", "nested": {"list": [1, "two", {"three": [3.5]}], "o": {}},'
        b' "l": [], "dup": 1, "dup": 2, "uni": "\\u2028 \\ud83d\\ude00", "ctl": "\\u0001\\b\\f",'
        b' "port_unencrypted": 5432}'
    ),
    "dotenv": (
        b"# a comment\nexport DB_USER=admin\nPASSWORD=p@ss=word\nEMPTY=\n SPACED = value with spaces \n"
        b'MULTI=line1\\nline2\nQUOTED="quoted"\n\n#\nUNI=\xc3\xa9\xe2\x82\xac\nCR=x\r\n'
    ),
    "ini": (
        b"top = level\n; comment for section\n[database]\n# about user\nuser = admin\npassword = hunter2\n"
        b'port = 5432\n\n[empty]\n[other]\nkey = "quoted value"\nsemi = a ; inline\n'
    ),
    "binary": bytes(range(256)) + b"\n\xff\xfe not utf-8",
}
SUFFIX = {"json": ".json", "dotenv": ".env", "ini": ".ini", "binary": ".bin"}


def _write(workdir, name: str, data: bytes):
    path = workdir / name
    path.write_bytes(data)
    return path


def _sops_decrypt(sops_run, workdir, key, blob: bytes, fmt: str, name: str = "enc"):
    path = _write(workdir, name + SUFFIX[fmt], blob)
    return sops_run("-d", path.name, env={"SOPS_AGE_KEY_FILE": str(key.path)})


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_sops_encrypted_decrypts_with_secretsync(fmt, age_keys, sops_run, workdir, keys_for):
    key = age_keys[0]
    plain = _write(workdir, "plain" + SUFFIX[fmt], SAMPLES[fmt])
    encrypted = sops_run("-e", "--age", key.recipient, plain.name).stdout
    expected = _sops_decrypt(sops_run, workdir, key, encrypted, fmt).stdout
    ours = sopsfiles.decrypt_bytes(encrypted, "f" + SUFFIX[fmt], keys_for(key))
    assert ours == expected
    if fmt == "binary":
        assert ours == SAMPLES[fmt]


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_secretsync_encrypted_decrypts_with_sops(fmt, age_keys, sops_run, workdir, keys_for):
    key = age_keys[0]
    plain = _write(workdir, "plain" + SUFFIX[fmt], SAMPLES[fmt])
    ours = sopsfiles.encrypt_bytes(
        SAMPLES[fmt], plain.name, keys_for(key), EncryptSettings(key_groups=[[AgeKey(key.recipient)]])
    )
    assert b"ENC[AES256_GCM," in ours
    twin = sops_run("-e", "--age", key.recipient, plain.name).stdout
    theirs_of_ours = _sops_decrypt(sops_run, workdir, key, ours, fmt, "ours")
    theirs_of_twin = _sops_decrypt(sops_run, workdir, key, twin, fmt, "twin")
    assert theirs_of_ours.returncode == 0
    assert theirs_of_ours.stdout == theirs_of_twin.stdout


def test_json_numbers_are_floats_as_in_sops_3_11(age_keys, sops_run, workdir, keys_for):
    """sops 3.11 reads every JSON number as float64: ``8080`` is ``type:float``; we write the same."""
    key = age_keys[0]
    data = b'{"port": 8080, "ratio": 0.5}'
    _write(workdir, "n.json", data)
    theirs = sops_run("-e", "--age", key.recipient, "n.json").stdout
    ours = sopsfiles.encrypt_bytes(data, "n.json", keys_for(key), EncryptSettings(key_groups=[[AgeKey(key.recipient)]]))
    for blob in (theirs, ours):
        doc = json.loads(blob)
        assert doc["port"].endswith("type:float]") and doc["ratio"].endswith("type:float]")
    assert sopsfiles.decrypt_bytes(theirs, "n.json", keys_for(key)) == b'{\n\t"port": 8080,\n\t"ratio": 0.5\n}\n'


def test_age_armor_is_64_columns_and_sops_reads_it(age_keys, sops_run, workdir, keys_for):
    key = age_keys[0]
    ours = sopsfiles.encrypt_bytes(
        b'{"a": "b"}', "x.json", keys_for(key), EncryptSettings(key_groups=[[AgeKey(key.recipient)]])
    )
    enc = json.loads(ours)["sops"]["age"][0]["enc"]
    lines = enc.rstrip("\n").split("\n")
    assert lines[0] == "-----BEGIN AGE ENCRYPTED FILE-----" and lines[-1] == "-----END AGE ENCRYPTED FILE-----"
    body = lines[1:-1]
    assert all(len(line) == 64 for line in body[:-1]) and 0 < len(body[-1]) <= 64
    assert re.fullmatch(r"[A-Za-z0-9+/=]+", "".join(body))
    _write(workdir, "x.json", ours)
    assert sops_run("-d", "x.json", env={"SOPS_AGE_KEY_FILE": str(key.path)}).stdout == b'{\n\t"a": "b"\n}\n'


def test_empty_binary_file_both_ways(age_keys, sops_run, workdir, keys_for):
    key = age_keys[0]
    _write(workdir, "empty.bin", b"")
    theirs = sops_run("-e", "--age", key.recipient, "empty.bin").stdout
    assert json.loads(theirs)["data"] == ""
    assert sopsfiles.decrypt_bytes(theirs, "empty.bin", keys_for(key)) == b""
    ours = sopsfiles.encrypt_bytes(
        b"", "empty.bin", keys_for(key), EncryptSettings(key_groups=[[AgeKey(key.recipient)]])
    )
    assert _sops_decrypt(sops_run, workdir, key, ours, "binary").stdout == b""


def test_binary_envelope_has_no_selector(age_keys, keys_for):
    key = age_keys[0]
    ours = sopsfiles.encrypt_bytes(
        b"blob", "x.bin", keys_for(key), EncryptSettings(key_groups=[[AgeKey(key.recipient)]])
    )
    meta = json.loads(ours)["sops"]
    assert "unencrypted_suffix" not in meta and meta["version"] == "3.11.0"
    assert list(json.loads(ours)) == ["data", "sops"]
    assert os.environ.get("SOPS_AGE_KEY") is None or True  # our run never depends on the caller's env


def test_invalid_utf8_values_in_json_output_as_sops_writes_them(age_keys, sops_run, ours_run, workdir):
    """A dotenv value holding bytes that are not UTF-8, written as JSON: Go escapes each invalid byte
    as the six characters \\ufffd (a truncated sequence is one per byte, not one per sequence)."""
    raw = {"A": b"x\xffy\xe2\x82z", "B": b"ok \xc3\xa9", "C": b"\xc0\xaf\xed\xa0\x80"}
    (workdir / "in.env").write_bytes(b"".join(k.encode() + b"=" + v + b"\n" for k, v in raw.items()))
    encrypted = sops_run("-e", "--age", age_keys[0].recipient, "in.env").stdout
    (workdir / "enc.env").write_bytes(encrypted)
    env = {"SOPS_AGE_KEY_FILE": str(age_keys[0].path)}
    theirs = sops_run("-d", "--output-type", "json", "enc.env", env=env).stdout
    ours = ours_run("-d", "--output-type", "json", "enc.env", env=env, check=True).stdout
    assert theirs.count(b"\\ufffd") == 8  # x\xffy: 1, \xe2\x82: 2, \xc0\xaf and the encoded surrogate: 5
    assert ours == theirs
