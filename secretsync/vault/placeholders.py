"""argocd-vault-plugin placeholders (``<key>``, ``<path:kv/data/app#key#version | modifier>``) over objects.

Shaped like Flux's envsubst: ``parse(text, generic)`` turns a string into text and
``Placeholder`` nodes, ``substitute`` evaluates them with a lookup callable, and
``resolve(objects, backend)`` walks whole Kubernetes objects with AVP's rules: both
modes (path annotation present or absent), the seven modifiers, the annotations with
Go boolean rules, typed whole-field insertion, Secret base64 wrapping and ConfigMap
stringification. ``fingerprints(objects, backend)`` lists what the objects reference
with a cheap per-path change signal. Pure apart from the backend's reads.

Deliberate differences from AVP (they change failure cases only; see docs/vault.md):
all objects are resolved before any is returned (all-or-nothing); ignored objects
cause no reads; a typed value inside a longer string is an error; error messages
never echo a field's value; in the output every Secret ``data``/``stringData`` value
is a ``SecretBytes`` (``data``: the decoded bytes), so a ``data`` value that is not
valid base64 after substitution is an error here rather than at apply time.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from secretsync.errors import SecretsyncError
from secretsync.gocompat import gobase64, gostrconv
from secretsync.secretvalue import SecretBytes
from secretsync.vault.jsonpath import go_json, go_text, go_type
from secretsync.vault.modifiers import MODIFIERS, ModifierError

__all__ = [
    "PATH_ANNOTATION",
    "IGNORE_ANNOTATION",
    "KV_VERSION_ANNOTATION",
    "SECRET_VERSION_ANNOTATION",
    "REMOVE_MISSING_ANNOTATION",
    "Reference",
    "Modifier",
    "Placeholder",
    "PlaceholderError",
    "MissingValue",
    "parse",
    "substitute",
    "resolve",
    "fingerprints",
    "references",
    "go_bool",
    "object_id",
]

PATH_ANNOTATION = "avp.kubernetes.io/path"
IGNORE_ANNOTATION = "avp.kubernetes.io/ignore"
KV_VERSION_ANNOTATION = "avp.kubernetes.io/kv-version"
SECRET_VERSION_ANNOTATION = "avp.kubernetes.io/secret-version"
REMOVE_MISSING_ANNOTATION = "avp.kubernetes.io/remove-missing"

_GENERIC_SPAN = re.compile(r"<[^\n]*?>")
_INLINE_SPAN = re.compile(r"<path:([^#]+?)#([^#]+?)(?:#([^#]+?))??>")
_INLINE_REF = re.compile(r"path:([^#]+?)#([^#]+?)(?:#(.+))?$", re.S)


def go_bool(text: Any) -> bool:
    """Go's strconv.ParseBool truth: 1 t T TRUE true True; anything else (or an error) is false."""
    try:
        return isinstance(text, str) and gostrconv.parse_bool(text)
    except ValueError:
        return False


# ---------------------------------------------------------------------------------------------- parse


@dataclass(frozen=True)
class Reference:
    """What a placeholder looks up: ``key`` in the annotation's secret (path None) or in ``path``."""

    key: str
    path: str | None = None
    version: str | None = None

    @property
    def text(self) -> str:
        if self.path is None:
            return self.key
        return f"path:{self.path}#{self.key}" + (f"#{self.version}" if self.version is not None else "")


@dataclass(frozen=True)
class Modifier:
    name: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class Placeholder:
    """One ``<…>`` span: its source text, what it references and its modifier pipeline."""

    span: str
    reference_text: str
    reference: Reference
    modifiers: tuple[Modifier, ...]


def _parse_span(span: str) -> Placeholder:
    inner = span.strip("<>")
    pieces = inner.split("|")
    ref_text = pieces[0].strip(" ")
    m = _INLINE_REF.search(ref_text)
    if m:
        reference = Reference(key=m.group(2).strip(), path=m.group(1), version=m.group(3))
    else:
        reference = Reference(key=ref_text)
    modifiers = []
    for piece in pieces[1:]:
        words = piece.split()
        modifiers.append(Modifier(words[0] if words else "", tuple(words[1:])))
    return Placeholder(span, ref_text, reference, tuple(modifiers))


def parse(text: str, generic: bool) -> list[str | Placeholder]:
    """Split ``text`` into literal strings and placeholders.

    ``generic`` (the path annotation is present): any shortest ``<…>`` on one line.
    Otherwise only ``<path:P#K>`` / ``<path:P#K#V>`` spans count; other ``<words>`` stay text.
    """
    pattern = _GENERIC_SPAN if generic else _INLINE_SPAN
    nodes: list[str | Placeholder] = []
    pos = 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            nodes.append(text[pos : m.start()])
        nodes.append(_parse_span(m.group(0)))
        pos = m.end()
    if pos < len(text):
        nodes.append(text[pos:])
    return nodes


# ---------------------------------------------------------------------------------------------- evaluate


class MissingValue(Exception):
    """Raised by a lookup when the key is absent or null (AVP: "missing Vault value")."""


@dataclass
class Problem:
    """One placeholder that could not be resolved; ``missing`` ones may be dropped by remove-missing."""

    message: str
    missing: bool = False


_NOTHING = object()


_HIDDEN_REFERENCE = "(inside a decrypted value, not shown)"


def substitute(
    text: str, field: str, generic: bool, lookup: Callable[[Reference], Any], *, hidden: bool = False
) -> tuple[Any, list[Problem]]:
    """Replace every placeholder of ``text``; returns (string or typed value, problems).

    ``lookup(reference)`` returns the Vault value, raises ``MissingValue``, or raises a
    ``SecretsyncError`` (a read failure). On problems the span is left in place.
    ``hidden``: ``text`` is a decrypted secret value, so problems name only the field, never
    a reference, modifier or path (all of them are text of the secret).
    """
    nodes = parse(text, generic)
    if not any(isinstance(n, Placeholder) for n in nodes):
        return text, []
    out: list[str] = []
    problems: list[Problem] = []
    typed: Any = _NOTHING
    typed_from: Placeholder | None = None
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
            continue
        out.append(node.span)
        ref_text = _HIDDEN_REFERENCE if hidden else node.reference_text
        try:
            value = lookup(node.reference)
        except MissingValue:
            problems.append(
                Problem(
                    f"replaceString: missing Vault value for placeholder {ref_text} in string {field}", missing=True
                )
            )
            continue
        except SecretsyncError as exc:
            problems.append(
                Problem(
                    f"cannot read Vault for placeholder {ref_text} in string {field} ({exc.reference})"
                    if hidden
                    else exc.message
                )
            )
            continue
        failed = False
        for mod in node.modifiers:
            func = MODIFIERS.get(mod.name)
            mod_name = "(not shown)" if hidden else mod.name
            if func is None:
                problems.append(Problem(f"invalid modifier: {mod_name} for placeholder {ref_text} in string {field}"))
                failed = True
                break
            try:
                value = func(mod.args, value)
            except ModifierError as exc:
                problems.append(Problem(f"{mod_name}: {exc} for placeholder {ref_text} in string {field}"))
                failed = True
                break
        if failed:
            continue
        if isinstance(value, str):
            out[-1] = value
        else:
            typed, typed_from = value, node
    if typed is not _NOTHING and not problems:
        if len(nodes) > 1:
            problems.append(
                Problem(
                    f"placeholder {_HIDDEN_REFERENCE if hidden or typed_from is None else typed_from.reference_text} "
                    f"in string {field} "
                    f"yields a {go_type(typed)} value inside a longer string; a typed value must fill the whole "
                    f"field (AVP would drop the surrounding text)"
                )
            )
        else:
            return typed, problems
    return "".join(out), problems


def stringify(value: Any) -> str:
    """ConfigMap rule: strings stay, numbers keep their text, bools are lowercase, maps/lists compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return go_json(value)
    return go_text(value)


# ---------------------------------------------------------------------------------------------- objects


class PlaceholderError(SecretsyncError):
    """A manifest whose placeholders could not all be resolved (AVP's message, plus the object named)."""

    reference = "vault-placeholders-unresolved"

    def __init__(self, object_name: str, problems: list[str], hint: str | None = None) -> None:
        message = "Replace: could not replace all placeholders in Template:\n" + "\n".join(problems)
        message += f"\n(in {object_name})"
        super().__init__(message, hint=hint or "fix the placeholders or the Vault secrets named above")
        self.object_name = object_name
        self.problems = problems


def object_id(obj: Mapping[str, Any]) -> str:
    """``Kind namespace/name`` (or ``Kind name``) for messages."""
    metadata = obj.get("metadata")
    meta: dict[str, Any] = metadata if isinstance(metadata, dict) else {}
    name = meta.get("name", "?")
    ns = meta.get("namespace")
    return f"{obj.get('kind', '?')} {ns + '/' if ns else ''}{name}"


def _annotations(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    ann = meta.get("annotations") if isinstance(meta, dict) else None
    return ann if isinstance(ann, dict) else {}


def _ann_str(ann: dict[str, Any], name: str) -> str | None:
    value = ann.get(name)
    return None if value is None else (value if isinstance(value, str) else str(value))


@dataclass
class _Manifest:
    obj: dict[str, Any]
    kind: str
    generic: bool
    path: str | None
    version: str | None
    kv: str | None
    remove_missing: bool
    ignored: bool


def _manifest(obj: dict[str, Any]) -> _Manifest:
    ann = _annotations(obj)
    path = _ann_str(ann, PATH_ANNOTATION)
    return _Manifest(
        obj=obj,
        kind=str(obj.get("kind", "")),
        generic=PATH_ANNOTATION in ann,
        path=path or None,
        version=_ann_str(ann, SECRET_VERSION_ANNOTATION) or None,
        kv=_ann_str(ann, KV_VERSION_ANNOTATION),
        remove_missing=go_bool(ann.get(REMOVE_MISSING_ANNOTATION)),
        ignored=go_bool(ann.get(IGNORE_ANNOTATION)),
    )


def _b64_decode_strict(text: str) -> bytes | None:
    try:
        return gobase64.decode(text)
    except ValueError:
        return None


class _Walker:
    """Substitutes every string of one object with the kind's rules, collecting problems."""

    def __init__(self, manifest: _Manifest, lookup: Callable[[Reference], Any]) -> None:
        self.m = manifest
        self.lookup = lookup
        self.problems: list[str] = []

    def _generic(self, text: str, field: str, hidden: bool = False) -> tuple[Any, list[Problem]]:
        return substitute(text, field, self.m.generic, self.lookup, hidden=hidden)

    def replace_string(self, text: str, field: str) -> tuple[Any, list[Problem]]:
        if self.m.kind == "Secret":
            decoded = _b64_decode_strict(text)
            if decoded is not None and _GENERIC_SPAN.search(decoded.decode("utf-8", "surrogateescape")):
                result, problems = self._generic(decoded.decode("utf-8", "surrogateescape"), field)
                encoded = stringify(result).encode("utf-8", "surrogateescape")
                return base64.b64encode(encoded).decode("ascii"), problems
            return self._generic(text, field)
        if self.m.kind == "ConfigMap":
            result, problems = self._generic(text, field)
            return stringify(result), problems
        return self._generic(text, field)

    def replace_secret_bytes(self, value: SecretBytes, field: str) -> tuple[Any, list[Problem]]:
        """A value already decrypted by an earlier step (``data``: decoded bytes; ``stringData``: text)."""
        text = value.reveal().decode("utf-8", "surrogateescape")
        if not _GENERIC_SPAN.search(text):
            return value, []
        result, problems = self._generic(text, field, hidden=True)
        return SecretBytes(stringify(result).encode("utf-8", "surrogateescape")), problems

    def walk(self, node: dict[str, Any]) -> None:
        for key in list(node):
            value = node[key]
            if isinstance(value, dict):
                self.walk(value)
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, dict):
                        self.walk(item)
                    elif isinstance(item, (str, SecretBytes)):
                        value[i] = self._replace(item, str(key), remove_allowed=False)
            elif isinstance(value, (str, SecretBytes)):
                result = self._replace(value, str(key), remove_allowed=True)
                if result is _REMOVE:
                    del node[key]
                else:
                    node[key] = result

    def _replace(self, value: str | SecretBytes, field: str, remove_allowed: bool) -> Any:
        if isinstance(value, SecretBytes):
            result, problems = self.replace_secret_bytes(value, field)
        else:
            result, problems = self.replace_string(value, field)
        if not problems:
            return result
        if remove_allowed and self.m.remove_missing and any(p.missing for p in problems):
            self.problems.extend(p.message for p in problems if not p.missing)
            return _REMOVE
        self.problems.extend(p.message for p in problems)
        return value


_REMOVE = object()


def _normalise_secret(obj: dict[str, Any], name: str) -> None:
    """Secret values as the pipeline holds them: ``data`` decoded into SecretBytes, ``stringData`` too."""
    problems = []
    data = obj.get("data")
    if isinstance(data, dict):
        for key, value in list(data.items()):
            if isinstance(value, SecretBytes) or value is None:
                continue
            if not isinstance(value, str):
                problems.append(f"data.{key} holds a {go_type(value)} value; Secret data values must be base64 text")
                continue
            try:
                data[key] = SecretBytes.from_base64(value.replace("\r", "").replace("\n", ""))
            except ValueError:
                problems.append(f"data.{key} is not valid base64")
    string_data = obj.get("stringData")
    if isinstance(string_data, dict):
        for key, value in list(string_data.items()):
            if isinstance(value, SecretBytes) or value is None:
                continue
            string_data[key] = SecretBytes(stringify(value))
    if problems:
        raise SecretsyncError(
            f"{name}: " + "; ".join(problems),
            reference="vault-secret-data-invalid",
            hint="Secret data values are base64: store base64 in Vault, use <key | base64encode>, or move the "
            "key to stringData",
        )


def _reader_of(backend: Any) -> Any:
    return backend.reader() if hasattr(backend, "reader") else backend


def _lookup_for(m: _Manifest, reader: Any, annotation_data: Mapping[str, Any] | None) -> Callable[[Reference], Any]:
    def lookup(ref: Reference) -> Any:
        if ref.path is None:
            data = annotation_data if annotation_data is not None else {}
        else:
            data = reader.read(ref.path, ref.version, m.kv)
        value = data.get(ref.key)
        if value is None:
            raise MissingValue(ref.text)
        return value

    return lookup


def resolve(objects: list[dict[str, Any]], backend: Any) -> list[dict[str, Any]]:
    """Resolve every placeholder of every object; all or nothing.

    ``backend`` is a ``secretsync.vault.client.VaultBackend`` (a fresh read cache is used for this
    call) or anything with ``read(path, version, kv_version) -> Mapping``. Returns new
    objects (the inputs are not modified). Raises ``PlaceholderError`` naming the object
    and its placeholders, or the backend's error for an annotation path that cannot be read.
    """
    reader = _reader_of(backend)
    out = []
    for original in objects:
        if not isinstance(original, dict):
            out.append(original)
            continue
        m = _manifest(original)
        name = object_id(original)
        if m.ignored:
            out.append(copy.deepcopy(original))
            continue
        obj = copy.deepcopy(original)
        m.obj = obj
        if m.remove_missing and m.kind not in ("Secret", "ConfigMap"):
            raise PlaceholderError(
                name, [f"{REMOVE_MISSING_ANNOTATION} annotation can only be used on Secret or ConfigMap resources"]
            )
        annotation_data = None
        if m.path:
            try:
                annotation_data = reader.read(m.path, m.version, m.kv)
            except SecretsyncError as exc:
                named = copy.copy(exc)  # the reader caches ``exc``: leave it unchanged
                named.message = f"{exc.message}\n(path annotation of {name})"
                named.args = (named.message,)
                raise named from None
        walker = _Walker(m, _lookup_for(m, reader, annotation_data))
        walker.walk(obj)
        if walker.problems:
            raise PlaceholderError(name, walker.problems)
        if m.kind == "Secret":
            _normalise_secret(obj, name)
        out.append(obj)
    return out


def references(objects: list[dict[str, Any]]) -> list[tuple[str, str | None, str | None]]:
    """Every (path, version, kv-version) the non-ignored objects would read, in first-use order."""
    seen: dict[tuple[str, str | None, str | None], None] = {}
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        m = _manifest(obj)
        if m.ignored:
            continue
        if m.path:
            seen.setdefault((m.path, m.version, m.kv), None)
        for text in _strings(obj, m.kind == "Secret"):
            for node in parse(text, m.generic):
                if isinstance(node, Placeholder) and node.reference.path is not None:
                    seen.setdefault((node.reference.path, node.reference.version, m.kv), None)
    return list(seen)


def _strings(node: Any, secret: bool) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _strings(value, secret)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, (dict, str, SecretBytes)):
                yield from _strings(item, secret)
    elif isinstance(node, SecretBytes):
        yield node.reveal().decode("utf-8", "surrogateescape")
    elif isinstance(node, str):
        yield node
        if secret:
            decoded = _b64_decode_strict(node)
            if decoded is not None:
                yield decoded.decode("utf-8", "surrogateescape")


def fingerprints(objects: list[dict[str, Any]], backend: Any) -> dict[str, str]:
    """A change signal per referenced path, without reading values where Vault allows it.

    Keys are ``kv<N>:<path>`` (plus ``?version=V`` when pinned); values are KV v2
    ``current_version`` (from the metadata endpoint) or a keyed hash of the values (KV v1).
    Compare two results to know whether a re-render could change anything.
    """
    default_kv = getattr(getattr(backend, "config", None), "kv_version", "2")
    out: dict[str, str] = {}
    for path, version, kv in references(objects):
        kv_eff = (kv or default_kv).strip()
        key = f"kv{kv_eff}:{path}" + (f"?version={version}" if version and kv_eff == "2" else "")
        if key not in out:
            out[key] = backend.fingerprint(path, version, kv_eff)
    return out
