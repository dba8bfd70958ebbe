"""Fixtures for the apply-side tests: an emulator per test (or the real cluster), a request counter,
a stand-in for the controllers that move Deployments and Jobs along, and the demo repository.

- ``kube``: the ``apiserver`` fixture plus a ``KubeClient`` on it (``.client``) and ``.requests``, a
  counter of requests by (verb, dry-run) taken inside the emulator (emulator only: tests that
  assert counts call ``cluster.require_emulator()``; resourceVersion checks work everywhere).
- ``controllers``: a thread playing the Deployment and Job controllers (the emulator runs none):
  Deployments get a rolled-out status unless annotated ``test.secretsync.io/rollout: stuck`` or
  ``deadline`` (ProgressDeadlineExceeded); Jobs complete, or fail with
  ``test.secretsync.io/outcome: fail``, or never finish with ``hang``.
- ``demo``: examples/ prepared with throwaway keys made at run time (age-keygen, a fresh sealing
  key dir per test so it can be rotated), the Vault values written to the OpenBao dev server.
"""

from __future__ import annotations

import collections
import importlib.util
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.fixtures.peers import peer_binary
from tests.render.conftest import age_key  # noqa: F401 - shared session fixture (real age-keygen)

ROOT = Path(__file__).resolve().parents[2]
OUTCOME = "test.secretsync.io/outcome"
ROLLOUT = "test.secretsync.io/rollout"
CONTROLLERS_USER = "system:fake-controllers"  # their requests are not counted


@dataclass
class Kube:
    cluster: object
    client: object
    requests: collections.Counter = field(default_factory=collections.Counter)
    counted: dict = field(default_factory=dict)

    def writes(self, counts: dict | None = None) -> dict:
        """Requests that change state (dry-runs excluded), by verb."""
        counts = self.requests if counts is None else counts
        return {
            verb: n
            for (verb, dry), n in counts.items()
            if verb in ("create", "update", "patch", "delete", "deletecollection") and not dry
        }

    def reset(self) -> None:
        self.requests.clear()


@pytest.fixture
def kube(apiserver):
    from secretsync.kube.client import KubeClient

    counter: collections.Counter = collections.Counter()
    if apiserver.is_emulator:
        faults = apiserver.server.faults
        original = faults.intercept

        def counting(handler, req):
            if req.is_resource and handler.headers.get("Impersonate-User") != CONTROLLERS_USER:
                dry = req.query.get("dryRun") == "All" or b'"dryRun"' in (req.body or b"")
                counter[(req.verb, dry)] += 1
            return original(handler, req)

        faults.intercept = counting
    client = KubeClient.from_kubeconfig(str(apiserver.kubeconfig))
    yield Kube(apiserver, client, counter)
    client.close()


class Controllers:
    """Plays the Deployment and Job controllers by writing status (the emulator has none)."""

    def __init__(self, client) -> None:
        self.client = client
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="fake-controllers")

    def _run(self) -> None:
        from secretsync.kube.errors import KubeError

        while not self.stop.wait(0.05):
            try:
                self._round()
            except KubeError:
                continue

    def _round(self) -> None:
        for dep in self.client.list("apps/v1", "Deployment")["items"]:
            meta, status = dep["metadata"], dep.get("status") or {}
            mode = (meta.get("annotations") or {}).get(ROLLOUT, "")
            if status.get("observedGeneration") == meta.get("generation") or mode == "stuck":
                continue
            replicas = (dep.get("spec") or {}).get("replicas", 1)
            if mode == "deadline":
                new = {
                    "observedGeneration": meta["generation"],
                    "replicas": replicas,
                    "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}],
                }
            else:
                new = {
                    "observedGeneration": meta["generation"],
                    "replicas": replicas,
                    "updatedReplicas": replicas,
                    "readyReplicas": replicas,
                    "availableReplicas": replicas,
                    "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}],
                }
            self.client.update_status({**dep, "status": new})
        for job in self.client.list("batch/v1", "Job")["items"]:
            meta, status = job["metadata"], job.get("status") or {}
            outcome = (meta.get("annotations") or {}).get(OUTCOME, "succeed")
            if status.get("conditions") or outcome == "hang":
                continue
            cond = "Failed" if outcome == "fail" else "Complete"
            self.client.update_status(
                {
                    **job,
                    "status": {
                        "conditions": [
                            {
                                "type": cond,
                                "status": "True",
                                "reason": "BackoffLimitExceeded" if cond == "Failed" else "Completed",
                            }
                        ],
                        "succeeded" if cond == "Complete" else "failed": 1,
                    },
                }
            )


@pytest.fixture
def controllers(kube):
    kube.cluster.require_emulator("plays the Deployment/Job controllers by writing status")
    ctl = Controllers(kube.client.impersonate(CONTROLLERS_USER, ["system:masters"]))
    ctl.thread.start()
    yield ctl
    ctl.stop.set()
    ctl.thread.join(5)


def load_prepare():
    spec = importlib.util.spec_from_file_location("examples_prepare", ROOT / "examples" / "prepare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Demo:
    repo: Path
    key_dir: Path
    age_key: object
    env: dict

    def args(self) -> list[str]:
        return ["--age-key-file", str(self.age_key.identity_file), "--key-dir", str(self.key_dir)]


@pytest.fixture
def demo(tmp_path, age_key, openbao, monkeypatch):  # noqa: F811 - age_key is the imported fixture
    """The examples repo prepared with throwaway keys; Vault values in OpenBao; AVP env set."""
    from secretsync.sealing.keyring import FileKeyStore, Keyring, generate_key, key_secret

    key_dir = tmp_path / "sealing-keys"
    FileKeyStore(key_dir).put(key_secret(generate_key(bits=2048, name="sealed-secrets-keyapply1")))
    cert = Keyring.from_dir(key_dir).certificate_pem()
    repo = load_prepare().prepare(tmp_path / "demo-repo", age_key.recipient, cert, sops=peer_binary("sops"))
    values = yaml.safe_load((ROOT / "examples" / "templates" / "vault-values.yaml").read_text())
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path=values["path"], secret=values["data"], mount_point="secret"
    )
    env = {
        "AVP_TYPE": "vault",
        "AVP_AUTH_TYPE": "token",
        "VAULT_ADDR": openbao.addr,
        "VAULT_TOKEN": openbao.token,
        "SOPS_DISABLE_VERSION_CHECK": "1",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for k in ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "KUBECONFIG"):
        monkeypatch.delenv(k, raising=False)
    return Demo(repo, key_dir, age_key, env)


def write(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` under ``root`` (created); returns root."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
