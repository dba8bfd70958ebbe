"""The keyring library: the Secret-backend protocol, loading rules, newest-key choice, redaction.

Covers: ``rotate``/``Keyring.from_store`` over an in-memory store implementing the
list/get/put protocol (what the controller implements over the API); keys created
in the same second still have a strict newest; de-duplication by fingerprint;
PKCS#8 ``tls.key`` and a missing certificate; a key dir ignoring non-``active`` keys;
upstream-style fingerprints; certificate loading errors.
"""

import base64
import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization

from secretsync.sealing import keyring as keyring_mod
from secretsync.sealing.keyring import Keyring, SealingKeyError, fingerprint, key_secret, load_certificate, parse_keys
from tests.sealing import refcodec

NOW = dt.datetime(2026, 6, 1, 12, 0, 0, tzinfo=dt.UTC)


class MemoryStore:
    """A minimal KeySecretStore, as a controller would back it with the Kubernetes API."""

    def __init__(self):
        self.secrets = {}

    def list(self):
        return list(self.secrets.values())

    def get(self, name):
        return self.secrets.get(name)

    def put(self, secret):
        self.secrets[secret["metadata"]["name"]] = secret


def test_rotate_over_protocol_and_same_second_ordering():
    store = MemoryStore()
    first = keyring_mod.rotate(store, bits=1024, now=NOW, namespace="sealed")
    second = keyring_mod.rotate(store, bits=1024, now=NOW)  # same second
    assert second.not_before == first.not_before + dt.timedelta(seconds=1)
    ring = Keyring.from_store(store)
    assert ring.newest().fingerprint == second.fingerprint and len(ring) == 2
    assert store.get(first.name)["metadata"]["namespace"] == "sealed"
    value = refcodec.encrypt(first.private_key.public_key(), b"old", b"a/b")
    plaintext, used = ring.unseal_with_key(value, b"a/b")
    assert plaintext.reveal() == b"old" and used.fingerprint == first.fingerprint


def test_newest_is_latest_not_before_regardless_of_input_order(key_pool):
    ring = Keyring([key_pool[3], key_pool[0], key_pool[4], key_pool[1]])
    assert ring.newest() is key_pool[4]
    assert ring.certificate_pem() == key_pool[4].certificate_pem()


def test_duplicate_keys_are_merged(key_pool):
    copy = parse_keys(serialization_pkcs1(key_pool[0]), "copy.pem")[0]
    assert len(Keyring([key_pool[0], copy])) == 1


def serialization_pkcs1(key):
    return key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


def test_key_secret_variants(key_pool):
    secret = key_secret(key_pool[0])
    pkcs8 = key_pool[0].private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    secret["data"]["tls.key"] = base64.b64encode(pkcs8).decode()
    import json

    (loaded,) = parse_keys(json.dumps(secret).encode(), "k.json")
    assert loaded.fingerprint == key_pool[0].fingerprint and loaded.certificate is not None
    del secret["data"]["tls.crt"]
    (bare,) = parse_keys(json.dumps(secret).encode(), "k.json")
    assert bare.certificate is None
    with pytest.raises(SealingKeyError, match="has no certificate"):
        bare.certificate_pem()
    secret["data"]["tls.key"] = "%%%"
    with pytest.raises(
        SealingKeyError,
        match=r'k.json \(Secret sealed-secrets-key0abcd\): data\["tls.key"\] is not '
        r"valid base64",
    ):
        parse_keys(json.dumps(secret).encode(), "k.json")
    with pytest.raises(SealingKeyError, match="no sealing key found"):
        parse_keys(b"kind: ConfigMap\nmetadata: {name: x}\n", "cm.yaml")


def test_key_dir_ignores_inactive_keys(tmp_path, key_pool):
    store = keyring_mod.FileKeyStore(tmp_path)
    store.put(key_secret(key_pool[0]))
    retired = key_secret(key_pool[1])
    retired["metadata"]["labels"][keyring_mod.KEY_LABEL] = "compromised"
    store.put(retired)
    assert [k.fingerprint for k in Keyring.from_dir(tmp_path).keys] == [key_pool[0].fingerprint]


@pytest.mark.peer
def test_fingerprint_is_openssh_sha256(key_pool, tmp_path):
    import subprocess

    pub = tmp_path / "k.pub"
    pub.write_bytes(
        key_pool[0]
        .private_key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    )
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(pub)], capture_output=True, text=True, check=True
    ).stdout
    assert out.split()[1] == fingerprint(key_pool[0].private_key.public_key())


def test_load_certificate_errors(key_pool):
    with pytest.raises(SealingKeyError, match="no PEM CERTIFICATE block"):
        load_certificate(b"hello", "x.pem")
    broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    with pytest.raises(SealingKeyError, match="not a valid X.509 certificate"):
        load_certificate(broken, "x.pem")
    cert = load_certificate(b"junk before\n" + key_pool[0].certificate_pem(), "x.pem", now=NOW)
    assert cert.serial_number == key_pool[0].certificate.serial_number


def test_inconsistent_private_key_is_refused(key_pool):
    """Keys load without OpenSSL's slow full check; a round trip must still catch a damaged key."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    n = key_pool[0].private_key.private_numbers()
    damaged = rsa.RSAPrivateNumbers(
        p=n.p, q=n.q, d=n.d ^ 2, dmp1=n.dmp1 ^ 2, dmq1=n.dmq1, iqmp=n.iqmp, public_numbers=n.public_numbers
    ).private_key(unsafe_skip_rsa_key_validation=True)
    pem = damaged.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    with pytest.raises(SealingKeyError, match="bad.pem: the RSA private key is inconsistent"):
        parse_keys(pem, "bad.pem")
    assert parse_keys(serialization_pkcs1(key_pool[0]), "good.pem")[0].fingerprint == key_pool[0].fingerprint


def test_order_by_secret_creation_timestamp(key_pool):
    import dataclasses

    late = dataclasses.replace(key_pool[0], created=NOW)  # oldest certificate, newest Secret
    early = dataclasses.replace(key_pool[4], created=NOW - dt.timedelta(days=1))
    assert Keyring([late, early]).newest() is early
    ring = Keyring([late, early], order="SecretCreationTimestamp")
    assert ring.newest() is late
    value = refcodec.encrypt(early.private_key.public_key(), b"x", b"")
    assert ring.unseal_with_key(value, b"")[1] is early
    with pytest.raises(ValueError):
        Keyring([late], order="Random")
    assert keyring_mod.key_from_secret(key_secret(late), "s").fingerprint == late.fingerprint
