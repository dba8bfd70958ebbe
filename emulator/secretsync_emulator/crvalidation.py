"""Custom resources against their CRD's structural schema: defaults, null pruning, value validation.

What the apiextensions server does to a custom resource before storing it, in
order: drop ``null`` where the schema is not ``nullable``, apply ``default``
values to absent properties, then validate (``type``, ``required``,
``enum``, ``minimum``/``maximum``, ``minLength``/``maxLength``,
``minItems``/``maxItems``, ``pattern``, ``x-kubernetes-int-or-string``). Causes
use the texts of kube-openapi's validator (``spec.size in body must be of
type integer: "x"``) in field.ErrorList form. Not covered: CEL
(``x-kubernetes-validations``), ``format``, ``oneOf``/``anyOf``/``allOf``/``not``.
Pruning of unknown fields is in ``fieldvalidation.py``.
"""

from __future__ import annotations

import copy
import json
import re

__all__ = ["apply_defaults", "validate"]

_SKIP_TOP = {"apiVersion", "kind", "metadata"}


def _go(value) -> str:
    """A value as the validator prints it (%v of the decoded JSON, strings quoted)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


_PYTHON_TYPES = {"string": str, "boolean": bool, "object": dict, "array": list}


def _type_ok(value, wanted: str) -> bool:
    if isinstance(value, bool):
        return wanted == "boolean"
    if wanted == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if wanted == "number":
        return isinstance(value, (int, float))
    python_type = _PYTHON_TYPES.get(wanted)
    return python_type is None or isinstance(value, python_type)


def _default(value, schema: dict):
    """Fill absent properties that have defaults, drop non-nullable nulls (in place); returns the value."""
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key in list(value):
            sub = props.get(key) or (
                schema.get("additionalProperties") if isinstance(schema.get("additionalProperties"), dict) else None
            )
            if value[key] is None and sub is not None and not sub.get("nullable"):
                del value[key]
            elif sub is not None:
                value[key] = _default(value[key], sub)
        for key, sub in props.items():
            if key not in value and isinstance(sub, dict) and "default" in sub:
                value[key] = _default(copy.deepcopy(sub["default"]), sub)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            value[i] = _default(item, schema["items"])
    return value


def _validate(value, schema: dict, path: str, causes: list) -> None:
    if not isinstance(schema, dict):
        return
    if value is None:
        if not schema.get("nullable") and schema.get("type"):
            causes.append(
                (
                    "FieldValueInvalid",
                    path,
                    f'Invalid value: "null": {path} in body must be of type {schema["type"]}: "null"',
                )
            )
        return
    wanted = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        if not (isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))):
            causes.append(
                (
                    "FieldValueInvalid",
                    path,
                    f"Invalid value: {_go(value)}: {path} in body must be of type integer,string: {_go(value)}",
                )
            )
            return
    elif wanted and not _type_ok(value, wanted):
        causes.append(
            (
                "FieldValueInvalid",
                path,
                f"Invalid value: {_go(value)}: {path} in body must be of type {wanted}: {_go(value)}",
            )
        )
        return
    if "enum" in schema and value not in schema["enum"]:
        supported = ", ".join(_go(v) for v in schema["enum"])
        causes.append(
            ("FieldValueNotSupported", path, f"Unsupported value: {_go(value)}: supported values: {supported}")
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            causes.append(
                (
                    "FieldValueInvalid",
                    path,
                    f"Invalid value: {_go(value)}: {path} in body should be "
                    f"greater than or equal to {_go(schema['minimum'])}",
                )
            )
        if "maximum" in schema and value > schema["maximum"]:
            causes.append(
                (
                    "FieldValueInvalid",
                    path,
                    f"Invalid value: {_go(value)}: {path} in body should be "
                    f"less than or equal to {_go(schema['maximum'])}",
                )
            )
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            causes.append(("FieldValueTooLong", path, f"Too long: may not be more than {schema['maxLength']} bytes"))
        if "minLength" in schema and len(value) < schema["minLength"]:
            causes.append(
                (
                    "FieldValueInvalid",
                    path,
                    f"Invalid value: {_go(value)}: {path} in body should be at least {schema['minLength']} chars long",
                )
            )
        if "pattern" in schema:
            try:
                matched = re.search(schema["pattern"], value) is not None
            except re.error:
                matched = True
            if not matched:
                causes.append(
                    (
                        "FieldValueInvalid",
                        path,
                        f"Invalid value: {_go(value)}: {path} in body should match '{schema['pattern']}'",
                    )
                )
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            causes.append(
                ("FieldValueTooMany", path, f"Too many: {len(value)}: must have at most {schema['maxItems']} items")
            )
        if "minItems" in schema and len(value) < schema["minItems"]:
            causes.append(
                (
                    "FieldValueInvalid",
                    path,
                    f"Invalid value: {len(value)}: {path} in body should have at least {schema['minItems']} items",
                )
            )
        if isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                _validate(item, schema["items"], f"{path}[{i}]", causes)
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                causes.append(("FieldValueRequired", f"{path}.{name}" if path else name, "Required value"))
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            if path == "" and key in _SKIP_TOP:
                continue
            child = f"{path}.{key}" if path else key
            if key in props:
                _validate(item, props[key], child, causes)
            elif isinstance(additional, dict):
                _validate(item, additional, child, causes)


def _top(schema: dict) -> dict:
    """The schema without apiVersion/kind/metadata (the server owns and checks those itself)."""
    return {
        **schema,
        "properties": {k: v for k, v in (schema.get("properties") or {}).items() if k not in _SKIP_TOP},
        "required": [r for r in schema.get("required") or [] if r not in _SKIP_TOP],
    }


def apply_defaults(obj: dict, schema: dict | None) -> None:
    """Drop non-nullable nulls and fill schema defaults, in place (before generation and validation)."""
    if not schema:
        return
    view = {k: v for k, v in obj.items() if k not in _SKIP_TOP}
    _default(view, _top(schema))
    for key in [k for k in obj if k not in _SKIP_TOP and k not in view]:
        del obj[key]
    obj.update(view)


def validate(obj: dict, schema: dict | None) -> list[tuple[str, str, str]]:
    """Causes (reason, field, message) for the values of ``obj`` that break ``schema`` (openAPIV3Schema)."""
    if not schema:
        return []
    causes: list = []
    _validate(obj, _top(schema), "", causes)
    return causes
