"""Kubernetes objects as data: identity (``ObjectId``), scope, sync waves and apply order.

Standard library only (and the base modules): objects are plain dicts as the manifest
loader returns them. ``ManifestError`` lives here because a wave annotation that is not an
integer makes the object's manifest invalid; ``secretsync.manifests`` raises it for files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from secretsync.errors import SecretsyncError

__all__ = [
    "ManifestError",
    "ObjectId",
    "group_of",
    "is_cluster_scoped",
    "sync_wave",
    "apply_order_key",
    "sort_for_apply",
    "SYNC_WAVE_ANNOTATIONS",
]


class ManifestError(SecretsyncError):
    """A manifest file or document is invalid; the message names the file and document index (and
    the object, ``obj``, when its kind and name could be read).

    ``cause`` says which rule the input broke, for callers that word it their own way: ``size``,
    ``encoding``, ``json`` or ``yaml`` (syntax, with ``line`` and ``column`` when known), ``depth``,
    ``aliases`` (expansion past the node cap, or a recursive alias) or ``refused`` (a typing or
    duplicate-key rule); "" when raised for an object rather than by the loader. ``detail`` is
    the parser's own words for a syntax error (never a quote of the input)."""

    reference = "invalid-manifest"

    def __init__(
        self,
        message: str,
        *,
        file: str = "",
        index: int | None = None,
        hint: str | None = None,
        obj: str = "",
        cause: str = "",
        line: int | None = None,
        column: int | None = None,
        detail: str = "",
    ) -> None:
        where = file if index is None else f"{file} (document {index})"
        where = f"{where} {obj}" if where and obj else where or obj
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.file = file
        self.index = index
        self.reason = message
        self.cause = cause
        self.line, self.column, self.detail = line, column, detail


# --- identity ---------------------------------------------------------------------------------


def group_of(api_version: str) -> str:
    """``apps/v1`` → ``apps``; ``v1`` → ``""`` (the core group)."""
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


@dataclass(frozen=True, order=True)
class ObjectId:
    """Identity of an object: (group, kind, namespace, name); version-independent.

    ``str(id)`` is for people (``Deployment.apps/demo/web``); ``id.key`` is the stable
    inventory form Flux uses (``demo_web_apps_Deployment``), parsed back by ``from_key``.
    """

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectId:
        metadata = obj.get("metadata") or {}
        return cls(
            group_of(str(obj.get("apiVersion", ""))),
            str(obj.get("kind", "")),
            str(metadata.get("namespace") or ""),
            str(metadata.get("name", "")),
        )

    @property
    def key(self) -> str:
        return f"{self.namespace}_{self.name}_{self.group}_{self.kind}"

    @classmethod
    def from_key(cls, key: str) -> ObjectId:
        parts = key.split("_")
        if len(parts) != 4 or not parts[1] or not parts[3]:
            raise ValueError("object key must be <namespace>_<name>_<group>_<kind>")
        namespace, name, group, kind = parts
        return cls(group, kind, namespace, name)

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind}/{self.namespace}/{self.name}" if self.namespace else f"{kind}/{self.name}"


# --- scope and ordering -----------------------------------------------------------------------

_CLUSTER_SCOPED = {
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("", "ComponentStatus"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("networking.k8s.io", "IngressClass"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("node.k8s.io", "RuntimeClass"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("policy", "PodSecurityPolicy"),
}


def is_cluster_scoped(obj: Mapping[str, Any], crds: Iterable[Mapping[str, Any]] = ()) -> bool:
    """Whether ``obj`` is cluster-scoped: a built-in cluster kind, or a CR whose CRD (given) says Cluster."""
    oid = ObjectId.of(obj)
    if (oid.group, oid.kind) in _CLUSTER_SCOPED:
        return True
    for crd in crds:
        spec = crd.get("spec") or {}
        if spec.get("group") == oid.group and (spec.get("names") or {}).get("kind") == oid.kind:
            return spec.get("scope") == "Cluster"
    return False


# Stage 0 is applied (and waited on) before anything else, as Flux's ApplyAllStaged does.
_STAGE0 = ["CustomResourceDefinition", "Namespace", "ClusterRole", "ClusterRoleBinding"]
# Then kinds in this order (Flux's ssa sort order, SealedSecret beside Secret); unknown kinds after,
# admission webhooks last.
_KIND_ORDER = [
    "ResourceQuota",
    "StorageClass",
    "IngressClass",
    "PriorityClass",
    "RuntimeClass",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Secret",
    "SealedSecret",
    "Service",
    "LimitRange",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "PodDisruptionBudget",
    "Ingress",
]
_KIND_LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]
SYNC_WAVE_ANNOTATIONS = ("secretsync.io/sync-wave", "argocd.argoproj.io/sync-wave")


def sync_wave(obj: Mapping[str, Any]) -> int:
    """The object's wave: ``secretsync.io/sync-wave``, else Argo CD's annotation, else 0."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    for name in SYNC_WAVE_ANNOTATIONS:
        if name in annotations:
            text = str(annotations[name]).strip()
            try:
                return int(text, 10)
            except ValueError:
                raise ManifestError(
                    f"{ObjectId.of(obj)}: annotation {name} must be an integer",
                    hint="use a whole number such as -1, 0 or 5",
                ) from None
    return 0


def apply_order_key(obj: Mapping[str, Any]) -> tuple[int, int, int, str, str, str, str]:
    """Sort key: (stage, wave, kind rank, kind, namespace, name)."""
    kind = str(obj.get("kind", ""))
    oid = ObjectId.of(obj)
    if kind in _STAGE0:
        stage, rank = 0, _STAGE0.index(kind)
    else:
        stage = 1
        if kind in _KIND_ORDER:
            rank = _KIND_ORDER.index(kind)
        elif kind in _KIND_LAST:
            rank = len(_KIND_ORDER) + 1 + _KIND_LAST.index(kind)
        else:
            rank = len(_KIND_ORDER)
    return (stage, sync_wave(obj), rank, kind, oid.group, oid.namespace, oid.name)


def sort_for_apply(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Objects in apply order: CRDs, Namespaces, cluster RBAC first, then by wave and kind order."""
    return sorted(objects, key=apply_order_key)
