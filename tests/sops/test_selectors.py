"""Every sops selector and ``mac_only_encrypted``, against the real sops, both directions.

For each selector, the same plaintext is encrypted by ``sops -e`` and by secretsync:
the set of leaves left clear must be identical (the selector logic matches), each
tool decrypts the other's file to the same output, and the metadata names the
selector. Path selectors use JSON; comment selectors use dotenv (comment lines);
the YAML module repeats the comment selectors with nested comments. Also: two
selectors at once are refused by both (exit 8 on the CLI).
"""

from __future__ import annotations

import json

import pytest

from secretsync.crypto.sops.errors import ConflictingParameters
from secretsync.crypto.sops.keys.age import AgeKey
from secretsync.sops import files as sopsfiles
from secretsync.sops.files import EncryptSettings

JSON_DOC = (
    b'{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "labels": {"app": "x"}},'
    b' "data": {"password": "cGFzcw==", "user_unencrypted": "YWRtaW4="},'
    b' "stringData": {"token_enc": "t0k", "note": "n"}, "port_unencrypted": 5432, "list": ["a", {"b_enc": 1}]}'
)

DOTENV_DOC = (
    b"#sops:enc\nSECRET=one\nCLEAR=two\n#plain\nAFTER=three\n#sops:enc\n#hidden comment\nHIDDEN=four\nLAST=five\n"
)

PATH_SELECTORS = [
    ("unencrypted_suffix", "_unencrypted"),
    ("encrypted_suffix", "_enc"),
    ("unencrypted_regex", "^(metadata|kind|apiVersion)$"),
    ("encrypted_regex", "^(data|stringData)$"),
]
COMMENT_SELECTORS = [
    ("unencrypted_comment_regex", "sops:enc"),
    ("encrypted_comment_regex", "sops:enc"),
]


def _shape(node):
    """Which leaves are encrypted: the tree with every leaf replaced by 'ENC' or the clear value."""
    if isinstance(node, dict):
        return {k: _shape(v) for k, v in node.items() if k != "sops"}
    if isinstance(node, list):
        return [_shape(v) for v in node]
    if isinstance(node, str) and node.startswith("ENC[AES256_GCM,"):
        return "ENC"
    return node


def _dotenv_shape(blob: bytes) -> list[str]:
    out = []
    for line in blob.decode().splitlines():
        if line.startswith("sops_"):
            continue
        key, _, value = line.partition("=") if not line.startswith("#") else ("#", "", line[1:])
        out.append(f"{key}={'ENC' if value.startswith('ENC[') else value}")
    return out


def _encrypt_both(fmt_suffix, data, name, value, age_key, sops_run, workdir, keys_for, extra=()):
    path = workdir / f"in{fmt_suffix}"
    path.write_bytes(data)
    flag = "--" + name.replace("_", "-")
    theirs = sops_run("-e", "--age", age_key.recipient, flag, value, *extra, path.name).stdout
    ours = sopsfiles.encrypt_bytes(
        data,
        path.name,
        keys_for(age_key),
        EncryptSettings(
            key_groups=[[AgeKey(age_key.recipient)]],
            selectors={name: value},
            mac_only_encrypted="--mac-only-encrypted" in extra,
        ),
    )
    return theirs, ours


def _cross_decrypt(fmt_suffix, theirs, ours, age_key, sops_run, workdir, keys_for):
    (workdir / f"ours{fmt_suffix}").write_bytes(ours)
    (workdir / f"theirs{fmt_suffix}").write_bytes(theirs)
    env = {"SOPS_AGE_KEY_FILE": str(age_key.path)}
    sops_of_ours = sops_run("-d", f"ours{fmt_suffix}", env=env).stdout
    sops_of_theirs = sops_run("-d", f"theirs{fmt_suffix}", env=env).stdout
    ours_of_theirs = sopsfiles.decrypt_bytes(theirs, f"theirs{fmt_suffix}", keys_for(age_key))
    assert sops_of_ours == sops_of_theirs == ours_of_theirs


@pytest.mark.parametrize("mac_only", [False, True], ids=["mac-all", "mac-only-encrypted"])
@pytest.mark.parametrize("name,value", PATH_SELECTORS, ids=[n for n, _ in PATH_SELECTORS])
def test_path_selectors_match_sops(name, value, mac_only, age_keys, sops_run, workdir, keys_for):
    extra = ("--mac-only-encrypted",) if mac_only else ()
    theirs, ours = _encrypt_both(".json", JSON_DOC, name, value, age_keys[0], sops_run, workdir, keys_for, extra)
    assert _shape(json.loads(theirs)) == _shape(json.loads(ours))
    assert "ENC" in json.dumps(_shape(json.loads(ours)))
    meta = json.loads(ours)["sops"]
    assert meta[name] == value
    assert meta.get("mac_only_encrypted", False) is mac_only
    _cross_decrypt(".json", theirs, ours, age_keys[0], sops_run, workdir, keys_for)


@pytest.mark.parametrize("name,value", COMMENT_SELECTORS, ids=[n for n, _ in COMMENT_SELECTORS])
def test_comment_selectors_match_sops(name, value, age_keys, sops_run, workdir, keys_for):
    theirs, ours = _encrypt_both(".env", DOTENV_DOC, name, value, age_keys[0], sops_run, workdir, keys_for)
    assert _dotenv_shape(theirs) == _dotenv_shape(ours)
    assert any(line.endswith("=ENC") for line in _dotenv_shape(ours))
    assert any(not line.endswith("=ENC") and not line.startswith("#") for line in _dotenv_shape(ours))
    _cross_decrypt(".env", theirs, ours, age_keys[0], sops_run, workdir, keys_for)


def test_two_selectors_are_refused_by_both(age_keys, sops_run, workdir, keys_for):
    (workdir / "x.json").write_bytes(b'{"a": "b"}')
    proc = sops_run(
        "-e",
        "--age",
        age_keys[0].recipient,
        "--encrypted-regex",
        "a",
        "--unencrypted-suffix",
        "_u",
        "x.json",
        check=False,
    )
    assert proc.returncode != 0
    with pytest.raises(ConflictingParameters) as info:
        sopsfiles.encrypt_bytes(
            b'{"a": "b"}',
            "x.json",
            keys_for(age_keys[0]),
            EncryptSettings(
                key_groups=[[AgeKey(age_keys[0].recipient)]],
                selectors={"encrypted_regex": "a", "unencrypted_suffix": "_u"},
            ),
        )
    assert info.value.exit_code == 8
