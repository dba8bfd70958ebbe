"""Fixtures of the end-to-end stories: the cluster, the controllers and the demo repository of tests/reconcile."""

from tests.reconcile.conftest import controllers, demo, kube  # noqa: F401 - shared fixtures
from tests.render.conftest import age_key  # noqa: F401 - session fixture (real age-keygen)
from tests.sealing.conftest import cli  # noqa: F401,E402 - the CLI runner of tests/sealing
