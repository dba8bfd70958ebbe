"""SealedSecret objects ⇄ Secrets, as kubeseal and the Sealed Secrets controller do it.

``seal_secret`` turns a Secret (a plain dict) into a SealedSecret (kubeseal's default
seal: scope rules, namespace rules, stripped metadata, every data/stringData item
sealed); ``unseal_sealed_secret`` applies the controller's template → Secret logic
(scope from the SealedSecret's own top-level annotations with the exact ``"true"``
rule, per-item errors, ``template.data`` rendering, ownerReferences);
``reseal_items`` re-encrypts the items of a SealedSecret to the newest key keeping
their scope. ``load_documents`` and ``dump`` read and write Kubernetes objects the way
kubeseal does (Go-style pretty JSON, sorted-key YAML).

No Kubernetes client code and no file access: dicts in, dicts out. In a returned
Secret every ``data`` value is a ``SecretBytes`` (the decoded bytes).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
from collections.abc import Iterable, Mapping

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from secretsync.crypto import sealing
from secretsync.crypto.sealing import Scope
from secretsync.errors import SecretsyncError
from secretsync.gocompat import gojson
from secretsync.manifests.loader import Limits, safe_load_all_guarded
from secretsync.sealing import template as gotemplate
from secretsync.secretvalue import SecretBytes

__all__ = [
    "API_VERSION",
    "KIND",
    "SealError",
    "UnsealError",
    "InputError",
    "seal_secret",
    "seal_value",
    "unseal_sealed_secret",
    "reseal_items",
    "merge_into",
    "sealed_secret_label",
    "is_sealed_secret",
    "load_documents",
    "dump",
    "SKIP_OWNER_REFERENCES_ANNOTATION",
]

log = logging.getLogger(__name__)

API_VERSION = "bitnami.com/v1alpha1"
KIND = "SealedSecret"
SKIP_OWNER_REFERENCES_ANNOTATION = "sealedsecrets.bitnami.com/skip-set-owner-references"
_LAST_APPLIED = ("kubectl.kubernetes.io/last-applied-configuration", "kubecfg.ksonnet.io/last-applied-configuration")
_STRIPPED_META = (
    "uid",
    "resourceVersion",
    "selfLink",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


class SealError(SecretsyncError):
    """kubeseal refused the input (its own message text)."""

    reference = "seal-failed"


class InputError(SecretsyncError):
    """An input file is not what it should be; the message names the file and object."""

    reference = "bad-input"


class UnsealError(SecretsyncError):
    """A SealedSecret could not be turned into a Secret; names the object and the items.

    ``problems`` maps each distinct message (kubeseal's text, e.g. ``no key could
    decrypt secret``) to the item names it concerns. No value is ever part of it.
    """

    reference = "unseal-failed"
    exit_code = 3  # secretsync.cli.exit_codes.DECRYPT_FAILED (library code does not import the CLI)

    def __init__(self, namespace: str, name: str, problems: Mapping[str, list[str]], hint: str | None = None) -> None:
        self.namespace, self.name = namespace, name
        self.problems = {msg: sorted(keys) for msg, keys in problems.items()}
        lines = [f"{msg} ({', '.join(keys)})" if keys else msg for msg, keys in sorted(self.problems.items())]
        self.kubeseal_text = "\n".join(lines)
        if hint is None and sealing.NO_KEY_COULD_DECRYPT in self.problems:
            hint = (
                "the value was sealed for another key, namespace, name or scope; check the SealedSecret's "
                "namespace/name and scope annotations, and that the key backup includes every key"
            )
        super().__init__(f"cannot unseal SealedSecret {namespace}/{name}: {self.kubeseal_text}", hint=hint)

    @property
    def items(self) -> list[str]:
        return sorted({k for keys in self.problems.values() for k in keys})


# ---------------------------------------------------------------- helpers


def _meta(obj: Mapping) -> dict:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _describe(obj: Mapping) -> str:
    meta = _meta(obj)
    ns, name = meta.get("namespace") or "", meta.get("name") or "<unnamed>"
    return f"{ns}/{name}" if ns else name


def is_sealed_secret(obj: object) -> bool:
    return (
        isinstance(obj, dict) and obj.get("kind") == KIND and str(obj.get("apiVersion", "")).startswith("bitnami.com/")
    )


def sealed_secret_label(obj: Mapping) -> bytes:
    """The OAEP label of a SealedSecret: scope, namespace and name from its top-level metadata."""
    meta = _meta(obj)
    scope = sealing.scope_from_annotations(meta.get("annotations"))
    return sealing.scope_label(scope, str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _go_base64_error(text: str) -> str | None:
    """None if ``text`` is valid standard base64 (Go ignores CR/LF), else Go's error text."""
    cleaned = text.replace("\r", "").replace("\n", "")
    try:
        base64.b64decode(cleaned, validate=True)
        return None
    except (binascii.Error, ValueError):
        pass
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    for i, ch in enumerate(cleaned):
        if ch not in alphabet:
            if ch == "=" and len(cleaned) % 4 == 0 and i >= len(cleaned) - 2 and set(cleaned[i:]) == {"="}:
                continue
            return f"illegal base64 data at input byte {i}"
    return f"illegal base64 data at input byte {len(cleaned) - len(cleaned) % 4}"


def _values(secret: Mapping, where: str) -> dict[str, SecretBytes]:
    """data (base64 text or SecretBytes) and stringData (text or SecretBytes); stringData wins."""
    out: dict[str, SecretBytes] = {}
    data = secret.get("data") or {}
    string_data = secret.get("stringData") or {}
    if not isinstance(data, dict) or not isinstance(string_data, dict):
        raise InputError(f"Secret {where}: data and stringData must be maps of strings")
    for key, value in data.items():
        if isinstance(value, SecretBytes):
            out[key] = value
        elif isinstance(value, str):
            try:
                out[key] = SecretBytes.from_base64(value.replace("\n", "").replace("\r", ""))
            except ValueError:
                raise InputError(
                    f'Secret {where}: data["{key}"] is not valid base64',
                    hint="values under data are base64; put plain text under stringData",
                ) from None
        elif value is None:
            out[key] = SecretBytes(b"")
        else:
            raise InputError(f'Secret {where}: data["{key}"] must be a base64 string')
    for key, value in string_data.items():
        if isinstance(value, SecretBytes):
            out[key] = value
        elif isinstance(value, str):
            out[key] = SecretBytes(value)
        elif value is None:
            out[key] = SecretBytes(b"")
        else:
            raise InputError(f'Secret {where}: stringData["{key}"] must be a string (quote numbers and booleans)')
    return out


def _public_key(certificate: x509.Certificate | rsa.RSAPublicKey) -> rsa.RSAPublicKey:
    key = certificate.public_key() if isinstance(certificate, x509.Certificate) else certificate
    if not isinstance(key, rsa.RSAPublicKey):
        raise SealError("the certificate does not hold an RSA public key")
    return key


def seal_value(
    certificate: x509.Certificate | rsa.RSAPublicKey,
    value: SecretBytes | bytes,
    scope: Scope,
    namespace: str,
    name: str,
) -> str:
    """One sealed value as ``encryptedData`` holds it (base64)."""
    label = sealing.scope_label(scope, namespace, name)
    return base64.b64encode(sealing.seal(_public_key(certificate), value, label)).decode("ascii")


# ---------------------------------------------------------------- seal


def seal_secret(
    secret: Mapping,
    certificate: x509.Certificate | rsa.RSAPublicKey,
    scope: Scope | None = None,
    *,
    namespace: str | None = None,
    default_namespace: str = "default",
    allow_empty_data: bool = False,
) -> dict:
    """kubeseal's default seal of one Secret.

    ``scope`` is ``--scope`` (None/strict: take the scope from the input's annotations),
    ``namespace`` is an explicit ``-n`` (None when not given), ``default_namespace`` the
    kubeconfig context's namespace used to fill an empty input namespace.
    """
    if not isinstance(secret, Mapping):
        raise InputError("input document is not an object")
    where = _describe(secret)
    has_data = bool(secret.get("data")) or bool(secret.get("stringData"))
    if not has_data and not allow_empty_data:
        raise SealError(
            "secret.data is empty in input Secret, assuming this is an error and aborting. "
            "To work with empty data, --allow-empty-data can be used"
        )
    meta = {k: v for k, v in _meta(secret).items()}
    if not meta.get("name"):
        raise SealError("missing metadata.name in input Secret")
    annotations = dict(meta.get("annotations") or {})
    if scope is not None and scope is not Scope.STRICT:
        annotations.pop(sealing.CLUSTER_WIDE_ANNOTATION, None)
        annotations.pop(sealing.NAMESPACE_WIDE_ANNOTATION, None)
        annotations[scope.annotation()] = "true"
        meta["annotations"] = annotations
    effective = sealing.scope_from_annotations(annotations)
    input_ns = meta.get("namespace") or ""
    if effective is not Scope.CLUSTER_WIDE:
        if input_ns and namespace and namespace != input_ns:
            raise SealError(
                f'namespace mismatch: input secret is in namespace "{input_ns}" but "{namespace}" was specified'
            )
        if not input_ns:
            meta["namespace"] = input_ns = namespace or default_namespace or ""
    for key in _STRIPPED_META:
        meta.pop(key, None)
    if effective is not Scope.CLUSTER_WIDE and not input_ns:
        raise SealError("secret must declare a namespace")
    values = _values(secret, where)
    name = str(meta["name"])
    public_key = _public_key(certificate)
    label = sealing.scope_label(effective, input_ns, name)
    encrypted = {
        key: base64.b64encode(sealing.seal(public_key, value, label)).decode("ascii") for key, value in values.items()
    }

    template_meta = dict(meta)
    template_meta.pop("ownerReferences", None)
    template_annotations = {k: v for k, v in annotations.items() if k not in _LAST_APPLIED}
    if template_annotations:
        template_meta["annotations"] = template_annotations
    else:
        template_meta.pop("annotations", None)
    template: dict = {"metadata": template_meta}
    if secret.get("type"):
        template["type"] = secret["type"]
    if secret.get("immutable") is not None:
        template["immutable"] = secret["immutable"]

    top: dict = {"name": name}
    if input_ns:
        top["namespace"] = input_ns
    if effective is not Scope.STRICT:
        top["annotations"] = {effective.annotation(): "true"}
    return {
        "kind": KIND,
        "apiVersion": API_VERSION,
        "metadata": top,
        "spec": {"template": template, "encryptedData": encrypted},
    }


def merge_into(existing: Mapping, sealed: Mapping) -> dict:
    """kubeseal ``--merge-into``: items, template labels/annotations/data of ``sealed`` into ``existing``."""
    out = json.loads(json.dumps(existing))
    spec = out.setdefault("spec", {})
    spec.setdefault("encryptedData", {}).update(sealed["spec"]["encryptedData"])
    new_template = sealed["spec"].get("template") or {}
    template = spec.setdefault("template", {})
    tmeta = template.setdefault("metadata", {}) or {}
    template["metadata"] = tmeta
    for field in ("labels", "annotations"):
        extra = (new_template.get("metadata") or {}).get(field) or {}
        if extra:
            tmeta.setdefault(field, {}).update(extra)
    if new_template.get("data"):
        template.setdefault("data", {}).update(new_template["data"])
    return out


# ---------------------------------------------------------------- unseal


def _decode_items(obj: Mapping, spec: Mapping) -> dict[str, object]:
    encrypted = spec.get("encryptedData")
    if encrypted is None:
        return {}
    if not isinstance(encrypted, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in encrypted.items()
    ):
        # The controller's decoder silently treats a non string→string map as empty.
        log.warning("SealedSecret %s: spec.encryptedData is not a map of strings; treated as empty", _describe(obj))
        return {}
    return dict(encrypted)


def _sealed_bytes(obj: Mapping, spec: Mapping, problems: dict[str, list[str]]) -> dict[str, bytes]:
    """Each ``encryptedData`` item base64-decoded; invalid ones go to ``problems`` (no decrypt attempted)."""
    out = {}
    for key, text in _decode_items(obj, spec).items():
        error = _go_base64_error(text)
        if error is not None:
            problems.setdefault(error, []).append(key)
        else:
            out[key] = base64.b64decode(text.replace("\r", "").replace("\n", ""))
    return out


def _unseal_v1(obj: Mapping, data: object, keyring, label: bytes) -> dict:
    """The deprecated format: the whole Secret as JSON, sealed as one value."""
    ns, name = _meta(obj).get("namespace") or "", _meta(obj).get("name") or ""
    try:
        sealed = base64.b64decode(str(data), validate=True)
    except (binascii.Error, ValueError):
        raise UnsealError(ns, name, {"spec.data (deprecated format) is not valid base64": []}) from None
    try:
        plaintext = keyring.unseal(sealed, label)
    except sealing.UnsealFailed:
        raise UnsealError(ns, name, {sealing.NO_KEY_COULD_DECRYPT: []}) from None
    try:
        inner = json.loads(plaintext.reveal())
        if not isinstance(inner, dict):
            raise ValueError
        inner["data"] = _values(inner, f"{ns}/{name}")
        inner.pop("stringData", None)
        return inner
    except (ValueError, InputError):
        raise UnsealError(ns, name, {"spec.data (deprecated format) does not hold a Secret": []}) from None


def _from_template(obj: Mapping, spec: Mapping, template: Mapping, keyring, label: bytes) -> dict:
    """The controller's template path: decrypt every item, render ``template.data``, collect errors."""
    meta = _meta(obj)
    problems: dict[str, list[str]] = {}
    data: dict[str, SecretBytes] = {}
    for key, sealed in _sealed_bytes(obj, spec, problems).items():
        try:
            data[key] = keyring.unseal(sealed, label)
        except sealing.UnsealFailed:
            problems.setdefault(sealing.NO_KEY_COULD_DECRYPT, []).append(key)
    template_data = template.get("data") or {}
    plain = {k: v.reveal() for k, v in data.items()}
    for key, source in template_data.items():
        if source is None:  # a null template item removes that key
            data.pop(key, None)
            continue
        try:
            data[key] = SecretBytes(gotemplate.render(key, str(source), plain))
        except gotemplate.TemplateError as exc:
            problems.setdefault(str(exc), []).append(key)
    if problems:
        raise UnsealError(str(meta.get("namespace") or ""), str(meta.get("name") or ""), problems)
    secret: dict = {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": json.loads(json.dumps(template.get("metadata") or {})),
    }
    if template.get("immutable") is not None:
        secret["immutable"] = template["immutable"]
    secret["data"] = data
    if template.get("type"):
        secret["type"] = template["type"]
    return secret


def unseal_sealed_secret(obj: Mapping, keyring, *, accept_deprecated_v1: bool = True) -> dict:
    """The Secret a SealedSecret stands for (data values ``SecretBytes``); raises UnsealError.

    ``keyring`` is anything with ``unseal(sealed: bytes, label: bytes) -> SecretBytes``
    (a ``secretsync.sealing.keyring.Keyring``). ``accept_deprecated_v1`` is the controller's
    ``--accept-deprecated-v1-data`` (kubeseal's recovery passes False).
    """
    if not isinstance(obj, Mapping):
        raise InputError("input document is not an object")
    meta = _meta(obj)
    ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        raise InputError(f"SealedSecret {_describe(obj)}: spec is missing or not an object")
    template = spec.get("template") or {}
    if not isinstance(template, dict):
        raise InputError(f"SealedSecret {_describe(obj)}: spec.template is not an object")
    label = sealed_secret_label(obj)
    if spec.get("data") is None:
        secret = _from_template(obj, spec, template, keyring, label)
    elif not accept_deprecated_v1:
        raise UnsealError(
            ns,
            name,
            {"using deprecated 'data' field, use 'encryptedData' or flip the feature flag": []},
            hint="re-seal the Secret with a current kubeseal or secretsync seal",
        )
    elif spec.get("encryptedData"):
        raise UnsealError(
            ns, name, {"cannot use the field 'encryptedData' and the deprecated field 'data' at the same time": []}
        )
    else:
        secret = _unseal_v1(obj, spec["data"], keyring, label)
    secret["kind"], secret["apiVersion"] = "Secret", "v1"
    smeta = secret.setdefault("metadata", {})
    smeta["namespace"], smeta["name"] = ns, name
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    if annotations.get(SKIP_OWNER_REFERENCES_ANNOTATION) != "true":
        smeta["ownerReferences"] = [
            {
                "apiVersion": str(obj.get("apiVersion") or API_VERSION),
                "kind": str(obj.get("kind") or KIND),
                "name": name,
                "uid": str(meta.get("uid") or ""),
                "controller": True,
            }
        ]
    return secret


def reseal_items(obj: Mapping, keyring) -> dict[str, str]:
    """New ``encryptedData`` values for the items not yet sealed with ``keyring.newest()``.

    Scope, namespace and name are kept (same label). Items already under the newest
    key are left out of the result, so their text does not change. Raises UnsealError
    naming every item no key could open.
    """
    meta = _meta(obj)
    ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    if spec.get("data"):
        raise UnsealError(
            ns,
            name,
            {"the deprecated spec.data format cannot be resealed in place": []},
            hint="unseal it (secretsync unseal) and seal it again",
        )
    label = sealed_secret_label(obj)
    newest = keyring.newest()
    public_key = newest.private_key.public_key()
    problems: dict[str, list[str]] = {}
    out: dict[str, str] = {}
    for key, sealed in _sealed_bytes(obj, spec, problems).items():
        try:
            plaintext, used = keyring.unseal_with_key(sealed, label)
        except sealing.UnsealFailed:
            problems.setdefault(sealing.NO_KEY_COULD_DECRYPT, []).append(key)
            continue
        if used is not newest:
            out[key] = base64.b64encode(sealing.seal(public_key, plaintext, label)).decode("ascii")
    if problems:
        raise UnsealError(ns, name, problems)
    return out


# ---------------------------------------------------------------- reading and writing objects


def _load_yaml(text: str, source: str, limits: Limits) -> list:
    """Every document of a YAML stream (safe types), aliases counted as the nodes they expand to.
    Timestamps stay the text written (``creationTimestamp: 2024-01-01T00:00:00Z`` as ``kubectl get
    -o yaml`` writes it): kubeseal keeps it, and JSON has no datetime."""
    try:
        return safe_load_all_guarded(text, limits.max_nodes, timestamps_as_text=True)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise InputError(f"{source}: not valid YAML{where}", hint="check the file's syntax") from None
    except ValueError as exc:
        raise InputError(f"{source}: {exc}") from None
    except RecursionError:
        raise InputError(f"{source}: nested too deeply") from None


def load_documents(data: bytes, source: str, limits: Limits = Limits()) -> list[dict]:
    """Objects of a YAML (``---`` documents) or JSON (one or concatenated objects) input.

    Hostile input is refused naming ``source``: more than ``limits.max_bytes``, nesting that
    exhausts the parser, or aliases expanding past ``limits.max_nodes`` (a YAML bomb).
    """
    if len(data) > limits.max_bytes:
        raise InputError(
            f"{source}: input is {len(data)} bytes, more than the limit of {limits.max_bytes}",
            hint="a SealedSecret or Secret file is small; check that this is the file you meant",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{source}: input is not UTF-8 text") from None
    stripped = text.lstrip()
    docs: list = []
    if stripped.startswith("{") or stripped.startswith("["):
        decoder, pos = json.JSONDecoder(), len(text) - len(stripped)
        try:
            while pos < len(text):
                doc, pos = decoder.raw_decode(text, pos)
                docs.append(doc)
                while pos < len(text) and text[pos] in " \t\r\n":
                    pos += 1
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
                hint="check the file's syntax",
            ) from None
        except RecursionError:
            raise InputError(f"{source}: document {len(docs) + 1}: nested too deeply") from None
    else:
        docs = _load_yaml(text, source, limits)
    out = []
    for index, doc in enumerate(docs, 1):
        if doc is None:
            continue
        if isinstance(doc, list):
            raise InputError(f"{source}: document {index} is a list, not a Kubernetes object")
        if not isinstance(doc, dict):
            raise InputError(f"{source}: document {index} is not a Kubernetes object")
        if isinstance(doc.get("items"), list) and str(doc.get("kind", "")).endswith("List"):
            out.extend(item for item in doc["items"] if isinstance(item, dict))
        else:
            out.append(doc)
    return out


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


def _represent_str(dumper: yaml.SafeDumper, value: str):
    style = None
    if "\n" in value:
        style = "|"
    elif dumper.resolve(yaml.ScalarNode, value, (True, False)) != "tag:yaml.org,2002:str":
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_KubeDumper.add_representer(str, _represent_str)


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


_GOYAML_KEY = functools.cmp_to_key(lambda a, b: -1 if _goyaml_less(a, b) else (1 if _goyaml_less(b, a) else 0))


def _goyaml_sorted(value: object) -> object:
    if isinstance(value, dict):
        return {k: _goyaml_sorted(value[k]) for k in sorted(value, key=_GOYAML_KEY)}
    if isinstance(value, list):
        return [_goyaml_sorted(v) for v in value]
    return value


def dump(objects: Iterable[Mapping], fmt: str = "json") -> str:
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
