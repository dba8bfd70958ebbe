"""Validation rules of the real API server that clients depend on, with its error texts.

Object names (DNS-1123 subdomain or label, DNS-1035 label for Services, path
segments for RBAC), label keys and values, Secret/ConfigMap data keys, and CRD
definitions. Each check returns ``(reason, field, message)`` causes in the shape
of apimachinery's ``field.ErrorList`` (``status.invalid`` turns them into a 422).
"""

from __future__ import annotations

import re

__all__ = ["name_causes", "metadata_causes", "data_key_causes", "crd_causes", "Cause"]

Cause = tuple[str, str, str]  # (reason, field, message)

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + ")*"
_DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_CONFIG_KEY = "[-._a-zA-Z0-9]+"

MSG_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    f"validation is '{_DNS1123_SUBDOMAIN}')"
)
MSG_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    f"'{_DNS1123_LABEL}')"
)
MSG_DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    f"validation is '{_DNS1035_LABEL}')"
)


def _invalid(field: str, value: str, message: str) -> Cause:
    return ("FieldValueInvalid", field, f'Invalid value: "{value}": {message}')


def name_causes(name: str, rule: str, field: str = "metadata.name") -> list[Cause]:
    """``rule`` is ``subdomain``, ``label``, ``dns1035`` or ``path``."""
    if rule == "path":
        if name in (".", ".."):
            return [_invalid(field, name, f"may not be '{name}'")]
        for bad in ("/", "%"):
            if bad in name:
                return [_invalid(field, name, f"may not contain '{bad}'")]
        return []
    pattern, message, limit = {
        "subdomain": (_DNS1123_SUBDOMAIN, MSG_SUBDOMAIN, 253),
        "label": (_DNS1123_LABEL, MSG_LABEL, 63),
        "dns1035": (_DNS1035_LABEL, MSG_DNS1035, 63),
    }[rule]
    causes = []
    if len(name) > limit:
        causes.append(_invalid(field, name, f"must be no more than {limit} characters"))
    if not re.fullmatch(pattern, name):
        causes.append(_invalid(field, name, message))
    return causes


def _qualified_name_causes(key: str, field: str) -> list[Cause]:
    prefix, _, name = key.rpartition("/")
    causes = []
    if "/" in key and not prefix:
        return [_invalid(field, key, "prefix part must be non-empty")]
    if prefix:
        if len(prefix) > 253 or not re.fullmatch(_DNS1123_SUBDOMAIN, prefix):
            causes.append(_invalid(field, key, "prefix part " + MSG_SUBDOMAIN))
    if not name or len(name) > 63 or not re.fullmatch(_QUALIFIED_NAME, name):
        causes.append(
            _invalid(
                field,
                key,
                "name part must consist of alphanumeric characters, '-', '_' or '.', "
                "and must start and end with an alphanumeric character (e.g. 'MyName',  "
                "or 'my.name',  or '123-abc', regex used for validation is "
                f"'{_QUALIFIED_NAME}')",
            )
        )
    return causes


def metadata_causes(meta: dict) -> list[Cause]:
    """Labels and annotations must be maps of strings with valid keys (label values limited too)."""
    causes: list[Cause] = []
    for which in ("labels", "annotations"):
        items = meta.get(which)
        if items is None:
            continue
        if not isinstance(items, dict):
            causes.append(("FieldValueInvalid", f"metadata.{which}", "Invalid value: must be a map of strings"))
            continue
        for key, value in items.items():
            causes.extend(_qualified_name_causes(key, f"metadata.{which}"))
            if not isinstance(value, str):
                causes.append(("FieldValueInvalid", f"metadata.{which}", f"Invalid value: {key}: must be a string"))
            elif which == "labels" and (len(value) > 63 or not re.fullmatch(_LABEL_VALUE, value)):
                causes.append(
                    _invalid(
                        "metadata.labels",
                        value,
                        "a valid label must be an empty string or consist of alphanumeric "
                        "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                        f"character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
                        f"validation is '{_LABEL_VALUE}')",
                    )
                )
    return causes


def data_key_causes(keys, field: str) -> list[Cause]:
    """Secret/ConfigMap keys: ``[-._a-zA-Z0-9]+``, at most 253 characters (``IsConfigMapKey``)."""
    causes = []
    for key in keys:
        if len(key) > 253 or not re.fullmatch(_CONFIG_KEY, key):
            causes.append(
                _invalid(
                    f"{field}[{key}]",
                    key,
                    "a valid config key must consist of alphanumeric "
                    "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', "
                    f"regex used for validation is '{_CONFIG_KEY}')",
                )
            )
    return causes


def crd_causes(crd: dict) -> list[Cause]:
    """The parts of CRD validation that decide whether the emulator can serve it."""
    causes: list[Cause] = []
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return [("FieldValueRequired", "spec", "Required value")]
    group = spec.get("group") or ""
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    plural = names.get("plural") or ""
    if not group:
        causes.append(("FieldValueRequired", "spec.group", "Required value"))
    elif "." not in group:
        causes.append(_invalid("spec.group", group, "should be a domain with at least one dot"))
    if not plural:
        causes.append(("FieldValueRequired", "spec.names.plural", "Required value"))
    if not names.get("kind"):
        causes.append(("FieldValueRequired", "spec.names.kind", "Required value"))
    if not names.get("listKind") and names.get("kind"):
        names["listKind"] = names["kind"] + "List"
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(
            (
                "FieldValueNotSupported",
                "spec.scope",
                f'Unsupported value: "{spec.get("scope") or ""}": supported values: "Cluster", "Namespaced"',
            )
        )
    name = (crd.get("metadata") or {}).get("name", "")
    if plural and group and name != f"{plural}.{group}":
        causes.append(_invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        causes.append(
            (
                "FieldValueInvalid",
                "spec.versions",
                "Invalid value: must have exactly one version marked as storage version",
            )
        )
    else:
        storage = [v for v in versions if isinstance(v, dict) and v.get("storage")]
        if len(storage) != 1:
            causes.append(
                (
                    "FieldValueInvalid",
                    "spec.versions",
                    "Invalid value: must have exactly one version marked as storage version",
                )
            )
        for i, v in enumerate(versions):
            if not isinstance(v, dict) or not v.get("name"):
                causes.append(("FieldValueRequired", f"spec.versions[{i}].name", "Required value"))
            elif not (v.get("schema") or {}).get("openAPIV3Schema"):
                causes.append(
                    (
                        "FieldValueRequired",
                        f"spec.versions[{i}].schema.openAPIV3Schema",
                        "Required value: schemas are required",
                    )
                )
    return causes
