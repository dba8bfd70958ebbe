"""Fixtures for the agent tests: the emulator with the Sync CRD, a running agent, and Sync helpers.

- ``agent_kube``: the ``apiserver`` fixture (emulator, or a real cluster) with ``crds/sync.yaml``
  applied and a ``KubeClient`` (``.client``) for the admin.
- ``make_agent(**config)``: starts an ``AgentRuntime`` on that cluster with fast test timings
  (source poll 0.3 s, retries from 0.2 s, endpoints on 127.0.0.1:0); all are stopped at teardown.
- ``syncs``: create/patch Syncs and wait for conditions (``syncs.create(name, spec)``,
  ``syncs.wait_ready(name, revision=None)``, ``syncs.wait_reason(name, reason)``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from secretsync.retry import poll_until
from tests.fixtures.polling import wait_for  # noqa: F401 - the one polling helper, imported from here by the tests

ROOT = Path(__file__).resolve().parents[2]


class Syncs:
    def __init__(self, client, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    def create(self, name: str, spec: dict, namespace: str | None = None, annotations: dict | None = None) -> dict:
        meta = {"name": name, "namespace": namespace or self.namespace}
        if annotations:
            meta["annotations"] = annotations
        return self.client.create(
            {"apiVersion": "secretsync.io/v1alpha1", "kind": "Sync", "metadata": meta, "spec": spec}
        )

    def get(self, name: str, namespace: str | None = None) -> dict:
        return self.client.get("secretsync.io/v1alpha1", "Sync", name, namespace or self.namespace)

    def patch(self, name: str, patch: dict, namespace: str | None = None) -> dict:
        return self.client.patch("secretsync.io/v1alpha1", "Sync", name, namespace or self.namespace, patch)

    def condition(self, name: str, type_: str = "Ready", namespace: str | None = None) -> dict | None:
        for cond in (self.get(name, namespace).get("status") or {}).get("conditions") or []:
            if cond["type"] == type_:
                return cond
        return None

    def wait(self, name: str, predicate, timeout: float = 30.0, namespace: str | None = None, what: str = "") -> dict:
        last: dict = {}

        def check() -> dict | None:
            last["obj"] = obj = self.get(name, namespace)
            return obj if predicate(obj) else None

        found = poll_until(check, timeout, 0.05)
        if found is not None:
            return found
        obj = last.get("obj")
        raise AssertionError(f"Sync {name}: timed out waiting for {what}; status: {(obj or {}).get('status')}")

    def wait_ready(
        self, name: str, revision: str | None = None, timeout: float = 30.0, namespace: str | None = None
    ) -> dict:
        def ok(obj):
            st = obj.get("status") or {}
            ready = next((c for c in st.get("conditions") or [] if c["type"] == "Ready"), None)
            return (
                ready is not None
                and ready["status"] == "True"
                and st.get("observedGeneration") == obj["metadata"].get("generation")
                and (revision is None or (st.get("lastAppliedRevision") or "").endswith(revision))
            )

        return self.wait(name, ok, timeout, namespace, f"Ready (revision {revision})")

    def wait_reason(
        self, name: str, reason: str, timeout: float = 30.0, namespace: str | None = None, type_: str = "Ready"
    ) -> dict:
        def ok(obj):
            return any(
                c["type"] == type_ and c.get("reason") == reason
                for c in (obj.get("status") or {}).get("conditions") or []
            )

        return self.wait(name, ok, timeout, namespace, f"{type_} reason {reason}")


class AgentKube:
    def __init__(self, cluster, client) -> None:
        self.cluster = cluster
        self.client = client
        self.namespace = cluster.namespace


def install_crd(client) -> None:
    crd = yaml.safe_load((ROOT / "crds" / "sync.yaml").read_text())
    client.apply(crd, field_manager="test", force=True)

    def established() -> bool:
        live = client.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "syncs.secretsync.io")
        conditions = (live.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    wait_for(established, 10, 0.05, what="the Sync CRD to be established")
    client.invalidate_discovery()


@pytest.fixture
def agent_kube(apiserver):
    from secretsync.kube.client import KubeClient

    client = KubeClient.from_kubeconfig(str(apiserver.kubeconfig))
    install_crd(client)
    yield AgentKube(apiserver, client)
    client.close()


@pytest.fixture
def syncs(agent_kube):
    return Syncs(agent_kube.client, agent_kube.namespace)


@pytest.fixture
def make_agent(agent_kube, tmp_path):
    from secretsync.agent.reconciler import ReconcilerOptions
    from secretsync.agent.runtime import AgentConfig, AgentRuntime
    from secretsync.kube.client import KubeClient

    started = []

    def make(client=None, reconciler: dict | None = None, **config):
        settings = dict(
            allow_local_sources=True,
            min_retry=0.2,
            dependency_requeue=0.3,
            poll_interval=0.1,
            git_cache_dir=tmp_path / f"git-cache-{len(started)}",
        )
        settings.update(reconciler or {})
        options = ReconcilerOptions(**settings)
        defaults = dict(source_poll=0.3, vault_poll=0.1, http_addr=("127.0.0.1", 0), reconciler=options)
        defaults.update(config)
        own = client or KubeClient.from_kubeconfig(str(agent_kube.cluster.kubeconfig))
        runtime = AgentRuntime(own, AgentConfig(**defaults)).start()
        started.append((runtime, own))
        return runtime

    yield make
    for runtime, client in started:
        runtime.stop()
        client.close()


def write_tree(root: Path, files: dict[str, str | None]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = root / name
        if text is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def configmap(name: str, namespace: str, data: dict) -> str:
    return yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data}
    )


def sops_secret(
    tmp_path: Path,
    recipient: str,
    namespace: str,
    name: str,
    values: dict[str, str],
    annotations: dict[str, str] | None = None,
    encrypted_regex: str = "^(data|stringData)$",
) -> bytes:
    """A Secret manifest encrypted by the real sops binary to ``recipient`` (its input file is removed)."""
    import subprocess

    from tests.fixtures.peers import isolated_env, peer_binary

    plain = tmp_path / "plain-input.yaml"  # the sops binary's input file (test values only)
    meta = {"name": name, "namespace": namespace, **({"annotations": annotations} if annotations else {})}
    plain.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "stringData": values}))
    proc = subprocess.run(
        [
            peer_binary("sops"),
            "--disable-version-check",
            "encrypt",
            "--age",
            recipient,
            "--encrypted-regex",
            encrypted_regex,
            str(plain),
        ],
        capture_output=True,
        timeout=60,
        env=isolated_env(tmp_path, SOPS_DISABLE_VERSION_CHECK="1"),
    )
    plain.unlink()
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout
