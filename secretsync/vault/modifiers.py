"""The seven argocd-vault-plugin placeholder modifiers (``| base64encode``, ``| jsonPath {.a}``, ...).

``MODIFIERS`` maps each modifier's name to ``fn(args, value) -> value``; a modifier that
refuses its input raises ``ModifierError`` with AVP's wording, naming the Go type of the
value, never the value. Pure: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import yaml

from secretsync.gocompat import gobase64
from secretsync.vault.jsonpath import JSONNumber, JSONPathError, go_type
from secretsync.vault.jsonpath import render as render_jsonpath

__all__ = ["MODIFIERS", "ModifierError"]


class ModifierError(Exception):
    """A modifier refused its input or its parameters (AVP's wording; never the value)."""


def _need_string(value: Any) -> str:
    if not isinstance(value, str):
        raise ModifierError(f"invalid datatype {go_type(value)}")
    return value


def _no_args(args: tuple[str, ...]) -> None:
    if args:
        raise ModifierError("invalid parameters")


def _go_base64_decode(text: str) -> str:
    """Go's lenient use of StdEncoding.DecodeString: keep what decoded before the first bad quantum."""
    return gobase64.decode_prefix(text).decode("utf-8", errors="replace")


def _json_load(text: str) -> Any:
    try:
        return json.loads(text, parse_float=JSONNumber)
    except json.JSONDecodeError as exc:
        raise ModifierError(f"invalid JSON ({exc.msg} at position {exc.pos})") from None


def _stringify_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _stringify_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify_keys(v) for v in value]
    return value


def _mod_base64encode(args: tuple[str, ...], value: Any) -> Any:
    _no_args(args)
    return base64.b64encode(_need_string(value).encode("utf-8")).decode("ascii")


def _mod_base64decode(args: tuple[str, ...], value: Any) -> Any:
    _no_args(args)
    return _go_base64_decode(_need_string(value))


def _mod_jsonpath(args: tuple[str, ...], value: Any) -> Any:
    if not args:
        raise ModifierError("invalid parameters")
    if isinstance(value, str):
        data = _json_load(value)
    elif isinstance(value, (dict, list)):
        data = value
    else:
        raise ModifierError(f"invalid datatype {go_type(value)}")
    try:
        return render_jsonpath(" ".join(args), data)
    except JSONPathError as exc:
        raise ModifierError(str(exc)) from None


def _mod_jsonparse(args: tuple[str, ...], value: Any) -> Any:
    _no_args(args)
    return _json_load(_need_string(value))


def _mod_yamlparse(args: tuple[str, ...], value: Any) -> Any:
    _no_args(args)
    try:
        return _stringify_keys(yaml.safe_load(_need_string(value)))
    except yaml.YAMLError:
        raise ModifierError("invalid YAML") from None


def _mod_indent(args: tuple[str, ...], value: Any) -> Any:
    if len(args) != 1:
        raise ModifierError("invalid parameters")
    try:
        width = int(args[0])
    except ValueError:
        raise ModifierError("invalid parameters") from None
    text = _need_string(value)
    lines = text.split("\n")
    out = lines[0].strip()
    for line in lines[1:]:
        if line:
            out += "\n" + " " * width + line.strip()
    if text.endswith("\n"):
        out += "\n"
    return out


def _mod_sha256sum(args: tuple[str, ...], value: Any) -> Any:
    _no_args(args)
    return hashlib.sha256(_need_string(value).encode("utf-8")).hexdigest()


MODIFIERS: dict[str, Callable[[tuple[str, ...], Any], Any]] = {
    "base64encode": _mod_base64encode,
    "base64decode": _mod_base64decode,
    "jsonPath": _mod_jsonpath,
    "jsonParse": _mod_jsonparse,
    "yamlParse": _mod_yamlparse,
    "indent": _mod_indent,
    "sha256sum": _mod_sha256sum,
}
