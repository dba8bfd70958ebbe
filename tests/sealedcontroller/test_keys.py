"""Key lifecycle of the controller (specs/sealed-secrets.md §5): the first start generates a key Secret in the
upstream format; a SealedSecret made by the `secretsync seal` CLI with the certificate fetched through the API
server's service proxy unseals; renewal (period and renew_now, i.e. SIGUSR1) adds a key that /v1/cert.pem serves
while old SealedSecrets keep unsealing; a key relabelled `compromised` stops being used without a restart; a
malformed key Secret is skipped with a log line and a KeySkipped event naming it; a key made by openssl (PKCS#8,
"bring your own certificate") is used; --key-cutoff-time forces a new key at start; SecretCreationTimestamp
ordering. Not covered here: the default 4096-bit size (tests use 1024 bits to keep generation fast)."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from secretsync.crypto import sealing
from secretsync.sealedcontroller.keymanager import build_keyring, parse_cutoff_time
from secretsync.sealing import keyring as kr
from tests.sealedcontroller.conftest import events_for, get_secret, make_sealed, plain, synced_condition, wait_for
from tests.sealedcontroller.test_endpoints import fetch_cert_via_proxy

LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"


def _key_secrets(kube, namespace):
    return [s for s in kube.list("v1", "Secret", namespace, label_selector=f"{LABEL}=active")["items"]]


def test_first_start_generates_an_upstream_format_key(controller, sealed_kube, namespace):
    [secret] = _key_secrets(sealed_kube, namespace)
    meta = secret["metadata"]
    assert secret["type"] == "kubernetes.io/tls"
    assert meta["labels"][LABEL] == "active"
    assert meta["name"].startswith("sealed-secrets-key") and len(meta["name"]) == len("sealed-secrets-key") + 5
    key_pem, cert_pem = secret["data"]["tls.key"].reveal(), secret["data"]["tls.crt"].reveal()
    assert key_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")  # PKCS#1, as Go writes it
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert cert.subject == x509.Name([]) and cert.issuer == x509.Name([])
    text = subprocess.run(
        ["openssl", "x509", "-noout", "-text"], input=cert_pem, capture_output=True, check=True, timeout=30
    ).stdout.decode()  # openssl as the independent reader
    usage = text.split("X509v3 Key Usage: critical", 1)[1].strip().splitlines()[0].strip()
    assert usage == "Encipher Only"
    assert "X509v3 Basic Constraints: critical" in text and "CA:TRUE" in text
    assert "Signature Algorithm: sha256WithRSAEncryption" in text
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(hours=87600)
    assert isinstance(cert.public_key(), rsa.RSAPublicKey) and cert.public_key().key_size == 1024
    assert controller.keys.keyring().certificate_pem() == cert_pem


def test_cli_sealed_secret_with_the_served_cert_unseals(controller, sealed_kube, namespace, apiserver, tmp_path):
    pem = fetch_cert_via_proxy(apiserver, controller, namespace)
    cert_file = tmp_path / "cert.pem"
    cert_file.write_bytes(pem)
    secret = tmp_path / "secret.yaml"
    secret.write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: cli\n  namespace: {namespace}\n"
        f"stringData:\n  token: from-the-cli\n"
    )  # test input the CLI peer needs
    out = subprocess.run(
        [sys.executable, "-m", "secretsync", "seal", "--cert", str(cert_file), "-f", str(secret), "-o", "yaml"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    import yaml

    sealed_kube.create(yaml.safe_load(out.stdout))
    made = wait_for(lambda: get_secret(sealed_kube, namespace, "cli"), what="the Secret of the CLI-sealed object")
    assert plain(made) == {"token": b"from-the-cli"}


def test_renewal_adds_a_key_and_old_sealed_secrets_still_unseal(controller, sealed_kube, namespace, apiserver):
    old_cert = controller.keys.keyring().newest().certificate
    controller.keys.renew_now()  # what SIGUSR1 does
    wait_for(lambda: len(_key_secrets(sealed_kube, namespace)) == 2, what="a second key Secret")
    wait_for(lambda: controller.keys.keyring().newest().certificate != old_cert, what="the new key to be newest")
    served = fetch_cert_via_proxy(apiserver, controller, namespace)
    assert x509.load_pem_x509_certificate(served) != old_cert
    assert served == controller.keys.keyring().certificate_pem()
    sealed_kube.create(make_sealed(old_cert, namespace, "old", {"v": "sealed-with-the-old-key"}))
    sealed_kube.create(make_sealed(controller, namespace, "new", {"v": "sealed-with-the-new-key"}))
    assert plain(wait_for(lambda: get_secret(sealed_kube, namespace, "old"), what="old")) == {
        "v": b"sealed-with-the-old-key"
    }
    assert plain(wait_for(lambda: get_secret(sealed_kube, namespace, "new"), what="new")) == {
        "v": b"sealed-with-the-new-key"
    }


def test_periodic_renewal(start_controller, sealed_kube, namespace):
    runtime = start_controller(key_renew_period=dt.timedelta(seconds=1.5))
    wait_for(lambda: len(_key_secrets(sealed_kube, namespace)) >= 3, timeout=20, what="two renewals")
    names = {s["metadata"]["name"] for s in _key_secrets(sealed_kube, namespace)}
    assert len(names) >= 3 and runtime.keys.generated >= 3


def test_compromised_key_stops_being_used_without_restart(controller, sealed_kube, namespace):
    first = controller.keys.keyring().newest()
    second = controller.keys.generate()
    assert controller.keys.keyring().newest().fingerprint == second.fingerprint
    secret = sealed_kube.get("v1", "Secret", second.name, namespace)
    secret["metadata"]["labels"][LABEL] = "compromised"
    sealed_kube.update(secret)
    wait_for(lambda: len(controller.keys.keyring()) == 1, what="the relabelled key to be dropped")
    assert controller.keys.keyring().newest().fingerprint == first.fingerprint
    sealed_kube.create(make_sealed(second.certificate, namespace, "app", {"v": "x"}))
    cond = wait_for(lambda: synced_condition(sealed_kube, namespace, "app"), what="a status")
    assert cond["status"] == "False" and cond["message"] == "no key could decrypt secret (v)"
    assert get_secret(sealed_kube, namespace, "app") is None


def test_malformed_key_secret_is_skipped_with_event_and_log(start_controller, sealed_kube, namespace, caplog):
    caplog.set_level(logging.WARNING, logger="secretsync.sealedcontroller.keymanager")
    sealed_kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": "broken-key", "namespace": namespace, "labels": {LABEL: "active"}},
            "data": {
                "tls.key": base64.b64encode(b"not a key").decode(),
                "tls.crt": base64.b64encode(b"not a cert").decode(),
            },
        }
    )
    runtime = start_controller()
    assert runtime.keys.wait_for_key(20)  # generated one: the broken one is no key
    assert len(runtime.keys.keyring()) == 1
    runtime.recorder.flush()
    [event] = events_for(sealed_kube, namespace, "broken-key", "KeySkipped")
    assert event["type"] == "Warning" and f"{namespace}/broken-key" in event["message"]
    assert any(f"{namespace}/broken-key" in r.getMessage() for r in caplog.records)
    # one added later while running is skipped the same way, and the controller keeps working
    sealed_kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": "broken-later", "namespace": namespace, "labels": {LABEL: "active"}},
            "data": {"tls.crt": base64.b64encode(b"x").decode()},
        }
    )
    wait_for(lambda: any("broken-later" in r.getMessage() for r in caplog.records), what="the log line")
    sealed_kube.create(make_sealed(runtime, namespace, "app", {"v": "ok"}))
    assert plain(wait_for(lambda: get_secret(sealed_kube, namespace, "app"), what="app")) == {"v": b"ok"}


def test_openssl_made_key_is_used(start_controller, sealed_kube, namespace, tmp_path):
    """Bring your own certificate: a PKCS#8 key and certificate made by openssl, stored as upstream documents."""
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(crt),
            "-subj",
            "/CN=sealed-secret",
            "-days",
            "30",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert b"BEGIN PRIVATE KEY" in key.read_bytes()  # PKCS#8
    sealed_kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": "byo-key", "namespace": namespace, "labels": {LABEL: "active"}},
            "data": {
                "tls.key": base64.b64encode(key.read_bytes()).decode(),
                "tls.crt": base64.b64encode(crt.read_bytes()).decode(),
            },
        }
    )
    runtime = start_controller()
    runtime.keys.wait_for_key(20)
    assert runtime.keys.generated == 0
    assert runtime.keys.keyring().certificate_pem().strip() == crt.read_bytes().strip()
    cert = x509.load_pem_x509_certificate(crt.read_bytes())
    sealed_kube.create(make_sealed(cert, namespace, "byo", {"v": "openssl"}))
    assert plain(wait_for(lambda: get_secret(sealed_kube, namespace, "byo"), what="byo")) == {"v": b"openssl"}


def test_cutoff_time_forces_a_new_key_at_start(start_controller, sealed_kube, namespace):
    old = kr.generate_key(1024, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=3), name="sealed-secrets-keyold")
    sealed_kube.create(
        kr.key_secret(old, namespace)
        | {"metadata": {"name": old.name, "namespace": namespace, "labels": {LABEL: "active"}}}
    )
    cutoff = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    runtime = start_controller(key_cutoff_time=parse_cutoff_time(cutoff))
    wait_for(lambda: runtime.keys.generated == 1, what="a key newer than the cutoff")
    assert len(runtime.keys.keyring()) == 2 and runtime.keys.keyring().newest().fingerprint != old.fingerprint
    with pytest.raises(ValueError):
        parse_cutoff_time("2026-01-01")


def test_secret_creation_timestamp_ordering():
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    a = kr.generate_key(1024, now=now, name="a")  # newest certificate ...
    b = kr.generate_key(1024, now=now - dt.timedelta(days=1), name="b")
    a.created, b.created = now - dt.timedelta(days=2), now  # ... but the oldest Secret
    assert build_keyring([a, b]).newest() is a
    ring = build_keyring([a, b], "SecretCreationTimestamp")
    assert ring.newest() is b
    sealed = sealing.seal(a.private_key.public_key(), b"x", b"l")
    plaintext, used = ring.unseal_with_key(sealed, b"l")
    assert plaintext.reveal() == b"x" and used is a
    assert build_keyring([]) is None


def test_sigusr1_renews_in_the_cli_process(apiserver, sealed_kube, namespace, tmp_path):
    """The real command: `secretsync controller` against the API server; SIGUSR1 adds a key, SIGTERM stops."""
    import os
    import signal

    env = {
        **os.environ,
        "POD_NAMESPACE": namespace,
        "SEALED_SECRETS_KEY_SIZE": "1024",
        "SEALED_SECRETS_ADDITIONAL_NAMESPACES": namespace,
        "SEALED_SECRETS_ALL_NAMESPACES": "false",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "secretsync",
            "controller",
            "--kubeconfig",
            str(apiserver.kubeconfig),
            "--listen-addr",
            "127.0.0.1:0",
            "--listen-metrics-addr",
            "127.0.0.1:0",
            "--log-level",
            "INFO",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    try:
        wait_for(lambda: len(_key_secrets(sealed_kube, namespace)) == 1, timeout=30, what="the first key")
        proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: len(_key_secrets(sealed_kube, namespace)) == 2, timeout=30, what="the SIGUSR1 key")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    out = proc.stdout.read().decode() + proc.stderr.read().decode()
    assert "new sealing key written" in out
    assert "PRIVATE KEY" not in out  # the certificate is logged, never the key


def test_legacy_key_secret_named_like_the_prefix_is_read(start_controller, sealed_kube, namespace):
    """Pre-0.9 installs kept one key in a Secret named exactly <key-prefix>, without the label."""
    legacy = kr.generate_key(1024, name="sealed-secrets-key")
    body = kr.key_secret(legacy, namespace)
    body["metadata"].pop("labels")
    body["metadata"].pop("creationTimestamp", None)
    sealed_kube.create(body)
    runtime = start_controller()
    runtime.keys.wait_for_key(20)
    assert runtime.keys.generated == 0
    assert runtime.keys.keyring().newest().fingerprint == legacy.fingerprint
    sealed_kube.create(make_sealed(legacy.certificate, namespace, "old", {"v": "legacy"}))
    assert plain(wait_for(lambda: get_secret(sealed_kube, namespace, "old"), what="old")) == {"v": b"legacy"}
    runtime.keys.generate()  # an unrelated key event keeps it
    assert len(runtime.keys.keyring()) == 2
