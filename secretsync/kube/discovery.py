"""Resource mapping: apiVersion/kind → the plural, scope and verbs that build request paths.

``ResourceInfo`` is what discovery says about one kind; ``DiscoveryCache`` keeps the answers in
memory (never in a file), thread-safe, until ``invalidate()`` (after a CRD was installed or
removed). Asking the server is the job of the resolver it is given (the client's, over the
``kubernetes`` library's discoverer), which raises ``UnknownResource`` for a kind it does not serve.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ResourceInfo", "DiscoveryCache"]


@dataclass(frozen=True)
class ResourceInfo:
    """What discovery says about one kind: enough to build request paths."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, name: str | None = None, namespace: str | None = None, subresource: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base


class DiscoveryCache:
    """Thread-safe apiVersion/kind → ResourceInfo cache over a resolver that asks the server.

    ``resolve(api_version, kind)`` runs under the lock (one discovery request at a time: the
    library's discoverer is not thread-safe); ``forget()`` drops the resolver's own cache too.
    """

    def __init__(self, resolve: Callable[[str, str], ResourceInfo], forget: Callable[[], None]) -> None:
        self._resolve, self._forget = resolve, forget
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], ResourceInfo] = {}

    def lookup(self, api_version: str, kind: str) -> ResourceInfo:
        key = (api_version, kind)
        with self._lock:
            info = self._cache.get(key)
            if info is None:
                info = self._cache[key] = self._resolve(api_version, kind)
            return info

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()
            self._forget()
