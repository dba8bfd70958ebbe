"""Resource types the emulator serves, and the discovery documents built from them.

A ``ResourceType`` is one entry of an ``APIResourceList`` (plural name, kind,
scope, verbs, short names, subresources). ``Registry`` holds the built-in types
and the types defined by stored ``CustomResourceDefinition`` objects, and answers
``/api``, ``/apis``, ``/apis/{group}`` and ``/apis/{group}/{version}`` the way the
real server's legacy (unaggregated) discovery does.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

__all__ = ["ResourceType", "Registry", "BUILTINS", "version_priority"]

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ResourceType:
    """One servable resource in one group/version."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    verbs: tuple = tuple(ALL_VERBS)
    short_names: tuple = ()
    categories: tuple = ()
    status: bool = False  # has the status subresource
    scale: bool = False
    generation: bool = False  # the server tracks metadata.generation for it
    crd: str | None = None  # name of the defining CRD, None for built-ins
    printer_columns: tuple = ()  # CRD additionalPrinterColumns (dicts) for Table output
    schema: dict | None = field(default=None, compare=False, hash=False)  # CRD openAPIV3Schema of this version
    extra_subresources: tuple = ()  # (name, kind, verbs) beyond status/scale

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> tuple[str, str]:
        return (self.group, self.plural)

    def discovery_entries(self) -> list[dict]:
        main = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            main["shortNames"] = list(self.short_names)
        if self.categories:
            main["categories"] = list(self.categories)
        main["storageVersionHash"] = _storage_hash(self)
        out = [main]
        if self.status:
            out.append(
                {
                    "name": f"{self.plural}/status",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        if self.scale:
            out.append(
                {
                    "name": f"{self.plural}/scale",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            )
        for name, kind, verbs in self.extra_subresources:
            entry = {
                "name": f"{self.plural}/{name}",
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": kind,
                "verbs": list(verbs),
            }
            if kind == "TokenRequest":
                entry.update(group="authentication.k8s.io", version="v1")
            out.append(entry)
        return out


def _storage_hash(rt: ResourceType) -> str:
    import base64
    import hashlib

    digest = hashlib.sha256(f"{rt.group}/{rt.version}/{rt.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _rt(
    group,
    version,
    plural,
    kind,
    namespaced,
    short=(),
    status=False,
    generation=False,
    verbs=ALL_VERBS,
    categories=(),
    scale=False,
    extra=(),
):
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        singular=kind.lower(),
        kind=kind,
        namespaced=namespaced,
        verbs=tuple(verbs),
        short_names=tuple(short),
        status=status,
        generation=generation,
        categories=tuple(categories),
        scale=scale,
        extra_subresources=tuple(extra),
    )


_NS_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
_CREATE_ONLY = ["create"]

BUILTINS: tuple[ResourceType, ...] = (
    _rt(
        "",
        "v1",
        "namespaces",
        "Namespace",
        False,
        ("ns",),
        status=True,
        verbs=_NS_VERBS,
        extra=(("finalize", "Namespace", ("update",)),),
    ),
    _rt("", "v1", "secrets", "Secret", True),
    _rt("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    _rt("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",), extra=(("token", "TokenRequest", ("create",)),)),
    _rt(
        "",
        "v1",
        "services",
        "Service",
        True,
        ("svc",),
        status=True,
        categories=("all",),
        extra=(("proxy", "ServiceProxyOptions", ("create", "delete", "get", "patch", "update")),),
    ),
    _rt("", "v1", "events", "Event", True, ("ev",)),
    _rt("", "v1", "pods", "Pod", True, ("po",), status=True, categories=("all",)),
    _rt(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        True,
        ("deploy",),
        status=True,
        generation=True,
        categories=("all",),
        scale=True,
    ),
    _rt("batch", "v1", "jobs", "Job", True, (), status=True, generation=True, categories=("all",)),
    _rt("coordination.k8s.io", "v1", "leases", "Lease", True),
    _rt("events.k8s.io", "v1", "events", "Event", True, ("ev",)),
    _rt(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        ("crd", "crds"),
        status=True,
        generation=True,
        categories=("api-extensions",),
    ),
    _rt("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    _rt("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    _rt("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _rt("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _rt("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False, verbs=_CREATE_ONLY),
    _rt("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False, verbs=_CREATE_ONLY),
    _rt("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", False, verbs=_CREATE_ONLY),
    _rt("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False, verbs=_CREATE_ONLY),
)

# Groups served at /api (the legacy core group) vs /apis; order follows the real server's /apis listing.
_GROUP_ORDER = [
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "batch",
    "rbac.authorization.k8s.io",
    "coordination.k8s.io",
    "apiextensions.k8s.io",
]


def version_priority(version: str) -> tuple:
    """Kubernetes version ordering: GA > beta > alpha, higher numbers first.

    As ``version.CompareKubeAwareVersionStrings`` in apimachinery orders served versions."""
    import re

    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (0, 0, 0, version)  # non-kube-like versions sort last, by name
    major, stage, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    stage_rank = {None: 3, "beta": 2, "alpha": 1}[stage]
    return (1, stage_rank, major, minor)


class Registry:
    """Built-in plus CRD-defined resource types, looked up by group/version/plural or kind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._crd_types: dict[str, list[ResourceType]] = {}  # CRD name -> its served versions
        self._types: list[ResourceType] = list(BUILTINS)

    # --- lookups ---
    def all(self) -> list[ResourceType]:
        return list(self._types)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        for rt in self._types:
            if rt.group == group and rt.version == version and rt.plural == plural:
                return rt
        return None

    def versions_of(self, group: str, plural: str) -> list[ResourceType]:
        return [rt for rt in self._types if rt.group == group and rt.plural == plural]

    def by_kind(self, group: str, kind: str) -> list[ResourceType]:
        return [rt for rt in self._types if rt.group == group and rt.kind == kind]

    def groups(self) -> dict[str, list[str]]:
        """group -> served versions, preferred first."""
        out: dict[str, list[str]] = {}
        for rt in self._types:
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        for _group, versions in out.items():
            versions.sort(key=version_priority, reverse=True)
        return out

    def group_version_exists(self, group: str, version: str) -> bool:
        return any(rt.group == group and rt.version == version for rt in self._types)

    # --- CRDs ---
    def set_crd(self, crd: dict) -> None:
        """(Re)define the types of one stored CRD object."""
        types = types_from_crd(crd)
        with self._lock:
            self._crd_types[crd["metadata"]["name"]] = types
            self._rebuild()

    def remove_crd(self, name: str) -> None:
        with self._lock:
            self._crd_types.pop(name, None)
            self._rebuild()

    def crd_names(self) -> list[str]:
        return list(self._crd_types)

    def _rebuild(self) -> None:
        types = list(BUILTINS)
        for crd_types in self._crd_types.values():
            types.extend(crd_types)
        self._types = types

    # --- discovery documents ---
    def api_versions(self, server_address: str) -> dict:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
        }

    def api_group(self, group: str) -> dict | None:
        versions = self.groups().get(group)
        if not versions or not group:
            return None
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": entries,
            "preferredVersion": entries[0],
        }

    def api_group_list(self) -> dict:
        groups = self.groups()
        names = [g for g in _GROUP_ORDER if g in groups]
        names += sorted(g for g in groups if g and g not in _GROUP_ORDER)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [self.api_group(g) for g in names]}

    def aggregated(self, core: bool) -> dict:
        """Aggregated discovery (``apidiscovery.k8s.io/v2 APIGroupDiscoveryList``) for ``/api`` or ``/apis``."""
        groups = self.groups()
        names = (
            [""]
            if core
            else [g for g in _GROUP_ORDER if g in groups] + sorted(g for g in groups if g and g not in _GROUP_ORDER)
        )
        items = []
        for group in names:
            versions = []
            for version in groups.get(group, []):
                resources = [
                    _aggregated_resource(rt) for rt in self._types if rt.group == group and rt.version == version
                ]
                versions.append({"version": version, "resources": resources, "freshness": "Current"})
            items.append({"metadata": {"name": group} if group else {}, "versions": versions})
        return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}

    def resource_list(self, group: str, version: str) -> dict | None:
        types = [rt for rt in self._types if rt.group == group and rt.version == version]
        if not types:
            return None
        resources = []
        for rt in types:
            resources.extend(rt.discovery_entries())
        gv = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


def _aggregated_resource(rt: ResourceType) -> dict:
    gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    entry = {
        "resource": rt.plural,
        "responseKind": gvk,
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    subresources = []
    for legacy in rt.discovery_entries()[1:]:
        sub = {
            "subresource": legacy["name"].split("/", 1)[1],
            "verbs": legacy["verbs"],
            "responseKind": {
                "group": legacy.get("group", rt.group),
                "version": legacy.get("version", rt.version),
                "kind": legacy["kind"],
            },
        }
        subresources.append(sub)
    if subresources:
        entry["subresources"] = subresources
    return entry


def types_from_crd(crd: dict) -> list[ResourceType]:
    """The resource types a (validated) CRD object defines: one per served version."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for v in spec.get("versions") or []:
        if not v.get("served", True):
            continue
        subresources = v.get("subresources") or {}
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        out.append(
            ResourceType(
                group=spec["group"],
                version=v["name"],
                plural=names["plural"],
                singular=names.get("singular") or names["kind"].lower(),
                kind=names["kind"],
                namespaced=spec.get("scope") == "Namespaced",
                verbs=tuple(ALL_VERBS),
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status="status" in subresources,
                scale="scale" in subresources,
                generation=True,
                crd=crd["metadata"]["name"],
                printer_columns=tuple(v.get("additionalPrinterColumns") or ()),
                schema=schema,
            )
        )
    return out
