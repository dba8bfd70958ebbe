"""``secretsync seal`` against a controller reached through the API server, as kubeseal does.

Covers: the certificate fetched through the service proxy path kubeseal uses
(``/api/v1/namespaces/NS/services/http:NAME:PORT/proxy/v1/cert.pem``, PORT = the Service's
first port name) for ``--fetch-cert`` and for sealing; ``--controller-name`` /
``--controller-namespace`` and their ``SEALED_SECRETS_*`` variables; ``--context``; ``--validate`` (POST
/v1/verify: 200 passes, 409 names the SealedSecret) and ``--re-encrypt`` (POST /v1/rotate:
output re-sealed with the controller's newest key, kind/apiVersion restored) online;
kubeseal's error texts when the Service is missing, has no endpoints, or the controller
answers an error; the offline ``--key-dir`` forms still win when given (re-encrypt output
shaped as kubeseal's).

The controller is secretsync's real endpoint server (secretsync/sealedcontroller/endpoints.py)
on 127.0.0.1, registered behind the emulator's service proxy; the CLI runs in-process
(``secretsync.cli.main.main``, stdout/stderr captured) with ``--kubeconfig``, and once as a
real process. Needs the emulator (service-proxy registration is a test hook).
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from types import SimpleNamespace

import pytest
import yaml

from secretsync.crypto import sealing
from secretsync.sealedcontroller.endpoints import ControllerEndpoints, ControllerMetrics
from secretsync.sealing.keyring import Keyring
from secretsync.sealing.objects import seal_secret, unseal_sealed_secret
from tests.fixtures.openbao import free_port
from tests.kube.conftest import client_for
from tests.sealing.test_cli_seal import SECRET
from tests.vault.inprocess import call_main

NAME = "sealed-secrets-controller"
SERVICE_HINT = (
    "Please, use the flag --controller-name and --controller-namespace to set up the name and "
    "namespace of the sealed secrets controller"
)


class FakeCluster:
    """The emulator with a Service in front of a real controller endpoint server holding ``keys``."""

    def __init__(self, apiserver, keys):
        apiserver.require_emulator("registers a loopback backend behind the service proxy")
        self.apiserver, self.namespace = apiserver, apiserver.namespace
        self.ring = Keyring(keys)
        self.serving = True
        self.endpoints = ControllerEndpoints(
            lambda: self.ring if self.serving else None, ControllerMetrics(), host="127.0.0.1", port=0
        )
        self.endpoints.start()

    def service(self, name=NAME, port_name="http"):
        kube = client_for(self.apiserver)
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": self.namespace},
                "spec": {"ports": [{"name": port_name, "port": 8080, "targetPort": 8080}]},
            }
        )
        kube.close()

    def expose(self, name=NAME, port_name="http"):
        self.service(name, port_name)
        self.apiserver.server.register_service_backend(self.namespace, name, port_name, self.endpoints.url)

    def args(self, *extra):
        return (
            "seal",
            "--kubeconfig",
            str(self.apiserver.kubeconfig),
            "--controller-namespace",
            self.namespace,
            *extra,
        )


@pytest.fixture
def cli(capsysbinary, monkeypatch):
    """``secretsync ARGS`` in this process: (returncode, stdout bytes, stderr text) like ``run_cli``'s result."""
    for name in [n for n in __import__("os").environ if n.startswith("SEALED_SECRETS_")]:
        monkeypatch.delenv(name)

    def run(*args, input: str | bytes = b"", env: dict | None = None):
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        data = input.encode() if isinstance(input, str) else input
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        try:
            code = call_main(args)
        finally:
            for key in env or {}:
                monkeypatch.delenv(key)
        out, err = capsysbinary.readouterr()
        return SimpleNamespace(returncode=code, stdout=out, stderr_text=err.decode("utf-8", "replace"))

    return run


@pytest.fixture
def cluster(apiserver, key_pool, monkeypatch):
    # the controller's own log lines would land in the in-process CLI's stderr
    monkeypatch.setattr(logging.getLogger("secretsync.sealedcontroller.endpoints"), "disabled", True)
    c = FakeCluster(apiserver, key_pool[:2])  # key 1 is the newest
    yield c
    c.endpoints.stop()


def sealed_with(key, name="s", namespace="ns") -> dict:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"k": "dmFsdWU="},
    }
    return seal_secret(secret, key.certificate, sealing.Scope.STRICT)


def values(obj, keys) -> dict:
    return {k: v.reveal() for k, v in unseal_sealed_secret(obj, Keyring(keys))["data"].items()}


def test_fetch_cert_and_seal_through_the_service_proxy(cli, cluster, key_pool):
    cluster.expose()
    proc = subprocess.run(
        [sys.executable, "-m", "secretsync", *cluster.args("--fetch-cert")],
        capture_output=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cluster.apiserver.workdir)},
    )
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    assert proc.stdout == key_pool[1].certificate_pem()
    r = cli(*cluster.args(), input=SECRET)
    assert r.returncode == 0 and r.stderr_text == "", r.stderr_text
    assert values(json.loads(r.stdout), [key_pool[1]]) == {"k": b"value"}


def test_controller_flags_from_the_environment_and_unnamed_port(cli, cluster, key_pool):
    cluster.expose(name="sealed-secrets", port_name="")
    r = cli(*cluster.args("--fetch-cert"))  # the default name has no Service
    assert r.returncode == 1
    assert r.stderr_text == (f'error: cannot get sealed secret service: services "{NAME}" not found.\n{SERVICE_HINT}\n')
    r = cli(*cluster.args("--fetch-cert"), env={"SEALED_SECRETS_CONTROLLER_NAME": "sealed-secrets"})
    assert r.returncode == 0, r.stderr_text
    assert r.stdout == key_pool[1].certificate_pem()


def test_context_flag_picks_the_cluster(cli, cluster, key_pool, tmp_path):
    cluster.expose()
    config = yaml.safe_load(cluster.apiserver.kubeconfig.read_text())
    good = config["current-context"]
    config["clusters"].append({"name": "dead", "cluster": {"server": f"http://127.0.0.1:{free_port()}"}})
    config["contexts"].append({"name": "dead", "context": {"cluster": "dead", "user": "admin"}})
    config["current-context"] = "dead"
    path = tmp_path / "two-contexts"
    path.write_text(yaml.safe_dump(config))
    base = ("seal", "--kubeconfig", str(path), "--controller-namespace", cluster.namespace, "--fetch-cert")
    r = cli(*base)
    assert r.returncode == 1 and r.stderr_text.startswith("error: cannot get sealed secret service: ")
    r = cli(*base, "--context", good)
    assert r.returncode == 0 and r.stdout == key_pool[1].certificate_pem(), r.stderr_text


def test_validate_online(cli, cluster, key_pool, key4096):
    cluster.expose()
    good = sealed_with(key_pool[0], "old")  # a retained key still decrypts
    good["metadata"]["creationTimestamp"] = "2026-01-02T03:04:05Z"  # as kubectl get -o yaml has it (unquoted)
    bad = sealed_with(key4096, "foreign")  # no key of the controller
    docs = "---\n" + yaml.safe_dump(good) + "---\n" + yaml.safe_dump(bad)
    good_yaml = yaml.safe_dump(good).replace("'2026-01-02T03:04:05Z'", "2026-01-02T03:04:05Z")
    assert "creationTimestamp: 2026-01-02T03:04:05Z\n" in good_yaml  # a YAML timestamp, not a string
    r = cli(*cluster.args("--validate"), input=good_yaml)
    assert r.returncode == 0 and r.stdout == b"" and r.stderr_text == ""
    r = cli(*cluster.args("--validate"), input=docs)
    assert r.returncode == 3 and r.stderr_text == "error: unable to decrypt sealed secret: foreign\n"


def test_re_encrypt_online(cli, cluster, key_pool, tmp_path):
    cluster.expose()
    old = sealed_with(key_pool[0])
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    r = cli(*cluster.args("--re-encrypt", "-f", str(path)))
    assert r.returncode == 0 and r.stdout == b"" and r.stderr_text == "", r.stderr_text
    resealed = json.loads(path.read_text())
    assert resealed["kind"] == "SealedSecret" and resealed["apiVersion"] == "bitnami.com/v1alpha1"
    assert "creationTimestamp" not in resealed["metadata"]
    assert values(resealed, [key_pool[1]]) == {"k": b"value"}  # the newest key alone opens it
    with pytest.raises(Exception):
        values(resealed, [key_pool[0]])


def test_offline_key_dir_is_used_when_given(cli, cluster, key_pool, key_dir):
    # no Service at all: --key-dir must not touch the cluster
    r = cli(*cluster.args("--validate", "--key-dir", str(key_dir)), input=json.dumps(sealed_with(key_pool[0])))
    assert r.returncode == 0, r.stderr_text
    # offline --re-encrypt prints what kubeseal prints: no creationTimestamp (a YAML timestamp here)
    old = sealed_with(key_pool[0])
    old["metadata"]["generation"] = 3
    text = yaml.safe_dump(old).replace("generation: 3", "generation: 3\n  creationTimestamp: 2026-01-02T03:04:05Z")
    for fmt in ("json", "yaml"):
        r = cli(*cluster.args("--re-encrypt", "--key-dir", str(key_dir), "-o", fmt), input=text)
        assert r.returncode == 0, r.stderr_text
        out = yaml.safe_load(r.stdout)
        assert set(out["metadata"]) == {"name", "namespace"} and out["kind"] == "SealedSecret"
        assert values(out, [key_pool[1]]) == {"k": b"value"}


def test_controller_errors_as_kubeseal_prints_them(cli, cluster, key_pool):
    cluster.service()  # a Service without endpoints
    r = cli(*cluster.args("--fetch-cert"))
    assert r.returncode == 1
    assert r.stderr_text == f'error: cannot fetch certificate: no endpoints available for service "{NAME}"\n'

    cluster.apiserver.server.register_service_backend(cluster.namespace, NAME, "http", cluster.endpoints.url)
    cluster.serving = False  # the controller has no key yet: 500 "cannot get certificate"
    r = cli(*cluster.args(), input=SECRET)
    assert r.returncode == 1 and r.stdout == b""
    assert r.stderr_text == (
        'error: cannot fetch certificate: an error on the server ("cannot get certificate") '
        f"has prevented the request from succeeding (get services http:{NAME}:http)\n"
    )
    cluster.serving = True
    r = cli(*cluster.args("--validate"), input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    assert r.returncode == 1
    assert r.stderr_text == (
        'error: cannot validate sealed secret: an error on the server ("") has prevented the '
        f"request from succeeding (post services http:{NAME}:http)\n"
    )
    r = cli(*cluster.args("--re-encrypt"), input=json.dumps(sealed_with(sealing_key := key_pool[0], "x")))
    assert r.returncode == 0 and values(json.loads(r.stdout), [key_pool[1]]) == {"k": b"value"}, sealing_key
