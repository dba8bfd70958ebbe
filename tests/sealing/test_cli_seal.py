"""``secretsync seal`` as a process: kubeseal's flags, behaviours and exact error texts.

Covers: default JSON / YAML output and its shape, ``.yaml`` output forcing YAML,
``-w`` written only on success, several input documents, ``--scope`` and its error,
``-n`` mismatch, missing name, empty data and ``--allow-empty-data``, raw-mode rules
and byte-exact values, ``--from-file`` without ``--raw``, an expired certificate,
``--cert`` from an http URL (a real http.server on 127.0.0.1) and from
``SEALED_SECRETS_CERT``, ``--fetch-cert``, ``--merge-into``, ``--validate`` and
``--re-encrypt`` offline, unsupported output format. stderr is clean on success.
"""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import json
import re
import threading

import pytest
import yaml

from secretsync.sealing import keyring as keyring_mod
from secretsync.sealing.keyring import Keyring
from secretsync.sealing.objects import unseal_sealed_secret

SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: ns\ndata:\n  k: dmFsdWU=\n"


def unsealed(obj, key_dir):
    return {k: v.reveal() for k, v in unseal_sealed_secret(obj, Keyring.from_dir(key_dir))["data"].items()}


def test_default_json_output(cli, cert_file, key_dir):
    r = cli("seal", "--cert", str(cert_file), input=SECRET)
    assert r.returncode == 0 and r.stderr_text == ""
    assert r.stdout_text.startswith('{\n  "kind": "SealedSecret",\n  "apiVersion": "bitnami.com/v1alpha1",\n')
    obj = json.loads(r.stdout)
    assert obj["metadata"] == {"name": "s", "namespace": "ns"}
    assert unsealed(obj, key_dir) == {"k": b"value"}


def test_yaml_output_and_file(cli, cert_file, key_dir, tmp_path):
    out = tmp_path / "out.yaml"
    r = cli("seal", "--cert", str(cert_file), "-w", str(out), input=SECRET)
    assert r.returncode == 0 and r.stdout == b""
    text = out.read_text()
    assert text.startswith("---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\n")
    assert unsealed(yaml.safe_load(text), key_dir) == {"k": b"value"}
    r = cli("seal", "--cert", str(cert_file), "-o", "YAML", input=SECRET)
    assert r.stdout_text.startswith("---\n")


def test_output_written_only_on_success(cli, cert_file, tmp_path):
    out = tmp_path / "out.json"
    r = cli(
        "seal",
        "--cert",
        str(cert_file),
        "-w",
        str(out),
        input="apiVersion: v1\nkind: Secret\nmetadata: {}\ndata: {k: dg==}\n",
    )
    assert r.returncode == 1
    assert r.stderr_text == "error: missing metadata.name in input Secret\n"
    assert not out.exists() and list(tmp_path.iterdir()) == [cert_file]


def test_multiple_documents(cli, cert_file, key_dir):
    two = SECRET + "---\n" + SECRET.replace("name: s", "name: t")
    r = cli("seal", "--cert", str(cert_file), "-o", "yaml", input=two)
    docs = list(yaml.safe_load_all(r.stdout_text))
    assert [d["metadata"]["name"] for d in docs] == ["s", "t"]
    r = cli(
        "seal",
        "--cert",
        str(cert_file),
        input='{"metadata": {"name": "a", "namespace": "n"}, "data": {"k": "dg=="}}'
        '{"metadata": {"name": "b", "namespace": "n"}, "data": {"k": "dg=="}}',
    )
    assert r.returncode == 0 and r.stdout_text.count('"kind": "SealedSecret"') == 2


@pytest.mark.parametrize(
    "args,stdin,message",
    [
        (
            ["-n", "other"],
            SECRET,
            'error: namespace mismatch: input secret is in namespace "ns" but "other" was specified',
        ),
        (
            [],
            "kind: Secret\nmetadata:\n  name: s\n",
            "error: secret.data is empty in input Secret, assuming this is an "
            "error and aborting. To work with empty data, --allow-empty-data "
            "can be used",
        ),
        ([], "", "error: no secrets found. Ensure the input is valid and UTF-8 encoded"),
        (["--scope", "global"], SECRET, "error: must be one of: strict, namespace-wide, cluster-wide"),
        (["-o", "xml"], SECRET, "error: unsupported output format: xml"),
        (["--from-file", "x"], SECRET, "error: --from-file requires --raw"),
        (["--raw", "--name", "n"], "v", "error: must provide the --namespace flag with --raw and --scope strict"),
        (["--raw", "-n", "ns"], "v", "error: must provide the --name flag with --raw and --scope strict"),
        (
            ["--raw", "--scope", "namespace-wide"],
            "v",
            "error: must provide the --namespace flag with --raw and --scope namespace-wide",
        ),
    ],
)
def test_kubeseal_error_texts(cli, cert_file, args, stdin, message):
    r = cli("seal", "--cert", str(cert_file), *args, input=stdin)
    assert r.returncode == 1
    assert r.stderr_text.splitlines()[0] == message


def test_allow_empty_data(cli, cert_file):
    r = cli("seal", "--cert", str(cert_file), "--allow-empty-data", input="kind: Secret\nmetadata:\n  name: s\n")
    assert r.returncode == 0
    assert json.loads(r.stdout)["metadata"] == {"name": "s", "namespace": "default"}


def test_raw_mode_is_byte_exact(cli, cert_file, key_pool, tmp_path):
    value = b"line1\nline2\n\x00\xff"
    src = tmp_path / "value.bin"
    src.write_bytes(value)
    ring = Keyring([key_pool[1]])
    import base64

    r = cli("seal", "--cert", str(cert_file), "--raw", "-n", "ns", "--name", "s", "--from-file", f"key={src}")
    assert r.returncode == 0 and not r.stdout.endswith(b"\n")
    assert ring.unseal(base64.b64decode(r.stdout), b"ns/s").reveal() == value
    r = cli("seal", "--cert", str(cert_file), "--raw", "--scope", "cluster-wide", input=value)
    assert ring.unseal(base64.b64decode(r.stdout), b"").reveal() == value
    r = cli("seal", "--cert", str(cert_file), "--raw", "--scope", "namespace-wide", "-n", "ns", input=value)
    assert ring.unseal(base64.b64decode(r.stdout), b"ns").reveal() == value


def test_expired_certificate_refused(cli, tmp_path):
    old = keyring_mod.generate_key(1024, ttl=dt.timedelta(days=1), now=dt.datetime(2020, 3, 4, 5, 6, 7, tzinfo=dt.UTC))
    cert = tmp_path / "old.pem"
    cert.write_bytes(old.certificate_pem())
    r = cli("seal", "--cert", str(cert), input=SECRET)
    assert r.returncode == 1
    assert r.stderr_text.splitlines()[0] == "error: failed to encrypt using an expired certificate on March 5, 2020"


@pytest.fixture
def http_cert(cert_file):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(cert_file.parent))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_cert_from_http_url_and_env(cli, http_cert, key_dir, cert_file):
    r = cli("seal", "--cert", f"{http_cert}/cert.pem", input=SECRET)
    assert r.returncode == 0, r.stderr_text
    assert unsealed(json.loads(r.stdout), key_dir) == {"k": b"value"}
    r = cli("seal", input=SECRET, env={"SEALED_SECRETS_CERT": f"{http_cert}/cert.pem"})
    assert r.returncode == 0, r.stderr_text
    r = cli("seal", "--cert", f"{http_cert}/missing.pem", input=SECRET)
    assert r.returncode == 1 and "cannot fetch certificate" in r.stderr_text and "404" in r.stderr_text
    r = cli("seal", "--fetch-cert", "--cert", f"file://{cert_file}")
    assert r.stdout == cert_file.read_bytes()


def test_cert_from_key_dir_and_missing_cert(cli, key_dir):
    r = cli("seal", "--key-dir", str(key_dir), input=SECRET)
    assert r.returncode == 0 and unsealed(json.loads(r.stdout), key_dir) == {"k": b"value"}
    r = cli("seal", input=SECRET)
    assert r.returncode == 1 and "--cert" in r.stderr_text


def test_merge_into(cli, cert_file, key_dir, tmp_path):
    target = tmp_path / "sealed.json"
    target.write_bytes(cli("seal", "--cert", str(cert_file), input=SECRET).stdout)
    addition = "kind: Secret\nmetadata:\n  name: whatever\n  labels: {extra: x}\nstringData:\n  new: added\n"
    r = cli("seal", "--cert", str(cert_file), "--merge-into", str(target), input=addition)
    assert r.returncode == 0, r.stderr_text
    merged = json.loads(target.read_text())
    assert merged["metadata"] == {"name": "s", "namespace": "ns"}
    assert merged["spec"]["template"]["metadata"]["labels"] == {"extra": "x"}
    assert unsealed(merged, key_dir) == {"k": b"value", "new": b"added"}


def test_validate_and_re_encrypt_offline(cli, cert_file, key_dir, key_pool, tmp_path):
    good = cli("seal", "--cert", str(cert_file), input=SECRET).stdout
    r = cli("seal", "--validate", "--key-dir", str(key_dir), input=good)
    assert r.returncode == 0
    other = tmp_path / "other"
    from tests.sealing.conftest import write_key_dir

    write_key_dir(other, [key_pool[3]])
    r = cli("seal", "--validate", "--key-dir", str(other), input=good)
    assert r.returncode == 3 and r.stderr_text.splitlines()[0] == "error: unable to decrypt sealed secret: s"
    # re-encrypt to the newest key of a dir that also holds the old one
    both = write_key_dir(tmp_path / "both", [key_pool[1], key_pool[3]])
    src = tmp_path / "in.json"
    src.write_bytes(good)
    r = cli("seal", "--re-encrypt", "--key-dir", str(both), "-f", str(src))
    assert r.returncode == 0, r.stderr_text
    assert unsealed(json.loads(src.read_text()), other) == {"k": b"value"}


def test_json_and_yaml_text_exactly(cli, cert_file):
    """The whole output text, ciphertexts masked: Go pretty JSON in struct order; YAML sorted, quoted "true"."""
    inp = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: mysecret\n  namespace: myns\n  labels: {app: a&b}\n"
        "type: Opaque\nstringData:\n  foo: bar\n"
    )
    r = cli("seal", "--cert", str(cert_file), "--scope", "namespace-wide", input=inp)
    text = re.sub(r'"(A[gQ][A-Za-z0-9+/=]+)"', '"X"', r.stdout_text)
    assert (
        text
        == """{
  "kind": "SealedSecret",
  "apiVersion": "bitnami.com/v1alpha1",
  "metadata": {
    "name": "mysecret",
    "namespace": "myns",
    "annotations": {
      "sealedsecrets.bitnami.com/namespace-wide": "true"
    }
  },
  "spec": {
    "template": {
      "metadata": {
        "name": "mysecret",
        "namespace": "myns",
        "labels": {
          "app": "a\\u0026b"
        },
        "annotations": {
          "sealedsecrets.bitnami.com/namespace-wide": "true"
        }
      },
      "type": "Opaque"
    },
    "encryptedData": {
      "foo": "X"
    }
  }
}
"""
    )
    r = cli("seal", "--cert", str(cert_file), "--scope", "namespace-wide", "-o", "yaml", input=inp)
    text = re.sub(r"(A[gQ][A-Za-z0-9+/=]+)", "X", r.stdout_text)
    assert (
        text
        == """---
apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  annotations:
    sealedsecrets.bitnami.com/namespace-wide: "true"
  name: mysecret
  namespace: myns
spec:
  encryptedData:
    foo: X
  template:
    metadata:
      annotations:
        sealedsecrets.bitnami.com/namespace-wide: "true"
      labels:
        app: a&b
      name: mysecret
      namespace: myns
    type: Opaque
"""
    )


def test_cert_from_https_url(cli, cert_file, key_dir, tmp_path):
    """https:// with certificate verification: the test server's CA is trusted via SSL_CERT_FILE."""
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    tls_cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "tls.crt").write_bytes(tls_cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "tls.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(cert_file.parent))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}/cert.pem"
        r = cli("seal", "--cert", url, input=SECRET, env={"SSL_CERT_FILE": str(tmp_path / "tls.crt")})
        assert r.returncode == 0, r.stderr_text
        assert unsealed(json.loads(r.stdout), key_dir) == {"k": b"value"}
        r = cli("seal", "--cert", url, input=SECRET, env={"SSL_CERT_FILE": str(cert_file)})  # untrusted server
        assert r.returncode == 1 and "cannot fetch certificate" in r.stderr_text
    finally:
        server.shutdown()
        server.server_close()
