"""Controller tests share the API-server fixtures of tests/kube (emulator or SECRETSYNC_TEST_KUBECONFIG)."""

from tests.kube.conftest import emulator, kube, namespace  # noqa: F401 - fixtures
