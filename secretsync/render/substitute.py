"""Flux ``postBuild`` variable substitution over objects: ``${VAR}``, ``${VAR:=default}``.

Shaped like fluxcd/pkg ``envsubst``: ``parse(text)`` gives nodes (``Text``, ``Var``),
``evaluate(nodes, lookup)`` fills them, strictly: an undefined variable without a default
is an error naming it (never an empty string). ``$${VAR}`` is an escape that yields the literal
``${VAR}``. Any other ``${...}`` form (``${VAR:-x}``, ``${VAR/a/b}``, a bad name) is refused.

Over objects (``substitute_objects``):
- string keys and values are substituted; objects annotated (or labelled)
  ``secretsync.io/substitute: disabled`` (or Flux's ``kustomize.toolkit.fluxcd.io/substitute``)
  are left alone;
- values that are already ``SecretBytes`` (decrypted, unsealed, resolved from Vault) are never
  touched: substitution must not rewrite secret material that happens to contain ``${``;
- a value written as a *plain* YAML scalar is re-typed after substitution, as Flux's re-parse
  does (``replicas: ${N}`` becomes an int); a quoted one stays a string;
- a Secret's ``data``/``stringData`` values stay strings here (``data`` still base64); the
  pipeline turns them into ``SecretBytes`` afterwards.

Variables come from inline values (``--substitute``, ``postBuild.substitute``) and from ConfigMaps
and Secrets (``--substitute-from``, ``postBuild.substituteFrom``). ``collect_variables`` is the one
implementation both the CLI and the agent use: it reads each ``VariableSource`` through a callable
(this module reads no cluster), skips a missing one marked ``optional``, refuses any other missing
one (``VariableSourceNotFound``), and ``merge_variables`` applies Flux's precedence (inline values
win, later sources override earlier ones) and refuses a name that is not a variable name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from secretsync.errors import SecretsyncError
from secretsync.manifests.loader import PlainStr, retype_plain
from secretsync.objects import ObjectId
from secretsync.secretvalue import SecretBytes

__all__ = [
    "Text",
    "Var",
    "parse",
    "evaluate",
    "SubstitutionError",
    "substitute_object",
    "merge_variables",
    "variables_from_object",
    "VariableSource",
    "VariableSourceNotFound",
    "collect_variables",
    "is_disabled",
    "VARIABLE_NAME",
    "DISABLE_ANNOTATIONS",
]

VARIABLE_NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")
_NAME_PART = re.compile(r"[^}:]*")
DISABLE_ANNOTATIONS = ("secretsync.io/substitute", "kustomize.toolkit.fluxcd.io/substitute")

Value = str | SecretBytes


class SubstitutionError(SecretsyncError):
    """A variable is undefined, or an expression is malformed; names the variable, never a value."""

    reference = "substitution-failed"


@dataclass(frozen=True)
class Text:
    value: str


@dataclass(frozen=True)
class Var:
    name: str
    default: tuple[Node, ...] | None = None  # nodes, evaluated only when the variable is unset or empty


Node = Text | Var
Path = tuple[str | int, ...]  # where a value sits in an object ("<key>" for a mapping key)


def parse(text: str) -> tuple[Node, ...]:
    """Parse ``text`` into nodes; raises ``SubstitutionError`` on a malformed ``${...}``."""
    nodes, end = _parse(text, 0, nested=False)
    return tuple(nodes)


def _parse(text: str, pos: int, nested: bool) -> tuple[list[Node], int]:
    nodes: list[Node] = []
    buf: list[str] = []
    while pos < len(text):
        if text.startswith("$${", pos):
            buf.append("${")
            pos += 3
            continue
        if text.startswith("${", pos):
            if buf:
                nodes.append(Text("".join(buf)))
                buf = []
            var, pos = _parse_var(text, pos + 2)
            nodes.append(var)
            continue
        if nested and text[pos] == "}":
            break
        buf.append(text[pos])
        pos += 1
    if buf:
        nodes.append(Text("".join(buf)))
    return nodes, pos


def _parse_var(text: str, pos: int) -> tuple[Var, int]:
    match = _NAME_PART.match(text, pos)
    name = match.group(0) if match else ""
    pos = match.end() if match else pos
    if not VARIABLE_NAME.match(name):
        raise SubstitutionError(
            f"invalid variable name {name[:64]!r} in ${{...}}",
            hint="names are letters, digits and _ (not starting with a digit); write $${ for a literal ${",
        )
    if text.startswith("}", pos):
        return Var(name), pos + 1
    if text.startswith(":=", pos):
        default, pos = _parse(text, pos + 2, nested=True)
        if not text.startswith("}", pos):
            raise SubstitutionError(f"${{{name}:=...}} is not closed with }}")
        return Var(name, tuple(default)), pos + 1
    if pos >= len(text):
        raise SubstitutionError(f"${{{name} is not closed with }}")
    raise SubstitutionError(
        f"unsupported expression after ${{{name}: only ${{VAR}} and ${{VAR:=default}} are supported",
        hint="write $${ for a literal ${",
    )


def evaluate(nodes: Iterable[Node], lookup: Callable[[str], Value | None]) -> tuple[str, bool]:
    """The text with every variable filled in, and whether a SecretBytes value was used."""
    out: list[str] = []
    used_secret = False
    for node in nodes:
        if isinstance(node, Text):
            out.append(node.value)
            continue
        value = lookup(node.name)
        if value is None or (isinstance(value, (str, SecretBytes)) and len(value) == 0):
            if node.default is None:
                if value is not None:
                    out.append("")
                    continue
                raise SubstitutionError(
                    f"variable {node.name!r} is not defined and has no default",
                    hint=f"pass --substitute {node.name}=..., or write ${{{node.name}:=default}}",
                )
            text, secret = evaluate(node.default, lookup)
            out.append(text)
            used_secret |= secret
        elif isinstance(value, SecretBytes):
            out.append(value.reveal_text())
            used_secret = True
        else:
            out.append(str(value))
    return "".join(out), used_secret


def is_disabled(obj: Mapping[str, Any]) -> bool:
    metadata = obj.get("metadata") or {}
    for field in ("annotations", "labels"):
        values = metadata.get(field) or {}
        for name in DISABLE_ANNOTATIONS:
            if str(values.get(name, "")).lower() == "disabled":
                return True
    return False


def substitute_object(obj: dict[str, Any], variables: Mapping[str, Value]) -> dict[str, Any]:
    """A copy of ``obj`` with variables substituted (or ``obj`` itself when disabled / nothing to do)."""
    if is_disabled(obj):
        return obj
    lookup = variables.get
    is_secret = obj.get("kind") == "Secret" and str(obj.get("apiVersion", "")) == "v1"

    def walk(value: Any, path: Path) -> Any:
        if isinstance(value, dict):
            return {
                sub(k, path + ("<key>",)) if isinstance(k, str) else k: walk(v, path + (k,)) for k, v in value.items()
            }
        if isinstance(value, list):
            return [walk(v, path + (i,)) for i, v in enumerate(value)]
        if isinstance(value, str):
            result = sub(value, path)
            if result is value:
                return value
            if isinstance(value, PlainStr) and not (is_secret and len(path) == 2):
                return retype_plain(result)
            return result
        return value

    def sub(text: str, path: Path) -> str:
        if "${" not in text:
            return text
        try:
            result, _ = evaluate(parse(text), lookup)
        except SubstitutionError as exc:
            where = ".".join(str(p) for p in path if p != "<key>")
            if is_secret and len(path) == 2 and path[0] in ("data", "stringData"):
                # the message quotes the text after ${, which here is part of a Secret value
                raise SubstitutionError(
                    f"{ObjectId.of(obj)}: {where}: a ${{...}} in the value is malformed or "
                    f"names an undefined variable (the value is not shown)",
                    hint="define the variable, or write $${ for a literal ${",
                ) from None
            raise SubstitutionError(f"{ObjectId.of(obj)}: {where or 'key'}: {exc.message}", hint=exc.hint) from None
        return result

    result: dict[str, Any] = walk(obj, ())
    return result


def variables_from_object(obj: Mapping[str, Any]) -> dict[str, Value]:
    """Variables held by a ConfigMap (``data``) or a Secret (``data`` as SecretBytes, ``stringData``)."""
    kind = obj.get("kind")
    out: dict[str, Value] = {}
    if kind == "ConfigMap":
        for k, v in (obj.get("data") or {}).items():
            out[str(k)] = str(v)
    elif kind == "Secret":
        for field in ("data", "stringData"):
            for k, v in (obj.get(field) or {}).items():
                out[str(k)] = v if isinstance(v, SecretBytes) else SecretBytes(str(v))
    else:
        raise SubstitutionError(f"{ObjectId.of(obj)}: variables come only from a ConfigMap or a Secret")
    return out


def merge_variables(
    inline: Mapping[str, Value] | None = None, sources: Iterable[Mapping[str, Value]] = ()
) -> dict[str, Value]:
    """Flux's precedence: later sources override earlier ones, inline values override all sources."""
    merged: dict[str, Value] = {}
    for source in sources:
        merged.update(source)
    merged.update(inline or {})
    for name in merged:
        if not VARIABLE_NAME.match(name):
            raise SubstitutionError(
                f"invalid variable name {name[:64]!r}",
                hint="names are letters, digits and _ (not starting with a digit)",
            )
    return merged


@dataclass(frozen=True)
class VariableSource:
    """A ConfigMap or Secret whose entries are postBuild variables; a missing ``optional`` one is skipped."""

    kind: str  # ConfigMap or Secret
    namespace: str
    name: str
    optional: bool = False


class VariableSourceNotFound(SubstitutionError):
    """A ConfigMap or Secret named as a variable source does not exist (and is not optional)."""

    reference = "variable-source-not-found"


def collect_variables(
    inline: Mapping[str, Value] | None,
    sources: Iterable[VariableSource],
    read: Callable[[VariableSource], Mapping[str, Any] | None],
    *,
    what: str = "postBuild.substituteFrom",
) -> dict[str, Value]:
    """The variables of ``inline`` over those of ``sources`` (Flux's order), every name checked.

    ``read(source)`` returns the object or None when it does not exist; a missing source marked
    ``optional`` is skipped, any other raises ``VariableSourceNotFound`` (``what`` names the field or
    flag in its message). A name that is not a variable name raises ``SubstitutionError``.
    """
    found = []
    for source in sources:
        obj = read(source)
        if obj is None:
            if source.optional:
                continue
            raise VariableSourceNotFound(
                f"{what}: {source.kind} {source.namespace}/{source.name} not found",
                hint="create it, or mark the reference optional",
            )
        found.append(variables_from_object({**obj, "kind": obj.get("kind") or source.kind}))
    return merge_variables(inline, found)
