"""The one door to the ``kubernetes`` library: configuration loading, the connection, raw requests.

The only module of secretsync that imports ``kubernetes`` (contract ``door-kubernetes``).
``Transport`` holds one ``ApiClient`` (its TLS, proxy, credentials and connection pool) for one
identity: it sends requests on the pool without the generated layer's per-request work, turns
every library and transport error into ours (``secretsync.kube.errors``) raised outside the
``except`` block so that the library's exception (which may hold a response body) is not even
its ``__context__``, and answers discovery questions through the library's discoverer, in
memory only. No urllib3 retries underneath: the one retry layer is ``KubeClient``'s (over
``secretsync.retry``). The loaders build a ``Configuration`` from a kubeconfig file, the pod's
service account, or an explicit host and token.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import urllib3
from kubernetes import config as _k8s_config
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.dynamic import DynamicClient, LazyDiscoverer
from kubernetes.dynamic.exceptions import ResourceNotFoundError, ResourceNotUniqueError
from kubernetes.watch.watch import iter_resp_lines

from secretsync.kube.discovery import ResourceInfo
from secretsync.kube.errors import (
    KubeAPIError,
    KubeConfigError,
    KubeError,
    KubeUnavailable,
    Timeout,
    UnknownResource,
    error_from_status,
)
from secretsync.kube.wire import clip, encode_body, from_wire, parse_json, to_wire

__all__ = [
    "Configuration",
    "Transport",
    "load_kubeconfig",
    "load_in_cluster",
    "host_token_configuration",
]

T = TypeVar("T")


class _MemoryDiscoverer(LazyDiscoverer):
    """The library's lazy discoverer without its cache file in the temp directory."""

    def _write_cache(self) -> None:
        pass


_NO_CACHE_FILE = os.path.join(os.devnull, "secretsync-discovery")  # never exists: always in memory


_SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def _memory_temp_dir() -> str | None:
    """A RAM-backed directory for the kubeconfig loader's credential files, if the system has one."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


class _NoDiscovery:
    """Stands in for a discoverer on impersonating clients, which reuse their parent's discovery."""

    def __init__(self, client: Any, cache_file: Any) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# configuration


def load_kubeconfig(path: str | None = None, context: str | None = None) -> tuple[Configuration, str]:
    """The configuration from a kubeconfig file (default: ``$KUBECONFIG`` or ``~/.kube/config``) and
    optional context, with the context's namespace (``default`` when it names none)."""
    cfg = Configuration()
    # read $KUBECONFIG now: the library's own default is the value it had when it was imported
    # (a colon-separated list is merged by the loader, as kubectl does)
    path = path or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    try:
        # The loader writes certificate-authority-data and client-certificate/key-data to temp files
        # (TLS wants paths); on Linux keep them in RAM (tmpfs) rather than on the temp disk.
        _k8s_config.load_kube_config(  # type: ignore[no-untyped-call]  # the library is untyped
            config_file=path,
            context=context,
            client_configuration=cfg,
            persist_config=False,
            temp_file_path=_memory_temp_dir(),
        )
    except (ConfigException, OSError, TypeError, ValueError) as exc:
        raise KubeConfigError(
            f"cannot load kubeconfig {path}" + (f" (context {context})" if context else "") + f": {type(exc).__name__}",
            hint="check the file exists, is valid YAML and names the context",
        ) from None
    namespace = "default"
    try:
        contexts, current = _k8s_config.list_kube_config_contexts(path)  # type: ignore[no-untyped-call]
        chosen = next((c for c in contexts if c.get("name") == context), None) if context else current
        namespace = ((chosen or {}).get("context") or {}).get("namespace") or "default"
    except (ConfigException, OSError, TypeError, ValueError):
        pass
    return cfg, namespace


def load_in_cluster() -> tuple[Configuration, str]:
    """The configuration from the pod's service account (token, CA, KUBERNETES_SERVICE_HOST/PORT) and
    the pod's namespace."""
    cfg = Configuration()
    try:
        _k8s_config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
    except ConfigException:
        raise KubeConfigError(
            "not running in a Kubernetes pod (no service account token or service host)",
            hint="pass --kubeconfig when running outside a cluster",
        ) from None
    namespace = "default"
    try:
        with open(_SA_NAMESPACE_FILE) as f:
            namespace = f.read().strip() or "default"
    except OSError:
        pass
    return cfg, namespace


def host_token_configuration(
    host: str,
    token: str | None = None,
    *,
    ca_file: str | None = None,
    ca_data: bytes | str | None = None,
    verify_ssl: bool = True,
    tls_server_name: str | None = None,
) -> Configuration:
    """The configuration for an explicit API URL and bearer token; for HTTPS, trust the CA in
    ``ca_file`` or ``ca_data`` (PEM, kept in memory) or the system store."""
    cfg = Configuration(host=host.rstrip("/"))
    if token:
        cfg.api_key = {"BearerToken": token}
        cfg.api_key_prefix = {"BearerToken": "Bearer"}
    cfg.verify_ssl = verify_ssl
    if ca_file:
        cfg.ssl_ca_cert = ca_file
    if ca_data:
        cfg.ca_cert_data = ca_data.decode("ascii") if isinstance(ca_data, bytes) else ca_data
    if tls_server_name:
        cfg.tls_server_name = tls_server_name
    return cfg


# ---------------------------------------------------------------------------------------------
# the connection


def _install_group_impersonation(api_client: ApiClient, groups: Sequence[str]) -> None:
    """Add one ``Impersonate-Group`` header per group: the library's headers are a plain dict."""
    rest = api_client.rest_client
    original = rest.request

    def request(method: str, url: str, headers: Any = None, *args: Any, **kwargs: Any) -> Any:
        merged = urllib3.HTTPHeaderDict(headers or {})
        for group in groups:
            merged.add("Impersonate-Group", group)
        return original(method, url, merged, *args, **kwargs)  # type: ignore[no-untyped-call]  # untyped library

    rest.request = request  # type: ignore[method-assign]  # a wrapper of the same signature


class Transport:
    """One API server as one identity over the library's ``ApiClient``. Thread-safe.

    ``timeout`` is the read timeout of every request, ``connect_timeout`` its connect timeout;
    ``deadline()``/``set_deadline()`` hold this thread's time limit (``KubeClient.time_limit``).
    ``discover=False`` (impersonating clients, which reuse their parent's discovery) skips the
    discovery request on construction.
    """

    def __init__(
        self,
        configuration: Configuration,
        *,
        timeout: float,
        connect_timeout: float,
        impersonate: tuple[str, tuple[str, ...]] | None = None,
        discover: bool = True,
    ) -> None:

        configuration.retries = False  # our retry layer only (secretsync.retry)
        configuration.debug = False  # debug makes http.client print request bodies to stdout
        # watches hold a connection each; a pool smaller than watches + workers makes urllib3 open
        # and discard extra connections with a warning per request
        configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize or 0, 32)
        # Pin the proxy chosen now (from the kubeconfig's proxy-url or the environment). Otherwise the
        # kubeconfig loader's per-request token hook re-assigns ``host``, and the host setter re-reads
        # every proxy variable of the environment (urllib's getproxies) on each request.
        configuration.proxy = configuration.proxy
        self.configuration = configuration
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self.host = configuration.host
        self.impersonating = impersonate
        self._limits = threading.local()  # per-thread request deadline (KubeClient.time_limit)
        self._host_pool: Any = None
        # a server URL may carry a path (API proxies such as Rancher's serve clusters under one)
        self._path_prefix = urlsplit(configuration.host).path.rstrip("/")
        self.api = ApiClient(configuration)
        self.api.user_agent = "secretsync"
        if impersonate:
            user, groups = impersonate
            self.api.set_default_header("Impersonate-User", user)  # type: ignore[no-untyped-call]
            if groups:
                _install_group_impersonation(self.api, groups)
        self._dynamic: Any
        if discover:
            self._dynamic = self.guarded(
                "discover API resources",
                lambda: DynamicClient(  # type: ignore[no-untyped-call]  # the library is untyped
                    self.api, cache_file=_NO_CACHE_FILE, discoverer=_MemoryDiscoverer
                ),
            )
        else:
            self._dynamic = DynamicClient(self.api, discoverer=_NoDiscovery)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]

    # -- discovery (through the library's discoverer) ----------------------------------------
    def resolve(self, api_version: str, kind: str) -> ResourceInfo:
        """Ask the server what it serves as ``kind`` in ``api_version`` (``UnknownResource`` if nothing)."""
        try:
            # naming the prefix keeps a core lookup ("v1") from loading every group's v1 resources
            prefix = "apis" if "/" in api_version else "api"
            res = self._dynamic.resources.get(prefix=prefix, api_version=api_version, kind=kind)
        except (ResourceNotFoundError, ValueError):
            raise UnknownResource(
                f"the API server does not serve kind {kind!r} in apiVersion {api_version!r}",
                hint="install its CustomResourceDefinition first (or fix apiVersion/kind)",
            ) from None
        except ResourceNotUniqueError:
            raise UnknownResource(f"kind {kind!r} in apiVersion {api_version!r} is ambiguous in discovery") from None
        return ResourceInfo(
            group=res.group or "",
            version=res.api_version,
            kind=res.kind,
            plural=res.name,
            namespaced=bool(res.namespaced),
            verbs=tuple(res.verbs or ()),
            subresources=tuple(sorted((res.subresources or {}).keys())),
        )

    def forget_discovery(self) -> None:
        self._dynamic.resources.invalidate_cache()

    # -- time limit --------------------------------------------------------------------------
    def deadline(self) -> float | None:
        """This thread's deadline (``time.monotonic()`` value) for requests, if any."""
        return getattr(self._limits, "deadline", None)

    @contextlib.contextmanager
    def time_limit(self, seconds: float) -> Iterator[None]:
        """Requests this thread makes inside the block must end within ``seconds`` from now."""
        previous = self.deadline()
        deadline = time.monotonic() + max(0.0, seconds)
        self._limits.deadline = deadline if previous is None else min(previous, deadline)
        try:
            yield
        finally:
            self._limits.deadline = previous

    # -- errors ------------------------------------------------------------------------------

    def map_api_exception(self, operation: str, exc: Any) -> KubeError:
        status = getattr(exc, "status", 0) or 0
        if status == 0:
            return KubeUnavailable(
                f"{operation}: cannot reach {self.host} ({clip(getattr(exc, 'reason', '') or 'TLS or transport error')})"
            )
        return error_from_status(
            operation, status, getattr(exc, "body", None), getattr(exc, "headers", None), getattr(exc, "reason", None)
        )

    def map_transport_error(self, operation: str, exc: BaseException) -> KubeError:
        if isinstance(exc, (urllib3.exceptions.TimeoutError, socket.timeout)) and not isinstance(
            exc, urllib3.exceptions.NewConnectionError
        ):
            return Timeout(operation, 0, "Timeout", f"no answer from {self.host} in time")
        return KubeUnavailable(
            f"{operation}: cannot reach {self.host} ({type(exc).__name__})",
            hint="check the API server address and that it is running",
        )

    def guarded(self, operation: str, fn: Callable[[], T]) -> T:
        """Run ``fn``, turning library/transport errors into ours. The new error is raised outside the
        ``except`` block so the library's exception (which may hold a response body) is not even its
        ``__context__``."""
        try:
            return fn()
        except ApiException as exc:
            error = self.map_api_exception(operation, exc)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            error = self.map_transport_error(operation, exc)
        raise error

    # -- requests ----------------------------------------------------------------------------

    def send(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, Any]],
        body: bytes | None,
        content_type: str | None,
        read_timeout: float | None,
        accept: str = "application/json",
    ) -> Any:
        """One HTTP request on the library's connection pool (its TLS, proxy and credentials), without the
        generated layer's per-request work (sanitising the body into a model-free copy, re-encoding it,
        header selection); returns the undecoded urllib3 response."""
        api = self.api
        headers: Any = dict(api.default_headers)
        headers["Accept"] = accept
        if content_type:
            headers["Content-Type"] = content_type
        api.update_params_for_auth(headers, [], ["BearerToken"], path, method, None)  # runs the token refresh hook
        if self.impersonating and self.impersonating[1]:
            headers = urllib3.HTTPHeaderDict(headers)  # repeated Impersonate-Group headers
            for group in self.impersonating[1]:
                headers.add("Impersonate-Group", group)
        if query:
            path += "?" + urlencode(query)
        connect, read, total = self.connect_timeout, read_timeout or self.timeout, None
        limit = self.deadline()
        if limit is not None:
            total = limit - time.monotonic()
            if total <= 0:
                raise urllib3.exceptions.TimeoutError("the time limit had passed before the request")
            connect, read = min(connect, total), min(read, total)
        timeout = urllib3.Timeout(connect=connect, read=read, total=total)
        pool = self._pool()
        if pool is None:  # through a proxy: the manager adds what the proxy needs
            return api.rest_client.pool_manager.request(
                method,
                self.configuration.host + path,
                body=body,
                headers=headers,
                preload_content=False,
                retries=False,
                timeout=timeout,
            )
        return pool.urlopen(
            method,
            self._path_prefix + path,
            body=body,
            headers=headers,
            preload_content=False,
            retries=False,
            timeout=timeout,
            redirect=False,
            assert_same_host=False,
        )

    def _pool(self) -> Any:
        """The connection pool for the API server's host (None behind a proxy). Looking it up costs
        more CPU than the rest of a request's client side (URL parsing, pool-key normalising), so it is
        kept, and looked up again only if the manager has since closed it."""
        pool = self._host_pool
        if pool is None or pool.pool is None:
            manager = self.api.rest_client.pool_manager
            if isinstance(manager, urllib3.ProxyManager):
                return None
            pool = self._host_pool = manager.connection_from_url(self.configuration.host)
        return pool

    def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        query: Sequence[tuple[str, Any]] = (),
        body: Any = None,
        content_type: str | None = None,
        stream: bool = False,
        read_timeout: float | None = None,
        accept: str = "application/json",
        answer: bool = True,
    ) -> Any:
        query = [(k, v) for k, v in query if v is not None]
        wire = None if body is None else encode_body(body)
        resp = self.guarded(operation, lambda: self.send(method, path, query, wire, content_type, read_timeout, accept))
        if not 200 <= resp.status <= 299:
            try:
                raw = self.guarded(operation, lambda: resp.data)
            finally:
                resp.release_conn()
            raise error_from_status(operation, resp.status, raw, resp.headers, resp.reason)
        if stream:
            return resp
        try:
            raw = self.guarded(operation, lambda: resp.data)
        finally:
            resp.release_conn()
        if not raw or not answer:
            return None
        parsed = parse_json(raw)
        if parsed is None:
            raise KubeAPIError(operation, resp.status, "BadResponse", "the API server's answer is not JSON")
        return from_wire(parsed)

    def stream_lines(self, response: Any) -> Iterator[str]:
        """The lines of a streamed (watch) response as they arrive."""
        return iter_resp_lines(response)  # type: ignore[no-any-return, no-untyped-call]  # untyped library

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

        Errors map like every other call; ``reason`` stays empty when the answer was not a
        ``Status`` (the backend's own error, its text clipped into ``api_message``).
        """
        target = f"{scheme}:{service}:{port}" if scheme else (f"{service}:{port}" if port else service)
        url = f"/api/v1/namespaces/{namespace}/services/{target}/proxy/{path.lstrip('/')}"
        operation = f"{method.lower()} services {target}"
        headers = {"Accept": accept} if accept else {}
        wire = None if body is None else to_wire(body)
        error: KubeError
        try:
            resp = self._dynamic.request(
                method,
                url,
                body=wire,
                serialize=False,
                header_params=headers,
                content_type="application/json" if body is not None else None,
                _request_timeout=(self.connect_timeout, self.timeout),
            )
            try:
                data: bytes = resp.data
                return data
            finally:
                resp.release_conn()
        except ApiException as exc:
            status = getattr(exc, "status", 0) or 0
            error = (
                error_from_status(operation, status, getattr(exc, "body", None), getattr(exc, "headers", None))
                if status
                else self.map_api_exception(operation, exc)
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            error = self.map_transport_error(operation, exc)
        raise error
