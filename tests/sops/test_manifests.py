"""Manifest decryption for the render pipeline (``secretsync.sops.transform``), on files the real sops wrote.

Covers: a whole sops-encrypted multi-document manifest file (YAML) and a JSON one
decrypt to plain objects with Secret ``data``/``stringData`` as ``SecretBytes``;
Flux's nested convention — Secret ``data`` values that are sops files in dotenv,
JSON (``.dockerconfigjson``), INI or binary format, found by Flux's markers and
decrypted by their key's extension; the ``decrypt: disabled`` annotation; a
Secret still carrying sops metadata is refused; errors name file/object/key and
never a value; ``is_sops_file`` on each format.
"""

from __future__ import annotations

import base64
import json

import pytest

from secretsync.crypto.sops.errors import DataKeyUnavailable
from secretsync.secretvalue import SecretBytes
from secretsync.sops.transform import (
    SopsManifestError,
    decrypt_manifest_file,
    decrypt_secret_data,
    is_sops_file,
)
from tests.sops.conftest import CANARY

MANIFESTS_JSON = json.dumps(
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "prod"},
        "data": {"password": base64.b64encode(CANARY.encode()).decode()},
        "stringData": {"user": "admin"},
    }
).encode()


def _sops(sops_run, workdir, name, data, key, *flags):
    (workdir / name).write_bytes(data)
    return sops_run("-e", "--age", key.recipient, *flags, name).stdout


def test_whole_json_manifest(age_keys, sops_run, workdir, keys_for):
    blob = _sops(
        sops_run, workdir, "secret.json", MANIFESTS_JSON, age_keys[0], "--encrypted-regex", "^(data|stringData)$"
    )
    assert is_sops_file(blob)
    [obj] = decrypt_manifest_file(blob, "secret.json", keys_for(age_keys[0]))
    assert obj["metadata"] == {"name": "db", "namespace": "prod"}
    assert obj["data"]["password"] == SecretBytes(CANARY) and obj["stringData"]["user"] == SecretBytes("admin")
    assert CANARY not in repr(obj) and "sops" not in obj


@pytest.mark.skipif("not __import__('importlib').util.find_spec('secretsync.crypto.sops.stores.yaml')")
def test_whole_yaml_multidoc_manifest(age_keys, sops_run, workdir, keys_for):
    data = (
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  when: 2024-01-02\n  on: yes\n---\n"
        b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  token: " + CANARY.encode() + b"\n"
    )
    blob = _sops(sops_run, workdir, "m.yaml", data, age_keys[0], "--encrypted-regex", "^(data|stringData)$")
    cm, secret = decrypt_manifest_file(blob, "m.yaml", keys_for(age_keys[0]))
    assert cm["data"] == {"when": "2024-01-02T00:00:00Z", "on": "yes"}
    assert secret["stringData"]["token"].reveal_text() == CANARY


def test_wrong_key_names_the_file(age_keys, sops_run, workdir, keys_for):
    blob = _sops(sops_run, workdir, "secret.json", MANIFESTS_JSON, age_keys[0])
    with pytest.raises(DataKeyUnavailable) as info:
        decrypt_manifest_file(blob, "apps/secret.json", keys_for(age_keys[1]))
    assert "apps/secret.json" in info.value.report() and CANARY not in info.value.report()


@pytest.mark.parametrize(
    "key,plain",
    [
        ("app.env", b"PASSWORD=" + CANARY.encode() + b"\nUSER=admin\n"),
        (".dockerconfigjson", b'{"auths": {"r.example": {"auth": "dXNlcjpwYXNz"}}}'),
        ("settings.ini", b"[db]\npassword = " + CANARY.encode() + b"\n"),
        ("blob.bin", b"\x00\x01binary\xff" + CANARY.encode()),
    ],
)
def test_nested_sops_values_flux_convention(key, plain, age_keys, sops_run, workdir, keys_for):
    suffix = {"app.env": ".env", ".dockerconfigjson": ".json", "settings.ini": ".ini", "blob.bin": ".bin"}[key]
    encrypted = _sops(sops_run, workdir, "value" + suffix, plain, age_keys[0])
    assert is_sops_file(encrypted)
    expected = sops_run(
        "-d", _write(workdir, "enc" + suffix, encrypted), env={"SOPS_AGE_KEY_FILE": str(age_keys[0].path)}
    ).stdout
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "nested"},
        "data": {key: base64.b64encode(encrypted).decode(), "plain": base64.b64encode(b"clear").decode()},
    }
    out = decrypt_secret_data(secret, keys_for(age_keys[0]))
    assert out["data"][key] == SecretBytes(expected)
    assert out["data"]["plain"] == SecretBytes(b"clear")
    assert secret["data"]["plain"] == base64.b64encode(b"clear").decode()  # input untouched


def _write(workdir, name, data):
    (workdir / name).write_bytes(data)
    return name


def test_decrypt_disabled_annotation_and_refusal(age_keys, sops_run, workdir, keys_for):
    blob = _sops(sops_run, workdir, "v.env", b"A=1\n", age_keys[0])
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "n", "annotations": {"kustomize.toolkit.fluxcd.io/decrypt": "disabled"}},
        "data": {"v.env": base64.b64encode(blob).decode()},
    }
    assert decrypt_secret_data(secret, keys_for(age_keys[0])) is secret
    still_encrypted = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "enc", "namespace": "ns"},
        "data": {"a": "ENC[...]"},
        "sops": {"mac": "ENC[...]"},
    }
    with pytest.raises(SopsManifestError) as info:
        decrypt_secret_data(still_encrypted, keys_for(age_keys[0]))
    assert "Secret ns/enc" in info.value.message and "configuring decryption is required" in info.value.message


def test_is_sops_file_markers():
    assert is_sops_file(b'{"a": 1, "sops": {"mac": "ENC[AES..."}}')
    assert is_sops_file(b"sops:\n    mac: ENC[AES")
    assert is_sops_file(b"sops_mac=ENC[AES")
    assert is_sops_file(b"[sops]\nmac = x")
    assert not is_sops_file(b"apiVersion: v1\nkind: Secret\n")
