"""The one YAML/JSON writer of Kubernetes objects, in the two styles we print.

``dump_all`` is secretsync's own output (``render``, ``diff``): a ``---`` stream, keys in
insertion order, block style, every string that go-yaml v2 *or* YAML 1.1 would read as
another type quoted; a ``SecretBytes`` reaching it is a bug and raises. ``dump_kubeseal`` is
kubeseal's output: Go struct field order, maps sorted as go-yaml v2 sorts them, pretty JSON
by default (``secretsync.gocompat.gojson``) or ``---``-led YAML; ``SecretBytes`` values are
written as base64 (that is what a recovered Secret's ``data`` holds).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

import yaml
from yaml.nodes import ScalarNode

from secretsync.gocompat import gojson
from secretsync.manifests.goyaml import STR_TAG, PlainStr, go_resolve
from secretsync.secretvalue import SecretBytes

__all__ = ["dump_all", "dump_kubeseal"]


class _Dumper(yaml.SafeDumper):
    """Quotes any string that go-yaml v2 *or* YAML 1.1 would read as something else."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode and implicit[0]:
            tag = go_resolve(value)
            if tag != STR_TAG:
                return tag
        resolved: str = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]  # untyped in the stubs
        return resolved

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar(STR_TAG, value, style="|")
    return dumper.represent_scalar(STR_TAG, value)


def _refuse_secret(dumper: yaml.SafeDumper, value: SecretBytes) -> yaml.ScalarNode:
    raise TypeError("SecretBytes reached the YAML dumper; reveal or redact it first")


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(PlainStr, _represent_str)
_Dumper.add_representer(SecretBytes, _refuse_secret)


def dump_all(objects: Iterable[Any]) -> str:
    """A YAML stream (``---`` between documents), keys in insertion order, block style."""
    return yaml.dump_all(
        list(objects),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 30,
        explicit_start=True,
    )


# Go struct field order of the types kubeseal prints (maps inside are sorted).
_ORDER = {
    "object": ["kind", "apiVersion", "metadata", "immutable", "spec", "data", "stringData", "type", "status"],
    "metadata": [
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
    ],
    "spec": ["template", "data", "encryptedData"],
    "template": ["metadata", "type", "immutable", "data"],
    "ownerReference": ["apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion"],
}


def _plain(value: object) -> object:
    if isinstance(value, SecretBytes):
        return value.to_base64()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _ordered(value: object, kind: str | None) -> object:
    """Order struct fields as Go does; sort maps; drop empty maps (omitempty)."""
    if isinstance(value, list):
        return [_ordered(v, "ownerReference" if kind == "ownerReferences" else None) for v in value]
    if not isinstance(value, dict):
        return value
    order = _ORDER.get(kind or "")
    if order is None:
        return {k: _ordered(value[k], None) for k in sorted(value)}
    out = {}
    for key in order + sorted(k for k in value if k not in order):
        if key not in value or value[key] is None or (value[key] == {} and key != "encryptedData"):
            continue
        if kind == "metadata" and value[key] == "":  # ObjectMeta strings are omitempty
            continue
        child = key if key in ("metadata", "spec", "template", "ownerReferences") else None
        if kind == "spec" and key == "data":
            child = None
        out[key] = _ordered(value[key], child)
    return out


class _KubeDumper(yaml.SafeDumper):
    """sigs.k8s.io/yaml style: sorted keys, block style, strings that read as other types double-quoted."""


def _represent_kube_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = None
    if "\n" in value:
        style = "|"
    elif dumper.resolve(yaml.ScalarNode, value, (True, False)) != "tag:yaml.org,2002:str":  # type: ignore[no-untyped-call]  # untyped in the stubs
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_KubeDumper.add_representer(str, _represent_kube_str)
_KubeDumper.add_representer(PlainStr, _represent_kube_str)


def _goyaml_less(a: str, b: str) -> bool:
    """go-yaml v2's map key order (what sigs.k8s.io/yaml emits): letters after other runes, and
    runs of digits compared as numbers, so ``k2`` sorts before ``k10``."""
    for i in range(min(len(a), len(b))):
        ca, cb = a[i], b[i]
        if ca == cb:
            continue
        a_letter, b_letter = ca.isalpha(), cb.isalpha()
        if a_letter and b_letter:
            return ca < cb
        if a_letter or b_letter:
            return b_letter
        an = bn = 0
        if ca == "0" or cb == "0":  # a zero inside a longer number is not a leading zero
            j = i - 1
            while j >= 0 and a[j].isdecimal():
                if a[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai, bi = i, i
        while ai < len(a) and a[ai].isdecimal():
            an, ai = an * 10 + ord(a[ai]) - 48, ai + 1
        while bi < len(b) and b[bi].isdecimal():
            bn, bi = bn * 10 + ord(b[bi]) - 48, bi + 1
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return ca < cb
    return len(a) < len(b)


def _goyaml_compare(a: str, b: str) -> int:
    return -1 if _goyaml_less(a, b) else (1 if _goyaml_less(b, a) else 0)


_GOYAML_KEY = functools.cmp_to_key(_goyaml_compare)


def _goyaml_sorted(value: object) -> object:
    if isinstance(value, dict):
        return {k: _goyaml_sorted(value[k]) for k in sorted(value, key=_GOYAML_KEY)}
    if isinstance(value, list):
        return [_goyaml_sorted(v) for v in value]
    return value


def dump_kubeseal(objects: Iterable[Mapping[str, Any]], fmt: str = "json") -> str:
    """kubeseal's output of one or more objects: pretty JSON (default) or ``---``-led YAML."""
    parts = []
    for obj in objects:
        plain = _ordered(_plain(obj), "object")
        if fmt == "yaml":
            parts.append(
                "---\n"
                + yaml.dump(
                    _goyaml_sorted(plain),
                    Dumper=_KubeDumper,
                    sort_keys=False,
                    default_flow_style=False,
                    allow_unicode=True,
                    width=float("inf"),
                )
            )
        else:
            parts.append(gojson.dumps(plain, indent=2, sort_keys=False) + "\n")  # already in Go's order
    return "".join(parts)
