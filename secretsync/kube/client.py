"""The one careful door to the Kubernetes API: the only module that imports ``kubernetes``.

``KubeClient`` wraps the official client's ``DynamicClient`` (dicts in, dicts out; no typed
models; discovery goes through it, while object requests are encoded once with the C JSON
encoder and sent on the same ``ApiClient``'s connection pool and credentials, skipping the
generated layer's per-request re-serialisation) and adds what the rest of secretsync relies on:

- construction from a kubeconfig (path/context), in-cluster config, or an explicit host+token;
  optional impersonation (``Impersonate-User`` and repeated ``Impersonate-Group`` headers) on a
  client of its own; no urllib3 retries underneath (one retry layer: ``secretsync.retry``);
  a (connect, read) timeout on every request;
- resource lookup by apiVersion/kind through discovery, cached in memory (never in a file),
  refreshed once on a miss (a CRD that just appeared) or on ``invalidate_discovery()``;
- get / list (label and field selectors, pagination) / create / update / update_status /
  apply (server-side apply: field manager, force, dry-run) / patch / delete (propagation
  policy, preconditions) / watch (a stream of ``(type, object)`` that can be closed from
  another thread);
- errors mapped from HTTP status and the ``Status`` reason to the classes below, carrying only
  the Status reason and message clipped to 256 characters. A body that is not a ``Status`` is
  dropped, and the library's exception is neither chained nor left as ``__context__``, so a
  Secret in a response body can never reach a log or a traceback;
- Secret values follow the convention of ``conventions.md``: in an object of kind ``Secret``,
  ``data`` values are ``SecretBytes`` holding the decoded bytes and ``stringData`` values are
  ``SecretBytes`` holding the text. Outgoing, ``SecretBytes`` become base64 under a Secret's
  ``data`` and UTF-8 text anywhere else; incoming Secrets (get, list, watch, apply results)
  get their ``data`` turned back into ``SecretBytes``. All other values are plain JSON types.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3
from kubernetes import config as _k8s_config
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.dynamic import DynamicClient, LazyDiscoverer
from kubernetes.dynamic.exceptions import ResourceNotFoundError, ResourceNotUniqueError
from kubernetes.watch.watch import iter_resp_lines

from secretsync.errors import SecretsyncError
from secretsync.secretvalue import SecretBytes

__all__ = [
    "KubeClient",
    "ResourceInfo",
    "WatchStream",
    "object_ref",
    "KubeError",
    "KubeConfigError",
    "UnknownResource",
    "KubeUnavailable",
    "KubeAPIError",
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "MethodNotAllowed",
    "Conflict",
    "AlreadyExists",
    "Gone",
    "Invalid",
    "Unprocessable",
    "TooManyRequests",
    "ServerError",
    "Timeout",
]

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 256
PEER = "Kubernetes API"


# ---------------------------------------------------------------------------------------------
# errors


class KubeError(SecretsyncError):
    """Base of every error from this module. ``transient`` says whether a retry may help."""

    reference = "kube-api"
    transient = False
    retry_after: float | None = None


class KubeConfigError(KubeError):
    """No usable kubeconfig / in-cluster configuration."""

    reference = "kube-config"


class UnknownResource(KubeError):
    """Discovery does not know the apiVersion/kind (CRD not installed, or a typo)."""

    reference = "kube-unknown-resource"


class KubeUnavailable(KubeError):
    """The API server could not be reached (connection refused/reset, TLS failure)."""

    reference = "kube-unavailable"
    transient = True


class KubeAPIError(KubeError):
    """The API server answered with an error status.

    ``status`` is the HTTP status (0 for client-side timeouts), ``reason`` the Status reason
    (``NotFound``, ``AlreadyExists``, ``Conflict``, ``Invalid``, ...), ``api_message`` the
    Status message clipped to 256 characters, ``details`` the Status details (kind, name,
    causes with their field paths), ``operation`` what we were doing ("get Secret ns/name").
    """

    def __init__(
        self,
        operation: str,
        status: int,
        reason: str,
        api_message: str,
        details: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.operation, self.status, self.reason = operation, status, reason
        self.api_message, self.details = api_message, dict(details or {})
        self.retry_after = retry_after
        text = api_message or reason or f"HTTP {status}"
        super().__init__(f"{operation}: {text}", hint=self.default_hint)

    default_hint: str | None = None


class BadRequest(KubeAPIError):
    reference = "kube-bad-request"
    default_hint = "the request was malformed; check the object's fields"


class Unauthorized(KubeAPIError):
    reference = "kube-unauthorized"
    default_hint = "the credentials were refused; check the kubeconfig user or the service account token"


class Forbidden(KubeAPIError):
    reference = "kube-forbidden"
    default_hint = "grant the needed RBAC permission to the identity in use (or to the impersonated account)"


class NotFound(KubeAPIError):
    reference = "kube-not-found"


class MethodNotAllowed(KubeAPIError):
    reference = "kube-method-not-allowed"


class Conflict(KubeAPIError):
    """409: the object changed since it was read (resourceVersion), or an apply conflict on fields."""

    reference = "kube-conflict"
    default_hint = "read the object again and retry, or apply with force to take over the conflicting fields"


class AlreadyExists(Conflict):
    reference = "kube-already-exists"
    default_hint = "the object exists already; update or apply it instead of creating it"


class Gone(KubeAPIError):
    """410: the resourceVersion is too old (watch or list continue token expired): relist."""

    reference = "kube-gone"


class Invalid(KubeAPIError):
    """422: the object failed validation (``details['causes']`` lists the fields)."""

    reference = "kube-invalid"
    default_hint = "fix the fields named in the message"


Unprocessable = Invalid


class TooManyRequests(KubeAPIError):
    reference = "kube-too-many-requests"
    transient = True


class ServerError(KubeAPIError):
    reference = "kube-server-error"
    transient = True


class Timeout(KubeAPIError):
    """The server (504, or Status reason Timeout) or our own read/connect timeout gave up."""

    reference = "kube-timeout"
    transient = True


_BY_REASON = {
    "AlreadyExists": AlreadyExists,
    "Conflict": Conflict,
    "Invalid": Invalid,
    "Gone": Gone,
    "Expired": Gone,
    "Timeout": Timeout,
    "ServerTimeout": Timeout,
    "NotFound": NotFound,
    "Forbidden": Forbidden,
    "Unauthorized": Unauthorized,
    "TooManyRequests": TooManyRequests,
}
_BY_STATUS = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
    504: Timeout,
}


def _clip(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."


def _parse_retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def error_from_status(
    operation: str, status: int, body: Any, headers: Any = None, http_reason: str | None = None
) -> KubeAPIError:
    """Map an error response to its class, keeping only a ``Status`` body's reason/message (kopf's rule)."""
    reason, message, details = "", "", {}
    parsed = None
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, dict):
        parsed = body
    elif isinstance(body, str) and body.strip():
        parsed = _parse_json(body)
        if parsed is None:
            message = _clip(body)  # plain-text errors (proxies, emulators): clipped, never JSON payloads
    if isinstance(parsed, dict) and parsed.get("kind") == "Status":
        reason = str(parsed.get("reason") or "")
        message = _clip(parsed.get("message") or "")
        raw = parsed.get("details") if isinstance(parsed.get("details"), dict) else {}
        details = {k: raw[k] for k in ("name", "group", "kind", "uid", "retryAfterSeconds") if k in raw}
        causes = [
            {k: _clip(c[k]) for k in ("reason", "field", "message") if k in c}
            for c in (raw.get("causes") or [])
            if isinstance(c, dict)
        ]
        if causes:
            details["causes"] = causes[:20]
    if not reason and http_reason:
        reason = str(http_reason)
    cls = _BY_REASON.get(reason) if status != 500 or reason in ("Timeout", "ServerTimeout") else None
    cls = cls or _BY_STATUS.get(status) or (ServerError if status >= 500 else KubeAPIError)
    retry_after = _parse_retry_after(headers)
    if retry_after is None and "retryAfterSeconds" in details:
        try:
            retry_after = float(details["retryAfterSeconds"])
        except (TypeError, ValueError):
            pass
    return cls(operation, status, reason, message, details, retry_after)


# ---------------------------------------------------------------------------------------------
# Secret values on the wire


def _parse_json(text: str | bytes) -> Any:
    """json.loads, or None when it is not JSON (the decode error, which holds the text, is dropped here)."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def _is_secret(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def _wire_value(value: Any) -> Any:
    if isinstance(value, SecretBytes):
        return value.reveal_text()
    if isinstance(value, (bytes, bytearray)):
        raise TypeError("raw bytes cannot be sent to the API: wrap plaintext in SecretBytes (or give text)")
    if isinstance(value, dict):
        return {k: _wire_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire_value(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, SecretBytes):
        return value.reveal_text()
    if isinstance(value, (bytes, bytearray)):
        raise TypeError("raw bytes cannot be sent to the API: wrap plaintext in SecretBytes (or give text)")
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"a {type(value).__name__} cannot be sent to the API as JSON")


def _secret_data_to_wire(obj: Any) -> Any:
    """A shallow copy of ``obj`` with a Secret's ``data`` values (or those of list items) in base64."""
    if isinstance(obj, dict) and _is_secret(obj) and isinstance(obj.get("data"), dict):
        out = dict(obj)
        out["data"] = {k: (v.to_base64() if isinstance(v, SecretBytes) else v) for k, v in obj["data"].items()}
        return out
    if isinstance(obj, dict) and isinstance(obj.get("items"), list):
        out = dict(obj)
        out["items"] = [_secret_data_to_wire(i) for i in obj["items"]]
        return out
    return obj


def encode_body(obj: Any) -> bytes:
    """The JSON request body for ``obj`` (what ``to_wire`` gives, serialised by the C encoder in one pass)."""
    return json.dumps(
        _secret_data_to_wire(obj), separators=(",", ":"), ensure_ascii=False, default=_json_default
    ).encode("utf-8")


def to_wire(obj: Any) -> Any:
    """A JSON-ready copy: ``SecretBytes`` → base64 in a Secret's ``data``, text anywhere else."""
    if isinstance(obj, dict) and _is_secret(obj) and isinstance(obj.get("data"), dict):
        out = {k: _wire_value(v) for k, v in obj.items() if k != "data"}
        out["data"] = {
            k: (v.to_base64() if isinstance(v, SecretBytes) else _wire_value(v)) for k, v in obj["data"].items()
        }
        return out
    if isinstance(obj, dict) and isinstance(obj.get("items"), list):
        out = {k: _wire_value(v) for k, v in obj.items() if k != "items"}
        out["items"] = [to_wire(i) for i in obj["items"]]
        return out
    return _wire_value(obj)


def from_wire(obj: Any) -> Any:
    """Turn a received Secret's ``data``/``stringData`` values into ``SecretBytes`` (in place)."""
    if not isinstance(obj, dict):
        return obj
    if _is_secret(obj):
        data = obj.get("data")
        if isinstance(data, dict):
            for k, v in data.items():
                if isinstance(v, str):
                    try:
                        data[k] = SecretBytes(base64.b64decode(v, validate=True))
                    except ValueError:
                        # never echo it; keep it redacted as the raw text
                        data[k] = SecretBytes(v)
                        log.warning("Secret %s: data key %r is not valid base64", object_ref(obj), k)
        sdata = obj.get("stringData")
        if isinstance(sdata, dict):
            for k, v in sdata.items():
                if isinstance(v, str):
                    sdata[k] = SecretBytes(v)
    return obj


def object_ref(obj: Mapping[str, Any]) -> str:
    """``namespace/name`` (or ``name`` for cluster-scoped objects) of an object dict."""
    meta = obj.get("metadata") or {}
    ns, name = meta.get("namespace"), meta.get("name", "?")
    return f"{ns}/{name}" if ns else str(name)


# ---------------------------------------------------------------------------------------------
# discovery


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


class _Discovery:
    """Thread-safe apiVersion/kind → ResourceInfo cache over the library's discoverer."""

    def __init__(self, dynamic: DynamicClient) -> None:
        self._dynamic = dynamic
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], ResourceInfo] = {}

    def lookup(self, api_version: str, kind: str) -> ResourceInfo:
        key = (api_version, kind)
        with self._lock:
            info = self._cache.get(key)
            if info is not None:
                return info
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
                raise UnknownResource(
                    f"kind {kind!r} in apiVersion {api_version!r} is ambiguous in discovery"
                ) from None
            info = ResourceInfo(
                group=res.group or "",
                version=res.api_version,
                kind=res.kind,
                plural=res.name,
                namespaced=bool(res.namespaced),
                verbs=tuple(res.verbs or ()),
                subresources=tuple(sorted((res.subresources or {}).keys())),
            )
            self._cache[key] = info
            return info

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()
            self._dynamic.resources.invalidate_cache()


# ---------------------------------------------------------------------------------------------
# watch stream


class WatchStream:
    """An open watch: iterate for ``(event_type, object)``; ``close()`` from any thread ends it.

    ``BOOKMARK`` events are yielded too (object holds only ``metadata.resourceVersion``). An
    ``ERROR`` event raises the mapped error (``Gone`` for an expired resourceVersion).
    """

    def __init__(self, response: Any, operation: str) -> None:
        self._response = response
        self._operation = operation
        self._closed = False
        self._iterating = False
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[tuple[str, dict]]:
        with self._lock:
            if self._closed or self._iterating:
                return
            self._iterating = True
        lines = iter_resp_lines(self._response)
        try:
            while True:
                error: KubeError | None = None
                try:
                    line = next(lines)
                except StopIteration:
                    return
                except (TimeoutError, urllib3.exceptions.ReadTimeoutError):
                    error = Timeout(self._operation, 0, "Timeout", "no data from the watch within the read timeout")
                except (urllib3.exceptions.HTTPError, OSError, ValueError, AttributeError):
                    # AttributeError: close() from another thread raced a read and urllib3 found its file
                    # object gone ("'NoneType' object has no attribute 'read'")
                    error = KubeUnavailable(f"{self._operation}: the watch connection broke")
                if error is not None:  # raised outside ``except``: no library context attached
                    if self._closed:
                        return
                    raise error
                if self._closed:
                    return
                if not line.strip():
                    continue
                event = _parse_json(line)  # never an exception holding the line (it may be a Secret)
                if not isinstance(event, dict):
                    raise KubeAPIError(
                        self._operation, 0, "BadWatchEvent", "the watch stream sent a line that is not a JSON event"
                    )
                etype, obj = event.get("type"), event.get("object")
                if etype == "ERROR":
                    code = obj.get("code", 500) if isinstance(obj, dict) else 500
                    raise error_from_status(self._operation, int(code), obj)
                yield etype, from_wire(obj)
        finally:
            with self._lock:
                self._closed, self._iterating = True, False
            self._finish()

    def close(self) -> None:
        """End the watch. From another thread this only shuts the socket down; the reading thread
        then leaves its loop and releases the response itself (no two threads inside urllib3)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            iterating = self._iterating
        try:
            sock = getattr(getattr(self._response, "connection", None), "sock", None)
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)  # unblocks a reader stuck in recv()
        except OSError:
            pass
        if not iterating:
            self._finish()

    def _finish(self) -> None:
        try:
            self._response.close()
            self._response.release_conn()
        except Exception:  # noqa: BLE001 - best effort on an already broken connection
            pass

    def __enter__(self) -> WatchStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------
# the client

_JSON = "application/json"
# what client-go's metadata client asks for (JSON only), with whole objects as the fallback
_METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
_METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"


def _install_group_impersonation(api_client: ApiClient, groups: Sequence[str]) -> None:
    """Add one ``Impersonate-Group`` header per group: the library's headers are a plain dict."""
    rest = api_client.rest_client
    original = rest.request

    def request(method, url, headers=None, *args, **kwargs):
        merged = urllib3.HTTPHeaderDict(headers or {})
        for group in groups:
            merged.add("Impersonate-Group", group)
        return original(method, url, merged, *args, **kwargs)

    rest.request = request


class KubeClient:
    """Dict-in, dict-out access to one API server as one identity. Thread-safe.

    Build with ``from_kubeconfig``, ``in_cluster``, ``from_host_token`` or ``from_env``;
    ``impersonate(user, groups)`` gives a client acting as someone else.
    ``timeout`` is the read timeout of every request, ``connect_timeout`` its connect timeout.
    """

    def __init__(
        self,
        configuration: Configuration,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        _discovery: _Discovery | None = None,
        _impersonate: tuple[str, tuple[str, ...]] | None = None,
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
        self.impersonating = _impersonate
        self._limits = threading.local()  # per-thread request deadline (time_limit)
        self._host_pool: Any = None
        # a server URL may carry a path (API proxies such as Rancher's serve clusters under one)
        self._path_prefix = urlsplit(configuration.host).path.rstrip("/")
        self.default_namespace = "default"  # the kubeconfig context's or the pod's namespace, as kubectl uses
        self._api = ApiClient(configuration)
        self._api.user_agent = "secretsync"
        if _impersonate:
            user, groups = _impersonate
            self._api.set_default_header("Impersonate-User", user)
            if groups:
                _install_group_impersonation(self._api, groups)
        if _discovery is None:
            self._dynamic = self._guarded(
                "discover API resources",
                lambda: DynamicClient(self._api, cache_file=_NO_CACHE_FILE, discoverer=_MemoryDiscoverer),
            )
            self._discovery = _Discovery(self._dynamic)
        else:
            self._dynamic = DynamicClient(self._api, discoverer=_NoDiscovery)
            self._discovery = _discovery

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_kubeconfig(cls, path: str | None = None, context: str | None = None, **kw: Any) -> KubeClient:
        """From a kubeconfig file (default: ``$KUBECONFIG`` or ``~/.kube/config``) and optional context."""
        cfg = Configuration()
        # read $KUBECONFIG now: the library's own default is the value it had when it was imported
        # (a colon-separated list is merged by the loader, as kubectl does)
        path = path or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        try:
            # The loader writes certificate-authority-data and client-certificate/key-data to temp files
            # (TLS wants paths); on Linux keep them in RAM (tmpfs) rather than on the temp disk.
            _k8s_config.load_kube_config(
                config_file=path,
                context=context,
                client_configuration=cfg,
                persist_config=False,
                temp_file_path=_memory_temp_dir(),
            )
        except (ConfigException, OSError, TypeError, ValueError) as exc:
            raise KubeConfigError(
                f"cannot load kubeconfig {path}"
                + (f" (context {context})" if context else "")
                + f": {type(exc).__name__}",
                hint="check the file exists, is valid YAML and names the context",
            ) from None
        client = cls(cfg, **kw)
        try:
            contexts, current = _k8s_config.list_kube_config_contexts(path)
            chosen = next((c for c in contexts if c.get("name") == context), None) if context else current
            client.default_namespace = ((chosen or {}).get("context") or {}).get("namespace") or "default"
        except (ConfigException, OSError, TypeError, ValueError):
            pass
        return client

    @classmethod
    def in_cluster(cls, **kw: Any) -> KubeClient:
        """From the pod's service account (token, CA, KUBERNETES_SERVICE_HOST/PORT)."""
        cfg = Configuration()
        try:
            _k8s_config.load_incluster_config(client_configuration=cfg)
        except ConfigException:
            raise KubeConfigError(
                "not running in a Kubernetes pod (no service account token or service host)",
                hint="pass --kubeconfig when running outside a cluster",
            ) from None
        client = cls(cfg, **kw)
        try:
            with open(_SA_NAMESPACE_FILE) as f:
                client.default_namespace = f.read().strip() or "default"
        except OSError:
            pass
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
        references are refused with an error naming ``source``, never quoting the content.
        """
        import yaml  # local: only this constructor parses YAML

        def fail(what: str) -> KubeConfigError:
            return KubeConfigError(
                f"{source}: {what}",
                reference="kube-config",
                hint="use a kubeconfig with a server, its CA data and a bearer token",
            )

        if isinstance(data, Mapping):
            config: Any = data
        else:
            raw = data.reveal() if isinstance(data, SecretBytes) else data
            try:
                config = yaml.safe_load(raw)
            except yaml.YAMLError:
                config = None
            if not isinstance(config, dict):
                raise fail("not a kubeconfig (YAML mapping expected)")
        ctx_name = context or config.get("current-context")
        named = {
            section: {
                e.get("name"): e.get(section[:-1]) or {} for e in config.get(section) or [] if isinstance(e, dict)
            }
            for section in ("contexts", "clusters", "users")
        }
        ctx = named["contexts"].get(ctx_name)
        if not ctx_name or ctx is None:
            raise fail(f"context {ctx_name!r} not found" if ctx_name else "no context given and no current-context")
        cluster = named["clusters"].get(ctx.get("cluster"))
        user = named["users"].get(ctx.get("user"), {})
        if not cluster or not cluster.get("server"):
            raise fail(f"context {ctx_name!r} names no cluster with a server")
        for field in (
            "client-certificate-data",
            "client-key-data",
            "client-certificate",
            "client-key",
            "exec",
            "auth-provider",
            "tokenFile",
            "username",
        ):
            if field in user:
                raise fail(f"user field {field!r} is not supported here")
        if "certificate-authority" in cluster:
            raise fail("a CA file reference is not supported here; embed certificate-authority-data")
        ca = cluster.get("certificate-authority-data")
        try:
            ca_pem = base64.b64decode(ca, validate=True) if ca else None
        except ValueError:
            raise fail("certificate-authority-data is not valid base64") from None
        client = cls.from_host_token(
            cluster["server"],
            user.get("token"),
            ca_data=ca_pem,
            verify_ssl=not cluster.get("insecure-skip-tls-verify", False),
            tls_server_name=cluster.get("tls-server-name"),
            **kw,
        )
        client.default_namespace = ctx.get("namespace") or "default"
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

    def impersonate(self, user: str, groups: Sequence[str] = ()) -> KubeClient:
        """A client acting as ``user`` (and ``groups``); it shares discovery, not connections."""
        client = KubeClient(
            self.configuration,
            timeout=self.timeout,
            connect_timeout=self.connect_timeout,
            _discovery=self._discovery,
            _impersonate=(user, tuple(groups)),
        )
        client.default_namespace = self.default_namespace
        return client

    def with_timeout(self, timeout: float, connect_timeout: float | None = None) -> KubeClient:
        """The same identity with other request timeouts (e.g. below a leader election's renew deadline)."""
        client = KubeClient(
            self.configuration,
            timeout=timeout,
            connect_timeout=self.connect_timeout if connect_timeout is None else connect_timeout,
            _discovery=self._discovery,
            _impersonate=self.impersonating,
        )
        client.default_namespace = self.default_namespace
        return client

    def impersonate_service_account(self, namespace: str, name: str) -> KubeClient:
        """A client acting as ``system:serviceaccount:<namespace>:<name>`` (the server adds its groups)."""
        return self.impersonate(f"system:serviceaccount:{namespace}:{name}")

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- discovery --------------------------------------------------------------------------
    def resource(self, api_version: str, kind: str) -> ResourceInfo:
        """Discovery info for ``apiVersion``/``kind`` (cached; refreshed once on a miss)."""
        return self._guarded(f"discover {kind} in {api_version}", lambda: self._discovery.lookup(api_version, kind))

    def invalidate_discovery(self) -> None:
        """Forget what discovery said (call after installing or removing a CRD)."""
        self._guarded("refresh API discovery", self._discovery.invalidate)

    def server_version(self) -> dict:
        return self._request("GET", "/version", operation="get server version")

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
                return resp.data
            finally:
                resp.release_conn()
        except ApiException as exc:
            status = getattr(exc, "status", 0) or 0
            error = (
                error_from_status(operation, status, getattr(exc, "body", None), getattr(exc, "headers", None))
                if status
                else self._map_api_exception(operation, exc)
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            error = self._map_transport_error(operation, exc)
        raise error

    # -- requests ---------------------------------------------------------------------------
    def _map_api_exception(self, operation: str, exc: Any) -> KubeError:
        status = getattr(exc, "status", 0) or 0
        if status == 0:
            return KubeUnavailable(
                f"{operation}: cannot reach {self.host} ({_clip(getattr(exc, 'reason', '') or 'TLS or transport error')})"
            )
        return error_from_status(
            operation, status, getattr(exc, "body", None), getattr(exc, "headers", None), getattr(exc, "reason", None)
        )

    def _map_transport_error(self, operation: str, exc: BaseException) -> KubeError:
        if isinstance(exc, (urllib3.exceptions.TimeoutError, socket.timeout)) and not isinstance(
            exc, urllib3.exceptions.NewConnectionError
        ):
            return Timeout(operation, 0, "Timeout", f"no answer from {self.host} in time")
        return KubeUnavailable(
            f"{operation}: cannot reach {self.host} ({type(exc).__name__})",
            hint="check the API server address and that it is running",
        )

    def _guarded(self, operation: str, fn: Callable[[], Any]) -> Any:
        """Run ``fn``, turning library/transport errors into ours. The new error is raised outside the
        ``except`` block so the library's exception (which may hold a response body) is not even its
        ``__context__``."""
        try:
            return fn()
        except ApiException as exc:
            error = self._map_api_exception(operation, exc)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            error = self._map_transport_error(operation, exc)
        raise error

    def _send(
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
        api = self._api
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
        limit = getattr(self._limits, "deadline", None)
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
            manager = self._api.rest_client.pool_manager
            if isinstance(manager, urllib3.ProxyManager):
                return None
            pool = self._host_pool = manager.connection_from_url(self.configuration.host)
        return pool

    @contextlib.contextmanager
    def time_limit(self, seconds: float) -> Iterator[None]:
        """Requests this thread makes inside the block must end within ``seconds`` from now: each gets
        at most the time left as its timeout, and none starts once it is used up (``Timeout``)."""
        previous = getattr(self._limits, "deadline", None)
        deadline = time.monotonic() + max(0.0, seconds)
        self._limits.deadline = deadline if previous is None else min(previous, deadline)
        try:
            yield
        finally:
            self._limits.deadline = previous

    def _request(
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
        resp = self._guarded(
            operation, lambda: self._send(method, path, query, wire, content_type, read_timeout, accept)
        )
        if not 200 <= resp.status <= 299:
            try:
                raw = self._guarded(operation, lambda: resp.data)
            finally:
                resp.release_conn()
            raise error_from_status(operation, resp.status, raw, resp.headers, resp.reason)
        if stream:
            return resp
        try:
            raw = self._guarded(operation, lambda: resp.data)
        finally:
            resp.release_conn()
        if not raw or not answer:
            return None
        parsed = _parse_json(raw)
        if parsed is None:
            raise KubeAPIError(operation, resp.status, "BadResponse", "the API server's answer is not JSON")
        return from_wire(parsed)

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

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict:
        """The object, or ``NotFound``."""
        _, path, op = self._target(api_version, kind, name, namespace, "get")
        return self._request("GET", path, operation=op)

    def get_or_none(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
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
    ) -> dict:
        """All objects (following ``continue`` pages) as ``{"items": [...], "metadata": {"resourceVersion": ...}}``.

        Items get ``apiVersion``/``kind`` filled in (the API leaves them out of list items).
        ``namespace=None`` lists across all namespaces. ``metadata_only`` asks for
        ``PartialObjectMetadata`` items (``apiVersion``/``kind``/``metadata`` only, as client-go's
        metadata informers do); a server that cannot answer so sends whole objects.
        """
        info, path, op = self._target(api_version, kind, None, namespace, "list")
        items: list[dict] = []
        token = None
        while True:
            accept = _METADATA_LIST if metadata_only else _JSON
            page = (
                self._request(
                    "GET",
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
    ) -> dict | None:
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
        return self._request(
            "POST",
            path,
            operation=op,
            body=obj,
            content_type="application/json",
            answer=answer,
            query=[("dryRun", self._dry(dry_run)), ("fieldManager", field_manager)],
        )

    def update(
        self,
        obj: Mapping[str, Any],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        answer: bool = True,
    ) -> dict | None:
        """PUT the whole object; with ``metadata.resourceVersion`` set, a stale copy gets ``Conflict``.
        ``answer=False``: as for ``create``."""
        api_version, kind, name, namespace = self._meta(obj)
        _, path, op = self._target(api_version, kind, name, namespace, "update", subresource)
        return self._request(
            "PUT",
            path,
            operation=op,
            body=obj,
            content_type="application/json",
            answer=answer,
            query=[("dryRun", self._dry(dry_run)), ("fieldManager", field_manager)],
        )

    def update_status(self, obj: Mapping[str, Any], **kw: Any) -> dict | None:
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
    ) -> dict:
        """Server-side apply (``application/apply-patch+yaml``) as ``field_manager``; ``Conflict`` unless ``force``."""
        if not field_manager:
            raise ValueError("server-side apply needs a field manager")
        api_version, kind, name, namespace = self._meta(obj)
        _, path, op = self._target(api_version, kind, name, namespace, "apply", subresource)
        return self._request(
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
    ) -> dict:
        """PATCH with a merge (RFC 7386), JSON (RFC 6902) or strategic-merge patch."""
        if patch_type not in self._PATCH_TYPES:
            raise ValueError(f"patch_type must be one of {sorted(self._PATCH_TYPES)}")
        if patch_type == "json" and not isinstance(patch, list):
            raise ValueError("a JSON patch is a list of operations")
        _, path, op = self._target(api_version, kind, name, namespace, "patch", subresource)
        return self._request(
            "PATCH",
            path,
            operation=op,
            body=patch,
            content_type=self._PATCH_TYPES[patch_type],
            query=[("dryRun", self._dry(dry_run)), ("fieldManager", field_manager)],
        )

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
    ) -> dict | None:
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
        return self._request("DELETE", path, operation=op, body=body, content_type="application/json")

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
        return WatchStream(resp, op)
