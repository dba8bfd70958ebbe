"""Structure of the kinds the API emulator serves: what server-side apply and patches need.

A ``Schema`` answers, for a path inside an object, what kind of node sits there:
a list that is associative (``listType=map`` with its keys), a set, or atomic; a map
that is granular or atomic; the strategic-merge ``patchStrategy``/``patchMergeKey`` of
the field; and whether the kind has a ``status`` subresource.

Sources: the ``+listType``/``+listMapKey``/``+mapType``/``+structType`` markers and the
``patchStrategy``/``patchMergeKey`` struct tags of k8s.io/api (core/v1, apps/v1,
batch/v1, rbac/v1, coordination/v1, events/v1) and apiextensions/v1. Only fields whose
behaviour differs from the default are declared; everything else is "deduced" the way
structured-merge-diff treats untyped data: maps granular, lists atomic (and for strategic
merge patch, lists replaced). For CRDs the schema is read from the version's
``openAPIV3Schema`` (``x-kubernetes-list-type``, ``x-kubernetes-list-map-keys``,
``x-kubernetes-map-type``, ``x-kubernetes-preserve-unknown-fields``); untyped lists in
CRDs are atomic. CRDs carry no strategic-merge tags (the real server refuses
strategic merge patches for custom resources; callers fall back to merge semantics).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["Node", "Schema", "schema_for", "UNKNOWN", "OPEN", "BUILTIN_KINDS"]


@dataclass(frozen=True)
class Node:
    """One position in an object.

    ``type``: "map" (a struct or a map of values), "list", "scalar", or "unknown" (decided
    by the value found there: dict → granular map, list → atomic list, else scalar).
    ``fields``: named fields of a struct (None for a plain map or unknown); unnamed keys
    use ``values``. ``list_type``: "atomic", "set" or "map" (associative, ``list_keys``,
    with ``key_defaults`` for key fields the server defaults, e.g. protocol=TCP).
    ``map_type``: "granular" or "atomic". ``patch_strategy``/``patch_merge_key``: the
    strategic-merge tags of the field this node sits in. ``typed``: a Go struct of a
    built-in kind, whose every key is a named field (undeclared ones are typed structs
    too), unlike a map or a custom resource's untyped data.
    """

    type: str = "unknown"
    fields: Mapping[str, Node] | None = None
    values: Node | None = None
    items: Node | None = None
    list_type: str = "atomic"
    list_keys: tuple[str, ...] = ()
    key_defaults: Mapping[str, Any] = field(default_factory=dict)
    map_type: str = "granular"
    patch_strategy: str | None = None
    patch_merge_key: str | None = None
    typed: bool = False

    def child(self, name: str) -> Node:
        """The node of field/key ``name`` inside this map (UNKNOWN or OPEN when undeclared)."""
        if self.fields is not None and name in self.fields:
            return self.fields[name]
        if self.values is not None:
            return self.values
        return OPEN if self.typed else UNKNOWN

    def has_field(self, name: str) -> bool:
        """True when ``name`` is a named (struct) field here, not a key of a plain map."""
        return self.typed or (self.fields is not None and name in self.fields)

    def item(self) -> Node:
        """The node of this list's elements."""
        return self.items if self.items is not None else UNKNOWN

    def resolve(self, value: Any) -> str:
        """ "map", "list" or "scalar" for ``value`` at this node (the value decides for unknown)."""
        if self.type != "unknown":
            return self.type
        if isinstance(value, dict):
            return "map"
        if isinstance(value, list):
            return "list"
        return "scalar"

    def is_atomic(self, value: Any = None) -> bool:
        """True when the node is replaced as a whole by apply (scalar, atomic list or map)."""
        kind = self.resolve(value)
        if kind == "list":
            return self.type == "unknown" or self.list_type == "atomic"
        if kind == "map":
            return self.map_type == "atomic"
        return True

    def strategies(self) -> tuple[str, ...]:
        """The patchStrategy tag split on commas (e.g. ("merge", "retainKeys"))."""
        return tuple(s for s in (self.patch_strategy or "").split(",") if s)


UNKNOWN = Node()  # untyped data: maps of values, atomic lists
OPEN = Node(typed=True)  # an undeclared field of a built-in struct: a struct, atomic lists
_SCALAR = Node(type="scalar")


# --- building blocks ------------------------------------------------------------------


def _struct(atomic: bool = False, **fields: Node) -> Node:
    return Node(type="map", fields=dict(fields), map_type="atomic" if atomic else "granular", typed=True)


def _map(values: Node = _SCALAR, atomic: bool = False) -> Node:
    return Node(type="map", values=values, map_type="atomic" if atomic else "granular")


def _assoc(
    items: Node,
    keys: Sequence[str],
    merge_key: str | None = None,
    strategy: str | None = "merge",
    defaults: Mapping[str, Any] | None = None,
) -> Node:
    return Node(
        type="list",
        items=items,
        list_type="map",
        list_keys=tuple(keys),
        key_defaults=dict(defaults or {}),
        patch_strategy=strategy if merge_key else None,
        patch_merge_key=merge_key,
    )


def _set(items: Node = _SCALAR, smp_merge: bool = False) -> Node:
    return Node(type="list", items=items, list_type="set", patch_strategy="merge" if smp_merge else None)


def _atomic_list(items: Node = UNKNOWN, merge_key: str | None = None) -> Node:
    return Node(
        type="list",
        items=items,
        list_type="atomic",
        patch_strategy="merge" if merge_key else None,
        patch_merge_key=merge_key,
    )


def _tag(node: Node, strategy: str) -> Node:
    return replace(node, patch_strategy=strategy)


_ATOMIC_REF = _struct(atomic=True)  # ObjectReference, LocalObjectReference: +structType=atomic
_LABEL_SELECTOR = _struct(
    atomic=True,  # metav1.LabelSelector: +structType=atomic
    matchLabels=_map(),
    matchExpressions=_atomic_list(),
)
_CONDITIONS = _assoc(_struct(), ["type"], merge_key="type")

OBJECT_META = _struct(
    labels=_map(),
    annotations=_map(),
    ownerReferences=_assoc(_struct(), ["uid"], merge_key="uid"),
    finalizers=_set(smp_merge=True),
    managedFields=_atomic_list(),
)

_CONTAINER = _struct(
    command=_atomic_list(_SCALAR),
    args=_atomic_list(_SCALAR),
    ports=_assoc(_struct(), ["containerPort", "protocol"], merge_key="containerPort", defaults={"protocol": "TCP"}),
    env=_assoc(_struct(), ["name"], merge_key="name"),
    envFrom=_atomic_list(),
    volumeMounts=_assoc(_struct(), ["mountPath"], merge_key="mountPath"),
    volumeDevices=_assoc(_struct(), ["devicePath"], merge_key="devicePath"),
    resources=_struct(limits=_map(), requests=_map(), claims=_assoc(_struct(), ["name"], strategy=None)),
    resizePolicy=_atomic_list(),
)

_POD_SPEC = _struct(
    volumes=_assoc(_struct(), ["name"], merge_key="name", strategy="merge,retainKeys"),
    initContainers=_assoc(_CONTAINER, ["name"], merge_key="name"),
    containers=_assoc(_CONTAINER, ["name"], merge_key="name"),
    ephemeralContainers=_assoc(_CONTAINER, ["name"], merge_key="name"),
    imagePullSecrets=_assoc(_ATOMIC_REF, ["name"], merge_key="name"),
    hostAliases=_assoc(_struct(hostnames=_atomic_list(_SCALAR)), ["ip"], merge_key="ip"),
    tolerations=_atomic_list(),
    nodeSelector=_map(atomic=True),
    topologySpreadConstraints=_assoc(
        _struct(labelSelector=_LABEL_SELECTOR), ["topologyKey", "whenUnsatisfiable"], merge_key="topologyKey"
    ),
    schedulingGates=_assoc(_struct(), ["name"], merge_key="name"),
    resourceClaims=_assoc(_struct(), ["name"], merge_key="name", strategy="merge,retainKeys"),
    readinessGates=_atomic_list(),
    overhead=_map(),
)

_POD_TEMPLATE = _struct(metadata=OBJECT_META, spec=_POD_SPEC)


def _object(spec: Node | None = None, status: Node | None = None, typed: bool = True, **top: Node) -> Node:
    fields: dict[str, Node] = {"apiVersion": _SCALAR, "kind": _SCALAR, "metadata": OBJECT_META}
    if spec is not None:
        fields["spec"] = spec
    if status is not None:
        fields["status"] = status
    fields.update(top)
    return Node(type="map", fields=fields, values=None if typed else UNKNOWN, typed=typed)


_POD = _object(spec=_POD_SPEC, status=_struct(conditions=_CONDITIONS))
_POD_TEMPLATE_OBJECT = _object(template=_POD_TEMPLATE)
_DEPLOYMENT = _object(
    spec=_struct(selector=_LABEL_SELECTOR, template=_POD_TEMPLATE, strategy=_tag(_struct(), "retainKeys")),
    status=_struct(conditions=_CONDITIONS),
)
_JOB = _object(
    spec=_struct(
        selector=_LABEL_SELECTOR,
        template=_POD_TEMPLATE,
        podFailurePolicy=_struct(rules=_atomic_list()),
        successPolicy=_struct(rules=_atomic_list()),
    ),
    status=_struct(conditions=_atomic_list(merge_key="type")),
)
_SERVICE = _object(
    spec=_struct(
        ports=_assoc(_struct(), ["port", "protocol"], merge_key="port", defaults={"protocol": "TCP"}),
        selector=_map(atomic=True),
        clusterIPs=_atomic_list(_SCALAR),
        externalIPs=_atomic_list(_SCALAR),
        ipFamilies=_atomic_list(_SCALAR),
        loadBalancerSourceRanges=_atomic_list(_SCALAR),
    ),
    status=_struct(conditions=_CONDITIONS, loadBalancer=_struct(ingress=_atomic_list())),
)
_SERVICE_ACCOUNT = _object(
    secrets=_assoc(_ATOMIC_REF, ["name"], merge_key="name"),
    imagePullSecrets=_atomic_list(_ATOMIC_REF),
)
_NAMESPACE = _object(spec=_struct(finalizers=_atomic_list(_SCALAR)), status=_struct(conditions=_CONDITIONS))
_SECRET = _object(data=_map(), stringData=_map())
_CONFIGMAP = _object(data=_map(), binaryData=_map())
_LEASE = _object(spec=_struct())
_EVENT_V1 = _object(involvedObject=_ATOMIC_REF, related=_ATOMIC_REF, source=_struct(), series=_struct())
_EVENT_EVENTS = _object(regarding=_ATOMIC_REF, related=_ATOMIC_REF, series=_struct(), deprecatedSource=_struct())
_ROLE = _object(rules=_atomic_list())
_CLUSTER_ROLE = _object(rules=_atomic_list(), aggregationRule=_struct(clusterRoleSelectors=_atomic_list()))
_BINDING = _object(subjects=_atomic_list(), roleRef=_struct(atomic=True))
_CRD = _object(
    spec=_struct(
        versions=_atomic_list(), names=_struct(shortNames=_atomic_list(_SCALAR), categories=_atomic_list(_SCALAR))
    ),
    status=_struct(
        conditions=_assoc(_struct(), ["type"], strategy=None),
        acceptedNames=_struct(shortNames=_atomic_list(_SCALAR), categories=_atomic_list(_SCALAR)),
        storedVersions=_atomic_list(_SCALAR),
    ),
)
_TOKEN_REVIEW = _object(spec=_struct(audiences=_atomic_list(_SCALAR)), status=_struct())

# The typed zero value of each kind as the server sees it before a create: non-pointer
# structs are present as {} and non-omitempty slices as null, so a create records them as
# changed but not as added (no "." entry), exactly like the real server.
_ZERO_POD_TEMPLATE = {"metadata": {}, "spec": {"containers": None}}
_ZERO: dict[str, dict[str, Any]] = {
    "Namespace": {"metadata": {}, "spec": {}, "status": {}},
    "Service": {"metadata": {}, "spec": {}, "status": {"loadBalancer": {}}},
    "Pod": {"metadata": {}, "spec": {"containers": None}, "status": {}},
    "PodTemplate": {"metadata": {}, "template": _ZERO_POD_TEMPLATE},
    "Deployment": {"metadata": {}, "spec": {"template": _ZERO_POD_TEMPLATE, "strategy": {}}, "status": {}},
    "Job": {"metadata": {}, "spec": {"template": _ZERO_POD_TEMPLATE}, "status": {}},
    "Lease": {"metadata": {}, "spec": {}},
    "CustomResourceDefinition": {
        "metadata": {},
        "spec": {"names": {}, "versions": None},
        "status": {"acceptedNames": {}, "conditions": None, "storedVersions": None},
    },
    "Role": {"metadata": {}, "rules": None},
    "ClusterRole": {"metadata": {}, "rules": None},
    "RoleBinding": {"metadata": {}, "roleRef": {}},
    "ClusterRoleBinding": {"metadata": {}, "roleRef": {}},
    "TokenReview": {"metadata": {}, "spec": {}, "status": {"user": {}}},
}

# (group, kind) → (root node, has status subresource)
BUILTIN_KINDS: dict[tuple[str, str], tuple[Node, bool]] = {
    ("", "Namespace"): (_NAMESPACE, True),
    ("", "Secret"): (_SECRET, False),
    ("", "ConfigMap"): (_CONFIGMAP, False),
    ("", "ServiceAccount"): (_SERVICE_ACCOUNT, False),
    ("", "Service"): (_SERVICE, True),
    ("", "Event"): (_EVENT_V1, False),
    ("", "Pod"): (_POD, True),
    ("", "PodTemplate"): (_POD_TEMPLATE_OBJECT, False),
    ("events.k8s.io", "Event"): (_EVENT_EVENTS, False),
    ("apps", "Deployment"): (_DEPLOYMENT, True),
    ("batch", "Job"): (_JOB, True),
    ("coordination.k8s.io", "Lease"): (_LEASE, False),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): (_CRD, True),
    ("rbac.authorization.k8s.io", "Role"): (_ROLE, False),
    ("rbac.authorization.k8s.io", "ClusterRole"): (_CLUSTER_ROLE, False),
    ("rbac.authorization.k8s.io", "RoleBinding"): (_BINDING, False),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): (_BINDING, False),
    ("authentication.k8s.io", "TokenReview"): (_TOKEN_REVIEW, False),
}


# --- CRD schemas ------------------------------------------------------------------------


def _from_openapi(props: Mapping[str, Any] | None, top: bool = False) -> Node:
    """A Node from an OpenAPI v3 schema as a CRD declares it."""
    if not isinstance(props, Mapping):
        return UNKNOWN
    if props.get("x-kubernetes-int-or-string"):
        return _SCALAR
    kind = props.get("type")
    if kind == "array":
        items = _from_openapi(props.get("items"))
        list_type = props.get("x-kubernetes-list-type", "atomic")
        keys = tuple(props.get("x-kubernetes-list-map-keys") or ())
        defaults: dict[str, Any] = {}
        item_props = (props.get("items") or {}).get("properties") or {}
        for key in keys:
            if isinstance(item_props.get(key), Mapping) and "default" in item_props[key]:
                defaults[key] = item_props[key]["default"]
        if list_type not in ("atomic", "set", "map"):
            list_type = "atomic"
        return Node(
            type="list",
            items=items,
            list_type=list_type,
            list_keys=keys if list_type == "map" else (),
            key_defaults=defaults,
        )
    if kind == "object" or "properties" in props or "additionalProperties" in props:
        atomic = props.get("x-kubernetes-map-type") == "atomic"
        fields = {name: _from_openapi(sub) for name, sub in (props.get("properties") or {}).items()}
        additional = props.get("additionalProperties")
        if isinstance(additional, Mapping):
            values = _from_openapi(additional)
        else:
            values = UNKNOWN
        if top:
            fields.setdefault("apiVersion", _SCALAR)
            fields.setdefault("kind", _SCALAR)
            fields["metadata"] = OBJECT_META
        return Node(
            type="map",
            fields=fields if (fields or not isinstance(additional, Mapping)) else None,
            values=values,
            map_type="atomic" if atomic else "granular",
        )
    if kind in ("string", "integer", "number", "boolean"):
        return _SCALAR
    return UNKNOWN


def _crd_version(crd: Mapping[str, Any], version: str) -> Mapping[str, Any]:
    for entry in (crd.get("spec") or {}).get("versions") or []:
        if entry.get("name") == version:
            return entry
    return {}


# --- the schema object --------------------------------------------------------------------

PathElement = Any  # a field name (str) descends into a map; anything else (int, dict) into a list item


@dataclass(frozen=True)
class Schema:
    """Structure of one kind at one version; see the module docstring."""

    group: str
    version: str
    kind: str
    root: Node
    status_subresource: bool = False
    builtin: bool = True

    def zero_object(self) -> dict[str, Any]:
        """The object a create starts from (the kind's typed zero value; {} for custom resources)."""
        return copy.deepcopy(_ZERO.get(self.kind, {"metadata": {}})) if self.builtin else {}

    def node(self, path: Iterable[PathElement] = ()) -> Node:
        """The node at ``path`` (field names for maps, any non-str element for a list item)."""
        node = self.root
        for part in path:
            node = node.child(part) if isinstance(part, str) else node.item()
        return node

    def list_type(self, path: Iterable[PathElement]) -> str:
        """ "map" (associative), "set" or "atomic" for the list at ``path``."""
        node = self.node(path)
        return node.list_type if node.type == "list" else "atomic"

    def list_keys(self, path: Iterable[PathElement]) -> tuple[str, ...]:
        """Key fields of the associative list at ``path`` (empty otherwise)."""
        return self.node(path).list_keys

    def map_type(self, path: Iterable[PathElement]) -> str:
        """ "granular" or "atomic" for the map at ``path``."""
        return self.node(path).map_type

    def patch_strategy(self, path: Iterable[PathElement]) -> str | None:
        """The strategic-merge patchStrategy tag of the field at ``path`` (None if untagged)."""
        return self.node(path).patch_strategy

    def patch_merge_key(self, path: Iterable[PathElement]) -> str | None:
        """The strategic-merge patchMergeKey tag of the list at ``path`` (None if untagged)."""
        return self.node(path).patch_merge_key


def schema_for(group: str, version: str, kind: str, crd: Mapping[str, Any] | None = None) -> Schema:
    """The Schema of ``kind`` in ``group``/``version``.

    Built-in kinds come from the table above; a kind served by a CRD takes ``crd`` (the
    CustomResourceDefinition object) and reads that version's schema and subresources.
    Unknown kinds without a CRD get a fully deduced schema (maps granular, lists atomic).
    """
    if crd is not None:
        meta = crd.get("metadata") or {}
        cache_key = (group, version, kind, meta.get("uid"), meta.get("resourceVersion"))
        if cache_key[3] and cache_key[4] and cache_key in _CRD_SCHEMAS:
            return _CRD_SCHEMAS[cache_key]
        schema = _crd_schema(group, version, kind, crd)
        if cache_key[3] and cache_key[4]:
            if len(_CRD_SCHEMAS) >= 256:
                _CRD_SCHEMAS.clear()
            _CRD_SCHEMAS[cache_key] = schema
        return schema
    found = BUILTIN_KINDS.get((group, kind))
    if found is None:
        return Schema(group, version, kind, _object(typed=False), status_subresource=False, builtin=False)
    root, status = found
    return Schema(group, version, kind, root, status_subresource=status, builtin=True)


# CRD schemas by (group, version, kind, CRD uid, CRD resourceVersion): a stored CRD is
# immutable at a given resourceVersion, so its parsed schema can be reused.
_CRD_SCHEMAS: dict[tuple, Schema] = {}


def _crd_schema(group: str, version: str, kind: str, crd: Mapping[str, Any]) -> Schema:
    entry = _crd_version(crd, version)
    spec = crd.get("spec") or {}
    openapi = (entry.get("schema") or {}).get("openAPIV3Schema") or (spec.get("validation") or {}).get(
        "openAPIV3Schema"
    )
    root = _from_openapi(openapi, top=True) if openapi else _object(typed=False)
    if root.type != "map":
        root = _object(typed=False)
    subresources = entry.get("subresources") or spec.get("subresources") or {}
    return Schema(group, version, kind, root, status_subresource="status" in subresources, builtin=False)
