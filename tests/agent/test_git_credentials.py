"""Git credentials from ``source.git.secretRef`` (HTTPS basic auth / token), against the real
``git http-backend`` served on 127.0.0.1 behind a Basic-auth check. Covers: the right username and
password fetch and apply; a wrong password gives Ready=False ArtifactFailed whose message names the
repository but holds neither the password nor the username:password pair; fixing the Secret
recovers without touching the Sync."""

from __future__ import annotations

import base64
import subprocess

import pytest

from secretsync.runtime.httpserver import HTTPServer, Response
from secretsync.secretvalue import SecretBytes
from tests.agent.conftest import configmap
from tests.fixtures.peers import peer_binary

pytestmark = [pytest.mark.timeout(120), pytest.mark.peer]

USER, PASSWORD = "deploy-bot", "git-password-for-tests"


def git_http_server(project_root):
    """An HTTP Git server: Basic auth, then git http-backend as a CGI program."""
    backend = (
        subprocess.run([peer_binary("git"), "--exec-path"], capture_output=True, text=True, check=True).stdout.strip()
        + "/git-http-backend"
    )
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def handle(request):
        if request.headers.get("Authorization") != expected:
            return Response(401, b"unauthorized\n", headers={"WWW-Authenticate": 'Basic realm="git"'})
        query = "&".join(f"{k}={v}" for k, vs in request.query.items() for v in vs)
        env = {
            "GIT_PROJECT_ROOT": str(project_root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": request.path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": request.method,
            "REMOTE_USER": USER,
            "CONTENT_TYPE": request.headers.get("Content-Type") or "",
            "CONTENT_LENGTH": str(len(request.body)),
            "GIT_PROTOCOL": request.headers.get("Git-Protocol") or "",
            "PATH": "/usr/bin:/bin",
        }
        proc = subprocess.run([backend], input=request.body, env=env, capture_output=True, timeout=60)
        head, _, body = proc.stdout.partition(b"\r\n\r\n")
        headers, status = {}, 200
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(": ")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers[name] = value
        return Response(status, body, headers.pop("Content-Type", "application/octet-stream"), headers)

    server = HTTPServer("127.0.0.1", 0, name="git-http", max_body=16 << 20)
    for method in ("GET", "POST"):
        server.route(method, "/", handle, prefix=True)
    server.start()
    return server


def test_https_basic_credentials(agent_kube, syncs, make_agent, gitrepo):
    ns, client = agent_kube.namespace, agent_kube.client
    repo = gitrepo("private")
    first = repo.commit({"cm.yaml": configmap("app", ns, {"v": "1"})})
    server = git_http_server(repo.path.parent)
    try:
        url = f"{server.url}/{repo.path.name}"
        client.create(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "git-creds", "namespace": ns},
                "data": {"username": SecretBytes(USER), "password": SecretBytes("wrong-password-x")},
            }
        )
        make_agent()
        syncs.create(
            "private",
            {
                "source": {"git": {"url": url, "ref": {"branch": "main"}, "secretRef": {"name": "git-creds"}}},
                "interval": "1h",
                "retryInterval": "1s",
                "prune": True,
            },
        )
        obj = syncs.wait_reason("private", "ArtifactFailed", timeout=30)
        message = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")["message"]
        assert repo.path.name in message
        assert "wrong-password-x" not in message and USER not in message
        client.patch(
            "v1", "Secret", "git-creds", ns, {"data": {"password": base64.b64encode(PASSWORD.encode()).decode()}}
        )
        syncs.wait_ready("private", revision=first, timeout=30)
        assert client.get("v1", "ConfigMap", "app", ns)["data"] == {"v": "1"}
    finally:
        server.stop()
