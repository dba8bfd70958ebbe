"""Fixtures for the SealedSecret controller tests: an API server (the emulator, or the real cluster named
by SECRETSYNC_TEST_KUBECONFIG) with the SealedSecret CRD installed, and controller replicas run in-process
on loopback ports with small (1024-bit) keys so key generation stays fast."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from secretsync.kube.errors import AlreadyExists
from secretsync.sealedcontroller.reconciler import ControllerOptions
from secretsync.sealedcontroller.runtime import RuntimeConfig, SealedSecretsRuntime
from secretsync.sealing.objects import seal_secret
from tests.fixtures.polling import wait_for  # noqa: F401 - the one polling helper, imported from here by the tests
from tests.kube.conftest import client_for, emulator, kube, namespace  # noqa: F401 - fixtures

CRD = Path(__file__).resolve().parents[2] / "crds" / "sealedsecret.yaml"
SS_API = "bitnami.com/v1alpha1"


def install_crd(kube) -> None:
    try:
        kube.create(yaml.safe_load(CRD.read_text()))
    except AlreadyExists:
        pass
    kube.invalidate_discovery()
    wait_for(lambda: _served(kube), what="the SealedSecret CRD to be served")


def _served(kube) -> bool:
    try:
        kube.invalidate_discovery()
        kube.resource(SS_API, "SealedSecret")
        return True
    except Exception:  # noqa: BLE001 - not yet
        return False


@pytest.fixture
def sealed_kube(kube):
    """The admin client with the SealedSecret CRD installed."""
    install_crd(kube)
    return kube


def config_for(namespace: str, **overrides) -> RuntimeConfig:
    controller = overrides.pop("controller", None) or ControllerOptions(
        namespaces=[namespace], backoff_base=0.05, backoff_cap=2.0
    )
    base = dict(
        namespace=namespace,
        key_size=1024,
        listen_addr=("127.0.0.1", 0),
        listen_metrics_addr=("127.0.0.1", 0),
        controller=controller,
        rate_limit=2,
        rate_limit_burst=2,
    )
    base.update(overrides)
    return RuntimeConfig(**base)


@pytest.fixture
def start_controller(apiserver, sealed_kube, namespace):
    """Factory: start a controller replica (own client) in the test namespace; all are stopped afterwards."""
    started = []

    def start(**overrides) -> SealedSecretsRuntime:
        client = client_for(apiserver, timeout=10)
        runtime = SealedSecretsRuntime(client, config_for(namespace, **overrides)).start()
        runtime._test_client = client
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        runtime.stop()
        runtime._test_client.close()


@pytest.fixture
def controller(start_controller):
    """One running controller (no leader election) that has its first key."""
    runtime = start_controller()
    assert runtime.keys.wait_for_key(20), "the controller generated no key"
    wait_for(lambda: runtime.controller is not None and runtime.controller.synced(), what="the controller to sync")
    return runtime


def make_sealed(runtime_or_cert, namespace: str, name: str, data: dict[str, str], **template) -> dict:
    """A SealedSecret sealed (by ``secretsync.sealing.objects.seal_secret``) for the controller's newest key."""
    cert = runtime_or_cert
    if hasattr(runtime_or_cert, "keys"):
        cert = runtime_or_cert.keys.keyring().newest().certificate
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, **template.pop("metadata", {})},
        "stringData": data,
        **template,
    }
    return seal_secret(secret, cert)


def get_secret(kube, namespace, name):
    return kube.get_or_none("v1", "Secret", name, namespace)


def plain(secret) -> dict[str, bytes]:
    return {k: v.reveal() for k, v in (secret.get("data") or {}).items()}


def events_for(kube, namespace, name, reason=None) -> list[dict]:
    items = kube.list("v1", "Event", namespace)["items"]
    return [
        e
        for e in items
        if (e.get("involvedObject") or {}).get("name") == name and (reason is None or e.get("reason") == reason)
    ]


def synced_condition(kube, namespace, name) -> dict | None:
    obj = kube.get(SS_API, "SealedSecret", name, namespace)
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == "Synced"), None)


def idle(runtime) -> bool:
    return runtime.controller is not None and runtime.controller.idle()
