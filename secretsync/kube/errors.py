"""The Kubernetes API's errors as classes: HTTP status and ``Status`` reason → exception.

``error_from_status`` keeps only what a ``Status`` body says (reason, message and causes, each
clipped to 256 characters) and drops any other body (kopf's rule), so a Secret in a response
can never reach a log or a traceback. ``transient`` on a class says whether a retry may help;
``retry_after`` carries the server's ``Retry-After`` (or ``details.retryAfterSeconds``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secretsync.errors import SecretsyncError
from secretsync.kube.wire import clip, parse_json

__all__ = [
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
    "error_from_status",
]


class KubeError(SecretsyncError):
    """Base of every error from ``secretsync.kube``. ``transient`` says whether a retry may help."""

    reference = "kube-api"
    transient = False
    retry_after: float | None = None
    attempts = 1  # how many tries the request had (more than 1 after the client's read retries)

    def after_attempts(self, attempts: int, seconds: float) -> KubeError:
        """This error as the last of ``attempts`` tries over ``seconds``: the message says so."""
        self.attempts = attempts
        self.message = f"{self.message} (gave up after {attempts} attempts in {seconds:.1f}s)"
        self.args = (self.message,)
        return self


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


_DETAIL_KEYS = ("name", "group", "kind", "uid", "retryAfterSeconds")
_MAX_CAUSES = 20


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form), or None when absent or not a number."""
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def _status_of(body: Any) -> tuple[dict[str, Any] | None, str]:
    """The body as a ``Status`` dict (or None), and the clipped text of a plain-text body."""
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, dict):
        parsed: Any = body
    elif isinstance(body, str) and body.strip():
        parsed = parse_json(body)
        if parsed is None:
            return None, clip(body)  # plain-text errors (proxies, emulators): clipped, never JSON payloads
    else:
        return None, ""
    return (parsed if isinstance(parsed, dict) and parsed.get("kind") == "Status" else None), ""


def _details_of(status: Mapping[str, Any]) -> dict[str, Any]:
    """The Status details worth keeping: names, retryAfterSeconds and the causes (clipped, at most 20)."""
    raw = status.get("details")
    if not isinstance(raw, dict):
        return {}
    details = {k: raw[k] for k in _DETAIL_KEYS if k in raw}
    causes = [
        {k: clip(c[k]) for k in ("reason", "field", "message") if k in c}
        for c in (raw.get("causes") or [])
        if isinstance(c, dict)
    ]
    if causes:
        details["causes"] = causes[:_MAX_CAUSES]
    return details


def _class_for(status: int, reason: str) -> type[KubeAPIError]:
    """The Status reason decides, except that a 500 is a ServerError whatever it says (unless a timeout)."""
    by_reason = _BY_REASON.get(reason) if status != 500 or reason in ("Timeout", "ServerTimeout") else None
    return by_reason or _BY_STATUS.get(status) or (ServerError if status >= 500 else KubeAPIError)


def _retry_after_of(headers: Any, details: Mapping[str, Any]) -> float | None:
    retry_after = parse_retry_after(headers)
    if retry_after is None and "retryAfterSeconds" in details:
        try:
            retry_after = float(details["retryAfterSeconds"])
        except (TypeError, ValueError):
            pass
    return retry_after


def error_from_status(
    operation: str, status: int, body: Any, headers: Any = None, http_reason: str | None = None
) -> KubeAPIError:
    """Map an error response to its class, keeping only a ``Status`` body's reason/message (kopf's rule)."""
    parsed, message = _status_of(body)
    reason, details = "", {}
    if parsed is not None:
        reason = str(parsed.get("reason") or "")
        message = clip(parsed.get("message") or "")
        details = _details_of(parsed)
    if not reason and http_reason:
        reason = str(http_reason)
    cls = _class_for(status, reason)
    return cls(operation, status, reason, message, details, _retry_after_of(headers, details))
