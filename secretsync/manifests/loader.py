"""Kubernetes manifests in memory: safe YAML/JSON loading, object identity, apply order, YAML output.

No I/O here: callers pass bytes and a file name (used only in error messages).

Loading follows what ``kubectl`` does (sigs.k8s.io/yaml over go-yaml v2) for plain
scalars, not PyYAML's YAML 1.1 resolver:

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
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from secretsync.errors import SecretsyncError
from secretsync.gocompat import gojson
from secretsync.secretvalue import SecretBytes

__all__ = [
    "Limits",
    "ManifestError",
    "ObjectId",
    "load_manifests",
    "validate_object",
    "dump_all",
    "apply_order_key",
    "sort_for_apply",
    "sync_wave",
    "group_of",
    "is_cluster_scoped",
    "SYNC_WAVE_ANNOTATIONS",
    "PlainStr",
    "retype_plain",
    "expand_lists",
    "copy_tree",
    "iter_leaves",
    "alias_expanded_size",
    "safe_load_all_guarded",
]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"


class ManifestError(SecretsyncError):
    """A manifest file or document is invalid; the message names the file and document index (and
    the object, ``obj``, when its kind and name could be read)."""

    reference = "invalid-manifest"

    def __init__(
        self, message: str, *, file: str = "", index: int | None = None, hint: str | None = None, obj: str = ""
    ):
        where = file if index is None else f"{file} (document {index})"
        where = f"{where} {obj}" if where and obj else where or obj
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.file = file
        self.index = index
        self.reason = message


@dataclass(frozen=True)
class Limits:
    """Caps applied to every manifest file (defaults suit real repositories, stop hostile ones)."""

    max_bytes: int = 8 * 1024 * 1024
    max_depth: int = 100
    max_nodes: int = 1_000_000  # after alias expansion, per file


# --- go-yaml v2 scalar typing ------------------------------------------------------------

_BOOL_VALUES = {v: True for v in ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")}
_BOOL_VALUES.update({v: False for v in ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")})
_NULL_VALUES = {"", "~", "null", "Null", "NULL"}
_FLOAT_SPECIAL = {
    ".inf": math.inf,
    ".Inf": math.inf,
    ".INF": math.inf,
    "+.inf": math.inf,
    "+.Inf": math.inf,
    "+.INF": math.inf,
    "-.inf": -math.inf,
    "-.Inf": -math.inf,
    "-.INF": -math.inf,
    ".nan": math.nan,
    ".NaN": math.nan,
    ".NAN": math.nan,
}
_GO_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_GO_INT = re.compile(r"^[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$")


def _go_number(text: str) -> int | float | None:
    """The value Go's ParseInt(base 0)/ParseUint/ParseFloat chain gives a plain scalar, or None."""
    plain = text.replace("_", "")
    if _GO_INT.match(plain):
        sign = -1 if plain.startswith("-") else 1
        digits = plain.lstrip("+-")
        lower = digits.lower()
        if lower.startswith("0x"):
            value = int(digits[2:], 16)
        elif lower.startswith("0o"):
            value = int(digits[2:], 8)
        elif lower.startswith("0b"):
            value = int(digits[2:], 2)
        elif len(digits) > 1 and digits.startswith("0"):
            value = int(digits, 8)
        else:
            value = int(digits)
        value *= sign
        if -(2**63) <= value < 2**64:
            return value
        return float(value)
    if _GO_FLOAT.match(plain):
        return float(plain)
    return None


def go_resolve(text: str) -> str:
    """The tag go-yaml v2 gives a plain scalar ``text``."""
    if text in _NULL_VALUES:
        return _NULL
    if text in _BOOL_VALUES:
        return _BOOL
    if text == "<<":
        return _MERGE
    if text in _FLOAT_SPECIAL:
        return _FLOAT
    if text and (text[0] in "+-." or text[0].isdigit()):
        number = _go_number(text)
        if isinstance(number, int):
            return _INT
        if isinstance(number, float):
            return _FLOAT
    return _STR


class PlainStr(str):
    """A string written as a plain (unquoted) YAML scalar containing ``${``: substitution re-types it."""

    __slots__ = ()


def retype_plain(text: str) -> Any:
    """What a plain YAML scalar ``text`` reads as (int, float, bool, None or str), by go-yaml v2 rules."""
    tag = go_resolve(text)
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return _BOOL_VALUES[text]
    if tag == _INT:
        return _go_number(text)
    if tag == _FLOAT:
        return _FLOAT_SPECIAL.get(text) if text in _FLOAT_SPECIAL else float(_go_number(text))
    return text


class _GoResolver(yaml.resolver.Resolver):
    """Types plain scalars by go-yaml v2 rules (``go_resolve``); other nodes as PyYAML does."""

    def resolve(self, kind, value, implicit):
        if kind is ScalarNode and implicit[0]:
            return go_resolve(value)
        return super().resolve(kind, value, implicit)


class _GoConstructor(yaml.constructor.SafeConstructor):
    """SafeConstructor with go-yaml v2 values and duplicate-key refusal."""

    def construct_yaml_null(self, node):
        return None

    def construct_yaml_bool(self, node):
        value = self.construct_scalar(node)
        if value not in _BOOL_VALUES:
            raise _Refused(f"line {node.start_mark.line + 1}: !!bool value is not a boolean")
        return _BOOL_VALUES[value]

    def construct_yaml_int(self, node):
        value = _go_number(self.construct_scalar(node))
        if not isinstance(value, int):
            raise _Refused(f"line {node.start_mark.line + 1}: !!int value is not an integer")
        return value

    def construct_yaml_float(self, node):
        text = self.construct_scalar(node)
        value = _FLOAT_SPECIAL.get(text, _go_number(text))
        if value is None:
            raise _Refused(f"line {node.start_mark.line + 1}: !!float value is not a number")
        value = float(value)
        if not math.isfinite(value):
            # kubectl refuses these too: Kubernetes objects are JSON, which has no Inf or NaN.
            raise _Refused(
                f"line {node.start_mark.line + 1}: infinite or NaN numbers cannot be stored in a "
                f"Kubernetes object (quote the value to keep it a string)"
            )
        return value

    def construct_yaml_str(self, node):
        value = super().construct_yaml_str(node)
        if node.style in (None, "") and "${" in value:  # the C parser reports plain style as ''
            return PlainStr(value)
        return value

    def construct_yaml_timestamp(self, node):
        return self.construct_scalar(node)

    def key_text(self, key_node: Node) -> str:
        """A mapping key as sigs.k8s.io/yaml's YAML→JSON step writes it (JSON keys are strings):
        bools ``true``/``false``, ints in decimal, floats as ``strconv.FormatFloat(f, 'g', -1, 32)``
        (``1e3`` → ``1000``, ``.inf`` → ``.inf``). Keys kubectl refuses (null, integers past int64)
        are refused."""
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, ScalarNode):
            raise _Refused(f"line {line}: a mapping key must be a scalar")
        if key_node.tag == _FLOAT and key_node.value in _FLOAT_SPECIAL:
            key: Any = _FLOAT_SPECIAL[key_node.value]
        else:
            key = self.construct_object(key_node, deep=True)
        if key is None:
            raise _Refused(
                f"line {line}: a null mapping key cannot be a key of a Kubernetes object "
                f"(quote it to make it the string {key_node.value!r})"
            )
        if isinstance(key, bool):
            return "true" if key else "false"
        if isinstance(key, int):
            if key >= 2**63:
                raise _Refused(
                    f"line {line}: the mapping key {key_node.value!r} is an integer beyond int64, "
                    f"which kubectl cannot turn into a key (quote it)"
                )
            return str(key)
        if isinstance(key, float):
            text = gojson.format_float(key, "v", bits=32)
            return {"+Inf": ".inf", "-Inf": "-.inf", "NaN": ".nan"}.get(text, text)
        return key

    def construct_mapping(self, node, deep=False):
        """Keys become their JSON text. Two keys written alike are duplicates; two written
        differently that become the same text (``yes``/``true``, ``1``/``"1"``, ``1``/``1.0``) are
        refused too: kubectl keeps one of them (the last, or at random) and kustomize refuses both.
        A merged-in key (``<<``) is overridden by the mapping's own key of the same text."""
        if not isinstance(node, MappingNode):
            return super().construct_mapping(node, deep=deep)
        seen: dict[object, ScalarNode] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            key = self.key_text(key_node)
            # go-yaml's map also merges equal floats whose texts differ (0.0 and -0.0)
            zero = key in ("0", "-0") and key_node.tag == _FLOAT and self.construct_object(key_node) == 0.0
            same_number = ("float", 0.0) if zero else None
            first = seen.get(key) or seen.get(same_number)
            if first is None:
                seen[key] = key_node
                if same_number:
                    seen[same_number] = key_node
                continue
            line = key_node.start_mark.line + 1
            if (first.tag, first.value) == (key_node.tag, key_node.value):
                raise _Refused(f"line {line}: duplicate key {key!r}")
            same = (
                f"both become the key {key!r}"
                if key == self.key_text(first)
                else "are the same number, hence the same key"
            )
            raise _Refused(
                f"line {line}: the keys {_written(first)} (line {first.start_mark.line + 1}) and "
                f"{_written(key_node)} {same} of a Kubernetes object (JSON keys are strings), so kubectl "
                f"would keep only one of them; remove or rename one"
            )
        self.flatten_mapping(node)
        return {
            self.key_text(key_node): self.construct_object(value_node, deep=deep) for key_node, value_node in node.value
        }


def _written(node: ScalarNode) -> str:
    """A key as the file writes it, quotes included (``1`` and ``"1"`` differ only by them); a
    plain key bare."""
    quote = node.style if node.style in ("'", '"') else ""
    return f"{quote}{node.value}{quote}"


class _Loader(
    yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, _GoConstructor, _GoResolver
):
    """The reference loader (pure Python): go-yaml v2 typing, duplicate-key refusal, a depth cap
    checked while composing. Its results and errors define the semantics ``_FastLoader`` must match."""

    max_depth = 100
    _depth = 0

    def __init__(self, stream):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _GoConstructor.__init__(self)
        _GoResolver.__init__(self)

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise _Refused(f"nesting deeper than {self.max_depth} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


if yaml.__with_libyaml__:

    class _FastLoader(yaml.cyaml.CParser, _GoConstructor, _GoResolver):
        """libyaml composes the nodes (about 10x faster than PyYAML's pure scanner); construction
        is ``_Loader``'s. It is only a fast path: any refusal or error reruns ``_Loader``."""

        def __init__(self, stream):
            yaml.cyaml.CParser.__init__(self, stream)
            _GoConstructor.__init__(self)
            _GoResolver.__init__(self)
else:  # pragma: no cover - PyYAML built without libyaml
    _FastLoader = None


class _Refused(Exception):
    """Internal: the loader refused the input (turned into ManifestError with file/index)."""


for _tag, _method in (
    (_NULL, "construct_yaml_null"),
    (_BOOL, "construct_yaml_bool"),
    (_INT, "construct_yaml_int"),
    (_FLOAT, "construct_yaml_float"),
    ("tag:yaml.org,2002:timestamp", "construct_yaml_timestamp"),
    (_STR, "construct_yaml_str"),
):
    _GoConstructor.add_constructor(_tag, getattr(_GoConstructor, _method))


def _expanded_size(node: Node, memo: dict[int, int], active: set[int], limit: int) -> int:
    """Number of nodes ``node`` stands for once every alias is expanded (stops early past ``limit``)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise _Refused("an alias refers to itself (recursive anchor)")
    active.add(key)
    total = 1
    if isinstance(node, SequenceNode):
        children: Iterable[Node] = node.value
    elif isinstance(node, MappingNode):
        children = (n for pair in node.value for n in pair)
    else:
        children = ()
    for child in children:
        total += _expanded_size(child, memo, active, limit)
        if total > limit:
            raise _Refused(f"more than {limit} nodes once aliases are expanded (alias bomb?)")
    active.discard(key)
    memo[key] = total
    return total


def alias_expanded_size(node: Node, limit: int) -> int:
    """Nodes a composed YAML ``node`` stands for once aliases are expanded: the "billion laughs"
    guard of ``load_manifests`` for other YAML readers. ValueError past ``limit`` or on a recursive alias."""
    try:
        return _expanded_size(node, {}, set(), limit)
    except _Refused as exc:
        raise ValueError(str(exc)) from None


class _TextTimestampLoader(yaml.SafeLoader):
    """PyYAML's safe types, except that a timestamp stays the text written (as go-yaml v2 hands
    ``interface{}`` a string, so kubectl and kubeseal keep it), never a ``datetime``."""


_TextTimestampLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


def safe_load_all_guarded(
    text: str, max_nodes: int = Limits.max_nodes, *, timestamps_as_text: bool = False
) -> list[Any]:
    """``yaml.safe_load_all`` (PyYAML's types) for readers that keep them, with the alias guard:
    ValueError ("document N: ...") when aliases expand past ``max_nodes`` nodes in all; PyYAML's
    ``YAMLError`` and ``RecursionError`` (deep nesting) pass through for the caller to name its file.
    ``timestamps_as_text`` keeps unquoted timestamps as their text (JSON-ready objects)."""
    loader = (_TextTimestampLoader if timestamps_as_text else yaml.SafeLoader)(text)
    docs: list[Any] = []
    budget = max_nodes
    try:
        while loader.check_node():
            node = loader.get_node()
            try:
                budget -= alias_expanded_size(node, budget)
            except ValueError as exc:
                raise ValueError(f"document {len(docs) + 1}: {exc}") from None
            docs.append(loader.construct_document(node))
    finally:
        loader.dispose()
    return docs


def copy_tree(value: Any) -> Any:
    """A copy of nested dicts/lists with no shared sub-objects (leaves such as SecretBytes are kept)."""
    if isinstance(value, dict):
        return {k: copy_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_tree(v) for v in value]
    return value


def iter_leaves(value: Any) -> Iterator[Any]:
    """Every value inside nested dicts/lists that is neither (without recursion, any depth)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            yield item


def _depth_ok(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


def _looks_like_json(data: bytes) -> bool:
    stripped = data.lstrip(b" \t\r\n\xef\xbb\xbf")
    return stripped[:1] in (b"{", b"[")


def _load_json_stream(text: str, file: str, limits: Limits) -> Iterator[tuple[int, Any]]:
    def no_duplicates(pairs):
        out = {}
        for k, v in pairs:
            if k in out:
                raise _Refused(f"duplicate key {k!r}")
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
        except _Refused as exc:
            raise ManifestError(str(exc), file=file, index=index) from None
        except RecursionError:
            raise ManifestError(f"nesting deeper than {limits.max_depth} levels", file=file, index=index) from None
        except json.JSONDecodeError as exc:
            raise ManifestError(
                f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", file=file, index=index
            ) from None
        if not _depth_ok(value, limits.max_depth):
            raise ManifestError(f"nesting deeper than {limits.max_depth} levels", file=file, index=index)
        yield index, value
        index += 1


def _object_of(node: Node | None) -> str:
    """``Kind/namespace/name`` of a composed document whose apiVersion, kind and metadata.name are
    plain strings (as ``str(ObjectId)``), else ""; lets a refusal name the object it is in."""

    def field(mapping: Node | None, name: str) -> Node | None:
        if isinstance(mapping, MappingNode):
            for key_node, value_node in mapping.value:
                if isinstance(key_node, ScalarNode) and key_node.value == name:
                    return value_node
        return None

    def text(value: Node | None) -> str:
        return value.value if isinstance(value, ScalarNode) and value.tag == _STR else ""

    metadata = field(node, "metadata")
    kind, name = text(field(node, "kind")), text(field(metadata, "name"))
    if not kind or not name:
        return ""
    return str(ObjectId(group_of(text(field(node, "apiVersion"))), kind, text(field(metadata, "namespace")), name))


def _load_yaml_stream(text: str, file: str, limits: Limits) -> Iterator[tuple[int, Any]]:
    loader = _Loader(text)
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
                budget -= _expanded_size(node, {}, set(), budget)
                value = copy_tree(loader.construct_document(node))  # aliases unshared
            except _Refused as exc:
                raise ManifestError(str(exc), file=file, index=index, obj=_object_of(node)) from None
            except RecursionError:
                raise ManifestError(f"nesting deeper than {limits.max_depth} levels", file=file, index=index) from None
            except yaml.MarkedYAMLError as exc:
                # problem + position only: PyYAML's context snippet would quote the file's text.
                mark = exc.problem_mark or exc.context_mark
                at = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
                raise ManifestError(f"invalid YAML{at}: {exc.problem or exc.context}", file=file, index=index) from None
            except yaml.YAMLError as exc:
                raise ManifestError(f"invalid YAML: {type(exc).__name__}", file=file, index=index) from None
            yield index, value
            index += 1
    finally:
        loader.dispose()


def _depth_exceeds(node: Node, limit: int) -> bool:
    """Whether ``node`` nests deeper than ``limit`` as written (an alias counts as one level, as in
    ``_Loader.compose_node``: a node met again in document order is an alias)."""
    seen: set[int] = set()
    stack = [(node, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, SequenceNode):
            stack.extend((child, depth + 1) for child in reversed(item.value))
        elif isinstance(item, MappingNode):
            stack.extend((child, depth + 1) for pair in reversed(item.value) for child in reversed(pair))
    return False


_TAG_START = re.compile(r"(?:^|[\s\[{,])!")


class _Decline(Exception):
    """Internal: ``_Builder`` leaves this document to PyYAML's constructor (or the pure loader)."""


_PLAIN_TYPED = frozenset((_NULL, _BOOL, _INT, _FLOAT))
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


class _Builder:
    """One pass over a composed document doing what ``_load_yaml_stream`` does in four (depth cap as
    written, alias-expansion budget, construction by ``_GoConstructor``'s rules, unshared copies).

    It handles the common shapes only and raises ``_Decline`` for anything else: merge keys,
    non-string keys, duplicates, non-finite numbers, unknown tags, and every refusal (whose
    wording is left to the reference loader)."""

    def __init__(self, max_depth: int, budget: int) -> None:
        self.max_depth = max_depth
        self.left = budget  # nodes still allowed once aliases are expanded
        self.seen: set[int] = set()  # nodes met as written (a node met again is an alias)
        self.active: set[int] = set()  # collections being built (an alias to one is recursive)

    def build(self, node: Node, depth: int, written: bool) -> Any:
        self.left -= 1
        if self.left < 0:
            raise _Decline
        if written:
            if depth > self.max_depth:
                raise _Decline
            if id(node) in self.seen:
                written = False  # an alias: one level as written, however deep its target
            else:
                self.seen.add(id(node))
        tag = node.tag
        if type(node) is ScalarNode:
            value = node.value
            if tag == _STR:
                return PlainStr(value) if node.style in (None, "") and "${" in value else value
            if tag not in _PLAIN_TYPED:  # the resolver gave these tags to a plain scalar: retype it
                raise _Decline
            typed = retype_plain(value)
            if isinstance(typed, float) and not math.isfinite(typed):
                raise _Decline
            return typed
        key = id(node)
        if key in self.active:
            raise _Decline
        self.active.add(key)
        depth += 1
        if type(node) is SequenceNode and tag == _SEQ:
            result: Any = [self.build(child, depth, written) for child in node.value]
        elif type(node) is MappingNode and tag == _MAP:
            result = {}
            for key_node, value_node in node.value:
                if type(key_node) is not ScalarNode or key_node.tag == _MERGE:
                    raise _Decline
                name = self.build(key_node, depth, written)
                if not isinstance(name, str) or name in result:
                    raise _Decline
                result[name] = self.build(value_node, depth, written)
        else:
            raise _Decline
        self.active.discard(key)
        return result


def _load_yaml_fast(text: str, limits: Limits) -> list[tuple[int, Any]] | None:
    """All documents of ``text`` composed by libyaml, or None when the fast path cannot vouch for
    the result: no libyaml, a tab (libyaml accepts tabs PyYAML's scanner refuses), or any refusal
    or error (the caller reruns the pure loader, whose message is the one we report). Explicit tags
    (rare in manifests) also take the pure path: libyaml types a scalar tagged ``!`` differently.
    Documents ``_Builder`` declines are built as ``_load_yaml_stream`` builds them."""
    if _FastLoader is None or "\t" in text or _TAG_START.search(text):
        return None
    loader = _FastLoader(text)
    docs: list[tuple[int, Any]] = []
    budget = limits.max_nodes
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                builder = _Builder(limits.max_depth, budget)
                try:
                    value = builder.build(node, 1, True)
                    budget = builder.left
                except _Decline:
                    if _depth_exceeds(node, limits.max_depth):
                        return None
                    budget -= _expanded_size(node, {}, set(), budget)
                    value = copy_tree(loader.construct_document(node))  # aliases unshared
                docs.append((index, value))
            index += 1
    except Exception:  # noqa: BLE001 - whatever it is, the reference loader decides and words it
        return None
    finally:
        loader.dispose()
    return docs


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
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"not UTF-8 text (byte offset {exc.start})", file=file) from None
    if _looks_like_json(data):
        stream: Iterable[tuple[int, Any]] = _load_json_stream(text, file, limits)
    else:
        fast = _load_yaml_fast(text, limits)
        stream = fast if fast is not None else _load_yaml_stream(text, file, limits)
    return [(i, v) for i, v in stream if v is not None]


def validate_object(value: Any, file: str, index: int) -> dict:
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
    def of(cls, obj: dict) -> ObjectId:
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


def is_cluster_scoped(obj: dict, crds: Iterable[dict] = ()) -> bool:
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


def sync_wave(obj: dict) -> int:
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


def apply_order_key(obj: dict) -> tuple:
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


def sort_for_apply(objects: Iterable[dict]) -> list[dict]:
    """Objects in apply order: CRDs, Namespaces, cluster RBAC first, then by wave and kind order."""
    return sorted(objects, key=apply_order_key)


# --- output -----------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Quotes any string that go-yaml v2 *or* YAML 1.1 would read as something else."""

    def resolve(self, kind, value, implicit):
        if kind is ScalarNode and implicit[0]:
            tag = go_resolve(value)
            if tag != _STR:
                return tag
        return super().resolve(kind, value, implicit)

    def ignore_aliases(self, data):
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str):
    if "\n" in value:
        return dumper.represent_scalar(_STR, value, style="|")
    return dumper.represent_scalar(_STR, value)


def _refuse_secret(dumper, value):
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
