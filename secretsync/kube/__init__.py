"""Kubernetes access for secretsync (internal).

``secretsync.kube.client`` is the only module that imports the ``kubernetes`` package: a
dict-in/dict-out ``KubeClient`` with discovery, server-side apply, watches and error
classes that never carry a response body. ``secretsync.kube.watch`` builds the
list+watch loop (resourceVersion, bookmarks, relist on 410) that both controllers use.
"""

from secretsync.kube.client import (
    AlreadyExists, BadRequest, Conflict, Forbidden, Gone, Invalid, KubeAPIError, KubeClient, KubeConfigError,
    KubeError, KubeUnavailable, MethodNotAllowed, NotFound, ResourceInfo, ServerError, Timeout, TooManyRequests,
    Unauthorized, UnknownResource, Unprocessable, WatchStream, object_ref,
)

__all__ = [
    "KubeClient", "ResourceInfo", "WatchStream", "object_ref",
    "KubeError", "KubeConfigError", "UnknownResource", "KubeUnavailable",
    "KubeAPIError", "BadRequest", "Unauthorized", "Forbidden", "NotFound", "MethodNotAllowed",
    "Conflict", "AlreadyExists", "Gone", "Invalid", "Unprocessable", "TooManyRequests",
    "ServerError", "Timeout",
]
