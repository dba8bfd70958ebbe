"""SealedSecret objects ⇄ Secrets, as kubeseal and the Sealed Secrets controller do it.

``seal_secret`` turns a Secret (a plain dict) into a SealedSecret (kubeseal's default
seal: scope rules, namespace rules, stripped metadata, every data/stringData item
sealed); ``unseal_sealed_secret`` applies the controller's template → Secret logic
(scope from the SealedSecret's own top-level annotations with the exact ``"true"``
rule, per-item errors, ``template.data`` rendering, ownerReferences). ``load_documents``
reads the objects of a kubeseal input with the manifest loader, in kubeseal's words
(``secretsync.manifests.dump.dump_kubeseal`` writes them). Re-encryption to the newest key
is ``secretsync.sealing.reencrypt``.

No Kubernetes client code and no file access: dicts in, dicts out. In a returned
Secret every ``data`` value is a ``SecretBytes`` (the decoded bytes).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from secretsync.crypto import sealing
from secretsync.crypto.sealing import Scope
from secretsync.errors import SecretsyncError
from secretsync.gocompat import gobase64
from secretsync.manifests.loader import Limits, ManifestError, load_manifests
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
    "sealed_items",
    "ValueUnsealer",
    "merge_into",
    "seal_merged",
    "sealed_secret_label",
    "is_sealed_secret",
    "load_documents",
    "SKIP_OWNER_REFERENCES_ANNOTATION",
]

log = logging.getLogger(__name__)


class ValueUnsealer(Protocol):
    """What unsealing needs of a keyring (``secretsync.sealing.keyring.Keyring`` is one)."""

    def unseal(self, sealed: bytes, label: bytes) -> SecretBytes: ...


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


def _meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _describe(obj: Mapping[str, Any]) -> str:
    meta = _meta(obj)
    ns, name = meta.get("namespace") or "", meta.get("name") or "<unnamed>"
    return f"{ns}/{name}" if ns else name


def is_sealed_secret(obj: object) -> bool:
    return (
        isinstance(obj, dict) and obj.get("kind") == KIND and str(obj.get("apiVersion", "")).startswith("bitnami.com/")
    )


def sealed_secret_label(obj: Mapping[str, Any]) -> bytes:
    """The OAEP label of a SealedSecret: scope, namespace and name from its top-level metadata."""
    meta = _meta(obj)
    scope = sealing.scope_from_annotations(meta.get("annotations"))
    return sealing.scope_label(scope, str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _values(secret: Mapping[str, Any], where: str) -> dict[str, SecretBytes]:
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


def _sealed_metadata(
    secret: Mapping[str, Any], scope: Scope | None, namespace: str | None, default_namespace: str
) -> tuple[dict[str, Any], dict[str, Any], Scope]:
    """kubeseal's metadata rules: (metadata, annotations, effective scope). ``--scope`` rewrites
    the scope annotations; a non-cluster-wide Secret gets its namespace (``-n``, else the
    context's) and a mismatch is refused; server-owned fields are stripped."""
    meta = dict(_meta(secret))
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
    return meta, annotations, effective


def _template(secret: Mapping[str, Any], meta: Mapping[str, Any], annotations: Mapping[str, Any]) -> dict[str, Any]:
    """``spec.template``: the Secret's metadata without ownerReferences and last-applied annotations,
    its type and immutable flag."""
    template_meta = dict(meta)
    template_meta.pop("ownerReferences", None)
    template_annotations = {k: v for k, v in annotations.items() if k not in _LAST_APPLIED}
    if template_annotations:
        template_meta["annotations"] = template_annotations
    else:
        template_meta.pop("annotations", None)
    template: dict[str, Any] = {"metadata": template_meta}
    if secret.get("type"):
        template["type"] = secret["type"]
    if secret.get("immutable") is not None:
        template["immutable"] = secret["immutable"]
    return template


def seal_secret(
    secret: Mapping[str, Any],
    certificate: x509.Certificate | rsa.RSAPublicKey,
    scope: Scope | None = None,
    *,
    namespace: str | None = None,
    default_namespace: str = "default",
    allow_empty_data: bool = False,
) -> dict[str, Any]:
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
    meta, annotations, effective = _sealed_metadata(secret, scope, namespace, default_namespace)
    input_ns = str(meta.get("namespace") or "")
    values = _values(secret, where)
    name = str(meta["name"])
    public_key = _public_key(certificate)
    label = sealing.scope_label(effective, input_ns, name)
    encrypted = {
        key: base64.b64encode(sealing.seal(public_key, value, label)).decode("ascii") for key, value in values.items()
    }
    top: dict[str, Any] = {"name": name}
    if input_ns:
        top["namespace"] = input_ns
    if effective is not Scope.STRICT:
        top["annotations"] = {effective.annotation(): "true"}
    return {
        "kind": KIND,
        "apiVersion": API_VERSION,
        "metadata": top,
        "spec": {"template": _template(secret, meta, annotations), "encryptedData": encrypted},
    }


def merge_into(existing: Mapping[str, Any], sealed: Mapping[str, Any]) -> dict[str, Any]:
    """kubeseal ``--merge-into``: items, template labels/annotations/data of ``sealed`` into ``existing``."""
    out: dict[str, Any] = json.loads(json.dumps(existing))
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


def seal_merged(
    existing: Mapping[str, Any],
    secrets: list[dict[str, Any]],
    certificate: x509.Certificate | rsa.RSAPublicKey,
    scope: Scope | None = None,
    *,
    allow_empty_data: bool = False,
) -> dict[str, Any]:
    """kubeseal ``--merge-into``: each Secret sealed under ``existing``'s name and namespace, and
    merged into it (``merge_into``); ``existing`` itself is left as it was."""
    meta = _meta(existing)
    merged = dict(existing)
    for secret in secrets:
        named = dict(secret)
        named["metadata"] = dict(_meta(secret), name=meta.get("name"), namespace=meta.get("namespace"))
        sealed = seal_secret(
            named,
            certificate,
            scope,
            default_namespace=meta.get("namespace") or "",
            allow_empty_data=allow_empty_data,
        )
        merged = merge_into(merged, sealed)
    return merged


# ---------------------------------------------------------------- unseal


def _decode_items(obj: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, str]:
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


def sealed_items(obj: Mapping[str, Any], spec: Mapping[str, Any], problems: dict[str, list[str]]) -> dict[str, bytes]:
    """Each ``encryptedData`` item base64-decoded; invalid ones go to ``problems`` (no decrypt attempted)."""
    out = {}
    for key, text in _decode_items(obj, spec).items():
        error = gobase64.error_text(text)
        if error is not None:
            problems.setdefault(error, []).append(key)
        else:
            out[key] = gobase64.decode(text)
    return out


def _unseal_v1(obj: Mapping[str, Any], data: object, keyring: ValueUnsealer, label: bytes) -> dict[str, Any]:
    """The deprecated format: the whole Secret as JSON, sealed as one value."""
    ns, name = _meta(obj).get("namespace") or "", _meta(obj).get("name") or ""
    try:
        sealed = gobase64.decode(str(data))
    except ValueError:
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


def _from_template(
    obj: Mapping[str, Any], spec: Mapping[str, Any], template: Mapping[str, Any], keyring: ValueUnsealer, label: bytes
) -> dict[str, Any]:
    """The controller's template path: decrypt every item, render ``template.data``, collect errors."""
    meta = _meta(obj)
    problems: dict[str, list[str]] = {}
    data: dict[str, SecretBytes] = {}
    for key, sealed in sealed_items(obj, spec, problems).items():
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
    secret: dict[str, Any] = {
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


def unseal_sealed_secret(
    obj: Mapping[str, Any], keyring: ValueUnsealer, *, accept_deprecated_v1: bool = True
) -> dict[str, Any]:
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


# ---------------------------------------------------------------- reading and writing objects


def _input_error(exc: ManifestError, source: str, size: int, limits: Limits) -> InputError:
    """The manifest loader's refusal in kubeseal's words (the texts these commands always printed)."""
    document = f"document {(exc.index or 0) + 1}"
    if exc.cause == "size":
        return InputError(
            f"{source}: input is {size} bytes, more than the limit of {limits.max_bytes}",
            hint="a SealedSecret or Secret file is small; check that this is the file you meant",
        )
    if exc.cause == "encoding":
        return InputError(f"{source}: input is not UTF-8 text")
    if exc.cause == "json":
        return InputError(
            f"{source}: not valid JSON (line {exc.line}, column {exc.column}: {exc.detail})",
            hint="check the file's syntax",
        )
    if exc.cause == "yaml":
        where = f" (line {exc.line}, column {exc.column})" if exc.line is not None else ""
        return InputError(f"{source}: not valid YAML{where}", hint="check the file's syntax")
    if exc.cause == "depth":
        return InputError(f"{source}: {document}: nested too deeply")
    return InputError(f"{source}: {document}: {exc.reason}")


def load_documents(data: bytes, source: str, limits: Limits = Limits()) -> list[dict[str, Any]]:
    """Objects of a YAML (``---`` documents) or JSON (one or concatenated objects) input.

    Read by the manifest loader (``secretsync.manifests.loader``: go-yaml v2 typing, as kubeseal
    reads them; timestamps stay text), ``kind: *List`` documents expanded to their items. Hostile
    input is refused naming ``source`` (``InputError``): more than ``limits.max_bytes``, nesting
    past ``limits.max_depth``, or aliases expanding past ``limits.max_nodes`` (a YAML bomb).
    """
    try:
        docs = load_manifests(data, source, limits)
    except ManifestError as exc:
        raise _input_error(exc, source, len(data), limits) from None
    out: list[dict[str, Any]] = []
    for index, doc in docs:
        if isinstance(doc, list):
            raise InputError(f"{source}: document {index + 1} is a list, not a Kubernetes object")
        if not isinstance(doc, dict):
            raise InputError(f"{source}: document {index + 1} is not a Kubernetes object")
        if isinstance(doc.get("items"), list) and str(doc.get("kind", "")).endswith("List"):
            out.extend(item for item in doc["items"] if isinstance(item, dict))
        else:
            out.append(doc)
    return out
