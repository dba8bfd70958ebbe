"""Shared test configuration: fixtures for the real peers and the hypothesis CI profile."""

import importlib.util
import os

from hypothesis import settings

# Fixture modules for the real peers; each area adds its own module under tests/fixtures/.
_PLUGINS = ["tests.fixtures.openbao", "tests.fixtures.apiserver", "tests.fixtures.gitrepo"]
pytest_plugins = [name for name in _PLUGINS if importlib.util.find_spec(name) is not None]

settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True, database=None)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
