"""``KubeClient``: dict-in, dict-out access to the Kubernetes API, with bounded retries of reads.

What the rest of secretsync relies on, over one ``Transport`` (``secretsync.kube.transport``,
the only module that imports ``kubernetes``):

- construction from a kubeconfig (path/context), in-cluster config, kubeconfig content held in
  memory, or an explicit host+token; optional impersonation (``Impersonate-User`` and repeated
  ``Impersonate-Group`` headers) on a client of its own; a (connect, read) timeout on every
  request, and ``time_limit`` for a deadline over several;
- resource lookup by apiVersion/kind through discovery, cached in memory (never in a file),
  refreshed on ``invalidate_discovery()`` (``secretsync.kube.discovery``);
- get / list (label and field selectors, pagination) / create / update / update_status /
  apply (server-side apply: field manager, force, dry-run) / patch / delete (propagation
  policy, preconditions) / watch (a ``WatchStream`` of ``(type, object)`` that can be closed
  from another thread, ``secretsync.kube.watch``);
- errors mapped from HTTP status and the ``Status`` reason (``secretsync.kube.errors``), carrying
  only the Status reason and message clipped to 256 characters, never a response body;
- Secret values as ``SecretBytes`` both ways (``secretsync.kube.wire``).

Retries. Reads (get, each page of a list, discovery, the server version, GET through the service
proxy) are retried under ``read_retry`` (a ``secretsync.retry.RetryPolicy``; default 4 attempts
within 20 s, full-jitter backoff from 0.2 s capped at 5 s) when the error is transient: 429,
5xx, a server or client timeout, a broken connection. A server's ``Retry-After`` (or the
Status' ``retryAfterSeconds``) is honoured as the least wait; a retry that would end past the
policy's deadline or past the thread's ``time_limit`` is not made. After the last try the last
error is raised, its class kept (callers still see ``ServerError``, ``Timeout``, ...) and its
message saying how many attempts were made over how long. ``read_retry=None`` sends each read
once (the leader elector, whose own loop is the retry).

Writes (create, update, apply, patch, delete) are sent once: after a timeout or a 5xx the
server may have carried them out, and sending again can fail in a misleading way (create →
``AlreadyExists``, an update with a resourceVersion → ``Conflict``) or apply twice (a JSON patch
that appends). Their callers retry on a fresh read: the reconcilers requeue with backoff.
Opening a watch is not retried here either: the ``Informer`` reopens it with its own backoff,
from the last resourceVersion it saw.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from secretsync.kube.discovery import DiscoveryCache, ResourceInfo
from secretsync.kube.errors import KubeError, NotFound
from secretsync.kube.kubeconfig import parse_kubeconfig_data
from secretsync.kube.transport import (
    Configuration,
    Transport,
    host_token_configuration,
    load_in_cluster,
    load_kubeconfig,
)
from secretsync.kube.watch import WatchStream
from secretsync.kube.wire import from_wire, object_ref
from secretsync.retry import RetriesExhausted, RetryPolicy
from secretsync.secretvalue import SecretBytes

__all__ = ["KubeClient", "ResourceInfo", "WatchStream", "object_ref", "PEER", "DEFAULT_READ_RETRY"]

PEER = "Kubernetes API"
T = TypeVar("T")

DEFAULT_READ_RETRY = RetryPolicy(attempts=4, deadline=20.0, base=0.2, cap=5.0)


_JSON = "application/json"
# what client-go's metadata client asks for (JSON only), with whole objects as the fallback
_METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
_METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"


class KubeClient:
    """Dict-in, dict-out access to one API server as one identity. Thread-safe.

    Build with ``from_kubeconfig``, ``in_cluster``, ``from_host_token``, ``from_kubeconfig_data``
    or ``from_env``; ``impersonate(user, groups)`` gives a client acting as someone else.
    ``timeout`` is the read timeout of every request, ``connect_timeout`` its connect timeout,
    ``read_retry`` the retry policy of reads (None: no retries; see the module docstring).
    """

    def __init__(
        self,
        configuration: Configuration,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        read_retry: RetryPolicy | None = DEFAULT_READ_RETRY,
        _discovery: DiscoveryCache | None = None,
        _impersonate: tuple[str, tuple[str, ...]] | None = None,
    ) -> None:
        self._transport = Transport(
            configuration,
            timeout=timeout,
            connect_timeout=connect_timeout,
            impersonate=_impersonate,
            discover=_discovery is None,
        )
        self.configuration = configuration
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self.host = configuration.host
        self.impersonating = _impersonate
        self.read_retry = read_retry
        self._api = self._transport.api
        self.default_namespace = "default"  # the kubeconfig context's or the pod's namespace, as kubectl uses
        if _discovery is None:
            _discovery = DiscoveryCache(self._transport.resolve, self._transport.forget_discovery)
        self._discovery = _discovery

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_kubeconfig(cls, path: str | None = None, context: str | None = None, **kw: Any) -> KubeClient:
        """From a kubeconfig file (default: ``$KUBECONFIG`` or ``~/.kube/config``) and optional context."""
        cfg, namespace = load_kubeconfig(path, context)
        client = cls(cfg, **kw)
        client.default_namespace = namespace
        return client

    @classmethod
    def in_cluster(cls, **kw: Any) -> KubeClient:
        """From the pod's service account (token, CA, KUBERNETES_SERVICE_HOST/PORT)."""
        cfg, namespace = load_in_cluster()
        client = cls(cfg, **kw)
        client.default_namespace = namespace
        return client

    @classmethod
    def from_host_token(
        cls,
        host: str,
        token: str | None = None,
        *,
        ca_file: str | None = None,
        ca_data: bytes | str | None = None,
        verify_ssl: bool = True,
        tls_server_name: str | None = None,
        **kw: Any,
    ) -> KubeClient:
        """From an explicit API URL and bearer token (e.g. the test emulator).

        For HTTPS, trust the CA in ``ca_file`` or ``ca_data`` (PEM, kept in memory) or the system store.
        """
        cfg = host_token_configuration(
            host, token, ca_file=ca_file, ca_data=ca_data, verify_ssl=verify_ssl, tls_server_name=tls_server_name
        )
        return cls(cfg, **kw)

    @classmethod
    def from_kubeconfig_data(
        cls,
        data: SecretBytes | bytes | str | Mapping[str, Any],
        context: str | None = None,
        *,
        source: str = "kubeconfig",
        **kw: Any,
    ) -> KubeClient:
        """From kubeconfig *content* (e.g. a Secret's ``value`` key for a remote cluster), kept in memory.

        Supported: ``server``, ``certificate-authority-data``, ``insecure-skip-tls-verify``,
        ``tls-server-name`` and a bearer ``token``. Client certificates (their key would have to be
        written to a file for TLS), ``exec`` and ``auth-provider`` (they run commands) and file
        references are refused with an error naming ``source``, never quoting the content
        (``secretsync.kube.kubeconfig``).
        """
        remote = parse_kubeconfig_data(data, context, source=source)
        client = cls.from_host_token(
            remote.server,
            remote.token,
            ca_data=remote.ca_pem,
            verify_ssl=remote.verify_ssl,
            tls_server_name=remote.tls_server_name,
            **kw,
        )
        client.default_namespace = remote.namespace
        return client

    @classmethod
    def from_env(cls, kubeconfig: str | None = None, context: str | None = None, **kw: Any) -> KubeClient:
        """``kubeconfig`` if given, else in-cluster when in a pod, else ``$KUBECONFIG``/``~/.kube/config``."""
        if (
            kubeconfig is None
            and context is None
            and os.environ.get("KUBERNETES_SERVICE_HOST")
            and not os.environ.get("KUBECONFIG")
        ):
            return cls.in_cluster(**kw)
        return cls.from_kubeconfig(kubeconfig, context, **kw)

    def _derived(self, *, impersonate: tuple[str, tuple[str, ...]] | None, **kw: Any) -> KubeClient:
        """A client sharing this one's configuration and discovery (not its connections)."""
        settings: dict[str, Any] = {
            "timeout": self.timeout,
            "connect_timeout": self.connect_timeout,
            "read_retry": self.read_retry,
        }
        settings.update(kw)
        client = KubeClient(self.configuration, _discovery=self._discovery, _impersonate=impersonate, **settings)
        client.default_namespace = self.default_namespace
        return client

    def impersonate(self, user: str, groups: Sequence[str] = ()) -> KubeClient:
        """A client acting as ``user`` (and ``groups``); it shares discovery, not connections."""
        return self._derived(impersonate=(user, tuple(groups)))

    def with_timeout(self, timeout: float, connect_timeout: float | None = None) -> KubeClient:
        """The same identity with other request timeouts (e.g. below a leader election's renew deadline)."""
        return self._derived(
            impersonate=self.impersonating,
            timeout=timeout,
            connect_timeout=self.connect_timeout if connect_timeout is None else connect_timeout,
        )

    def with_read_retry(self, policy: RetryPolicy | None) -> KubeClient:
        """The same identity with another retry policy for reads (None: each read is sent once)."""
        return self._derived(impersonate=self.impersonating, read_retry=policy)

    def impersonate_service_account(self, namespace: str, name: str) -> KubeClient:
        """A client acting as ``system:serviceaccount:<namespace>:<name>`` (the server adds its groups)."""
        return self.impersonate(f"system:serviceaccount:{namespace}:{name}")

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- retries of reads -------------------------------------------------------------------
    def _read(self, operation: str, fn: Callable[[], T]) -> T:
        """``fn()`` (a read), retried under ``read_retry`` on transient errors, within the time limit."""
        policy = self.read_retry
        if policy is None or policy.attempts <= 1:
            return fn()
        limit = self._transport.deadline()
        if limit is not None:  # no retry may end past this thread's time limit
            left = max(0.0, limit - time.monotonic())
            policy = dataclasses.replace(
                policy, deadline=left if policy.deadline is None else min(left, policy.deadline)
            )
        start = policy.clock()
        try:
            return policy.call(fn, peer=PEER, operation=operation)
        except RetriesExhausted as exhausted:
            last, attempts = exhausted.last, exhausted.attempts
        if not isinstance(last, KubeError):  # pragma: no cover - retry_on only passes KubeErrors
            raise last
        raise last.after_attempts(attempts, policy.clock() - start)  # outside ``except``: no chained context

    # -- discovery --------------------------------------------------------------------------
    def resource(self, api_version: str, kind: str) -> ResourceInfo:
        """Discovery info for ``apiVersion``/``kind`` (cached until ``invalidate_discovery``)."""
        operation = f"discover {kind} in {api_version}"
        return self._read(
            operation, lambda: self._transport.guarded(operation, lambda: self._discovery.lookup(api_version, kind))
        )

    def invalidate_discovery(self) -> None:
        """Forget what discovery said (call after installing or removing a CRD)."""
        self._transport.guarded("refresh API discovery", self._discovery.invalidate)

    def server_version(self) -> dict[str, Any]:
        return self._get("/version", operation="get server version")  # type: ignore[no-any-return]

    def service_proxy(
        self,
        method: str,
        namespace: str,
        service: str,
        path: str,
        *,
        scheme: str = "http",
        port: str = "",
        body: Any = None,
        accept: str | None = None,
    ) -> bytes:
        """The raw body of a request through the API server's service proxy (what kubeseal uses):
        ``/api/v1/namespaces/NS/services/[SCHEME:]NAME[:PORT]/proxy/PATH``; ``body`` is sent as JSON.
        A GET is a read (retried); other methods are sent once.

        Errors map like every other call; ``reason`` stays empty when the answer was not a
        ``Status`` (the backend's own error, its text clipped into ``api_message``).
        """

        def send() -> bytes:
            return self._transport.service_proxy(
                method, namespace, service, path, scheme=scheme, port=port, body=body, accept=accept
            )

        if method.upper() == "GET":
            return self._read(f"get services {service} (proxy)", send)
        return send()

    # -- requests ---------------------------------------------------------------------------
    def time_limit(self, seconds: float) -> AbstractContextManager[None]:
        """Requests this thread makes inside the block must end within ``seconds`` from now: each gets
        at most the time left as its timeout, none starts once it is used up (``Timeout``), and no
        read is retried past it."""
        return self._transport.time_limit(seconds)

    def _get(self, path: str, *, operation: str, **kw: Any) -> Any:
        """A GET (a read: retried under ``read_retry``)."""
        return self._read(operation, lambda: self._transport.request("GET", path, operation=operation, **kw))

    def _request(self, method: str, path: str, *, operation: str, **kw: Any) -> Any:
        """A request sent once (writes, and the watch's stream)."""
        return self._transport.request(method, path, operation=operation, **kw)

    @staticmethod
    def _meta(obj: Mapping[str, Any]) -> tuple[str, str, str, str | None]:
        meta = obj.get("metadata") or {}
        try:
            return obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace")
        except KeyError as exc:
            raise ValueError(f"object needs apiVersion, kind and metadata.name (missing {exc.args[0]})") from None

    def _target(
        self,
        api_version: str,
        kind: str,
        name: str | None,
        namespace: str | None,
        verb: str,
        subresource: str | None = None,
    ) -> tuple[ResourceInfo, str, str]:
        info = self.resource(api_version, kind)
        if info.namespaced and name is not None and not namespace:
            raise ValueError(f"{kind} {name!r} is namespaced: a namespace is required")
        ns = namespace if info.namespaced else None
        ref = (
            f"{kind} {ns}/{name}"
            if ns and name
            else f"{kind} {name}"
            if name
            else (f"{kind} in namespace {ns}" if ns else f"{kind} (all namespaces)" if info.namespaced else kind)
        )
        if subresource:
            ref += f" ({subresource})"
        return info, info.path(name, ns, subresource), f"{verb} {ref}"

    @staticmethod
    def _dry(dry_run: bool) -> str | None:
        return "All" if dry_run else None

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        """The object, or ``NotFound``."""
        _, path, op = self._target(api_version, kind, name, namespace, "get")
        return self._get(path, operation=op)  # type: ignore[no-any-return]

    def get_or_none(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        try:
            return self.get(api_version, kind, name, namespace)
        except NotFound:
            return None

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = 500,
        resource_version: str | None = None,
        metadata_only: bool = False,
    ) -> dict[str, Any]:
        """All objects (following ``continue`` pages) as ``{"items": [...], "metadata": {"resourceVersion": ...}}``.

        Items get ``apiVersion``/``kind`` filled in (the API leaves them out of list items).
        ``namespace=None`` lists across all namespaces. ``metadata_only`` asks for
        ``PartialObjectMetadata`` items (``apiVersion``/``kind``/``metadata`` only, as client-go's
        metadata informers do); a server that cannot answer so sends whole objects.
        """
        info, path, op = self._target(api_version, kind, None, namespace, "list")
        items: list[dict[str, Any]] = []
        token = None
        while True:
            accept = _METADATA_LIST if metadata_only else _JSON
            page = (
                self._get(
                    path,
                    operation=op,
                    accept=accept,
                    query=[
                        ("labelSelector", label_selector),
                        ("fieldSelector", field_selector),
                        ("limit", limit),
                        ("continue", token),
                        ("resourceVersion", resource_version if token is None else None),
                    ],
                )
                or {}
            )
            for item in page.get("items") or []:
                item.setdefault("apiVersion", info.api_version)
                item.setdefault("kind", info.kind)
                items.append(from_wire(item))
            meta = page.get("metadata") or {}
            token = meta.get("continue")
            if not token:
                return {
                    "apiVersion": info.api_version,
                    "kind": f"{info.kind}List",
                    "items": items,
                    "metadata": {"resourceVersion": meta.get("resourceVersion", "")},
                }

    def create(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, field_manager: str | None = None, answer: bool = True
    ) -> dict[str, Any] | None:
        """POST the object; ``AlreadyExists`` if it exists. Returns the object as stored, or ``None``
        with ``answer=False`` (the reply is read but not decoded: a writer that does not need it
        saves the work and never holds a Secret's values a second time).

        Without ``metadata.name`` but with ``metadata.generateName`` the server picks the name
        (the prefix plus a random suffix); the answer holds it.
        """
        meta = obj.get("metadata") or {}
        if not meta.get("name") and meta.get("generateName") and "apiVersion" in obj and "kind" in obj:
            api_version, kind, namespace = obj["apiVersion"], obj["kind"], meta.get("namespace")
            info = self.resource(api_version, kind)
            if info.namespaced and not namespace:
                raise ValueError(f"{kind} {meta['generateName']!r}*: a namespace is required")
            name = f"{meta['generateName']}*"
            op = f"create {kind} {namespace}/{name}" if info.namespaced else f"create {kind} {name}"
        else:
            api_version, kind, name, namespace = self._meta(obj)
            info, _, op = self._target(api_version, kind, name, namespace, "create")
        path = info.path(None, namespace if info.namespaced else None)
        stored: dict[str, Any] | None = self._request(
            "POST",
            path,
            operation=op,
            body=obj,
            content_type="application/json",
            answer=answer,
            query=[("dryRun", self._dry(dry_run)), ("fieldManager", field_manager)],
        )
        return stored

    def update(
        self,
        obj: Mapping[str, Any],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        answer: bool = True,
    ) -> dict[str, Any] | None:
        """PUT the whole object; with ``metadata.resourceVersion`` set, a stale copy gets ``Conflict``.
        ``answer=False``: as for ``create``."""
        api_version, kind, name, namespace = self._meta(obj)
        _, path, op = self._target(api_version, kind, name, namespace, "update", subresource)
        stored: dict[str, Any] | None = self._request(
            "PUT",
            path,
            operation=op,
            body=obj,
            content_type="application/json",
            answer=answer,
            query=[("dryRun", self._dry(dry_run)), ("fieldManager", field_manager)],
        )
        return stored

    def update_status(self, obj: Mapping[str, Any], **kw: Any) -> dict[str, Any] | None:
        """PUT to the ``status`` subresource."""
        return self.update(obj, subresource="status", **kw)

    def apply(
        self,
        obj: Mapping[str, Any],
        *,
        field_manager: str,
        force: bool = False,
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """Server-side apply (``application/apply-patch+yaml``) as ``field_manager``; ``Conflict`` unless ``force``."""
        if not field_manager:
            raise ValueError("server-side apply needs a field manager")
        api_version, kind, name, namespace = self._meta(obj)
        _, path, op = self._target(api_version, kind, name, namespace, "apply", subresource)
        stored: dict[str, Any] = self._request(
            "PATCH",
            path,
            operation=op,
            body=obj,
            content_type="application/apply-patch+yaml",
            query=[
                ("fieldManager", field_manager),
                ("force", "true" if force else None),
                ("dryRun", self._dry(dry_run)),
            ],
        )
        return stored

    _PATCH_TYPES = {
        "merge": "application/merge-patch+json",
        "json": "application/json-patch+json",
        "strategic": "application/strategic-merge-patch+json",
    }

    def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        patch: Any,
        *,
        patch_type: str = "merge",
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
    ) -> dict[str, Any]:
        """PATCH with a merge (RFC 7386), JSON (RFC 6902) or strategic-merge patch."""
        if patch_type not in self._PATCH_TYPES:
            raise ValueError(f"patch_type must be one of {sorted(self._PATCH_TYPES)}")
        if patch_type == "json" and not isinstance(patch, list):
            raise ValueError("a JSON patch is a list of operations")
        _, path, op = self._target(api_version, kind, name, namespace, "patch", subresource)
        stored: dict[str, Any] = self._request(
            "PATCH",
            path,
            operation=op,
            body=patch,
            content_type=self._PATCH_TYPES[patch_type],
            query=[("dryRun", self._dry(dry_run)), ("fieldManager", field_manager)],
        )
        return stored

    def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: str | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any] | None:
        """DELETE one object (``Background``/``Foreground``/``Orphan``); ``uid``/``resource_version`` are preconditions."""
        if propagation_policy not in (None, "Background", "Foreground", "Orphan"):
            raise ValueError("propagation_policy must be Background, Foreground or Orphan")
        _, path, op = self._target(api_version, kind, name, namespace, "delete")
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if propagation_policy:
            body["propagationPolicy"] = propagation_policy
        if uid or resource_version:
            body["preconditions"] = {k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v}
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        if dry_run:
            body["dryRun"] = ["All"]
        stored: dict[str, Any] | None = self._request(
            "DELETE", path, operation=op, body=body, content_type="application/json"
        )
        return stored

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int = 300,
        allow_bookmarks: bool = True,
        metadata_only: bool = False,
    ) -> WatchStream:
        """Open a watch from ``resource_version``; the server ends it after ``timeout_seconds``.

        ``metadata_only``: event objects as ``PartialObjectMetadata`` (see ``list``).

        The read timeout is ``timeout_seconds`` plus a margin, so a silently dead connection
        ends with ``Timeout`` instead of hanging. See ``secretsync.kube.watch`` for the loop
        that lists, watches, follows bookmarks and relists on ``Gone``.
        """
        _, path, op = self._target(api_version, kind, None, namespace, "watch")
        resp = self._request(
            "GET",
            path,
            operation=op,
            stream=True,
            read_timeout=timeout_seconds + 30,
            accept=_METADATA if metadata_only else _JSON,
            query=[
                ("watch", "true"),
                ("resourceVersion", resource_version),
                ("labelSelector", label_selector),
                ("fieldSelector", field_selector),
                ("timeoutSeconds", timeout_seconds),
                ("allowWatchBookmarks", "true" if allow_bookmarks else None),
            ],
        )
        return WatchStream(resp, op, self._transport.stream_lines(resp))
