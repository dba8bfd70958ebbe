"""The Kubernetes ``Status`` error bodies the emulator answers with.

Every failed request gets a ``meta/v1 Status`` with the real API server's code,
reason, message shape and details (see the API conventions, "Response Status
Kind"). Messages name resources and objects, never field values of Secrets.
"""

from __future__ import annotations

__all__ = [
    "APIError",
    "status_body",
    "not_found",
    "already_exists",
    "conflict",
    "invalid",
    "bad_request",
    "forbidden",
    "method_not_allowed",
    "unsupported_media_type",
    "too_large",
    "gone",
    "success_status",
]


def status_body(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    """A failure ``Status`` object as the API server serialises it."""
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message}
    if reason:  # StatusReasonUnknown ("") is omitted, as for errors the server did not classify
        body["reason"] = reason
    body["code"] = code
    if details is not None:
        body["details"] = details
    return body


def success_status(name: str, group: str, resource: str, uid: str) -> dict:
    """What DELETE returns when the object is gone at once (``finalizeDelete`` in the generic registry)."""
    details = {"name": name, "kind": resource, "uid": uid}
    if group:
        details["group"] = group
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


class APIError(Exception):
    """A request failure carrying its HTTP code, ``reason`` and ``Status`` details."""

    def __init__(
        self, code: int, reason: str, message: str, details: dict | None = None, headers: dict | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict:
        return status_body(self.code, self.reason, self.message, self.details)


def _details(name: str | None, group: str, resource: str, **extra) -> dict:
    details: dict = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = resource
    details.update(extra)
    return details


def _qualified(group: str, resource: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(group: str, resource: str, name: str) -> APIError:
    return APIError(
        404, "NotFound", f'{_qualified(group, resource)} "{name}" not found', _details(name, group, resource)
    )


def already_exists(group: str, resource: str, name: str) -> APIError:
    return APIError(
        409, "AlreadyExists", f'{_qualified(group, resource)} "{name}" already exists', _details(name, group, resource)
    )


def conflict(group: str, resource: str, name: str, why: str) -> APIError:
    return APIError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(group, resource)} "{name}": {why}',
        _details(name, group, resource),
    )


STALE = "the object has been modified; please apply your changes to the latest version and try again"


def invalid(group: str, kind: str, name: str, causes: list[tuple[str, str, str]]) -> APIError:
    """422 Invalid; ``causes`` are (reason, field, message) like ``field.ErrorList``."""
    text = "; ".join(f"{field}: {message}" for _, field, message in causes)
    if len(causes) > 1:
        text = "[" + ", ".join(f"{field}: {message}" for _, field, message in causes) + "]"
    details = {"name": name, "kind": kind} if name else {"kind": kind}
    if group:
        details["group"] = group
    details["causes"] = [{"reason": r, "message": m, "field": f} for r, f, m in causes]
    return APIError(422, "Invalid", f'{kind}{"." + group if group else ""} "{name}" is invalid: {text}', details)


def bad_request(message: str) -> APIError:
    return APIError(400, "BadRequest", message)


def forbidden(group: str, resource: str, name: str, message_tail: str, causes: list | None = None) -> APIError:
    subject = f'{_qualified(group, resource)} "{name}"' if name else _qualified(group, resource)
    details = _details(name, group, resource)
    if causes:
        details["causes"] = causes
    return APIError(403, "Forbidden", f"{subject} is forbidden: {message_tail}", details)


def method_not_allowed() -> APIError:
    return APIError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def unsupported_media_type(content_type: str, accepted: list[str]) -> APIError:
    return APIError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: {', '.join(accepted)}",
    )


def too_large(limit: int) -> APIError:
    return APIError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def gone(message: str) -> APIError:
    return APIError(410, "Expired", message)
