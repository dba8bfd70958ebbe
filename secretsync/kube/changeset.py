"""What an apply did: one ``Change`` per object, collected in a ``ChangeSet`` (fluxcd/pkg ssa's shape).

The result kinds are ``CREATED``, ``CONFIGURED``, ``UNCHANGED``, ``DELETED`` and ``SKIPPED``;
``secretsync apply --dry-run`` prints the same ChangeSet the agent records. ``ApplyFailed`` and
``ImmutableFieldError`` are the apply's errors; ``safe_message`` renders an API error with no
value of a Secret's data in it, and ``is_immutable_error`` recognises a refused immutable change.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from secretsync.errors import SecretsyncError
from secretsync.kube.errors import Forbidden, Invalid, KubeAPIError
from secretsync.manifests.tree import iter_leaves
from secretsync.objects import ObjectId
from secretsync.secretvalue import SecretBytes

__all__ = [
    "CREATED",
    "CONFIGURED",
    "UNCHANGED",
    "DELETED",
    "SKIPPED",
    "Change",
    "ChangeSet",
    "ApplyFailed",
    "ImmutableFieldError",
    "safe_message",
    "is_immutable_error",
]

CREATED = "created"
CONFIGURED = "configured"
UNCHANGED = "unchanged"
DELETED = "deleted"
SKIPPED = "skipped"

# ---------------------------------------------------------------------------------------------
# change set


@dataclass
class Change:
    """What happened to one object. ``detail`` says how (``via dry-run``, ``recreated``, a reason to skip)."""

    id: ObjectId
    action: str
    detail: str = ""
    takeover: tuple[str, ...] = ()
    api_version: str = ""

    def __str__(self) -> str:
        text = f"{self.id} {self.action}"
        if self.detail:
            text += f" ({self.detail})"
        if self.takeover:
            text += f" [took over fields from {', '.join(self.takeover)}]"
        return text


@dataclass
class ChangeSet:
    """Entries in the order they happened (fluxcd/pkg ssa's ChangeSet)."""

    entries: list[Change] = field(default_factory=list)
    results: dict[ObjectId, dict[str, Any]] = field(
        default_factory=dict, repr=False
    )  # ObjectId -> live object after apply (or as found)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, change: Change) -> Change:
        with self._lock:
            self.entries.append(change)
        return change

    def extend(self, other: ChangeSet) -> None:
        for change in other.entries:
            self.add(change)
        self.results.update(other.results)

    def of(self, action: str) -> list[Change]:
        return [c for c in self.entries if c.action == action]

    @property
    def changed(self) -> bool:
        return any(c.action in (CREATED, CONFIGURED, DELETED) for c in self.entries)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.entries:
            out[c.action] = out.get(c.action, 0) + 1
        return out

    def summary(self) -> str:
        counts = self.counts()
        return ", ".join(f"{counts.get(a, 0)} {a}" for a in (CREATED, CONFIGURED, UNCHANGED, DELETED, SKIPPED))

    def lines(self, include_unchanged: bool = False) -> list[str]:
        return [str(c) for c in self.entries if include_unchanged or c.action != UNCHANGED]

    def __iter__(self) -> Iterator[Change]:
        return iter(list(self.entries))

    def __len__(self) -> int:
        return len(self.entries)


# ---------------------------------------------------------------------------------------------
# errors


class ApplyFailed(SecretsyncError):
    """Applying failed for one or more objects; ``changeset`` holds what was done before."""

    reference = "apply-failed"
    access_denied = False  # every failure was a 403: the identity lacks RBAC permissions

    def __init__(self, message: str, *, changeset: ChangeSet | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.changeset = changeset or ChangeSet()


class ImmutableFieldError(SecretsyncError):
    """The API server refused a change to an immutable field and recreating is not allowed."""

    reference = "immutable-field"


_SECRET_VALUE_TEXT = re.compile(r'(Invalid value: )("(?:[^"\\]|\\.)*"|\S+)')


def _secret_texts(obj: Any) -> list[str]:
    out: list[str] = []
    for item in iter_leaves(obj):
        if isinstance(item, SecretBytes) and len(item) >= 3:
            out += (item.reveal().decode("utf-8", "replace"), item.to_base64())
    return out


def safe_message(exc: BaseException, obj: Mapping[str, Any] | None = None) -> str:
    """An API error's text with no value of ``obj``'s Secret data (and no 'Invalid value' echo for Secrets)."""
    if isinstance(exc, KubeAPIError):
        text = exc.api_message or exc.reason or f"HTTP {exc.status}"
        fields = [c.get("field") for c in (exc.details.get("causes") or []) if c.get("field")]
    else:
        text, fields = getattr(exc, "message", None) or type(exc).__name__, []
    if obj is not None and obj.get("kind") == "Secret":
        text = _SECRET_VALUE_TEXT.sub(r"\1<redacted>", text)
        if fields:
            text = f"{getattr(exc, 'reason', '') or 'rejected'} (fields: {', '.join(sorted(set(fields)))}): {text}"
    for secret in _secret_texts(obj or {}):
        if secret and secret in text:
            text = text.replace(secret, "<redacted>")
    return text


def is_immutable_error(exc: BaseException) -> bool:
    """An apply refused because it changes a field that cannot change (Flux's rule, plus StatefulSet's Forbidden)."""
    if not isinstance(exc, (Invalid, Forbidden, KubeAPIError)) or getattr(exc, "status", 0) not in (409, 422):
        return False
    texts = [exc.api_message] + [c.get("message", "") for c in (exc.details.get("causes") or [])]
    joined = " ".join(t for t in texts if t).lower()
    return (
        "immutable" in joined
        or "updates to statefulset spec for fields other than" in joined
        or "may not change once set" in joined
    )
