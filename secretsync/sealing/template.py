"""A small, fail-closed subset of Go ``text/template`` + Sprig for SealedSecret ``template.data``.

Supported (what SealedSecret templates use in practice): text with ``{{ }}`` actions,
``{{-``/``-}}`` trimming, comments, pipelines with ``|``, parentheses, the dot and
field chains (``.``, ``.password``), ``$`` (the root), string/raw-string/int/bool
literals, and the functions ``index``, ``print``, ``printf`` (``%s %v %q %d %%``),
``len``, ``eq``, ``ne``, ``not``, ``and``, ``or`` (Go builtins) and ``toJson``,
``b64enc``, ``b64dec``, ``quote``, ``squote``, ``trim``, ``upper``, ``lower``,
``default`` (Sprig). Anything else fails closed: an unknown function gives Go's own
``template: NAME:LINE: function "x" not defined``; control actions (``if``,
``range``, ``with``, ``define``...) and variables are refused by name. The choice of a
hand-written subset over a full engine is explained in LIBRARIES.md section 2.

Values are Go strings, i.e. bytes: text is held as ``str`` decoded with
``surrogateescape`` so arbitrary plaintext bytes round-trip exactly. Error messages
never contain data values.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from secretsync.gocompat import gobase64, gojson, gostrconv

__all__ = ["TemplateError", "render", "NO_VALUE"]

_ENC = "utf-8"
_ERRORS = "surrogateescape"


class TemplateError(Exception):
    """The template could not be parsed or executed (message in Go's format, no data values)."""


class _NoValue:
    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE = _NoValue()
_SPACE1 = (" ", "\t", "\r", "\n")
_CONTROL = {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}


# ---------------------------------------------------------------- lexing

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<pipe>\|)
  | (?P<assign>:?=)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<number>-?\d+)
  | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
""",
    re.X | re.S,
)


@dataclass
class _Tok:
    kind: str
    text: str


def _unquote(text: str, err: Callable[[str], TemplateError]) -> str:
    """Go ``strconv.Unquote`` for a double-quoted literal."""
    try:
        return gostrconv.unquote(text)
    except ValueError:
        raise err("invalid syntax in quoted string") from None


# ---------------------------------------------------------------- parsing


@dataclass
class _Node:
    kind: str  # "field" | "var" | "lit" | "call" | "pipe"
    value: Any = None  # a field/variable path, a function name, or a literal's value
    args: list[_Node] | None = None


class _Parser:
    def __init__(self, name: str, line: int, tokens: list[_Tok]) -> None:
        self.name, self.line, self.tokens, self.pos = name, line, tokens, 0

    def error(self, msg: str) -> TemplateError:
        return TemplateError(f"template: {self.name}:{self.line}: {msg}")

    def peek(self) -> _Tok | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def pipeline(self, closing: str | None) -> _Node:
        commands = [self.command()]
        while (tok := self.peek()) is not None and tok.kind == "pipe":
            self.pos += 1
            commands.append(self.command())
        tok = self.peek()
        if closing is None and tok is not None:
            raise self.error(f"unexpected {tok.text!r} in command")
        return _Node("pipe", args=commands)

    def command(self) -> _Node:
        operands = []
        while (tok := self.peek()) is not None and tok.kind not in ("pipe", "rparen"):
            operands.append(self.operand())
        if not operands:
            raise self.error("missing value for command")
        head = operands[0]
        if head.kind == "ident":
            return _Node("call", head.value, operands[1:])
        if len(operands) > 1:
            raise self.error(f"can't give argument to non-function {self._describe(head)}")
        return head

    @staticmethod
    def _describe(node: _Node) -> str:
        return str(node.value) if node.kind in ("field", "var") else "literal"

    def operand(self) -> _Node:
        tok = self.tokens[self.pos]
        self.pos += 1
        if tok.kind == "lparen":
            inner = self.pipeline(")")
            close = self.peek()
            if close is None or close.kind != "rparen":
                raise self.error("unclosed left paren")
            self.pos += 1
            return inner
        if tok.kind == "rparen":
            raise self.error("unexpected right paren")
        if tok.kind == "string":
            return _Node("lit", _unquote(tok.text, self.error))
        if tok.kind == "raw":
            return _Node("lit", tok.text[1:-1])
        if tok.kind == "number":
            return _Node("lit", int(tok.text))
        if tok.kind == "field":
            return _Node("field", tok.text)
        if tok.kind == "var":
            if tok.text.split(".")[0] != "$":
                raise self.error(f'undefined variable "{tok.text.split(".")[0]}"')
            return _Node("var", tok.text)
        if tok.kind == "ident":
            if tok.text in ("true", "false"):
                return _Node("lit", tok.text == "true")
            if tok.text == "nil":
                return _Node("lit", None)
            if tok.text in _CONTROL:
                raise self.error(
                    f'unsupported action "{tok.text}" (secretsync renders a subset of Go '
                    f"templates: fields, index, pipelines and common Sprig functions)"
                )
            if tok.text not in _FUNCS:
                raise self.error(f'function "{tok.text}" not defined')
            return _Node("ident", tok.text)
        if tok.kind == "assign":
            raise self.error("variables are not supported (secretsync renders a subset of Go templates)")
        raise self.error(f"unexpected {tok.text!r} in command")


def _parse(name: str, source: str) -> list[tuple[str, str | _Node]]:
    """[("text", str) | ("action", _Node)]"""
    parts: list[tuple[str, str | _Node]] = []
    pos, trim_next = 0, False
    while True:
        start = source.find("{{", pos)
        text = source[pos:] if start < 0 else source[pos:start]
        if trim_next:
            text = text.lstrip(" \t\r\n")
        trim_left = start >= 0 and source[start + 2 : start + 4][:1] == "-" and source[start + 3 : start + 4] in _SPACE1
        if trim_left:
            text = text.rstrip(" \t\r\n")
        if text:
            parts.append(("text", text))
        if start < 0:
            return parts
        line = source.count("\n", 0, start) + 1
        body_start = start + (3 if trim_left else 2)
        end = _find_close(source, body_start, name, line)
        trim_next = end - 2 >= body_start and source[end - 1] == "-" and source[end - 2] in _SPACE1
        body = source[body_start : end - 1] if trim_next else source[body_start:end]
        pos = end + 2
        stripped = body.strip()
        if stripped.startswith("/*"):
            if not stripped.endswith("*/"):
                raise TemplateError(f"template: {name}:{line}: unclosed comment")
            continue
        tokens = _lex(body, name, line)
        if not tokens:
            raise TemplateError(f"template: {name}:{line}: missing value for command")
        parts.append(("action", _Parser(name, line, tokens).pipeline(None)))


def _find_close(source: str, pos: int, name: str, line: int) -> int:
    """Index of the ``}}`` closing an action, skipping quoted strings."""
    i = pos
    while i < len(source):
        ch = source[i]
        if ch in '"`':
            close = re.compile(r'"(?:[^"\\\n]|\\.)*"' if ch == '"' else r"`[^`]*`", re.S).match(source, i)
            if close is None:
                raise TemplateError(f"template: {name}:{line}: unterminated quoted string")
            i = close.end()
            continue
        if source.startswith("}}", i):
            return i
        i += 1
    raise TemplateError(f"template: {name}:{line}: unclosed action")


def _lex(body: str, name: str, line: int) -> list[_Tok]:
    tokens, pos = [], 0
    while pos < len(body):
        m = _TOKEN.match(body, pos)
        if m is None:
            raise TemplateError(f"template: {name}:{line}: unexpected character in command")
        if m.lastgroup != "ws":
            tokens.append(_Tok(m.lastgroup or "", m.group()))
        pos = m.end()
    return tokens


# ---------------------------------------------------------------- values and functions


def _go_string(value: object) -> str:
    """fmt.Sprint of one value."""
    if value is NO_VALUE:
        return "<no value>"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_string(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def _go_json(value: object) -> str:
    """Sprig ``toJson``: Go ``json.Marshal`` (HTML-safe escaping, sorted keys); each invalid UTF-8
    byte of a value becomes ``\\ufffd`` as in Go; a missing value is ``null``."""
    return gojson.dumps(value, surrogateescape=True, default=_no_value_as_null)


def _no_value_as_null(value: object) -> None:
    if value is not NO_VALUE:
        raise TypeError(f"json: unsupported type: {type(value).__name__}")
    return None


def _empty(value: object) -> bool:
    return value in (None, NO_VALUE, "", 0, False) or (isinstance(value, (dict, list)) and not value)


def _index(item: object, *keys: object) -> object:
    for key in keys:
        if item is None or item is NO_VALUE:
            raise _ExecError("index of untyped nil")
        if isinstance(item, dict):
            item = item.get(key, "") if isinstance(key, str) else _raise("value has type int; should be string")
        elif isinstance(item, str) and isinstance(key, int):
            raw = item.encode(_ENC, _ERRORS)
            if not 0 <= key < len(raw):
                raise _ExecError(f"index out of range: {key}")
            item = raw[key]
        else:
            raise _ExecError(f"can't index item of type {_type_name(item)}")
    return item


def _raise(msg: str) -> NoReturn:
    raise _ExecError(msg)


def _type_name(value: object) -> str:
    return {str: "string", bool: "bool", int: "int", dict: "map[string]string"}.get(type(value), "interface {}")


def _printf(fmt: str, *args: object) -> str:
    out, argi, i = [], 0, 0
    while i < len(fmt):
        ch = fmt[i]
        if ch != "%" or i + 1 >= len(fmt):
            out.append(ch)
            i += 1
            continue
        verb = fmt[i + 1]
        i += 2
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        if verb in "sv":
            out.append(_go_string(arg))
        elif verb == "q" and isinstance(arg, str):
            out.append(gostrconv.quote(arg))
        elif verb == "d" and isinstance(arg, int) and not isinstance(arg, bool):
            out.append(str(arg))
        else:
            out.append(f"%!{verb}({_type_name(arg)}={_go_string(arg)})")
    if argi < len(args):
        out.append("%!(EXTRA " + ", ".join(f"{_type_name(a)}={_go_string(a)}" for a in args[argi:]) + ")")
    return "".join(out)


def _b64dec(text: object) -> str:
    try:
        return gobase64.decode(_go_string(text)).decode(_ENC, _ERRORS)
    except ValueError as exc:
        return str(exc)  # Sprig returns the decoder's error text instead of failing


def _sprint(*args: object) -> str:
    out = []
    for i, arg in enumerate(args):
        if i > 0 and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(_go_string(arg))
    return "".join(out)


def _default(default: object, *given: object) -> object:
    return default if not given or _empty(given[0]) else given[0]


def _len(value: object) -> int:
    if isinstance(value, str):
        return len(value.encode(_ENC, _ERRORS))
    if isinstance(value, (dict, list)):
        return len(value)
    raise _ExecError(f"len of type {_type_name(value)}")


def _and(*args: object) -> object:
    for arg in args:
        if _empty(arg):
            return arg
    return args[-1]


def _or(*args: object) -> object:
    for arg in args:
        if not _empty(arg):
            return arg
    return args[-1]


_FUNCS: dict[str, Callable[..., object]] = {
    # Go builtins
    "index": _index,
    "print": _sprint,
    "printf": lambda f, *a: _printf(_go_string(f), *a),
    "len": _len,
    "eq": lambda a, *b: any(a == x for x in b),
    "ne": lambda a, b: a != b,
    "not": lambda a: _empty(a),
    "and": _and,
    "or": _or,
    # Sprig
    "toJson": _go_json,
    "b64enc": lambda s: base64.b64encode(_go_string(s).encode(_ENC, _ERRORS)).decode("ascii"),
    "b64dec": _b64dec,
    "quote": lambda *a: " ".join(gostrconv.quote(_go_string(x)) for x in a if x is not None),
    "squote": lambda *a: " ".join(f"'{_go_string(x)}'" for x in a if x is not None),
    "trim": lambda s: _go_string(s).strip(" \t\n\r\v\f\u0085\u00a0"),
    "upper": lambda s: _go_string(s).upper(),
    "lower": lambda s: _go_string(s).lower(),
    "default": _default,
}


class _ExecError(Exception):
    pass


# ---------------------------------------------------------------- execution


def _eval(node: _Node, dot: object, root: object, piped: tuple[object, ...] = ()) -> object:
    if node.kind == "lit":
        return node.value
    if node.kind in ("field", "var"):
        path = node.value
        value = dot if node.kind == "field" else root
        names = [p for p in (path[1:] if node.kind == "var" else path).split(".") if p]
        if piped:
            raise _ExecError(f"can't give argument to non-function {path}")
        for name in names:
            if isinstance(value, dict):
                value = value.get(name, NO_VALUE)
            elif value is NO_VALUE or value is None:
                raise _ExecError(f"nil pointer evaluating interface {{}}.{name}")
            else:
                raise _ExecError(f"can't evaluate field {name} in type {_type_name(value)}")
        return value
    if node.kind == "pipe":
        result: tuple[object, ...] = piped
        last: object = None
        for command in node.args or []:
            last = _eval(command, dot, root, result)
            result = (last,)
        return last
    if node.kind == "call":
        args = [_eval(a, dot, root) for a in node.args or []] + list(piped)
        try:
            return _FUNCS[node.value](*args)
        except TypeError:
            raise _ExecError(f"wrong number of args for {node.value}: got {len(args)}") from None
    raise _ExecError("unsupported node")


def render(name: str, source: str, data: Mapping[str, bytes]) -> bytes:
    """Render ``source`` (template named ``name``) with the dot = ``data`` (item name → plaintext)."""
    parts = _parse(name, source)
    dot = {k: v.decode(_ENC, _ERRORS) for k, v in data.items()}
    out: list[str] = []
    for _, part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        try:
            out.append(_go_string(_eval(part, dot, dot)))
        except _ExecError as exc:
            raise TemplateError(f'template: {name}: executing "{name}": {exc}') from None
    return "".join(out).encode(_ENC, _ERRORS)
