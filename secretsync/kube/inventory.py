"""What a reconcile owns: inventories (Flux-style ids + versions) and the Kubernetes ApplySet convention.

``Inventory`` is a set of ``Entry`` (ObjectId + API version), built from rendered objects or read
back from storage (``to_status()``/``from_status()`` give Flux's ``{"id": ns_name_group_kind, "v":
version}`` list for a controller's status). ``stale(previous, new)`` is previous minus new;
``with_survivors`` keeps entries whose delete failed, so they are retried and never orphaned
(kustomize-controller#1664).

``ApplySet`` is the inventory of the CLI (KEP-3659, what ``kubectl apply --applyset`` writes):

- a parent object (a Secret by default, holding no data) labelled ``applyset.kubernetes.io/id``
  = ``applyset-<base64url(sha256(name.namespace.kind.group))>-v1``, annotated with
  ``applyset.kubernetes.io/tooling: secretsync/<version>``,
  ``applyset.kubernetes.io/contains-group-kinds`` (sorted ``Kind.group`` list, ``Kind`` for the
  core group) and ``applyset.kubernetes.io/additional-namespaces``;
- every member labelled ``applyset.kubernetes.io/part-of: <id>``.

The previous inventory is read as kubectl does: one list per group-kind named on the parent, by
the part-of label. Before applying, the parent is widened to the union of old and new kinds and
namespaces (so a crash mid-apply leaves nothing untracked); after pruning it is narrowed to what
is still there.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from secretsync.errors import SecretsyncError
from secretsync.kube.errors import UnknownResource
from secretsync.objects import ObjectId

__all__ = [
    "Entry",
    "Inventory",
    "ApplySet",
    "ApplySetError",
    "applyset_id",
    "local_applyset_name",
    "PART_OF",
    "ID_LABEL",
    "TOOLING",
    "CONTAINS_GROUP_KINDS",
    "ADDITIONAL_NAMESPACES",
    "group_kind_text",
    "parse_group_kind",
]

PART_OF = "applyset.kubernetes.io/part-of"
ID_LABEL = "applyset.kubernetes.io/id"
TOOLING = "applyset.kubernetes.io/tooling"
CONTAINS_GROUP_KINDS = "applyset.kubernetes.io/contains-group-kinds"
ADDITIONAL_NAMESPACES = "applyset.kubernetes.io/additional-namespaces"


@dataclass(frozen=True, order=True)
class Entry:
    """One owned object: its identity and the API version to address it with."""

    id: ObjectId
    version: str

    @property
    def api_version(self) -> str:
        return f"{self.id.group}/{self.version}" if self.id.group else self.version

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> Entry:
        return cls(ObjectId.of(dict(obj)), str(obj.get("apiVersion", "")).rsplit("/", 1)[-1])


class Inventory:
    """A set of entries, keyed by ObjectId (one version per object)."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self._by_id: dict[ObjectId, Entry] = {}
        for entry in entries:
            self._by_id[entry.id] = entry
        self._sorted: list[Entry] | None = None

    @classmethod
    def of_objects(cls, objects: Iterable[Mapping[str, Any]]) -> Inventory:
        return cls(Entry.of(o) for o in objects)

    @property
    def entries(self) -> list[Entry]:
        if self._sorted is None:
            self._sorted = sorted(self._by_id.values())
        return list(self._sorted)

    def ids(self) -> set[ObjectId]:
        return set(self._by_id)

    def get(self, oid: ObjectId) -> Entry | None:
        return self._by_id.get(oid)

    def __contains__(self, oid: object) -> bool:
        return oid in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Inventory) and self._by_id == other._by_id

    def stale(self, new: Inventory) -> list[Entry]:
        """Entries of this (previous) inventory that are not in ``new``."""
        return [e for e in self.entries if e.id not in new]

    def with_survivors(self, survivors: Iterable[Entry]) -> Inventory:
        """This inventory plus entries whose delete failed (they stay owned and are retried)."""
        return Inventory([*self.entries, *survivors])

    def group_kinds(self) -> set[tuple[str, str]]:
        return {(e.id.group, e.id.kind) for e in self._by_id.values()}

    def namespaces(self) -> set[str]:
        return {e.id.namespace for e in self._by_id.values() if e.id.namespace}

    def to_status(self) -> list[dict[str, Any]]:
        """Flux's inventory form: ``[{"id": "<ns>_<name>_<group>_<kind>", "v": "<version>"}]``."""
        return [{"id": e.id.key, "v": e.version} for e in self.entries]

    @classmethod
    def from_status(cls, items: Iterable[Mapping[str, Any]]) -> Inventory:
        return cls(Entry(ObjectId.from_key(str(i["id"])), str(i.get("v", ""))) for i in items)


_UNREAD = object()


class ApplySetError(SecretsyncError):
    """The ApplySet parent is missing, foreign or inconsistent."""

    reference = "applyset"


def applyset_id(name: str, namespace: str, kind: str = "Secret", group: str = "") -> str:
    """KEP-3659's id: ``applyset-`` + base64url-unpadded(sha256("name.namespace.kind.group")) + ``-v1``."""
    digest = hashlib.sha256(".".join((name, namespace, kind, group)).encode()).digest()
    return f"applyset-{base64.urlsafe_b64encode(digest).decode().rstrip('=')}-v1"


def local_applyset_name(source: str, path: str = ".") -> str:
    """The default ApplySet parent name of a source (``secretsync apply`` and local-mode ``agent --source``):
    ``secretsync-`` + the first 10 hex digits of sha256("<source>\n<path>"); a folder is made absolute."""
    where = source if "://" in source or "@" in source else os.path.abspath(source)
    return "secretsync-" + hashlib.sha256(f"{where}\n{path}".encode()).hexdigest()[:10]


def group_kind_text(group: str, kind: str) -> str:
    return f"{kind}.{group}" if group else kind


def parse_group_kind(text: str) -> tuple[str, str]:
    kind, _, group = text.strip().partition(".")
    return group, kind


class ApplySet:
    """The CLI's inventory: a parent Secret (or ConfigMap) and members labelled part-of its id."""

    def __init__(
        self, client: Any, name: str, namespace: str = "default", kind: str = "Secret", tooling: str | None = None
    ) -> None:
        if kind not in ("Secret", "ConfigMap"):
            raise ApplySetError(f"ApplySet parent kind {kind!r} is not supported", hint="use Secret or ConfigMap")
        self.client, self.name, self.namespace, self.kind = client, name, namespace, kind
        self.id = applyset_id(name, namespace, kind, "")
        if tooling is None:
            from secretsync import __version__

            tooling = f"secretsync/v{__version__}"
        self.tooling = tooling
        self._parent: Any = _UNREAD  # the parent as last read or written (_UNREAD: not yet)

    @property
    def member_labels(self) -> dict[str, str]:
        return {PART_OF: self.id}

    @property
    def selector(self) -> str:
        return f"{PART_OF}={self.id}"

    def parent(self) -> dict[str, Any] | None:
        obj: dict[str, Any] | None = self.client.get_or_none("v1", self.kind, self.name, self.namespace)
        self._parent = obj
        if obj is None:
            return None
        labels = (obj.get("metadata") or {}).get("labels") or {}
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if labels.get(ID_LABEL) != self.id:
            raise ApplySetError(
                f"{self.kind} {self.namespace}/{self.name} exists but is not the parent of this "
                f"ApplySet (label {ID_LABEL} missing or different)",
                hint="choose another --applyset name",
            )
        tooling = str(annotations.get(TOOLING, ""))
        if tooling and not tooling.startswith("secretsync/"):
            raise ApplySetError(
                f"ApplySet {self.namespace}/{self.name} is managed by {tooling!r}, not secretsync",
                hint="use another --applyset name; two tools must not prune each other's objects",
            )
        return obj

    @staticmethod
    def _recorded(parent: Mapping[str, Any] | None) -> tuple[set[tuple[str, str]], set[str]]:
        annotations = ((parent or {}).get("metadata") or {}).get("annotations") or {}
        gks = {parse_group_kind(t) for t in str(annotations.get(CONTAINS_GROUP_KINDS, "")).split(",") if t.strip()}
        namespaces = {n.strip() for n in str(annotations.get(ADDITIONAL_NAMESPACES, "")).split(",") if n.strip()}
        return gks, namespaces

    def members(
        self, index: Any = None, versions: Mapping[tuple[str, str], str] | None = None
    ) -> tuple[Inventory, dict[ObjectId, dict[str, Any]]]:
        """The previous inventory: live objects labelled part-of this set, one list per recorded group-kind.

        ``index`` (an ``apply.LiveIndex`` with this set's selector) shares the lists with the apply step;
        ``versions`` maps (group, kind) to the apiVersion to list with (from the new render).
        """
        gks, namespaces = self._recorded(self.parent())
        live: dict[ObjectId, dict[str, Any]] = {}
        for group, kind in sorted(gks):
            api_version = (versions or {}).get((group, kind)) or self._api_version(group, kind)
            if api_version is None:
                continue
            if index is not None:
                found = index.kind(api_version, kind, sorted(namespaces | {self.namespace}))
            else:
                found = {
                    ObjectId.of(i): i
                    for i in self.client.list(api_version, kind, None, label_selector=self.selector)["items"]
                }
            live.update(
                {
                    oid: obj
                    for oid, obj in found.items()
                    if ((obj.get("metadata") or {}).get("labels") or {}).get(PART_OF) == self.id
                }
            )
        return Inventory.of_objects(live.values()), live

    def _api_version(self, group: str, kind: str) -> str | None:
        """A served version of a group-kind absent from the render; None when the kind is gone (CRD removed)."""
        for version in ("v1", "v2", "v1beta1", "v1beta2", "v1alpha1"):
            api_version = f"{group}/{version}" if group else version
            try:
                self.client.resource(api_version, kind)
                return api_version
            except UnknownResource:
                continue
        return None

    def save(self, inventory: Inventory, *, dry_run: bool = False) -> dict[str, Any]:
        """Write the parent with the group-kinds and namespaces of ``inventory`` (created if missing)."""
        gks = ",".join(sorted(group_kind_text(g, k) for g, k in inventory.group_kinds()))
        extra = ",".join(sorted(inventory.namespaces() - {self.namespace}))
        parent: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": self.kind,
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {ID_LABEL: self.id},
                "annotations": {TOOLING: self.tooling, CONTAINS_GROUP_KINDS: gks, ADDITIONAL_NAMESPACES: extra},
            },
        }
        if self.kind == "Secret":
            parent["type"] = "Opaque"
        current: dict[str, Any] | None = self._parent if self._parent is not _UNREAD else self.parent()
        if current is not None:
            meta = current.get("metadata") or {}
            have = meta.get("annotations") or {}
            if (
                all(have.get(k) == v for k, v in parent["metadata"]["annotations"].items())
                and (meta.get("labels") or {}).get(ID_LABEL) == self.id
            ):
                return current  # unchanged: no write
        written: dict[str, Any] = self.client.apply(parent, field_manager="secretsync", force=True, dry_run=dry_run)
        if not dry_run:
            self._parent = written
        return written

    def widen(self, new: Inventory, previous: Inventory, *, dry_run: bool = False) -> None:
        """Record old and new kinds/namespaces together (before applying)."""
        self.save(Inventory([*previous.entries, *new.entries]), dry_run=dry_run)
