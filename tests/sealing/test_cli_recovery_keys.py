"""Recovery (``unseal`` / ``seal --recovery-unseal``) and key management, as processes.

Covers: recovery from a ``v1`` List backup holding several keys (the ``kubectl get
secret -l ...sealed-secrets-key -o yaml`` shape), bare PKCS#1 and PKCS#8 PEM keys,
comma-separated ``--recovery-private-key``; ``keys generate|rotate|list|cert`` with
upstream key Secret files (0600, label, PKCS#1, certificate parameters); rotation
keeps old SealedSecrets readable and seals with the new key; a key dir with a corrupt
file warns and goes on; bad input (malformed YAML/JSON, non-SealedSecret, non-RSA key).
"""

from __future__ import annotations

import base64
import json
import stat

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from secretsync.sealing import keyring as keyring_mod
from secretsync.sealing.objects import seal_secret
from tests.sealing.conftest import write_key_dir

SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: ns\nstringData:\n  k: value\n"


def seal_with(cli, key, tmp_path, text=SECRET):
    cert = tmp_path / f"{key.name}.pem"
    cert.write_bytes(key.certificate_pem())
    r = cli("seal", "--cert", str(cert), "-o", "yaml", input=text)
    assert r.returncode == 0, r.stderr_text
    return r.stdout


def backup_list(keys):
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "List",
            "metadata": {"resourceVersion": ""},
            "items": [keyring_mod.key_secret(k) for k in keys],
        }
    )


def test_recovery_from_list_backup(cli, key_pool, tmp_path):
    backup = tmp_path / "backup.yaml"
    backup.write_text(backup_list(key_pool[:3]))
    # one SealedSecret per key of the backup (sealed by the library; the CLI path is covered elsewhere)
    docs = [
        seal_secret(
            {"metadata": {"name": f"s{i}", "namespace": "ns"}, "stringData": {"k": f"value{i}"}}, key.certificate
        )
        for i, key in enumerate(key_pool[:3])
    ]
    sealed = "".join("---\n" + yaml.safe_dump(d) for d in docs)
    for args in (
        ["unseal", "--key", str(backup)],
        ["seal", "--recovery-unseal", "--recovery-private-key", str(backup)],
    ):
        r = cli(*args, "-o", "yaml", input=sealed)
        assert r.returncode == 0, r.stderr_text
        secrets = list(yaml.safe_load_all(r.stdout))
        assert [s["kind"] for s in secrets] == ["Secret"] * 3
        assert [base64.b64decode(s["data"]["k"]) for s in secrets] == [b"value0", b"value1", b"value2"]
        assert all(s["metadata"]["ownerReferences"][0]["kind"] == "SealedSecret" for s in secrets)


def test_recovery_with_pem_keys(cli, key_pool, tmp_path):
    sealed = seal_with(cli, key_pool[2], tmp_path)
    pkcs1 = tmp_path / "a.key"
    pkcs1.write_bytes(
        key_pool[0].private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    pkcs8 = tmp_path / "b.key"
    pkcs8.write_bytes(
        key_pool[2].private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    r = cli("seal", "--recovery-unseal", "--recovery-private-key", f"{pkcs1},{pkcs8}", input=sealed)
    assert r.returncode == 0, r.stderr_text
    assert base64.b64decode(json.loads(r.stdout)["data"]["k"]) == b"value"
    r = cli("unseal", "--key", str(pkcs1), input=sealed)
    assert r.returncode == 3
    assert "no key could decrypt secret (k)" in r.stderr_text and "ns/s" in r.stderr_text


def test_recovery_refuses_bad_input(cli, key_pool, tmp_path):
    keyfile = tmp_path / "k.yaml"
    keyfile.write_text(backup_list(key_pool[:1]))
    r = cli("unseal", "--key", str(keyfile), input="kind: [broken\n")
    assert r.returncode == 1 and r.stderr_text.startswith("error: stdin: not valid YAML (line")
    r = cli("unseal", "--key", str(keyfile), input='{"kind": "Secret", ')
    assert r.returncode == 1 and "not valid JSON" in r.stderr_text
    r = cli("unseal", "--key", str(keyfile), input=SECRET)
    assert r.returncode == 1 and "document 1 is a Secret, not a SealedSecret" in r.stderr_text
    ec_key = tmp_path / "ec.pem"
    ec_key.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    r = cli("unseal", "--key", str(ec_key), input=SECRET)
    assert r.returncode == 1 and f"key file {ec_key}: the private key is not an RSA key" in r.stderr_text
    r = cli("unseal", "--key", str(tmp_path / "missing.pem"), input=SECRET)
    assert r.returncode == 1 and "missing.pem" in r.stderr_text


def test_keys_generate_files_are_upstream_key_secrets(cli, tmp_path):
    kd = tmp_path / "kd"
    r = cli("keys", "generate", "--key-dir", str(kd), "--key-size", "2048")
    assert r.returncode == 0, r.stderr_text
    (path,) = kd.iterdir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = yaml.safe_load(path.read_text())
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"]["labels"] == {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}
    assert secret["metadata"]["name"].startswith("sealed-secrets-key") and len(secret["metadata"]["name"]) == 23
    assert path.name == secret["metadata"]["name"] + ".yaml"
    assert base64.b64decode(secret["data"]["tls.key"]).startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    assert cert.subject == x509.Name([]) and cert.issuer == x509.Name([])
    assert 0 < cert.serial_number < 2**128
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 3650
    der = cert.public_bytes(serialization.Encoding.DER)
    assert bytes.fromhex("300e0603551d0f0101ff0404030200 01".replace(" ", "")) in der  # KeyUsage: encipherOnly
    assert bytes.fromhex("300f0603551d130101ff040530030101ff") in der  # CA: true
    r = cli("keys", "generate", "--key-dir", str(kd), "--key-size", "2048")
    assert r.returncode == 1 and "already holds keys" in r.stderr_text
    r = cli("keys", "cert", "--key-dir", str(kd))
    assert r.stdout == base64.b64decode(secret["data"]["tls.crt"])


def test_rotation_keeps_old_secrets_readable(cli, tmp_path):
    kd = tmp_path / "kd"
    assert cli("keys", "generate", "--key-dir", str(kd), "--key-size", "2048").returncode == 0
    cert1 = cli("keys", "cert", "--key-dir", str(kd)).stdout
    old = cli("seal", "--key-dir", str(kd), input=SECRET).stdout
    assert cli("keys", "rotate", "--key-dir", str(kd), "--key-size", "2048").returncode == 0
    cert2 = cli("keys", "cert", "--key-dir", str(kd)).stdout
    assert cert1 != cert2 and len(list(kd.iterdir())) == 2
    new = cli("seal", "--key-dir", str(kd), input=SECRET).stdout
    for sealed in (old, new):
        assert cli("unseal", "--key-dir", str(kd), input=sealed).returncode == 0
    newest_only = tmp_path / "newest"
    newest_only.mkdir()
    newest_file = max(kd.iterdir(), key=lambda p: yaml.safe_load(p.read_text())["metadata"]["creationTimestamp"])
    (newest_only / newest_file.name).write_bytes(newest_file.read_bytes())
    assert cli("unseal", "--key-dir", str(newest_only), input=new).returncode == 0
    assert cli("unseal", "--key-dir", str(newest_only), input=old).returncode == 3
    listing = cli("keys", "list", "--key-dir", str(kd)).stdout_text.splitlines()
    assert listing[0].split() == ["NAME", "CREATED", "NOT-AFTER", "FINGERPRINT", "NEWEST"]
    assert listing[1].endswith("*") and not listing[2].endswith("*") and len(listing) == 3
    assert newest_file.stem == listing[1].split()[0]


def test_corrupt_file_in_key_dir_is_skipped_with_warning(cli, key_pool, tmp_path):
    kd = write_key_dir(tmp_path / "kd", key_pool[:1])
    (kd / "broken.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: b\n  labels:\n"
        "    sealedsecrets.bitnami.com/sealed-secrets-key: active\n"
        "data:\n  tls.key: bm90IGEga2V5\n"
    )
    (kd / "garbage.yaml").write_text("::: [not yaml")
    sealed = seal_with(cli, key_pool[0], tmp_path)
    r = cli("unseal", "--key-dir", str(kd), input=sealed)
    assert r.returncode == 0
    assert "broken.yaml" in r.stderr_text and "garbage.yaml" in r.stderr_text and "WARNING" in r.stderr_text


def test_empty_or_missing_key_dir(cli, tmp_path):
    r = cli("keys", "list", "--key-dir", str(tmp_path / "none"))
    assert r.returncode == 1 and "does not exist" in r.stderr_text
    (tmp_path / "empty").mkdir()
    r = cli("keys", "cert", "--key-dir", str(tmp_path / "empty"))
    assert r.returncode == 1 and "no sealing key found" in r.stderr_text


def test_write_output_never_follows_a_planted_temp_symlink(tmp_path):
    """-w writes through a fresh temp file: a symlink planted at a guessable temp name (shared
    folders such as /tmp) must not redirect the write; an unwritable target is a clear error."""
    import os

    from secretsync.errors import SecretsyncError
    from secretsync.sealing.kubesealio import write_output

    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    out_dir = tmp_path / "shared"
    out_dir.mkdir()
    for name in ("out.json", "secret.json"):
        (out_dir / f".{name}.{os.getpid()}.tmp").symlink_to(victim)
    write_output('{"kind": "SealedSecret"}\n', str(out_dir / "out.json"))
    write_output('{"kind": "Secret"}\n', str(out_dir / "secret.json"), private=True)
    assert victim.read_text() == "keep me\n"
    assert (out_dir / "out.json").read_text() == '{"kind": "SealedSecret"}\n'
    assert stat.S_IMODE((out_dir / "secret.json").stat().st_mode) == 0o600
    with pytest.raises(SecretsyncError, match="cannot write .*missing/out.json"):
        write_output("x", str(tmp_path / "missing" / "out.json"), private=True)


def test_unseal_input_is_read_only_up_to_the_size_limit(cli, key_pool, tmp_path):
    """A huge (here sparse, 1 TiB) input is refused after reading past the limit, never loaded whole."""
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as handle:
        handle.truncate(1 << 40)
    kd = write_key_dir(tmp_path / "kd", [key_pool[0]])
    try:
        r = cli("unseal", "--key-dir", str(kd), "-f", str(huge))
    finally:
        huge.unlink()  # a 1 TiB (sparse) file left behind would trip tools that read the temp tree
    assert r.returncode == 1 and "huge.yaml" in r.stderr_text and "limit" in r.stderr_text
