"""SQLite state (emulator only): objects, CRDs and the resourceVersion survive a restart; Secrets are encrypted.

Covers: a Secret, a CRD and one of its objects come back after stop/start
with the same uid and resourceVersion; new writes continue the counter;
watches from before the restart get 410; the Secret's value is not in the
state file in clear (AES-GCM at rest, as with an EncryptionConfiguration);
a wrong key is a clear error; the key file is private (0600).
"""

import base64
import json
from pathlib import Path

import pytest

from secretsync_emulator import APIServer
from secretsync_emulator.persistence import KEY_ENV, Persistence, StateError

CRD = Path(__file__).parent / "data" / "widgets-crd.yaml"


def _client(server, tmp_path):
    from tests.fixtures.apiserver import Cluster

    return Cluster(
        url=server.url,
        kubeconfig=server.write_kubeconfig(tmp_path / "kc"),
        workdir=tmp_path,
        admin_token=server.admin_token,
        server=server,
    )


def test_state_survives_restart(tmp_path):
    state = tmp_path / "state.db"
    server = APIServer(state_file=str(state)).start()
    c = _client(server, tmp_path / "one")
    value = "canary-" + base64.b16encode(b"persist").decode()
    code, secret, _ = c.raw(
        "POST",
        "/api/v1/namespaces/default/secrets",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "kept"}, "stringData": {"v": value}},
    )
    assert code == 201
    c.kubectl("apply", "-f", str(CRD))
    code, widget, _ = c.raw(
        "POST",
        "/apis/example.secretsync.io/v1/namespaces/default/widgets",
        {"apiVersion": "example.secretsync.io/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 2}},
    )
    assert code == 201
    c.close()
    server.stop()
    assert value.encode() not in state.read_bytes()
    assert base64.b64encode(value.encode()) not in state.read_bytes()

    server = APIServer(state_file=str(state)).start()
    c = _client(server, tmp_path / "two")
    try:
        code, again, _ = c.raw("GET", "/api/v1/namespaces/default/secrets/kept")
        assert code == 200 and base64.b64decode(again["data"]["v"]).decode() == value
        assert again["metadata"]["uid"] == secret["metadata"]["uid"]
        assert again["metadata"]["resourceVersion"] == secret["metadata"]["resourceVersion"]
        code, w, _ = c.raw("GET", "/apis/example.secretsync.io/v1/namespaces/default/widgets/w")
        assert code == 200 and w["spec"]["size"] == 2
        code, cm, _ = c.raw(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after"}},
        )
        assert int(cm["metadata"]["resourceVersion"]) > int(widget["metadata"]["resourceVersion"])
        code, _, _ = c.raw("GET", "/api/v1/namespaces")
        assert code == 200
        events = c.raw(
            "GET",
            "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1&resourceVersion="
            + secret["metadata"]["resourceVersion"],
        )[1]
        first = json.loads(events.splitlines()[0]) if isinstance(events, str) else events
        assert first["type"] == "ERROR" and first["object"]["code"] == 410
    finally:
        c.close()
        server.stop()


def test_wrong_key_is_a_clear_error(tmp_path, monkeypatch):
    state = tmp_path / "state.db"
    server = APIServer(state_file=str(state)).start()
    c = _client(server, tmp_path / "one")
    c.raw(
        "POST",
        "/api/v1/namespaces/default/secrets",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "v"}},
    )
    c.close()
    server.stop()
    monkeypatch.setenv(KEY_ENV, base64.b64encode(b"x" * 32).decode())
    with pytest.raises(StateError) as info:
        APIServer(state_file=str(state))
    assert "default/s" in str(info.value) and "wrong key" in str(info.value)


def test_key_file_is_private(tmp_path):
    state = tmp_path / "s.db"
    server = APIServer(state_file=str(state))
    key = Path(str(state) + ".key")
    assert key.exists() and (key.stat().st_mode & 0o777) == 0o600
    assert (state.stat().st_mode & 0o777) == 0o600
    assert isinstance(server._persistence, Persistence)
    server._persistence.close()


def test_credentials_survive_restart(tmp_path):
    state = tmp_path / "creds.db"
    server = APIServer(state_file=str(state)).start()
    token = server.mint_token("default", "robot")
    admin = server.admin_token
    server.stop()
    server = APIServer(state_file=str(state)).start()
    try:
        assert server.admin_token == admin
        c = _client(server, tmp_path / "after")
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
        code, out, _ = c.raw("POST", "/apis/authentication.k8s.io/v1/tokenreviews", review)
        assert code == 201 and out["status"]["user"]["username"] == "system:serviceaccount:default:robot"
        c.close()
    finally:
        server.stop()
    assert admin.encode() not in state.read_bytes()
