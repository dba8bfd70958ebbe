"""Fixtures for tests that talk to an API server, on top of the shared ``apiserver`` fixture: a fresh emulator
per test, or the real cluster named by ``SECRETSYNC_TEST_KUBECONFIG``; each test gets its own namespace."""

from __future__ import annotations

import pytest

from secretsync.kube.client import KubeClient


@pytest.fixture
def kube(apiserver) -> KubeClient:
    """An admin KubeClient for the test's API server."""
    if apiserver.is_emulator:
        client = KubeClient.from_host_token(apiserver.url, apiserver.admin_token, timeout=20)
    else:
        client = KubeClient.from_kubeconfig(str(apiserver.kubeconfig), timeout=20)
    yield client
    client.close()


@pytest.fixture
def namespace(apiserver) -> str:
    """The test's own namespace (created and removed by ``apiserver``)."""
    return apiserver.namespace


@pytest.fixture
def emulator(apiserver):
    """The emulator, for fault injection; such tests are skipped on a real cluster."""
    apiserver.require_emulator("fault injection")
    return apiserver
