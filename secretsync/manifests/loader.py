"""Kubernetes manifests in memory: the one safe YAML/JSON loader (no I/O: bytes and a file name in).

Loading follows what ``kubectl`` does (sigs.k8s.io/yaml over go-yaml v2) for plain
scalars, not PyYAML's YAML 1.1 resolver (``secretsync.manifests.goyaml``):

- bools: ``y Y yes Yes YES on On ON true True TRUE`` and their negatives (PyYAML lacks ``y/n``);
- ints: Go ``ParseInt(s, 0, 64)`` after removing ``_``: ``0x1F``, ``017`` (octal), ``0o17``, ``0b101``;
  ``08`` is the float 8 (PyYAML: a string); ``1:20`` is a string (PyYAML: sexagesimal 80);
  integers beyond 64 bits become floats;
- floats: ``1e3`` and ``1.`` are floats (PyYAML wants a dot and a signed exponent);
- ``.inf``/``.nan`` (and floats beyond float64) are refused, as kubectl refuses them;
- timestamps stay strings (sigs.k8s.io/yaml hands ``interface{}`` a string, PyYAML a datetime);
- non-string mapping keys are turned into their string form, as the YAML→JSON step does (``1e3``
  becomes ``1000``); null keys and integers past int64 are refused, as kubectl refuses them.

The difference we keep: go-yaml v2 accepts duplicate keys (last one wins), and keys of different
types that become the same string (``yes``/``true``, ``1``/``"1"``) leave one value at random; we
refuse both, as kustomize does, because such a duplicate almost always silently drops data.

Guards against hostile input: a size cap (bytes), a nesting-depth cap, and an alias
expansion cap ("billion laughs": aliases are counted as the nodes they expand to).
Every refusal is a ``ManifestError`` whose ``cause`` (and ``line``/``column``) lets a caller
word it its own way (the kubeseal-compatible commands do). The libyaml fast path is in
``secretsync.manifests.fastpath``; ``compose_documents`` gives the composed nodes (with their
positions) to readers that rewrite the text in place (``secretsync.sealing.reseal``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from secretsync.manifests.fastpath import load_yaml_fast
from secretsync.manifests.goyaml import (
    STR_TAG,
    PlainStr,
    ReferenceLoader,
    Refused,
    alias_expanded_size,
    expanded_size,
    retype_plain,
)
from secretsync.manifests.tree import copy_tree, depth_ok, iter_leaves
from secretsync.objects import ManifestError, ObjectId, group_of

__all__ = [
    "Limits",
    "ManifestError",
    "load_manifests",
    "compose_documents",
    "construct_document",
    "validate_object",
    "expand_lists",
    "PlainStr",
    "retype_plain",
    "copy_tree",
    "iter_leaves",
    "alias_expanded_size",
    "safe_load_all_guarded",
]


@dataclass(frozen=True)
class Limits:
    """Caps applied to every manifest file (defaults suit real repositories, stop hostile ones)."""

    max_bytes: int = 8 * 1024 * 1024
    max_depth: int = 100
    max_nodes: int = 1_000_000  # after alias expansion, per file


def safe_load_all_guarded(text: str, max_nodes: int = Limits.max_nodes) -> list[Any]:
    """``yaml.safe_load_all`` (PyYAML's types) for readers that keep them, with the alias guard:
    ValueError ("document N: ...") when aliases expand past ``max_nodes`` nodes in all; PyYAML's
    ``YAMLError`` and ``RecursionError`` (deep nesting) pass through for the caller to name its file."""
    loader = yaml.SafeLoader(text)
    docs: list[Any] = []
    budget = max_nodes
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            try:
                budget -= alias_expanded_size(node, budget)
            except ValueError as exc:
                raise ValueError(f"document {len(docs) + 1}: {exc}") from None
            docs.append(loader.construct_document(node))
    finally:
        loader.dispose()
    return docs


def _looks_like_json(data: bytes) -> bool:
    stripped = data.lstrip(b" \t\r\n\xef\xbb\xbf")
    return stripped[:1] in (b"{", b"[")


def _load_json_stream(text: str, file: str, limits: Limits) -> Iterator[tuple[int, Any]]:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise Refused(f"duplicate key {k!r}")
            out[k] = v
        return out

    decoder = json.JSONDecoder(object_pairs_hook=no_duplicates)
    pos, index = 0, 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n\ufeff":
            pos += 1
        if pos >= len(text):
            return
        try:
            value, pos = decoder.raw_decode(text, pos)
        except Refused as exc:
            raise ManifestError(str(exc), file=file, index=index, cause=exc.cause) from None
        except RecursionError:
            raise ManifestError(
                f"nesting deeper than {limits.max_depth} levels", file=file, index=index, cause="depth"
            ) from None
        except json.JSONDecodeError as exc:
            raise ManifestError(
                f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                file=file,
                index=index,
                cause="json",
                line=exc.lineno,
                column=exc.colno,
                detail=exc.msg,
            ) from None
        if not depth_ok(value, limits.max_depth):
            raise ManifestError(f"nesting deeper than {limits.max_depth} levels", file=file, index=index, cause="depth")
        yield index, value
        index += 1


def _object_of(node: Node | None) -> str:
    """``Kind/namespace/name`` of a composed document whose apiVersion, kind and metadata.name are
    plain strings (as ``str(ObjectId)``), else ""; lets a refusal name the object it is in."""

    def field(mapping: Node | None, name: str) -> Node | None:
        if isinstance(mapping, MappingNode):
            for key_node, value_node in mapping.value:
                if isinstance(key_node, ScalarNode) and key_node.value == name:
                    found: Node = value_node
                    return found
        return None

    def text(value: Node | None) -> str:
        return value.value if isinstance(value, ScalarNode) and value.tag == STR_TAG else ""

    metadata = field(node, "metadata")
    kind, name = text(field(node, "kind")), text(field(metadata, "name"))
    if not kind or not name:
        return ""
    return str(ObjectId(group_of(text(field(node, "apiVersion"))), kind, text(field(metadata, "namespace")), name))


def _yaml_error(exc: yaml.MarkedYAMLError, file: str, index: int) -> ManifestError:
    """The problem and position only: PyYAML's context snippet would quote the file's text."""
    mark = exc.problem_mark or exc.context_mark
    at = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
    problem = exc.problem or exc.context or ""
    return ManifestError(
        f"invalid YAML{at}: {problem}",
        file=file,
        index=index,
        cause="yaml",
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
        detail=problem,
    )


def _composed(loader: ReferenceLoader, file: str, limits: Limits, construct: bool) -> Iterator[tuple[int, Node, Any]]:
    """``(index, node, value)`` of every non-empty document, after the depth and alias guards; the
    value (unshared copies) only when ``construct``. Every failure is a ``ManifestError``."""
    loader.max_depth = limits.max_depth
    index = 0
    budget = limits.max_nodes
    try:
        while True:
            node = None
            try:
                if not loader.check_node():
                    return
                node = loader.get_node()
                if node is None:
                    index += 1
                    continue
                budget -= expanded_size(node, {}, set(), budget)
                value = copy_tree(loader.construct_document(node)) if construct else None  # aliases unshared
            except Refused as exc:
                raise ManifestError(str(exc), file=file, index=index, obj=_object_of(node), cause=exc.cause) from None
            except RecursionError:
                raise ManifestError(
                    f"nesting deeper than {limits.max_depth} levels", file=file, index=index, cause="depth"
                ) from None
            except yaml.MarkedYAMLError as exc:
                raise _yaml_error(exc, file, index) from None
            except yaml.YAMLError as exc:
                raise ManifestError(
                    f"invalid YAML: {type(exc).__name__}", file=file, index=index, cause="yaml"
                ) from None
            yield index, node, value
            index += 1
    finally:
        loader.dispose()


def _load_yaml_stream(text: str, file: str, limits: Limits) -> Iterator[tuple[int, Any]]:
    """The reference reading of a YAML stream: ``(index, value)`` pairs."""
    for index, _, value in _composed(ReferenceLoader(text), file, limits, construct=True):
        yield index, value


def compose_documents(text: str, file: str, limits: Limits = Limits()) -> list[tuple[int, Node]]:
    """``(index, node)`` of every document of a YAML stream (an empty one is a null scalar node),
    composed with go-yaml v2's tags and the text positions of every node kept (for in-place
    rewrites), guarded as ``load_manifests`` guards (depth, alias expansion); raises ``ManifestError``."""
    return [(index, node) for index, node, _ in _composed(ReferenceLoader(text), file, limits, construct=False)]


def construct_document(node: Node, file: str = "", index: int | None = None) -> Any:
    """The value of one node of ``compose_documents`` by the loader's rules (``ManifestError``
    with cause ``refused`` for what the loader refuses, such as duplicate keys)."""
    loader = ReferenceLoader("")
    try:
        return loader.construct_document(node)
    except Refused as exc:
        raise ManifestError(str(exc), file=file, index=index, obj=_object_of(node), cause=exc.cause) from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"invalid YAML: {type(exc).__name__}", file=file, index=index, cause="yaml") from None
    finally:
        loader.dispose()


def load_manifests(data: bytes, file: str, limits: Limits = Limits()) -> list[tuple[int, Any]]:
    """Parse a YAML stream (or JSON value/stream) into ``(document index, value)`` pairs.

    Empty documents are dropped (their index is still counted), as kubectl does. Values are
    plain dicts/lists/scalars. Raises ``ManifestError`` naming ``file`` and the document index.
    """
    if len(data) > limits.max_bytes:
        raise ManifestError(
            f"file is {len(data)} bytes, more than the limit of {limits.max_bytes}",
            file=file,
            hint="split the file, or raise the manifest size limit",
            cause="size",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"not UTF-8 text (byte offset {exc.start})", file=file, cause="encoding") from None
    if _looks_like_json(data):
        stream: Iterable[tuple[int, Any]] = _load_json_stream(text, file, limits)
    else:
        fast = load_yaml_fast(text, limits)
        stream = fast if fast is not None else _load_yaml_stream(text, file, limits)
    return [(i, v) for i, v in stream if v is not None]


def validate_object(value: Any, file: str, index: int) -> dict[str, Any]:
    """Check that a document is a Kubernetes object (apiVersion, kind, metadata.name) and return it."""
    if not isinstance(value, dict):
        raise ManifestError(
            f"a document must be a mapping (a Kubernetes object), not a {type(value).__name__}", file=file, index=index
        )
    for field in ("apiVersion", "kind"):
        if not isinstance(value.get(field), str) or not value.get(field):
            raise ManifestError(
                f"missing or invalid {field!r}",
                file=file,
                index=index,
                hint="every document must be a Kubernetes object with apiVersion, kind and metadata.name",
            )
    metadata = value.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str) or not metadata.get("name"):
        raise ManifestError(f"{value['kind']}: missing or invalid metadata.name", file=file, index=index)
    namespace = metadata.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise ManifestError(
            f"{value['kind']}/{metadata['name']}: metadata.namespace must be a string", file=file, index=index
        )
    return value


def expand_lists(value: Any) -> list[Any]:
    """``kind: List`` (and ``*List``) documents become their items, as kubectl does."""
    if (
        isinstance(value, dict)
        and isinstance(value.get("kind"), str)
        and value["kind"].endswith("List")
        and isinstance(value.get("items"), list)
    ):
        return list(value["items"])
    return [value]
