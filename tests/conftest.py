"""Shared test configuration: fixtures for the real peers and the hypothesis CI profile."""

import os

from hypothesis import settings

pytest_plugins = ["tests.fixtures.openbao"]

settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True, database=None)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
