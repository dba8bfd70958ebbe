"""kubectl against the API server: the everyday commands, unchanged.

Covers: ``kubectl create -f``, ``get`` (table and ``-o json``), ``get`` of a
missing object (NotFound message), ``label``, ``delete``, ``get --raw``, and the
``secretsync dev-apiserver`` command's kubeconfig. Runs on a real cluster too
(except the dev-apiserver process test).
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.peer

CM = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data:
  greeting: hello
"""


def test_create_get_delete(apiserver):
    ns = apiserver.namespace
    out = apiserver.kubectl("-n", ns, "create", "-f", "-", input=CM.format(name="kc")).stdout
    assert out.strip() == "configmap/kc created"
    table = apiserver.kubectl("-n", ns, "get", "configmaps", "kc").stdout.splitlines()
    assert table[0].split() == ["NAME", "DATA", "AGE"] and table[1].split()[:2] == ["kc", "1"]
    obj = json.loads(apiserver.kubectl("-n", ns, "get", "configmap", "kc", "-o", "json").stdout)
    assert obj["data"] == {"greeting": "hello"} and obj["metadata"]["uid"]
    out = apiserver.kubectl("-n", ns, "delete", "configmap", "kc").stdout
    assert out.strip() == 'configmap "kc" deleted'
    missing = apiserver.kubectl("-n", ns, "get", "configmap", "kc", check=False)
    assert missing.returncode == 1
    assert 'Error from server (NotFound): configmaps "kc" not found' in missing.stderr


def test_create_existing_reports_already_exists(apiserver):
    ns = apiserver.namespace
    apiserver.kubectl("-n", ns, "create", "-f", "-", input=CM.format(name="twice"))
    again = apiserver.kubectl("-n", ns, "create", "-f", "-", input=CM.format(name="twice"), check=False)
    assert again.returncode == 1
    assert "Error from server (AlreadyExists)" in again.stderr and '"twice" already exists' in again.stderr


def test_label_and_selector(apiserver):
    ns = apiserver.namespace
    apiserver.kubectl("-n", ns, "create", "-f", "-", input=CM.format(name="lab"))
    apiserver.kubectl("-n", ns, "create", "-f", "-", input=CM.format(name="other"))
    out = apiserver.kubectl("-n", ns, "label", "configmap", "lab", "team=blue").stdout
    assert out.strip() == "configmap/lab labeled"
    names = apiserver.kubectl("-n", ns, "get", "cm", "-l", "team=blue", "-o", "name").stdout.split()
    assert names == ["configmap/lab"]


def test_get_all_namespaces_lists_namespace_column(apiserver):
    ns = apiserver.namespace
    apiserver.kubectl("-n", ns, "create", "-f", "-", input=CM.format(name="wide"))
    lines = apiserver.kubectl("get", "configmaps", "-A").stdout.splitlines()
    assert lines[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert any(line.split()[:2] == [ns, "wide"] for line in lines[1:])


def test_get_raw(apiserver):
    body = json.loads(apiserver.kubectl("get", "--raw", f"/api/v1/namespaces/{apiserver.namespace}").stdout)
    assert body["kind"] == "Namespace" and body["metadata"]["name"] == apiserver.namespace


def test_dev_apiserver_command_serves_kubectl(tmp_path):
    from tests.fixtures.peers import isolated_env, peer_binary

    kubeconfig = tmp_path / "kubeconfig"
    proc = subprocess.Popen(
        [sys.executable, "-m", "secretsync", "dev-apiserver", "--port", "0", "--kubeconfig-out", str(kubeconfig)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        cwd=os.getcwd(),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not kubeconfig.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        result = subprocess.run(
            [peer_binary("kubectl"), "--kubeconfig", str(kubeconfig), "get", "namespaces", "-o", "name"],
            capture_output=True,
            text=True,
            env=isolated_env(tmp_path),
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "namespace/default" in result.stdout.split()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert proc.returncode == 0


def test_kubectl_create_typed_objects(apiserver):
    """``kubectl create secret|configmap|serviceaccount|token`` send protobuf bodies (client-go typed clients)."""
    import base64

    ns = apiserver.namespace
    assert (
        apiserver.kubectl(
            "-n", ns, "create", "secret", "generic", "gen", "--from-literal=user=admin", "--type=example.com/basic"
        ).stdout.strip()
        == "secret/gen created"
    )
    obj = json.loads(apiserver.kubectl("-n", ns, "get", "secret", "gen", "-o", "json").stdout)
    assert base64.b64decode(obj["data"]["user"]) == b"admin" and obj["type"] == "example.com/basic"
    assert "generateName" not in obj["metadata"]
    apiserver.kubectl("-n", ns, "create", "configmap", "cfg", "--from-literal=a=b")
    obj = json.loads(apiserver.kubectl("-n", ns, "get", "configmap", "cfg", "-o", "json").stdout)
    assert obj["data"] == {"a": "b"}
    apiserver.kubectl("-n", ns, "create", "serviceaccount", "robot")
    token = apiserver.kubectl("-n", ns, "create", "token", "robot", "--audience=vault").stdout.strip()
    review = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": token, "audiences": ["vault"]},
    }
    _, out, _ = apiserver.raw("POST", "/apis/authentication.k8s.io/v1/tokenreviews", review)
    assert out["status"]["user"]["username"] == f"system:serviceaccount:{ns}:robot"


def test_kubectl_rbac_objects_and_can_i(apiserver):
    ns = apiserver.namespace
    apiserver.kubectl("-n", ns, "create", "serviceaccount", "bot")
    apiserver.kubectl("-n", ns, "create", "role", "read-one", "--verb=get", "--resource=secrets", "--resource-name=one")
    apiserver.kubectl("-n", ns, "create", "rolebinding", "read-one", "--role=read-one", f"--serviceaccount={ns}:bot")
    role = json.loads(apiserver.kubectl("-n", ns, "get", "role", "read-one", "-o", "json").stdout)
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["one"], "verbs": ["get"]}]
    as_bot = f"--as=system:serviceaccount:{ns}:bot"
    if apiserver.is_emulator and not apiserver.server.rbac:
        return  # without RBAC everything is allowed; the RBAC answers are covered in test_auth
    yes = apiserver.kubectl("-n", ns, "auth", "can-i", "get", "secrets/one", as_bot, check=False)
    no = apiserver.kubectl("-n", ns, "auth", "can-i", "get", "secrets/two", as_bot, check=False)
    assert (yes.stdout.strip(), no.stdout.strip(), no.returncode) == ("yes", "no", 1)


def test_unknown_kind_is_reported_by_kubectl(apiserver):
    manifest = "apiVersion: nothing.example.com/v1\nkind: Thing\nmetadata:\n  name: t\n"
    result = apiserver.kubectl("-n", apiserver.namespace, "apply", "-f", "-", input=manifest, check=False)
    assert result.returncode == 1
    assert 'no matches for kind "Thing" in version "nothing.example.com/v1"' in result.stderr


def test_kubectl_get_columns_for_events_leases_services(apiserver):
    ns = apiserver.namespace
    apiserver.raw(
        "POST",
        f"/api/v1/namespaces/{ns}/events",
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "e1"},
            "type": "Normal",
            "reason": "Synced",
            "message": "applied",
            "involvedObject": {"kind": "Secret", "name": "s", "namespace": ns},
            "lastTimestamp": "2026-01-01T00:00:00Z",
        },
    )
    apiserver.raw(
        "POST",
        f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases",
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "lock"},
            "spec": {"holderIdentity": "pod-1"},
        },
    )
    events = apiserver.kubectl("-n", ns, "get", "events").stdout.splitlines()
    assert events[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert events[1].split()[1:] == ["Normal", "Synced", "secret/s", "applied"]
    leases = apiserver.kubectl("-n", ns, "get", "leases").stdout.splitlines()
    assert leases[0].split() == ["NAME", "HOLDER", "AGE"] and leases[1].split()[:2] == ["lock", "pod-1"]
