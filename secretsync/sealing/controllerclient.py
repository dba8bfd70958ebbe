"""The sealed-secrets controller as kubeseal reaches it, and where a sealing certificate comes from.

``ControllerClient`` talks to the controller behind its Service through the API server's service
proxy, as kubeseal does: ``/api/v1/namespaces/NS/services/http:NAME:PORT/proxy/PATH`` where PORT
is the name of the Service's first port (``--controller-name`` in ``--controller-namespace``):
``/v1/cert.pem``, ``/v1/verify`` and ``/v1/rotate``. Its errors are kubeseal's texts
(``go_error_text``: a Status's message, else client-go's generic words).

This package sits below ``secretsync.kube`` in the layers, so the API server is reached through
a ``ServiceProxyClient`` (what ``secretsync.kube.client.KubeClient`` offers) made on first use by
a callable the command passes in: a certificate from ``--cert`` or ``--key-dir`` never reads a
kubeconfig. The client's errors are ``SecretsyncError``s read by their attributes (``status``,
``reason``, ``api_message``), never by importing their classes.

``fetch_certificate`` gives the PEM from a file, an http(s) URL, the newest key of a key
directory, or the controller.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from secretsync.errors import SecretsyncError
from secretsync.sealing.keyring import Keyring
from secretsync.sealing.reencrypt import as_kubeseal_output

__all__ = ["ServiceProxyClient", "ControllerClient", "NoClient", "fetch_certificate", "go_error_text"]

_CERT_TIMEOUT = 30
_SERVICE_HINT = (
    ".\nPlease, use the flag --controller-name and --controller-namespace to set up the name and "
    "namespace of the sealed secrets controller"
)

# client-go's words for an error answer that is not a Status (apimachinery's NewGenericServerResponse)
_GO_GENERIC = {
    400: "the server rejected our request for an unknown reason",
    401: "the server has asked for the client to provide credentials",
    404: "the server could not find the requested resource",
    405: "the server does not allow this method on the requested resource",
    409: "the server reported a conflict",
    415: "the server has rejected the content type",
    422: "the server rejected our request due to an error in our request",
    429: "the server has received too many requests and has asked us to try again later",
    503: "the server is currently unable to handle the request",
    504: "the server was unable to return a response in the time allotted, but may still be processing the request",
}


class ServiceProxyClient(Protocol):
    """The two calls of a Kubernetes client this module needs (``KubeClient`` has them)."""

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]: ...

    def service_proxy(
        self,
        method: str,
        namespace: str,
        service: str,
        path: str,
        *,
        port: str = "",
        body: Any = None,
        accept: str | None = None,
    ) -> bytes: ...


def _status(exc: SecretsyncError) -> int:
    status = getattr(exc, "status", 0)
    return status if isinstance(status, int) else 0


def go_error_text(exc: SecretsyncError, method: str = "", target: str = "") -> str:
    """What kubeseal prints for a client-go error: a Status's message, else client-go's generic text."""
    status = _status(exc)
    if not status:
        return exc.message
    server_message = str(getattr(exc, "api_message", "") or "")
    if getattr(exc, "reason", ""):  # the answer was a Status (from the API server)
        return server_message
    if status == 403:
        text = server_message
    elif status in _GO_GENERIC:
        text = _GO_GENERIC[status]
    elif status >= 500:
        text = f"an error on the server ({json.dumps(server_message)}) has prevented the request from succeeding"
    else:
        text = f"the server responded with the status code {status} but did not return more information"
    return f"{text} ({method.lower()} services {target})" if target else text


class NoClient(SecretsyncError):
    """``connect`` could not make a client at all (e.g. no readable kubeconfig); shown as it is,
    not as a failure to reach the controller's Service."""

    reference = "no-kube-client"


class _ProxyFailed(Exception):
    """Internal: the proxied request itself failed with ``error`` (each endpoint words it)."""

    def __init__(self, error: SecretsyncError) -> None:
        super().__init__(error.message)
        self.error = error


class ControllerClient:
    """The sealed-secrets controller behind its Service, reached through the API server's service proxy.

    ``connect`` makes the API client on first use; it raises ``NoClient`` when there is no way to
    (a kubeconfig that cannot be read: the caller words it, with a hint to pass ``--cert``); any
    other failure there or while reading the Service is "cannot get sealed secret service"."""

    def __init__(self, connect: Callable[[], ServiceProxyClient], namespace: str, name: str) -> None:
        self._connect = connect
        self.namespace, self.name = namespace, name
        self._client: ServiceProxyClient | None = None
        self._port: str | None = None

    def _proxy(self, method: str, path: str, body: Mapping[str, Any] | None = None, accept: str | None = None) -> bytes:
        try:
            if self._client is None:
                self._client = self._connect()
            if self._port is None:
                service = self._client.get("v1", "Service", self.name, self.namespace)
                ports = (service.get("spec") or {}).get("ports") or [{}]
                self._port = str(ports[0].get("name") or "")
        except NoClient:
            raise
        except SecretsyncError as exc:
            raise SecretsyncError(f"cannot get sealed secret service: {go_error_text(exc)}{_SERVICE_HINT}") from None
        try:
            return self._client.service_proxy(
                method, self.namespace, self.name, path, port=self._port, body=body, accept=accept
            )
        except SecretsyncError as exc:
            raise _ProxyFailed(exc) from None

    @property
    def target(self) -> str:
        return f"http:{self.name}:{self._port or ''}"

    def certificate(self) -> bytes:
        """GET /v1/cert.pem, as kubeseal (``Accept: application/x-pem-file, */*``)."""
        try:
            return self._proxy("GET", "/v1/cert.pem", accept="application/x-pem-file, */*")
        except _ProxyFailed as failed:
            raise SecretsyncError(
                f"cannot fetch certificate: {go_error_text(failed.error, 'GET', self.target)}"
            ) from None

    def verify(self, obj: Mapping[str, Any]) -> bool:
        """POST /v1/verify: True when the controller can decrypt it (200), False on 409."""
        try:
            self._proxy("POST", "/v1/verify", body=obj)
        except _ProxyFailed as failed:
            if _status(failed.error) == 409:
                return False
            raise SecretsyncError(
                f"cannot validate sealed secret: {go_error_text(failed.error, 'POST', self.target)}"
            ) from None
        return True

    def rotate(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """POST /v1/rotate: the SealedSecret re-sealed with the newest key, as kubeseal prints it."""
        try:
            body = self._proxy("POST", "/v1/rotate", body=obj)
        except _ProxyFailed as failed:
            if _status(failed.error) == 409:
                raise SecretsyncError("unable to rotate secret") from None
            raise SecretsyncError(
                f"cannot re-encrypt secret: {go_error_text(failed.error, 'POST', self.target)}"
            ) from None
        try:
            resealed = json.loads(body)
        except ValueError:
            resealed = None
        if not isinstance(resealed, dict):
            raise SecretsyncError("cannot re-encrypt secret: the controller's answer is not a JSON object")
        return as_kubeseal_output(resealed)


def fetch_certificate(cert: str, key_dir: str = "", controller: ControllerClient | None = None) -> bytes:
    """The certificate PEM bytes from a file, a URL, the newest key of a key dir, or the controller."""
    if cert:
        if re.match(r"^https?://", cert, re.I):
            return _fetch_url(cert)
        path = cert[len("file://") :] if cert.lower().startswith("file://") else cert
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise SecretsyncError(f"cannot fetch certificate: {path}: {exc.strerror}") from None
    if key_dir:
        return Keyring.from_dir(key_dir).certificate_pem()
    if controller is None:
        raise SecretsyncError(
            "cannot fetch certificate: no --cert, --key-dir or controller given",
            hint="pass --cert FILE|URL (or SEALED_SECRETS_CERT), or --key-dir DIR",
        )
    return controller.certificate()


def _fetch_url(cert: str) -> bytes:
    import urllib.error  # lazily: only URL certificates pay for the HTTP stack
    import urllib.request

    request = urllib.request.Request(cert, headers={"Accept": "application/x-pem-file, */*"})
    try:
        with urllib.request.urlopen(request, timeout=_CERT_TIMEOUT) as response:  # noqa: S310 - http(s) only
            data: bytes = response.read()
            return data
    except urllib.error.HTTPError as exc:
        raise SecretsyncError(f"cannot fetch certificate: {cert}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SecretsyncError(f"cannot fetch certificate: {cert}: {reason}") from None
