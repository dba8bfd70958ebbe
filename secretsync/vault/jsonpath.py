"""kubectl JSONPath *templates* (``{.a.b}``, ``{range .x[*]}…{end}``, ``{'lit'}``), as client-go runs them.

Used by the ``jsonPath`` placeholder modifier (argocd-vault-plugin calls client-go's
``util/jsonpath`` with missing keys disallowed). The grammar, the slice/index rules,
the error texts and the printing rules (scalars as Go's ``fmt.Print`` shows them,
maps and lists as compact Go ``encoding/json``, results of one action joined by a
space) follow client-go; kubectl is the differential oracle in the tests.

Public: ``render(template, data) -> str``, ``parse(template)``, ``JSONPathError``,
``JSONNumber`` (a float that keeps its JSON text, as Go's ``json.Number`` does) and
``go_json`` / ``go_text`` / ``go_type`` (Go's printing of JSON values). Pure: no I/O.

Deliberate difference: ``*`` and ``..`` over a mapping visit keys in sorted order
(Go visits them in random order, so no template can rely on it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from secretsync.gocompat import gojson, gostrconv

__all__ = ["JSONPathError", "JSONNumber", "parse", "render", "go_json", "go_text", "go_type"]


class JSONPathError(ValueError):
    """A template that does not parse or does not match the data (text follows client-go)."""


JSONNumber = gojson.Number  # Go's json.Number: a float that keeps its JSON text


# ---------------------------------------------------------------------------------------------- nodes


@dataclass
class Field:
    name: str


@dataclass
class Wildcard:
    pass


@dataclass
class Recursive:
    pass


@dataclass
class Identifier:
    name: str


@dataclass
class Literal:
    """A quoted string, number or bool inside an action."""

    value: Any


@dataclass
class Slice:
    # (known, value, derived) for start, end, step, as client-go's ParamsEntry
    params: list[tuple[bool, int, bool]]


@dataclass
class Union:
    branches: list[list[Node]]


@dataclass
class Filter:
    left: list[Node]
    op: str
    right: list[Node]


@dataclass
class Text:
    text: str


@dataclass
class Action:
    nodes: list[Node]


@dataclass
class Range:
    nodes: list[Node]
    body: list[Item] = field(default_factory=list)


Node = Field | Wildcard | Recursive | Identifier | Literal | Slice | Union | Filter
"""One step of an action's path."""
Item = Text | Action | Range
"""One piece of a template: literal text, an action, or a range block."""


# ---------------------------------------------------------------------------------------------- parser

_TERMINATORS = set(" \t\r\n.,[]$@{}")
_SLICE_RE = re.compile(r"^(-?\d*)(:-?\d*)?(:-?\d*)?$")
_DICT_KEY_RE = re.compile(r"^'([^']*)'$")
_FILTER_RE = re.compile(r"^([^!<>=]+)([!<>=]+)(.+?)$", re.S)


def _is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or ch.isdigit()


def _unquote(text: str) -> str:
    """Go's strconv.Unquote extended to single-quoted strings (client-go's UnquoteExtend)."""
    try:
        return gostrconv.unquote(text, single_quoted_strings=True)
    except ValueError:
        raise JSONPathError(f"unquote string {text} error invalid syntax") from None


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.pos = 0

    def parse_template(self) -> list[Item]:
        items: list[Item] = []
        while self.pos < len(self.s):
            start = self.s.find("{", self.pos)
            if start < 0:
                items.append(Text(self.s[self.pos :]))
                break
            if start > self.pos:
                items.append(Text(self.s[self.pos : start]))
            self.pos = start + 1
            items.append(Action(self.parse_action(close="}")))
        return items

    def parse_action(self, close: str | None) -> list[Node]:
        """Nodes up to ``close`` (consumed) or, for sub-expressions, to the end of the text."""
        nodes: list[Node] = []
        s = self.s
        while True:
            if self.pos >= len(s):
                if close is None:
                    return nodes
                raise JSONPathError("unclosed action")
            if close is not None and s.startswith(close, self.pos):
                self.pos += len(close)
                return nodes
            if s.startswith("[?(", self.pos):
                nodes.append(self._filter())
                continue
            if s.startswith("..", self.pos):
                if nodes and isinstance(nodes[-1], Recursive):
                    raise JSONPathError("invalid multiple recursive descent")
                self.pos += 2
                nodes.append(Recursive())
                if self.pos < len(s) and _is_alnum(s[self.pos]):
                    nodes.append(self._field())
                continue
            ch = s[self.pos]
            if ch in "\r\n":
                raise JSONPathError("unclosed action")
            if ch in " @$":
                self.pos += 1
            elif ch == "[":
                nodes.extend(self._array())
            elif ch in "\"'":
                nodes.append(self._quote(ch))
            elif ch == ".":
                self.pos += 1
                nodes.append(self._field())
            elif ch in "+-" or ch.isdigit():
                nodes.append(self._number())
            elif _is_alnum(ch):
                nodes.append(self._identifier())
            else:
                raise JSONPathError(f"unrecognized character in action: U+{ord(ch):04X} {ch!r}")

    def _field(self) -> Field | Wildcard:
        start, s = self.pos, self.s
        while self.pos < len(s):
            ch = s[self.pos]
            if ch == "\\":
                self.pos += 2
                continue
            if ch in _TERMINATORS:
                break
            self.pos += 1
        self.pos = min(self.pos, len(s))
        value = s[start : self.pos]
        return Wildcard() if value == "*" else Field(value.replace("\\", ""))

    def _identifier(self) -> Literal | Identifier:
        start, s = self.pos, self.s
        while self.pos < len(s) and s[self.pos] not in _TERMINATORS:
            self.pos += 1
        value = s[start : self.pos]
        if value in ("true", "false"):
            return Literal(value == "true")
        return Identifier(value)

    def _number(self) -> Literal:
        start, s = self.pos, self.s
        if s[self.pos] in "+-":
            self.pos += 1
        while self.pos < len(s) and (s[self.pos] == "." or s[self.pos].isdigit()):
            self.pos += 1
        value = s[start : self.pos]
        if re.fullmatch(r"[+-]?\d+", value):
            return Literal(int(value))
        try:
            if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)", value):
                return Literal(float(value))
        except ValueError:
            pass
        raise JSONPathError(f"cannot parse number {value}")

    def _quote(self, quote: str) -> Literal:
        start, s = self.pos, self.s
        self.pos += 1
        while True:
            if self.pos >= len(s) or s[self.pos] == "\n":
                raise JSONPathError("unterminated quoted string")
            ch = s[self.pos]
            self.pos += 1
            if ch == quote and s[self.pos - 2] != "\\":
                break
        return Literal(_unquote(s[start : self.pos]))

    def _array(self) -> list[Node]:
        s = self.s
        end = self.pos + 1
        while True:
            if end >= len(s) or s[end] == "\n":
                raise JSONPathError("unterminated array")
            if s[end] == "]":
                break
            end += 1
        text = s[self.pos + 1 : end]
        self.pos = end + 1
        if text == "*":
            text = ":"
        parts = text.split(",")
        if len(parts) > 1:
            return [Union([_sub_expression(f"[{p.strip(' ')}]") for p in parts])]
        key = _DICT_KEY_RE.match(text)
        if key:
            return _sub_expression("." + key.group(1))
        m = _SLICE_RE.match(text)
        if not m:
            raise JSONPathError(f"invalid array index {text}")
        groups = list(m.groups())
        params: list[tuple[bool, int, bool]] = []
        for i, g in enumerate(groups):
            if g:
                digits = g[1:] if i > 0 else g
                if i > 0 and digits == "":
                    params.append((False, 0, False))
                else:
                    try:
                        params.append((True, int(digits), False))
                    except ValueError:
                        raise JSONPathError(f"array index {digits} is not a number") from None
            elif i == 1:
                params.append((True, params[0][1] + 1, True))
            else:
                params.append((False, 0, False))
        return [Slice(params)]

    def _filter(self) -> Filter:
        s = self.s
        self.pos += 3
        start = self.pos
        begin = end = False
        pair = ""
        while True:
            if self.pos >= len(s) or s[self.pos] == "\n":
                raise JSONPathError("unterminated filter")
            ch = s[self.pos]
            self.pos += 1
            if ch in "\"'":
                if not begin:
                    begin, pair = True, ch
                    continue
                if s[self.pos - 2] != "\\" and ch == pair:
                    end = True
            elif ch == ")" and begin == end:
                break
        if self.pos >= len(s) or s[self.pos] != "]":
            raise JSONPathError("unclosed array expect ]")
        self.pos += 1
        text = s[start : self.pos - 2]
        m = _FILTER_RE.match(text)
        if not m:
            return Filter(_sub_expression(text), "exists", [])
        return Filter(_sub_expression(m.group(1)), m.group(2), _sub_expression(m.group(3)))


def _sub_expression(text: str) -> list[Node]:
    parser = _Parser(text)
    return parser.parse_action(close=None)


def parse(template: str) -> list[Item]:
    """Parse a template into Text and Action/Range items (ranges nested with their bodies)."""
    flat = _Parser(template).parse_template()
    root: list[Item] = []
    stack: list[list[Item]] = [root]
    for item in flat:
        if isinstance(item, Action) and item.nodes and isinstance(item.nodes[0], Identifier):
            name = item.nodes[0].name
            if name == "range":
                block = Range(item.nodes[1:])
                stack[-1].append(block)
                stack.append(block.body)
                continue
            if name == "end":
                if len(stack) == 1:
                    raise JSONPathError("not in range, nothing to end")
                stack.pop()
                continue
        stack[-1].append(item)
    return root


# ---------------------------------------------------------------------------------------------- evaluation


def go_type(value: Any) -> str:
    """The Go type name a decoded JSON value would have (for error messages; never the value)."""
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, JSONNumber):
        return "json.Number"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "interface {}"


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value[k] for k in sorted(value)]
    if isinstance(value, list):
        return list(value)
    if isinstance(value, str):
        return list(value.encode("utf-8"))
    return []


def _eval_list(values: list[Any], nodes: list[Node]) -> list[Any]:
    for node in nodes:
        values = _eval_node(values, node)
    return values


def _eval_field(values: list[Any], node: Field) -> list[Any]:
    out = [v[node.name] for v in values if isinstance(v, dict) and node.name in v]
    if not out and values:
        raise JSONPathError(f"{node.name} is not found")
    return out


def _eval_literal(values: list[Any], node: Literal) -> list[Any]:
    if isinstance(node.value, str):  # quoted text yields itself once, whatever the input
        return [node.value]
    return [node.value for _ in values]


def _eval_wildcard(values: list[Any], node: Wildcard) -> list[Any]:
    return [c for v in values if v is not None for c in _children(v)]


def _eval_union(values: list[Any], node: Union) -> list[Any]:
    return [r for branch in node.branches for r in _eval_list(values, branch)]


def _eval_identifier(values: list[Any], node: Identifier) -> list[Any]:
    raise JSONPathError(f"unrecognized identifier {node.name}")


def _eval_node(values: list[Any], node: Any) -> list[Any]:
    evaluate = _EVALUATORS.get(type(node))
    if evaluate is None:  # pragma: no cover
        raise JSONPathError(f"unexpected Node {node!r}")
    return evaluate(values, node)


def _eval_recursive(values: list[Any]) -> list[Any]:
    out = []
    for v in values:
        if v is None:
            continue
        children = _children(v)
        if children:
            out.append(v)
            out.extend(_eval_recursive(children))
    return out


def _eval_slice(values: list[Any], node: Slice) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v is None:
            continue
        if not isinstance(v, list):
            raise JSONPathError(f"{go_type(v)} is not array or slice")
        n = len(v)
        (k0, start, _), (k1, stop, derived1), (k2, step, _) = node.params
        start = start if k0 else 0
        if start < 0:
            start += n
        stop = stop if k1 else n
        if stop < 0 or (stop == 0 and derived1):
            stop += n
        if stop == start:
            return out  # client-go returns at once here, dropping later inputs
        if start >= n or start < 0:
            raise JSONPathError(f"array index out of bounds: index {start}, length {n}")
        if stop > n or stop < 0:
            raise JSONPathError(f"array index out of bounds: index {stop - 1}, length {n}")
        if start > stop:
            raise JSONPathError(f"starting index {start} is greater than ending index {stop}")
        if k2 and step <= 0:
            raise JSONPathError("step must be > 0")
        out.extend(v[start : stop : step if k2 else 1])
    return out


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "invalid"


def _compare(left: Any, op: str, right: Any) -> bool:
    kl, kr = _kind(left), _kind(right)
    if kl == "invalid" or kr == "invalid":
        raise JSONPathError("invalid type for comparison")
    if kl != kr:
        raise JSONPathError("incompatible types for comparison")
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if kl == "bool":
        raise JSONPathError("invalid type for comparison")
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
    }
    if op not in ops:
        raise JSONPathError(f"unrecognized filter operator {op}")
    return ops[op](left, right)


def _eval_filter(values: list[Any], node: Filter) -> list[Any]:
    out = []
    for v in values:
        if not isinstance(v, list):
            raise JSONPathError(f"{go_type(v)} is not array or slice and cannot be filtered")  # never the value
        for item in v:
            if node.op == "exists":
                try:
                    found = _eval_list([item], node.left)
                except JSONPathError:
                    found = []
                if found:
                    out.append(item)
                continue
            lefts = _eval_list([item], node.left)
            if not lefts:
                continue
            if len(lefts) > 1:
                raise JSONPathError("can only compare one element at a time")
            rights = _eval_list([item], node.right)
            if not rights:
                continue
            if len(rights) > 1:
                raise JSONPathError("can only compare one element at a time")
            if _compare(lefts[0], node.op, rights[0]):
                out.append(item)
    return out


# The evaluator of each node type (client-go's walk* functions).
_EVALUATORS: dict[type, Callable[[list[Any], Any], list[Any]]] = {
    Field: _eval_field,
    Literal: _eval_literal,
    Wildcard: _eval_wildcard,
    Recursive: lambda values, node: _eval_recursive(values),
    Slice: _eval_slice,
    Union: _eval_union,
    Filter: _eval_filter,
    Identifier: _eval_identifier,
}


# ---------------------------------------------------------------------------------------------- printing


def _go_float(value: float, json_style: bool) -> str:
    """Go's shortest float text: fmt %v (exponent if exp < -4 or >= 6) or encoding/json."""
    try:
        return gojson.format_float(value) if json_style else gostrconv.format_float(value, "g")
    except ValueError as exc:
        raise JSONPathError(str(exc)) from None


def go_text(value: Any) -> str:
    """A value as kubectl prints a result: strings as they are, floats as Go's ``%v``, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not isinstance(value, JSONNumber):
        return _go_float(value, json_style=False)
    return go_json(value)


def go_json(value: Any) -> str:
    """Compact JSON as Go's ``encoding/json`` writes it (sorted keys, HTML-safe escapes, numbers as read)."""
    try:
        return gojson.dumps(value, number_text=True)
    except (TypeError, ValueError) as exc:
        raise JSONPathError(str(exc)) from None


def _print(results: list[Any]) -> str:
    return " ".join(go_json(r) if isinstance(r, (dict, list)) else go_text(r) for r in results)


def _execute(items: list[Item], data: Any, out: list[str]) -> None:
    for item in items:
        if isinstance(item, Text):
            out.append(item.text)
        elif isinstance(item, Action):
            out.append(_print(_eval_list([data], item.nodes)))
        else:  # Range
            for value in _eval_list([data], item.nodes):
                _execute(item.body, value, out)


def render(template: str, data: Any) -> str:
    """Evaluate a kubectl JSONPath template against ``data`` (missing keys are errors)."""
    out: list[str] = []
    _execute(parse(template), data, out)
    return "".join(out)
