"""A Kubernetes API emulator for tests and the demo (internal; used only by tests and ``secretsync demo``).

``APIServer`` speaks enough of the real REST API (discovery, CRUD with real
Status errors, CRDs, watch, patches and server-side apply, RBAC, TokenReview)
for the official ``kubernetes`` client and ``kubectl`` to work against it
unchanged. docs/apiserver.md lists what it implements and what it does not fake.
"""

from secretsync_emulator.server import APIServer

__all__ = ["APIServer"]
