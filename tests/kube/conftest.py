"""Fixtures for tests that talk to an API server, on top of the shared ``apiserver`` fixture: a fresh emulator
per test, or the real cluster named by ``SECRETSYNC_TEST_KUBECONFIG``; each test gets its own namespace."""

from __future__ import annotations

import pytest

from secretsync.kube.client import KubeClient


def client_for(cluster, **kw) -> KubeClient:
    """An admin KubeClient for a ``Cluster``: host+token+CA on the emulator, its kubeconfig on a real cluster."""
    if cluster.is_emulator:
        return KubeClient.from_host_token(cluster.url, cluster.admin_token, ca_data=cluster.server.ca_pem, **kw)
    return KubeClient.from_kubeconfig(str(cluster.kubeconfig), **kw)


@pytest.fixture
def kube(apiserver) -> KubeClient:
    """An admin KubeClient for the test's API server."""
    client = client_for(apiserver, timeout=20)
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
