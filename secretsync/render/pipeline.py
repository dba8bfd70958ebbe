"""The render step: Source → Documents → Transforms, shared by ``secretsync render`` and the agent.

Per object, in this order:
1. SOPS: whole-object sops files (decrypted from the original file bytes, MAC checked, even
   when kustomize rewrote the object) and Flux's convention of Secret ``data`` values that are
   themselves sops files;
2. target namespace (``--target-namespace``) for namespaced objects;
3. SealedSecret → Secret, the scope checked against the final namespace/name; the SealedSecret
   itself is dropped unless ``keep_sealed_secrets`` (then it is emitted as is, not unsealed);
4. Vault placeholders (argocd-vault-plugin syntax);
5. postBuild substitution (only when variables are given, as Flux does only with ``postBuild``);
6. Secret values normalised to ``SecretBytes`` (``data`` base64-decoded), then checked.

The result is atomic per revision: ``RenderResult.objects()`` raises unless every object
rendered, so a caller can neither apply nor prune after a partial render. Errors name the
file, document index, object and reason, never a value.

Dependencies (sops keys, sealing keyring, Vault backend) are passed in, each as a value or a
zero-argument factory called on first use (as sops's ``decryptOpts``): a render with no
SealedSecret never needs a keyring. The sops, sealing and Vault transforms are imported
statically; this module imports neither ``kube`` nor the agent.
"""

from __future__ import annotations

import functools
import logging
import threading
import traceback
import types
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from secretsync.errors import SecretsyncError
from secretsync.gocompat import gobase64
from secretsync.manifests.loader import (
    Limits,
    ManifestError,
    copy_tree,
    iter_leaves,
    load_manifests,
    validate_object,
)
from secretsync.objects import ObjectId, is_cluster_scoped, sync_wave
from secretsync.render.documents import Collected, Document, collect, is_sops_object, sops_overlay
from secretsync.render.substitute import substitute_object
from secretsync.sealing import objects as sealed_objects
from secretsync.secretvalue import SecretBytes
from secretsync.sops import transform as sops_transform
from secretsync.sources import Revision, Source
from secretsync.vault import placeholders

__all__ = [
    "RenderOptions",
    "Dependencies",
    "Outcome",
    "RenderResult",
    "RenderFailed",
    "Renderer",
    "TransformUnavailable",
    "render",
    "needs_vault",
    "has_nested_sops",
    "factory",
]

log = logging.getLogger(__name__)

SEALED_SECRET_GROUP = "bitnami.com"
_NESTED_SOPS_MARKERS = (b'"mac": "ENC[', b"mac: ENC[", b"sops_mac=ENC[", b"[sops]")
_AVP_ANNOTATION = "avp.kubernetes.io/path"


class TransformUnavailable(SecretsyncError):
    """A transform is needed but its module or dependency is missing."""

    reference = "transform-unavailable"


class RenderFailed(SecretsyncError):
    """At least one object failed to render: nothing from this revision may be applied or pruned."""

    reference = "render-failed"


@dataclass(frozen=True)
class RenderOptions:
    """What to render and how. ``variables`` enables substitution (None = off, as without postBuild)."""

    path: str = "."
    target_namespace: str | None = None
    keep_sealed_secrets: bool = False
    variables: Mapping[str, str | SecretBytes] | None = None
    limits: Limits = Limits()
    kubectl: str = "kubectl"
    kustomize_timeout: float = 90.0


class Dependencies:
    """Keys and backends for the transforms; each a value, a zero-argument function (factory), or None.

    ``sops_keys``: what ``secretsync.sops.identities.load_keys`` returns; ``keyring``: a
    ``secretsync.sealing.keyring.Keyring``; ``vault``: a ``secretsync.vault.client.VaultBackend``.
    A factory is called once, on first need; its error becomes the error of each object that
    needed it.
    """

    _HINTS = {
        "sops_keys": "give an age key (--age-key-file, SOPS_AGE_KEY_FILE or SOPS_AGE_KEY)",
        "keyring": "give the sealing keys (--key-dir)",
        "vault": "set VAULT_ADDR and a Vault auth method (argocd-vault-plugin's variables)",
    }

    def __init__(self, *, sops_keys: Any = None, keyring: Any = None, vault: Any = None) -> None:
        self._given = {"sops_keys": sops_keys, "keyring": keyring, "vault": vault}
        self._made: dict[str, Any] = {}
        self._failed: dict[str, SecretsyncError] = {}
        self._lock = threading.Lock()

    def get(self, name: str, needed_for: str) -> Any:
        """The dependency ``name``, made on first call; raises (naming ``needed_for``) when absent."""
        with self._lock:
            return self._get(name, needed_for)

    def _get(self, name: str, needed_for: str) -> Any:
        if name in self._made:
            return self._made[name]
        if name in self._failed:
            raise self._failed[name]
        given = self._given[name]
        if given is None:
            raise TransformUnavailable(
                f"{needed_for} needs {name.replace('_', ' ')}, but none were given", hint=self._HINTS[name]
            )
        if isinstance(given, (types.FunctionType, types.MethodType, functools.partial)) or getattr(
            given, "_secretsync_factory", False
        ):
            try:
                value = given()
            except SecretsyncError as exc:
                self._failed[name] = exc
                raise
        else:
            value = given
        self._made[name] = value
        return value


@dataclass
class Outcome:
    """One object's render result: ``object`` when ok, else ``error`` (its message never holds a value)."""

    file: str
    index: int | None
    id: ObjectId | None = None
    object: dict[str, Any] | None = field(default=None, repr=False)
    error: SecretsyncError | None = None
    stage: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    def describe(self) -> str:
        where = self.file if self.index is None else f"{self.file} (document {self.index})"
        what = f" {self.id}" if self.id else ""
        if self.error is None:
            return f"{where}{what}: ok"
        stage = f"{self.stage}: " if self.stage else ""
        message = self.error.message
        if isinstance(self.error, ManifestError):
            message = self.error.reason
        return f"{where}{what}: {stage}{message}"


@dataclass
class RenderResult:
    """All outcomes of one revision. Atomic: ``objects()`` raises ``RenderFailed`` on any error."""

    revision: Revision | None
    outcomes: list[Outcome]

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    @property
    def errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def may_apply(self) -> bool:
        return self.ok

    @property
    def may_prune(self) -> bool:
        """Pruning is allowed only after a complete render (an empty render is for the caller to guard)."""
        return self.ok

    @property
    def empty(self) -> bool:
        """A complete render with no object at all: pruning then needs an explicit allow-empty."""
        return self.ok and not self.outcomes

    def objects(self) -> list[dict[str, Any]]:
        """Every rendered object, or ``RenderFailed`` listing each failure."""
        if not self.ok:
            raise self.failure()
        return [o.object for o in self.outcomes if o.object is not None]

    def failure(self, max_lines: int = 50) -> RenderFailed:
        lines = [o.describe() for o in self.errors]
        count = len(lines)
        if count > max_lines:
            lines = lines[:max_lines] + [f"... and {count - max_lines} more"]
        revision = f" of {self.revision.id}" if self.revision else ""
        hints = sorted({o.error.hint for o in self.errors if o.error and o.error.hint})
        decrypt = any(o.stage in ("sops", "unseal") for o in self.errors)
        return RenderFailed(
            f"{count} object(s){revision} failed to render; nothing may be applied or pruned:\n  " + "\n  ".join(lines),
            hint="; ".join(hints) or None,
            exit_code=3 if decrypt else 1,
        )


def _decrypt_sops_file(data: bytes, path: str, keys: Any) -> list[dict[str, Any]]:
    return sops_transform.decrypt_manifest_file(data, path, keys)


def _decrypt_nested_sops(obj: dict[str, Any], keys: Any) -> dict[str, Any]:
    return sops_transform.decrypt_secret_data(obj, keys)


def _unseal(obj: dict[str, Any], keyring: Any) -> dict[str, Any]:
    secret = sealed_objects.unseal_sealed_secret(obj, keyring)
    # The controller's Secret points at its SealedSecret; we apply the Secret *instead of* the
    # SealedSecret, so that owner (absent from the cluster, uid unknown) must not be referenced:
    # the garbage collector would delete the Secret.
    metadata = secret.get("metadata") or {}
    owners = [
        o
        for o in metadata.get("ownerReferences") or []
        if not (isinstance(o, dict) and o.get("kind") == "SealedSecret")
    ]
    if owners:
        metadata["ownerReferences"] = owners
    else:
        metadata.pop("ownerReferences", None)
    return secret


def _resolve_placeholders(obj: dict[str, Any], backend: Any) -> dict[str, Any]:
    resolved = placeholders.resolve([obj], backend)
    return resolved[0]


def _go_base64(text: str) -> SecretBytes | None:
    """Decode as Go's base64.StdEncoding does for Secret ``data`` (``\\r``/``\\n`` ignored), else None.

    kustomize wraps long values across lines; the API server accepts them, so we do too.
    """
    try:
        return SecretBytes(gobase64.decode(text))
    except ValueError:
        return None


def has_nested_sops(obj: dict[str, Any]) -> bool:
    """A Secret with a ``data`` value that is itself a sops file (Flux's convention)."""
    if obj.get("kind") != "Secret" or is_sops_object(obj):
        return False
    for value in (obj.get("data") or {}).values():
        raw = value if isinstance(value, SecretBytes) else _go_base64(value) if isinstance(value, str) else None
        if raw is not None and any(marker in raw.reveal() for marker in _NESTED_SOPS_MARKERS):
            return True
    return False


def _decode_data(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with each ``data`` value that is valid base64 (Go rules) as SecretBytes; others untouched."""
    data = {k: (_go_base64(v) or v) if isinstance(v, str) else v for k, v in (obj.get("data") or {}).items()}
    return {**obj, "data": data}


def needs_vault(obj: dict[str, Any]) -> bool:
    """argocd-vault-plugin would touch it: the path annotation, or an inline ``<path:...>`` placeholder."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if _AVP_ANNOTATION in annotations:
        return True
    return any(
        isinstance(item, str)
        and "<path:" in item
        or isinstance(item, SecretBytes)
        and b"<path:" in item.reveal()  # a decrypted Secret value
        for item in iter_leaves(obj)
    )


def _is_sealed_secret(obj: dict[str, Any]) -> bool:
    return obj.get("kind") == "SealedSecret" and str(obj.get("apiVersion", "")).split("/")[0] == SEALED_SECRET_GROUP


def _normalise_secret(obj: dict[str, Any]) -> dict[str, Any]:
    """Secret ``data`` (base64 text → decoded) and ``stringData`` values as SecretBytes."""
    if obj.get("kind") != "Secret" or str(obj.get("apiVersion")) != "v1":
        return obj
    oid = ObjectId.of(obj)
    for field_name in ("data", "stringData"):
        values = obj.get(field_name)
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ManifestError(f"{oid}: {field_name} must be a mapping")
        out = {}
        for key, value in values.items():
            if isinstance(value, SecretBytes):
                out[key] = value
            elif isinstance(value, str):
                if field_name == "data":
                    decoded = _go_base64(value)
                    if decoded is None:
                        raise ManifestError(
                            f"{oid}: data.{key} is not valid base64",
                            hint="put plain text under stringData, or base64-encode it",
                        )
                    out[key] = decoded
                else:
                    out[key] = SecretBytes(value)
            else:
                raise ManifestError(
                    f"{oid}: {field_name}.{key} must be a string, not {type(value).__name__}",
                    hint="quote the value in YAML",
                )
        obj = {**obj, field_name: out}
    return obj


@dataclass
class _RenderContext:
    """State of one render: CRDs seen (for scope), decrypted sops files, the Vault read cache."""

    crds: list[dict[str, Any]]
    sops_files: dict[str, tuple[list[dict[str, Any]], list[tuple[int, Any]]] | SecretsyncError] = field(
        default_factory=dict
    )
    vault_reader: Any = None


class Renderer:
    """Renders sources; remembers the Documents stage per (revision, path) so an unchanged
    revision is never walked or built twice. Only still-encrypted documents are cached (in
    memory); decryption and lookups run again on every render."""

    def __init__(
        self, dependencies: Dependencies | None = None, options: RenderOptions = RenderOptions(), cache_size: int = 8
    ) -> None:
        self.dependencies = dependencies or Dependencies()
        self.options = options
        self._cache: OrderedDict[tuple[Any, ...], Collected] = OrderedDict()
        self._cache_size = cache_size
        self.builds = 0  # how many times the Documents stage actually ran

    def render(self, source: Source) -> RenderResult:
        """Fetch the source and render it. A fetch failure raises (``SourceError``): nothing rendered."""
        return self.render_revision(source.fetch())

    def render_revision(self, revision: Revision) -> RenderResult:
        collected = self.documents(revision)
        return self.transform(collected, revision)

    def documents(self, revision: Revision) -> Collected:
        key = (revision.id, str(revision.root), self.options.path, self.options.limits, self.options.kubectl)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        self.builds += 1
        collected = collect(
            revision.root,
            self.options.path,
            limits=self.options.limits,
            kubectl=self.options.kubectl,
            timeout=self.options.kustomize_timeout,
        )
        if self._cache_size:
            self._cache[key] = collected
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return collected

    def transform(self, collected: Collected, revision: Revision | None = None) -> RenderResult:
        outcomes: list[Outcome] = [Outcome(e.file, e.index, error=e, stage="read") for e in collected.errors]
        context = _RenderContext(
            [d.object for d in collected.documents if d.object.get("kind") == "CustomResourceDefinition"]
        )
        seen: dict[ObjectId, Outcome] = {}
        for doc in collected.documents:
            outcome = self._transform_one(doc, context)
            object_id = outcome.id
            if outcome.ok and object_id is not None:
                if object_id in seen:
                    first = seen[object_id]
                    outcome = Outcome(
                        doc.file,
                        doc.index,
                        outcome.id,
                        stage="check",
                        error=ManifestError(
                            f"the same object is also defined in {first.file} (document {first.index})",
                            hint="each object may appear once per render",
                        ),
                    )
                else:
                    seen[object_id] = outcome
            outcomes.append(outcome)
        return RenderResult(revision, outcomes)

    # -- one object ------------------------------------------------------------------------------
    def _transform_one(self, doc: Document, context: _RenderContext) -> Outcome:
        outcome = Outcome(doc.file, doc.index)
        obj = copy_tree(doc.object)
        if not doc.sops:
            outcome.id = self._identify(obj, doc, outcome)
            if outcome.error:
                return outcome
        stage = "sops"
        try:
            if doc.sops:
                obj = self._decrypt_whole(doc, obj, context)
                outcome.id = self._identify(obj, doc, outcome)
                if outcome.error:
                    return outcome
            elif has_nested_sops(obj):
                obj = _decrypt_nested_sops(_decode_data(obj), self.dependencies.get("sops_keys", f"{outcome.id}"))
            stage = "namespace"
            obj = self._target_namespace(obj, context.crds)
            outcome.id = ObjectId.of(obj)
            stage = "unseal"
            if _is_sealed_secret(obj):
                if self.options.keep_sealed_secrets:
                    outcome.object = obj
                    return outcome
                obj = _unseal(obj, self.dependencies.get("keyring", f"{outcome.id}"))
                outcome.id = ObjectId.of(obj)
            stage = "vault"
            if needs_vault(obj):
                if context.vault_reader is None:  # one read cache per render: each path read once
                    backend = self.dependencies.get("vault", f"{outcome.id}")
                    context.vault_reader = backend.reader() if hasattr(backend, "reader") else backend
                obj = _resolve_placeholders(obj, context.vault_reader)
            stage = "substitute"
            if self.options.variables is not None:
                obj = substitute_object(obj, self.options.variables)
            stage = "check"
            obj = _normalise_secret(obj)
            validate_object(obj, doc.file, doc.index)
            if "sops" in obj:
                raise ManifestError(
                    f"{ObjectId.of(obj)} still carries sops metadata",
                    hint="the object was not decrypted; check its sops metadata (mac)",
                )
            sync_wave(obj)
            outcome.id = ObjectId.of(obj)
            outcome.object = obj
        except SecretsyncError as exc:
            outcome.error, outcome.stage = exc, stage
        except Exception as exc:  # noqa: BLE001 - a bug in a transform must fail this object, not leak input
            if log.isEnabledFor(logging.DEBUG):  # frames only: the exception's text may quote the input
                log.debug(
                    "transform %s failed with %s at:\n%s",
                    stage,
                    type(exc).__name__,
                    "\n".join(
                        f"  {f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(exc.__traceback__)
                    ),
                )
            outcome.error = SecretsyncError(
                f"internal error {type(exc).__name__} in the {stage} step",
                hint="run with --log-level debug and report it",
            )
            outcome.stage = stage
        return outcome

    @staticmethod
    def _identify(obj: dict[str, Any], doc: Document, outcome: Outcome) -> ObjectId | None:
        try:
            validate_object(obj, doc.file, doc.index)
        except ManifestError as exc:
            outcome.error, outcome.stage = exc, "read"
            return None
        return ObjectId.of(obj)

    def _decrypt_whole(self, doc: Document, obj: dict[str, Any], context: _RenderContext) -> dict[str, Any]:
        """Decrypt the object's original sops file (once per render, MAC checked) and overlay it."""
        source = doc.sops
        assert source is not None
        where = f"{doc.file} (document {doc.index})"
        cached = context.sops_files.get(source.file)
        if cached is None:
            try:
                keys = self.dependencies.get("sops_keys", source.file)
                cached = (
                    _decrypt_sops_file(source.data, source.file, keys),
                    load_manifests(source.data, source.file, self.options.limits),
                )
            except SecretsyncError as exc:
                cached = exc
            context.sops_files[source.file] = cached
        if isinstance(cached, SecretsyncError):
            raise cached
        decrypted, parsed = cached
        positions = [i for i, _ in parsed]
        if source.doc_index not in positions or positions.index(source.doc_index) >= len(decrypted):
            raise ManifestError(f"{where}: decrypted file has fewer documents than expected")
        position = positions.index(source.doc_index)
        return sops_overlay(obj, parsed[position][1], decrypted[position], where)

    def _target_namespace(self, obj: dict[str, Any], crds: list[dict[str, Any]]) -> dict[str, Any]:
        namespace = self.options.target_namespace
        if not namespace or is_cluster_scoped(obj, crds):
            return obj
        metadata = dict(obj.get("metadata") or {})
        metadata["namespace"] = namespace
        return {**obj, "metadata": metadata}


def render(
    source: Source, dependencies: Dependencies | None = None, options: RenderOptions = RenderOptions()
) -> RenderResult:
    """One-shot render (no cache kept): fetch ``source`` and run every transform."""
    return Renderer(dependencies, options, cache_size=0).render(source)


def factory(func: Callable[[], Any]) -> Callable[[], Any]:
    """Mark ``func`` as a dependency factory (called on first use) rather than a dependency value."""
    func._secretsync_factory = True  # type: ignore[attr-defined]
    return func
