"""Unknown-field handling: ``fieldValidation=Strict|Warn|Ignore`` and pruning.

The real server drops fields its types do not know (Go structs for built-in
kinds, structural-schema pruning for custom resources). With ``Strict`` (what
kubectl sends) an unknown field is a 400 ``strict decoding error``; with
``Warn`` it becomes a ``Warning`` header; with ``Ignore`` it is silently
dropped. Built-in kinds are checked at the top level and in ``metadata``; custom
resources against their CRD's ``openAPIV3Schema`` (honouring
``x-kubernetes-preserve-unknown-fields`` and ``additionalProperties``).
"""

from __future__ import annotations

from secretsync_emulator import status as st
from secretsync_emulator.registry import ResourceType

__all__ = ["check", "METADATA_FIELDS"]

METADATA_FIELDS = {
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
}
_TYPE = {"apiVersion", "kind", "metadata"}
_TOP_LEVEL = {
    ("", "Secret"): {"data", "stringData", "type", "immutable"},
    ("", "ConfigMap"): {"data", "binaryData", "immutable"},
    ("", "Namespace"): {"spec", "status"},
    ("", "ServiceAccount"): {"secrets", "imagePullSecrets", "automountServiceAccountToken"},
    ("", "Service"): {"spec", "status"},
    ("", "Pod"): {"spec", "status"},
    ("apps", "Deployment"): {"spec", "status"},
    ("batch", "Job"): {"spec", "status"},
    ("coordination.k8s.io", "Lease"): {"spec"},
    ("apiextensions.k8s.io", "CustomResourceDefinition"): {"spec", "status"},
    ("rbac.authorization.k8s.io", "Role"): {"rules"},
    ("rbac.authorization.k8s.io", "ClusterRole"): {"rules", "aggregationRule"},
    ("rbac.authorization.k8s.io", "RoleBinding"): {"subjects", "roleRef"},
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): {"subjects", "roleRef"},
}


def _prune_schema(value, schema: dict, path: str, unknown: list[str]) -> None:
    if not isinstance(schema, dict):
        return
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key in list(value):
            child = f"{path}.{key}" if path else key
            if key in props:
                _prune_schema(value[key], props[key], child, unknown)
            elif isinstance(additional, dict):
                _prune_schema(value[key], additional, child, unknown)
            elif additional is True or preserve or schema.get("x-kubernetes-embedded-resource"):
                continue
            else:
                unknown.append(child)
                del value[key]
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _prune_schema(item, schema["items"], f"{path}[{i}]", unknown)


def check(api, rt: ResourceType, obj: dict, directive: str) -> list[str]:
    """Prune unknown fields of ``obj`` in place; raise 400 (Strict) or return warnings (Warn)."""
    unknown: list[str] = []
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        for key in list(meta):
            if key not in METADATA_FIELDS:
                unknown.append(f"metadata.{key}")
                del meta[key]
    if rt.crd:
        schema = rt.schema or {}
        for key in list(obj):
            if key in _TYPE:
                continue
            props = schema.get("properties") or {}
            if key in props:
                _prune_schema(obj[key], props[key], key, unknown)
            elif not schema.get("x-kubernetes-preserve-unknown-fields"):
                unknown.append(key)
                del obj[key]
    else:
        allowed = _TOP_LEVEL.get((rt.group, rt.kind))
        if allowed is not None:
            for key in list(obj):
                if key not in allowed and key not in _TYPE:
                    unknown.append(key)
                    del obj[key]
    if not unknown:
        return []
    messages = [f'unknown field "{f}"' for f in unknown]
    if directive == "Strict":
        # The decoder fails first, so the text is transformDecodeError's: "<Kind> in version ... cannot be
        # handled as a <Kind>: strict decoding error: unknown field ...".
        raise st.bad_request(
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
            f"strict decoding error: " + ", ".join(messages)
        )
    if directive == "Warn":
        return messages
    return []
