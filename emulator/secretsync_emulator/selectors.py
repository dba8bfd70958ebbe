"""Label and field selectors as the Kubernetes API server parses and matches them.

Pure code for the API emulator (and later kstatus/health code):

- ``parse_label_selector(text)`` follows ``k8s.io/apimachinery/pkg/labels.Parse``:
  requirements joined by ``,``; operators ``=``, ``==``, ``!=``, ``in (..)``,
  ``notin (..)``, ``>`` and ``<`` (integers), a bare key (exists) and ``!key``
  (does not exist). Keys must be qualified names, values valid label values;
  errors carry the server's text (``unable to parse requirement: ...``,
  ``found 'x', expected: ...``), which the server answers with 400 BadRequest.
- ``label_selector_from_dict(selector)`` follows ``metav1.LabelSelectorAsSelector``
  for ``matchLabels``/``matchExpressions`` (``None`` selects nothing, ``{}`` everything).
- ``parse_field_selector(text)`` follows ``fields.ParseSelector`` (terms split on
  unescaped ``,``; ``=``, ``==``, ``!=``; ``\\`` escapes) plus the server's field label
  check: ``metadata.name`` and ``metadata.namespace`` for every kind, a few more
  per kind; anything else is ``field label not supported: x``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SelectorError",
    "Requirement",
    "LabelSelector",
    "FieldSelector",
    "parse_label_selector",
    "label_selector_from_dict",
    "parse_field_selector",
    "validate_qualified_name",
    "validate_label_value",
]


class SelectorError(ValueError):
    """A selector the API server would refuse (400 BadRequest); str() is the server's text."""


# --- validation (k8s.io/apimachinery/pkg/util/validation) --------------------------------

_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_RE = re.compile(f"^{_QNAME_FMT}$")
_LABEL_VALUE_FMT = f"({_QNAME_FMT})?"
_LABEL_VALUE_RE = re.compile(f"^{_LABEL_VALUE_FMT}$")
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_RE = re.compile(f"^{_DNS1123_SUBDOMAIN_FMT}$")

_QNAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, "
    "'-', '_' or '.', and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
    "characters, '-' or '.', and must start and end with an alphanumeric character"
)


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    # Go's validation.RegexError, including its odd "',  or '" spacing.
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    text = msg + " (e.g. "
    for i, example in enumerate(examples):
        if i:
            text += " or "
        text += f"'{example}', "
    return text + f"regex used for validation is '{fmt}')"


def validate_qualified_name(value: str) -> list[str]:
    """Error strings of ``validation.IsQualifiedName`` (empty when valid): label keys, annotation keys."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            if len(prefix) > 253:
                errs.append("prefix part must be no more than 253 characters")
            if not _DNS1123_SUBDOMAIN_RE.match(prefix):
                errs.append(
                    "prefix part " + _regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com")
                )
    else:
        return [
            "a qualified name "
            + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if not _QNAME_RE.match(name):
        errs.append("name part " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


def validate_label_value(value: str) -> list[str]:
    """Error strings of ``validation.IsValidLabelValue`` (empty when valid)."""
    errs: list[str] = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _LABEL_VALUE_RE.match(value):
        errs.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def _go_quote(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[]string{" + ", ".join(_go_quote(v) for v in value) + "}"
    return str(value)


def _invalid(path: str, value: Any, detail: str) -> str:
    # field.Invalid(...).Error(); a nil path prints as "<nil>".
    return f"{path}: Invalid value: {_go_quote(value)}: {detail}"


def _aggregate(errors: list[str]) -> str:
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


# --- requirements and selectors ---------------------------------------------------------

_UNARY = ("exists", "!")
_BINARY_OPERATORS = ["in", "notin", "=", "==", "!=", "gt", "lt"]
_VALID_OPERATORS = _BINARY_OPERATORS + ["exists", "!"]


def _parse_int64(text: str) -> int | None:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


@dataclass(frozen=True)
class Requirement:
    """One requirement: ``key``, an operator (``in notin = == != gt lt exists !``) and values."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    @classmethod
    def build(
        cls, key: str, operator: str, values: list[str] | tuple[str, ...], path: str | None = None
    ) -> Requirement:
        """Validate like ``labels.NewRequirement``; raise SelectorError with its aggregate text."""
        vals = list(values)
        base = path
        errors: list[str] = []
        key_errs = validate_qualified_name(key)
        if key_errs:
            errors.append(_invalid(f"{base}.key" if base else "key", key, "; ".join(key_errs)))
        vpath = f"{base}.values" if base else "values"
        if operator in ("in", "notin"):
            if not vals:
                errors.append(_invalid(vpath, vals, "for 'in', 'notin' operators, values set can't be empty"))
        elif operator in ("=", "==", "!="):
            if len(vals) != 1:
                errors.append(_invalid(vpath, vals, "exact-match compatibility requires one single value"))
        elif operator in _UNARY:
            if vals:
                errors.append(_invalid(vpath, vals, "values set must be empty for exists and does not exist"))
        elif operator in ("gt", "lt"):
            if len(vals) != 1:
                errors.append(_invalid(vpath, vals, "for 'Gt', 'Lt' operators, exactly one value is required"))
            for i, v in enumerate(vals):
                if _parse_int64(v) is None:
                    errors.append(
                        _invalid(f"{vpath}[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer")
                    )
        else:
            supported = ", ".join(_go_quote(op) for op in _VALID_OPERATORS)
            errors.append(
                f"{base + '.' if base else ''}operator: Unsupported value: {_go_quote(operator)}: "
                f"supported values: {supported}"
            )
        for i, v in enumerate(vals):
            value_errs = validate_label_value(v)
            if value_errs:
                errors.append(_invalid(f"{vpath}[{i}][{key}]", v, "; ".join(value_errs)))
        if errors:
            raise SelectorError(_aggregate(errors))
        return cls(key, operator, tuple(vals))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """``Requirement.Matches``: a missing key satisfies only ``!=``, ``notin`` and ``!``."""
        op = self.operator
        has = self.key in labels
        if op in ("in", "=", "=="):
            return has and labels[self.key] in self.values
        if op in ("notin", "!="):
            return not has or labels[self.key] not in self.values
        if op == "exists":
            return has
        if op == "!":
            return not has
        if op in ("gt", "lt"):
            if not has or len(self.values) != 1:
                return False
            left, right = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
            if left is None or right is None:
                return False
            return left > right if op == "gt" else left < right
        return False

    def __str__(self) -> str:
        op = self.operator
        if op == "exists":
            return self.key
        if op == "!":
            return "!" + self.key
        values = ",".join(sorted(self.values))
        if op in ("in", "notin"):
            return f"{self.key} {op} ({values})"
        symbol = {"gt": ">", "lt": "<"}.get(op, op)
        return f"{self.key}{symbol}{values}"


@dataclass(frozen=True)
class LabelSelector:
    """All requirements must match (sorted by key, as the server stores them)."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def empty(self) -> bool:
        """True when the selector does not restrict anything (``labels.Everything()``)."""
        return not self.nothing and not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


# --- label selector lexer/parser (labels.Parse grammar) ---------------------------------

_SPECIAL = set("=!(),><")
_WHITESPACE = set(" \t\r\n")
_TOKENS = {
    ")": "closedpar",
    ",": "comma",
    "!": "not",
    "==": "deq",
    "=": "eq",
    ">": "gt",
    "in": "in",
    "<": "lt",
    "!=": "neq",
    "notin": "notin",
    "(": "openpar",
}
_EOS = "end"
_ID = "id"
_ERROR = "error"


def _lex(text: str) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= n:
            items.append((_EOS, ""))
            return items
        ch = text[pos]
        if ch in _SPECIAL:
            # longest run of special characters that is still a token (Go's scanSpecialSymbol)
            buffer, last = "", None
            while pos < n and text[pos] in _SPECIAL:
                buffer += text[pos]
                if buffer in _TOKENS:
                    last = (_TOKENS[buffer], buffer)
                    pos += 1
                elif last is not None:
                    break
                else:
                    pos += 1
            if last is None:
                items.append((_ERROR, f"error expected: keyword found '{buffer}'"))
            else:
                items.append(last)
        else:
            start = pos
            while pos < n and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
                pos += 1
            word = text[start:pos]
            items.append((_TOKENS[word], word) if word in ("in", "notin") else (_ID, word))


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    def _item(self, index: int, values: bool) -> tuple[str, str]:
        tok, lit = self.items[min(index, len(self.items) - 1)]
        if values and tok in ("in", "notin"):
            tok = _ID
        return tok, lit

    def lookahead(self, values: bool = True) -> tuple[str, str]:
        return self._item(self.pos, values)

    def consume(self, values: bool = True) -> tuple[str, str]:
        item = self._item(self.pos, values)
        self.pos += 1
        return item

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            tok, lit = self.lookahead()
            if tok in (_ID, "not"):
                try:
                    requirements.append(self.requirement())
                except SelectorError as exc:
                    raise SelectorError(f"unable to parse requirement: {exc}") from None
                tok, lit = self.consume()
                if tok == _EOS:
                    return requirements
                if tok == "comma":
                    tok2, lit2 = self.lookahead()
                    if tok2 not in (_ID, "not"):
                        raise SelectorError(f"found '{lit2}', expected: identifier after ','")
                else:
                    raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            elif tok == _EOS:
                return requirements
            else:
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        operator = None
        tok, lit = self.consume()
        if tok == "not":
            operator = "!"
            tok, lit = self.consume()
        if tok != _ID:
            raise SelectorError(f"found '{lit}', expected: identifier")
        key = lit
        key_errs = validate_qualified_name(key)
        if key_errs:
            raise SelectorError(_invalid("<nil>", key, "; ".join(key_errs)))
        nxt, _ = self.lookahead()
        if nxt in (_EOS, "comma"):
            return Requirement.build(key, operator or "exists", [])
        if operator == "!":
            # "!key=v": Go returns the does-not-exist requirement; the caller then trips on "="
            return Requirement.build(key, "!", [])
        operator = self.operator()
        if operator in ("in", "notin"):
            values = self.values()
        else:
            values = self.exact_value()
        return Requirement.build(key, operator, sorted(set(values)))

    def operator(self) -> str:
        tok, lit = self.consume(values=False)
        ops = {"in": "in", "eq": "=", "deq": "==", "gt": "gt", "lt": "lt", "notin": "notin", "neq": "!="}
        if tok not in ops:
            raise SelectorError(f"found '{lit}', expected: in, notin, =, ==, !=, gt, lt")
        return ops[tok]

    def values(self) -> list[str]:
        tok, lit = self.consume()
        if tok != "openpar":
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok in (_ID, "comma"):
            values = self.identifiers()
            tok2, _ = self.consume()
            if tok2 != "closedpar":
                raise SelectorError(f"found '{lit}', expected: ')'")
            return values
        if tok == "closedpar":
            self.consume()
            return [""]
        raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def identifiers(self) -> list[str]:
        values: list[str] = []
        while True:
            tok, lit = self.consume()
            if tok == _ID:
                values.append(lit)
                tok2, lit2 = self.lookahead()
                if tok2 == "comma":
                    continue
                if tok2 == "closedpar":
                    return values
                raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            if tok == "comma":
                if not values:
                    values.append("")
                tok2, _ = self.lookahead()
                if tok2 == "closedpar":
                    values.append("")
                    return values
                if tok2 == "comma":
                    self.consume()
                    values.append("")
                continue
            raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> list[str]:
        tok, _ = self.lookahead()
        if tok in (_EOS, "comma"):
            return [""]
        tok, lit = self.consume()
        if tok == _ID:
            return [lit]
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """Parse a ``labelSelector`` query value; an empty string selects everything."""
    requirements = _Parser(text).parse()
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))


_EXPRESSION_OPERATORS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def label_selector_from_dict(selector: Mapping[str, Any] | None) -> LabelSelector:
    """A ``metav1.LabelSelector`` (matchLabels/matchExpressions) as a LabelSelector.

    ``None`` selects nothing, an empty selector everything (``LabelSelectorAsSelector``).
    """
    if selector is None:
        return LabelSelector(nothing=True)
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    requirements: list[Requirement] = []
    for key, value in match_labels.items():
        requirements.append(Requirement.build(key, "=", [value]))
    for expr in expressions:
        op = expr.get("operator")
        if op not in _EXPRESSION_OPERATORS:
            raise SelectorError(f'"{op}" is not a valid label selector operator')
        requirements.append(
            Requirement.build(expr.get("key", ""), _EXPRESSION_OPERATORS[op], list(expr.get("values") or []))
        )
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))


# --- field selectors ----------------------------------------------------------------------

# Field labels the server accepts beyond metadata.name/metadata.namespace, by kind
# (from the conversion funcs registered in pkg/apis/*/v1/conversion.go).
_EXTRA_FIELD_LABELS: dict[str, dict[str, tuple[str, ...]]] = {
    "Secret": {"type": ("type",)},
    "Namespace": {"status.phase": ("status", "phase")},
    "Event": {
        "involvedObject.kind": ("involvedObject", "kind"),
        "involvedObject.namespace": ("involvedObject", "namespace"),
        "involvedObject.name": ("involvedObject", "name"),
        "involvedObject.uid": ("involvedObject", "uid"),
        "involvedObject.apiVersion": ("involvedObject", "apiVersion"),
        "involvedObject.resourceVersion": ("involvedObject", "resourceVersion"),
        "involvedObject.fieldPath": ("involvedObject", "fieldPath"),
        "reason": ("reason",),
        "reportingComponent": ("reportingComponent",),
        "source": ("source", "component"),
        "type": ("type",),
    },
    "Job": {"status.successful": ("status", "succeeded")},
}
_COMMON_FIELD_LABELS = {"metadata.name": ("metadata", "name"), "metadata.namespace": ("metadata", "namespace")}


@dataclass(frozen=True)
class FieldRequirement:
    """``field`` compared with ``=``/``==`` (equal) or ``!=`` to ``value``."""

    field: str
    operator: str
    value: str


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()
    kind: str | None = None

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for req in self.requirements:
            actual = _field_value(obj, _field_path(req.field, self.kind))
            equal = actual == req.value
            if (req.operator == "!=") == equal:
                return False
        return True

    def empty(self) -> bool:
        return not self.requirements


def _field_path(field: str, kind: str | None) -> tuple[str, ...]:
    if field in _COMMON_FIELD_LABELS:
        return _COMMON_FIELD_LABELS[field]
    return _EXTRA_FIELD_LABELS.get(kind or "", {})[field]


def _field_value(obj: Mapping[str, Any], path: tuple[str, ...]) -> str:
    node: Any = obj
    for part in path:
        if not isinstance(node, Mapping):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def _split_terms(text: str) -> list[str]:
    terms, start, escaped = [], 0, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            if i + 1 >= len(value) or value[i + 1] not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: {value[i : i + 2]}")
            out.append(value[i + 1])
            i += 2
            continue
        if ch in ",=":
            raise SelectorError(f"invalid field selector: unescaped character {ch!r}")
        out.append(ch)
        i += 1
    return "".join(out)


def parse_field_selector(text: str, kind: str | None = None) -> FieldSelector:
    """Parse a ``fieldSelector`` query value for objects of ``kind`` (None: any kind).

    Supported for every kind: ``metadata.name``, ``metadata.namespace``; a few more per kind
    (Secret ``type``, Namespace ``status.phase``, Event ``involvedObject.*``/``reason``/...).
    """
    requirements: list[FieldRequirement] = []
    if text.strip() == "":
        return FieldSelector((), kind)
    for term in _split_terms(text):
        if term == "":
            continue
        found = None
        for i in range(len(term)):
            for op in ("!=", "==", "="):
                if term.startswith(op, i):
                    found = (term[:i], op, term[i + len(op) :])
                    break
            if found:
                break
        if not found:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, raw_value = found
        value = _unescape(raw_value)
        if field not in _COMMON_FIELD_LABELS and field not in _EXTRA_FIELD_LABELS.get(kind or "", {}):
            raise SelectorError(f"field label not supported: {field}")
        requirements.append(FieldRequirement(field, "!=" if op == "!=" else "=", value))
    return FieldSelector(tuple(requirements), kind)
