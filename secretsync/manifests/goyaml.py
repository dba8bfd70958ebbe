"""go-yaml v2's typing of YAML, as kubectl reads manifests (sigs.k8s.io/yaml over go-yaml v2).

Scalar resolution (``go_resolve``, ``retype_plain``), the constructor that builds values by those
rules and refuses duplicate keys (``GoConstructor``), the pure-Python ``ReferenceLoader`` whose
results and error texts define the semantics, and the alias-expansion guard
(``expanded_size``). The rules themselves are listed in ``secretsync.manifests.loader``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from secretsync.gocompat import gostrconv

__all__ = [
    "GoConstructor",
    "GoResolver",
    "PlainStr",
    "ReferenceLoader",
    "Refused",
    "alias_expanded_size",
    "expanded_size",
    "go_resolve",
    "retype_plain",
]

STR_TAG = "tag:yaml.org,2002:str"
INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
BOOL_TAG = "tag:yaml.org,2002:bool"
NULL_TAG = "tag:yaml.org,2002:null"
MERGE_TAG = "tag:yaml.org,2002:merge"


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
_GO_DOT_FLOAT = re.compile(r"^\.[0-9](_?[0-9])*([eE][-+]?[0-9](_?[0-9])*)?$")  # Go float syntax: "_" between digits
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
        return NULL_TAG
    if text in _BOOL_VALUES:
        return BOOL_TAG
    if text == "<<":
        return MERGE_TAG
    if text in _FLOAT_SPECIAL:
        return FLOAT_TAG
    if text.startswith("."):
        # go-yaml's '.' case: strconv.ParseFloat on the text as written (no blanket '_' removal):
        # ``.0_1`` is a float, ``.0_`` (an underscore not between digits) stays a string
        return FLOAT_TAG if _GO_DOT_FLOAT.match(text) else STR_TAG
    if text and (text[0] in "+-" or text[0].isdigit()):
        number = _go_number(text)
        if isinstance(number, int):
            return INT_TAG
        if isinstance(number, float):
            return FLOAT_TAG
    return STR_TAG


class PlainStr(str):
    """A string written as a plain (unquoted) YAML scalar containing ``${``: substitution re-types it."""

    __slots__ = ()


def retype_plain(text: str) -> Any:
    """What a plain YAML scalar ``text`` reads as (int, float, bool, None or str), by go-yaml v2 rules."""
    tag = go_resolve(text)
    if tag == NULL_TAG:
        return None
    if tag == BOOL_TAG:
        return _BOOL_VALUES[text]
    if tag == INT_TAG:
        return _go_number(text)
    if tag == FLOAT_TAG:
        return _FLOAT_SPECIAL[text] if text in _FLOAT_SPECIAL else float(_go_number(text) or 0)  # a float tag: a number
    return text


class GoResolver(yaml.resolver.Resolver):
    """Types plain scalars by go-yaml v2 rules (``go_resolve``); other nodes as PyYAML does."""

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode and implicit[0]:
            return go_resolve(value)
        tag: str = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]  # untyped in the stubs
        return tag


class GoConstructor(yaml.constructor.SafeConstructor):
    """SafeConstructor with go-yaml v2 values and duplicate-key refusal."""

    def construct_yaml_null(self, node: Node) -> None:
        return None

    def construct_yaml_bool(self, node: ScalarNode) -> bool:
        value = self.construct_scalar(node)
        if value not in _BOOL_VALUES:
            raise Refused(f"line {node.start_mark.line + 1}: !!bool value is not a boolean")
        return _BOOL_VALUES[value]

    def construct_yaml_int(self, node: ScalarNode) -> int:
        value = _go_number(self.construct_scalar(node))
        if not isinstance(value, int):
            raise Refused(f"line {node.start_mark.line + 1}: !!int value is not an integer")
        return value

    def construct_yaml_float(self, node: ScalarNode) -> float:
        text = self.construct_scalar(node)
        number = _FLOAT_SPECIAL.get(text, _go_number(text))
        if number is None:
            raise Refused(f"line {node.start_mark.line + 1}: !!float value is not a number")
        value = float(number)
        if not math.isfinite(value):
            # kubectl refuses these too: Kubernetes objects are JSON, which has no Inf or NaN.
            raise Refused(
                f"line {node.start_mark.line + 1}: infinite or NaN numbers cannot be stored in a "
                f"Kubernetes object (quote the value to keep it a string)"
            )
        return value

    def construct_yaml_str(self, node: ScalarNode) -> str:
        value: str = super().construct_yaml_str(node)
        if node.style in (None, "") and "${" in value:  # the C parser reports plain style as ''
            return PlainStr(value)
        return value

    def construct_yaml_timestamp(self, node: ScalarNode) -> str:  # type: ignore[override]  # text, not a datetime
        return self.construct_scalar(node)

    def key_text(self, key_node: Node) -> str:
        """A mapping key as sigs.k8s.io/yaml's YAML→JSON step writes it (JSON keys are strings):
        bools ``true``/``false``, ints in decimal, floats as ``strconv.FormatFloat(f, 'g', -1, 32)``
        (``1e3`` → ``1000``, ``.inf`` → ``.inf``). Keys kubectl refuses (null, integers past int64)
        are refused."""
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, ScalarNode):
            raise Refused(f"line {line}: a mapping key must be a scalar")
        if key_node.tag == FLOAT_TAG and key_node.value in _FLOAT_SPECIAL:
            key: Any = _FLOAT_SPECIAL[key_node.value]
        else:
            key = self.construct_object(key_node, deep=True)
        if key is None:
            raise Refused(
                f"line {line}: a null mapping key cannot be a key of a Kubernetes object "
                f"(quote it to make it the string {key_node.value!r})"
            )
        if isinstance(key, bool):
            return "true" if key else "false"
        if isinstance(key, int):
            if key >= 2**63:
                raise Refused(
                    f"line {line}: the mapping key {key_node.value!r} is an integer beyond int64, "
                    f"which kubectl cannot turn into a key (quote it)"
                )
            return str(key)
        if isinstance(key, float):
            text = gostrconv.format_float(key, "g", bits=32)
            return {"+Inf": ".inf", "-Inf": "-.inf", "NaN": ".nan"}.get(text, text)
        if isinstance(key, str):
            return key
        return str(key)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Keys become their JSON text. Two keys written alike are duplicates; two written
        differently that become the same text (``yes``/``true``, ``1``/``"1"``, ``1``/``1.0``) are
        refused too: kubectl keeps one of them (the last, or at random) and kustomize refuses both.
        A merged-in key (``<<``) is overridden by the mapping's own key of the same text."""
        if not isinstance(node, MappingNode):
            return super().construct_mapping(node, deep=deep)
        seen: dict[object, ScalarNode] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            key = self.key_text(key_node)
            # go-yaml's map also merges equal floats whose texts differ (0.0 and -0.0)
            zero = key in ("0", "-0") and key_node.tag == FLOAT_TAG and self.construct_object(key_node) == 0.0
            same_number = ("float", 0.0) if zero else None
            first = seen.get(key) or seen.get(same_number)
            if first is None:
                seen[key] = key_node
                if same_number:
                    seen[same_number] = key_node
                continue
            line = key_node.start_mark.line + 1
            if (first.tag, first.value) == (key_node.tag, key_node.value):
                raise Refused(f"line {line}: duplicate key {key!r}")
            same = (
                f"both become the key {key!r}"
                if key == self.key_text(first)
                else "are the same number, hence the same key"
            )
            raise Refused(
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


class ReferenceLoader(
    yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, GoConstructor, GoResolver
):
    """The reference loader (pure Python): go-yaml v2 typing, duplicate-key refusal, a depth cap
    checked while composing. Its results and errors define the semantics ``_FastLoader`` must match."""

    max_depth = 100
    _depth = 0

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        GoConstructor.__init__(self)
        GoResolver.__init__(self)

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise Refused(f"nesting deeper than {self.max_depth} levels", "depth")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class Refused(Exception):
    """The loader refused the input (turned into ManifestError with file/index); ``cause`` is
    ``ManifestError.cause``: ``depth``, ``aliases`` or ``refused``."""

    def __init__(self, message: str, cause: str = "refused") -> None:
        super().__init__(message)
        self.cause = cause


for _tag, _method in (
    (NULL_TAG, "construct_yaml_null"),
    (BOOL_TAG, "construct_yaml_bool"),
    (INT_TAG, "construct_yaml_int"),
    (FLOAT_TAG, "construct_yaml_float"),
    ("tag:yaml.org,2002:timestamp", "construct_yaml_timestamp"),
    (STR_TAG, "construct_yaml_str"),
):
    GoConstructor.add_constructor(_tag, getattr(GoConstructor, _method))


def expanded_size(node: Node, memo: dict[int, int], active: set[int], limit: int) -> int:
    """Number of nodes ``node`` stands for once every alias is expanded (stops early past ``limit``)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise Refused("an alias refers to itself (recursive anchor)", "aliases")
    active.add(key)
    total = 1
    if isinstance(node, SequenceNode):
        children: Iterable[Node] = node.value
    elif isinstance(node, MappingNode):
        children = (n for pair in node.value for n in pair)
    else:
        children = ()
    for child in children:
        total += expanded_size(child, memo, active, limit)
        if total > limit:
            raise Refused(f"more than {limit} nodes once aliases are expanded (alias bomb?)", "aliases")
    active.discard(key)
    memo[key] = total
    return total


def alias_expanded_size(node: Node, limit: int) -> int:
    """Nodes a composed YAML ``node`` stands for once aliases are expanded: the "billion laughs"
    guard of ``load_manifests`` for other YAML readers. ValueError past ``limit`` or on a recursive alias."""
    try:
        return expanded_size(node, {}, set(), limit)
    except Refused as exc:
        raise ValueError(str(exc)) from None
