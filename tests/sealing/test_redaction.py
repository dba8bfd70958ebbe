"""Plaintext never appears in error messages, logs or reprs (asserted with a canary value).

Runs the failing paths of every sealing command with a canary plaintext in the input
and checks stderr (which carries both errors and log lines, at debug level), and
checks the reprs of keys, keyrings and unsealed Secrets.
"""

import base64
import json

from secretsync.sealing import keyring as keyring_mod
from secretsync.sealing.keyring import Keyring
from secretsync.sealing.objects import seal_secret, unseal_sealed_secret
from tests.sealing.conftest import CANARY, write_key_dir


def canary_secret(**extra):
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "ns"},
        "stringData": {"password": CANARY},
    }
    secret.update(extra)
    return json.dumps(secret)


def assert_clean(result):
    assert CANARY not in result.stderr_text
    assert base64.b64encode(CANARY.encode()).decode() not in result.stderr_text


def test_seal_failures_do_not_echo_values(cli, cert_file):
    for args, text in (
        (["-n", "other"], canary_secret()),
        ([], canary_secret(metadata={"namespace": "ns"})),
        ([], canary_secret(data={"x": CANARY + "!!"})),
        ([], canary_secret().replace("}", "", 1)),
        ([], "stringData:\n  k: " + CANARY + "\n  bad: [\n"),
    ):
        r = cli("--log-level", "debug", "seal", "--cert", str(cert_file), *args, input=text)
        assert r.returncode != 0
        assert_clean(r)


def test_unseal_failures_do_not_echo_values(cli, key_pool, tmp_path):
    kd = write_key_dir(tmp_path / "kd", key_pool[:1])
    sealed = seal_secret(json.loads(canary_secret()), key_pool[0].certificate)
    sealed["spec"]["template"]["data"] = {"bad": "{{ .password.x }}", "fn": "{{ nosuch .password }}"}
    r = cli("--log-level", "debug", "unseal", "--key-dir", str(kd), input=json.dumps(sealed))
    assert r.returncode == 3 and "bad" in r.stderr_text and "fn" in r.stderr_text
    assert_clean(r)
    moved = dict(sealed, metadata={"name": "s", "namespace": "elsewhere"})
    r = cli("--log-level", "debug", "unseal", "--key-dir", str(kd), input=json.dumps(moved))
    assert r.returncode == 3
    assert_clean(r)
    other = write_key_dir(tmp_path / "other", key_pool[1:2])
    path = tmp_path / "s.json"
    path.write_text(json.dumps(sealed))
    r = cli("--log-level", "debug", "reseal", "--key-dir", str(other), str(path))
    assert r.returncode == 3
    assert_clean(r)


def test_reprs_redact(key_pool):
    key = key_pool[0]
    ring = Keyring([key])
    pem = keyring_mod.key_secret(key)["data"]["tls.key"]
    for text in (repr(key), str(key), repr(ring), repr(ring.keys)):
        assert pem[:40] not in text and "PRIVATE" not in text
    sealed = seal_secret(json.loads(canary_secret()), key.certificate)
    secret = unseal_sealed_secret(sealed, ring)
    assert CANARY not in repr(secret) and CANARY not in str(secret)
