"""The kubeseal value format, checked against the independent reference codec (both ways).

Covers: all three scope labels, byte layout (2-byte big-endian length, 533 bytes for
"bar" and 530 for "" under 4096-bit, 2048-bit prefix), empty values, non-determinism,
the upstream test certificate and ciphertext (spec section 9), Go's tolerance of a
short RSA block, and negative cases (truncated, flipped tag, wrong label, wrong key),
plus interop with the openssl CLI for the RSA-OAEP part.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from secretsync.crypto import sealing
from secretsync.sealing.keyring import load_certificate
from tests.sealing import refcodec

VECTORS = Path(__file__).parent.parent / "vectors" / "sealed_secrets"
SCOPES = [
    ("strict", sealing.Scope.STRICT),
    ("namespace-wide", sealing.Scope.NAMESPACE_WIDE),
    ("cluster-wide", sealing.Scope.CLUSTER_WIDE),
]


@pytest.mark.parametrize("name,scope", SCOPES)
def test_ours_to_reference_and_back(key4096, name, scope):
    priv = key4096.private_key
    lbl = sealing.scope_label(scope, "myns", "myname")
    assert lbl == refcodec.label(name, "myns", "myname")
    ours = sealing.seal(priv.public_key(), b"sekret", lbl)
    assert refcodec.decrypt(priv, ours, refcodec.label(name, "myns", "myname")) == b"sekret"
    theirs = refcodec.encrypt(priv.public_key(), b"sekret", refcodec.label(name, "myns", "myname"))
    assert sealing.unseal([priv], theirs, lbl).reveal() == b"sekret"


def test_labels_match_upstream_table():
    # pkg/apis/sealedsecrets/v1alpha1/sealedsecret_test.go label table
    assert sealing.scope_label(sealing.Scope.STRICT, "myns", "myname") == b"myns/myname"
    assert sealing.scope_label(sealing.Scope.NAMESPACE_WIDE, "myns", "myname") == b"myns"
    assert sealing.scope_label(sealing.Scope.CLUSTER_WIDE, "myns", "myname") == b""


def test_byte_layout_4096(key4096):
    value = sealing.seal(key4096.private_key.public_key(), b"bar", b"ns/n")
    assert len(value) == 533
    assert value[:2] == b"\x02\x00"
    assert base64.b64encode(value).decode()[:3] in ("AgA", "AgB", "AgC", "AgD")
    empty = sealing.seal(key4096.private_key.public_key(), b"", b"ns/n")
    assert len(empty) == 530
    assert sealing.unseal([key4096.private_key], empty, b"ns/n").reveal() == b""
    assert refcodec.decrypt(key4096.private_key, empty, b"ns/n") == b""


def test_byte_layout_2048(key_pool):
    value = sealing.seal(key_pool[0].private_key.public_key(), b"bar", b"")
    assert len(value) == 2 + 256 + 3 + 16 and value[:2] == b"\x01\x00"


def test_non_deterministic(key_pool):
    pub = key_pool[0].private_key.public_key()
    a, b = sealing.seal(pub, b"same", b"l"), sealing.seal(pub, b"same", b"l")
    assert a != b and a[2 + 256 :] != b[2 + 256 :]  # fresh session key each time


@settings(max_examples=25, deadline=None)
@given(
    plaintext=st.binary(max_size=300), ns=st.text(max_size=20), name=st.text(max_size=20), scope=st.sampled_from(SCOPES)
)
def test_property_both_directions(key_pool, plaintext, ns, name, scope):
    priv = key_pool[0].private_key
    lbl = refcodec.label(scope[0], ns, name)
    assert refcodec.decrypt(priv, sealing.seal(priv.public_key(), plaintext, lbl), lbl) == plaintext
    assert sealing.unseal([priv], refcodec.encrypt(priv.public_key(), plaintext, lbl), lbl).reveal() == plaintext


@pytest.mark.parametrize(
    "mangle",
    [
        lambda v: v[:1],  # shorter than the length prefix
        lambda v: v[:100],  # shorter than the RSA block
        lambda v: v[:-1],  # truncated tag
        lambda v: v[:-1] + bytes([v[-1] ^ 1]),  # flipped tag byte
        lambda v: v[:10] + bytes([v[10] ^ 1]) + v[11:],  # damaged RSA block
        lambda v: b"\x02\x00" + v[2:],  # length larger than a 2048-bit block
        lambda v: b"",
    ],
)
def test_damaged_values_fail_with_kubeseal_text(key_pool, mangle):
    priv = key_pool[0].private_key
    value = refcodec.encrypt(priv.public_key(), b"x", b"a/b")
    with pytest.raises(sealing.UnsealFailed) as info:
        sealing.unseal([priv], mangle(value), b"a/b")
    assert str(info.value) == "no key could decrypt secret"


def test_wrong_label_and_wrong_key(key_pool):
    priv, other = key_pool[0].private_key, key_pool[1].private_key
    value = refcodec.encrypt(priv.public_key(), b"x", b"a/b")
    for keys, lbl in (([priv], b"a/c"), ([priv], b""), ([other], b"a/b")):
        with pytest.raises(sealing.UnsealFailed):
            sealing.unseal(keys, value, lbl)
    assert sealing.unseal([other, priv], value, b"a/b").reveal() == b"x"


def test_short_rsa_block_is_accepted_like_go(key_pool):
    """Go's OAEP decrypt accepts a block shorter than the modulus (leading zero bytes dropped)."""
    priv = key_pool[0].private_key
    for _ in range(2000):
        value = refcodec.encrypt(priv.public_key(), b"short", b"")
        block, body = refcodec.split(value)
        if block[0] == 0:
            stripped = block.lstrip(b"\x00")
            short = len(stripped).to_bytes(2, "big") + stripped + body
            assert sealing.unseal([priv], short, b"").reveal() == b"short"
            return
    pytest.fail("no RSA block with a leading zero byte in 2000 tries (probability ~ 0.04%)")


def test_unsealer_reports_key_and_prefers_last_hit(key_pool):
    keys = [k.private_key for k in key_pool]
    unsealer = sealing.Unsealer(keys)
    value = refcodec.encrypt(keys[3].public_key(), b"v", b"")
    assert unsealer.unseal_index(value, b"")[1] == 3
    assert unsealer.unseal_index(value, b"")[1] == 3
    assert repr(unsealer) == "Unsealer(5 keys)"


def test_parse_scope_texts():
    assert sealing.parse_scope("") is sealing.Scope.STRICT
    assert sealing.parse_scope("cluster-wide") is sealing.Scope.CLUSTER_WIDE
    with pytest.raises(ValueError, match="^must be one of: strict, namespace-wide, cluster-wide$"):
        sealing.parse_scope("Strict")


def test_upstream_test_certificate_modulus():
    pem = (VECTORS / "upstream_test_cert.pem").read_bytes()
    modulus = int(
        [l for l in (VECTORS / "upstream_test_cert.modulus").read_text().splitlines() if not l.startswith("#")][0]
    )
    import datetime as dt

    cert = load_certificate(pem, "upstream testCert", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    numbers = cert.public_key().public_numbers()
    assert numbers.n == modulus and numbers.e == 65537
    # and we can seal to it in the 4096-bit layout
    value = sealing.seal(cert.public_key(), b"bar", b"myns/mysecret")
    assert len(value) == 533 and value[:2] == b"\x02\x00"


def test_upstream_ciphertext_layout():
    line = [l for l in (VECTORS / "upstream_datalines.txt").read_text().splitlines() if not l.startswith("#")][0]
    value = base64.b64decode(line, validate=True)
    block, body = refcodec.split(value)
    assert len(block) == 512 and len(body) >= 16
    # no key for it: our unsealer must fail with the kubeseal text, not crash
    with pytest.raises(sealing.UnsealFailed):
        sealing.unseal([], value, b"")


def _openssl(*args, input=None):
    return subprocess.run(["openssl", *args], input=input, capture_output=True, check=True, timeout=60).stdout


@pytest.mark.peer
def test_openssl_interop_both_ways(tmp_path, key_pool):
    """The RSA-OAEP(SHA-256, label) part against the openssl CLI, in both directions."""
    priv = key_pool[0].private_key
    key_pem = tmp_path / "key.pem"
    key_pem.write_bytes(
        priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    pub_pem = tmp_path / "pub.pem"
    pub_pem.write_bytes(
        priv.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    lbl = b"myns/myname"
    opts = [
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha256",
        "-pkeyopt",
        "rsa_mgf1_md:sha256",
        "-pkeyopt",
        f"rsa_oaep_label:{lbl.hex()}",
    ]
    # ours -> openssl: openssl recovers the session key, which opens the AES-GCM body
    value = sealing.seal(priv.public_key(), b"from-us", lbl)
    block, body = refcodec.split(value)
    session_key = _openssl("pkeyutl", "-decrypt", "-inkey", str(key_pem), *opts, input=block)
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    assert AESGCM(session_key).decrypt(bytes(12), body, None) == b"from-us"
    # openssl -> ours: openssl wraps the session key
    session_key = bytes(range(32))
    block = _openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", str(pub_pem), *opts, input=session_key)
    value = len(block).to_bytes(2, "big") + block + AESGCM(session_key).encrypt(bytes(12), b"from-openssl", None)
    assert sealing.unseal([priv], value, lbl).reveal() == b"from-openssl"
    with pytest.raises(sealing.UnsealFailed):
        sealing.unseal([priv], value, b"myns/other")
