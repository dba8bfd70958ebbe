"""Typed, stdlib-only view of a ``Sync`` (secretsync.io/v1alpha1): spec with defaults and validation.

``SyncSpec.parse(obj)`` turns the object's ``spec`` into frozen dataclasses, one per part of the
CRD schema (``SourceSpec``, ``DecryptionSpec``, ``VaultSpec``, ``PostBuildSpec``,
``HealthCheckRef``, ``IgnoreDifference``, ``NotificationsSpec``, ``WebhookSpec``, ``Ref`` for
``dependsOn`` and ``kubeConfig``), applying the defaults of docs/agent.md and the same rules as
the CRD schema in ``crds/sync.yaml`` (so a Sync that reaches the agent without the server's
validation, e.g. in local mode, is refused the same way). Each part has its own parser
(``_Parser.source``, ``.decryption``, ...), so the reconciler never reads a raw dict again.
A wrong spec raises ``InvalidSyncSpec`` naming the Sync and the field: the agent turns it into
``Stalled`` with reason ``InvalidSpec`` (it needs a human, retrying cannot help).
Durations use Go's syntax (``5m``, ``1h30m``) as Flux's do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from secretsync.errors import SecretsyncError
from secretsync.gocompat import goduration

__all__ = [
    "GROUP",
    "VERSION",
    "API_VERSION",
    "KIND",
    "InvalidSyncSpec",
    "GitSourceSpec",
    "SourceSpec",
    "DecryptionSpec",
    "VaultSpec",
    "SubstituteFromRef",
    "PostBuildSpec",
    "HealthCheckRef",
    "IgnoreDifference",
    "NotificationsSpec",
    "WebhookSpec",
    "SyncSpec",
    "Ref",
    "parse_duration",
    "REQUESTED_AT",
    "sync_key",
]

GROUP = "secretsync.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "Sync"
REQUESTED_AT = "secretsync.io/requestedAt"

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_GIT_URL = re.compile(r"^(https?|ssh|file|git)://.+|^[^@/\s]+@[^:\s]+:.+$")
_HTTP_URL = re.compile(r"^https?://.+")
_MAX_PRUNE = re.compile(r"^[0-9]+%?$")
_NAME_MAX = 253  # an object name (maxLength of every *.secretRef.name in the CRD)

_SPEC_FIELDS = frozenset(
    {
        "source",
        "path",
        "interval",
        "retryInterval",
        "timeout",
        "prune",
        "allowEmpty",
        "maxPrune",
        "targetNamespace",
        "wait",
        "healthChecks",
        "dependsOn",
        "suspend",
        "serviceAccountName",
        "decryption",
        "vault",
        "postBuild",
        "ignoreDifferences",
        "kubeConfig",
        "notifications",
        "webhook",
    }
)
_REQUIRED = ("source", "interval", "prune")
_WEBHOOK_TYPES = ("github", "gitlab", "generic-hmac")
_VAULT_AUTH = ("token", "approle", "kubernetes")
_VARIABLE_KINDS = ("ConfigMap", "Secret")


class InvalidSyncSpec(SecretsyncError):
    """The Sync's spec breaks a rule of the CRD schema: fix the Sync (retrying cannot help)."""

    reference = "invalid-sync-spec"


def parse_duration(text: Any, where: str) -> float:
    """Seconds of a Go duration such as ``10m`` or ``1h30m`` (the units the CRD allows)."""
    try:
        if not isinstance(text, str):
            raise ValueError(text)
        return goduration.seconds(goduration.parse_crd_duration(text))
    except ValueError:
        raise InvalidSyncSpec(
            f"{where}: {text!r} is not a duration", hint="use Go's syntax, e.g. 30s, 5m or 1h30m"
        ) from None


def sync_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or "default"), str(meta.get("name") or "")


@dataclass(frozen=True)
class Ref:
    """A reference to a named object (``namespace`` defaults to the Sync's)."""

    name: str
    namespace: str = ""
    key: str = ""


@dataclass(frozen=True)
class GitSourceSpec:
    """``spec.source.git``: the remote, at most one ref, credentials and signature verification Secrets."""

    url: str
    branch: str | None = None
    tag: str | None = None
    commit: str | None = None
    secret_ref: str | None = None
    verify_secret_ref: str | None = None

    @property
    def ref(self) -> str | None:
        return self.commit or self.tag or self.branch


@dataclass(frozen=True)
class SourceSpec:
    """``spec.source``: exactly one of ``git`` and ``path`` (a folder on the agent's file system)."""

    git: GitSourceSpec | None = None
    path: str | None = None


@dataclass(frozen=True)
class DecryptionSpec:
    """``spec.decryption``: the age keys Secret (Flux's sops-age layout) and where the sealing keys live."""

    provider: str = "sops"
    secret_ref: str | None = None
    sealing_keys_namespace: str | None = None  # set when sealingKeys is given (default kube-system)


@dataclass(frozen=True)
class VaultSpec:
    """``spec.vault``: the Vault (or OpenBao) the placeholders resolve against."""

    address: str
    auth_method: str = "token"
    secret_ref: str | None = None
    role: str | None = None
    mount_path: str | None = None
    kv_version: str = "2"
    refresh_interval: float = 300.0


@dataclass(frozen=True)
class SubstituteFromRef:
    """One ``spec.postBuild.substituteFrom`` entry: a ConfigMap or Secret of the Sync's namespace."""

    kind: str
    name: str
    optional: bool = False


@dataclass(frozen=True)
class PostBuildSpec:
    """``spec.postBuild``: inline variables and the objects that hold more (inline ones win)."""

    substitute: Mapping[str, str] | None = None
    substitute_from: tuple[SubstituteFromRef, ...] = ()

    @property
    def wanted(self) -> bool:
        """Whether the render substitutes variables at all."""
        return self.substitute is not None or bool(self.substitute_from)


@dataclass(frozen=True)
class HealthCheckRef:
    """One ``spec.healthChecks`` entry (``namespace`` None: the Sync's)."""

    kind: str
    name: str
    api_version: str = "v1"
    namespace: str | None = None


@dataclass(frozen=True)
class IgnoreDifference:
    """One ``spec.ignoreDifferences`` rule: JSON pointers left alone on the objects it selects."""

    kind: str
    json_pointers: tuple[str, ...]
    group: str | None = None
    name: str | None = None
    namespace: str | None = None


@dataclass(frozen=True)
class NotificationsSpec:
    """``spec.notifications``: webhook URLs told of a failure and of the recovery after it."""

    webhook_urls: tuple[str, ...] = ()
    on_failure: bool = True
    on_recovery: bool = True


@dataclass(frozen=True)
class WebhookSpec:
    """``spec.webhook``: the receiver type of ``/hook/<id>`` and the Secret with its token."""

    type: str
    secret_ref: str


@dataclass(frozen=True)
class SyncSpec:
    """What one Sync asks for; defaults as documented in docs/agent.md."""

    namespace: str
    name: str
    generation: int
    source: SourceSpec
    interval: float
    prune: bool
    path: str = "."
    retry_interval: float | None = None
    timeout: float | None = None
    allow_empty: bool = False
    max_prune: str | None = None
    target_namespace: str | None = None
    wait: bool = False
    health_checks: tuple[HealthCheckRef, ...] = ()
    depends_on: tuple[Ref, ...] = ()
    suspend: bool = False
    service_account_name: str | None = None
    decryption: DecryptionSpec = DecryptionSpec()
    vault: VaultSpec | None = None
    post_build: PostBuildSpec = PostBuildSpec()
    ignore_differences: tuple[IgnoreDifference, ...] = ()
    kubeconfig_secret: Ref | None = None
    notifications: NotificationsSpec = NotificationsSpec()
    webhook: WebhookSpec | None = None
    requested_at: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def git(self) -> GitSourceSpec | None:
        return self.source.git

    @property
    def local_path(self) -> str | None:
        return self.source.path

    @property
    def retry(self) -> float:
        return self.retry_interval if self.retry_interval is not None else self.interval

    @property
    def effective_timeout(self) -> float:
        """Flux's default: interval minus 30 s, at least 30 s."""
        return self.timeout if self.timeout is not None else max(30.0, self.interval - 30.0)

    @classmethod
    def parse(cls, obj: Mapping[str, Any]) -> SyncSpec:
        namespace, name = sync_key(obj)
        meta = obj.get("metadata") or {}
        spec = obj.get("spec")
        where = f"Sync {namespace}/{name}"
        if not isinstance(spec, Mapping):
            raise InvalidSyncSpec(f"{where}: spec is required", hint="see docs/agent.md for a minimal Sync")
        p = _Parser(where)
        p.known(spec, "spec", _SPEC_FIELDS)
        for required in _REQUIRED:
            if required not in spec:
                raise InvalidSyncSpec(f"{where}: spec.{required} is required", hint="see docs/agent.md")
        annotations = meta.get("annotations") or {}
        return cls(
            namespace=namespace,
            name=name,
            generation=int(meta.get("generation") or 0),
            source=p.source(spec["source"]),
            interval=p.interval(spec),
            prune=p.boolean(spec, "prune"),
            path=p.opt_string(spec, "path") or ".",
            retry_interval=p.duration(spec, "retryInterval"),
            timeout=p.duration(spec, "timeout"),
            allow_empty=p.boolean(spec, "allowEmpty"),
            max_prune=p.max_prune(spec),
            target_namespace=p.opt_label(spec, "targetNamespace"),
            wait=p.boolean(spec, "wait"),
            health_checks=p.health_checks(spec),
            depends_on=p.depends_on(spec, namespace),
            suspend=p.boolean(spec, "suspend"),
            service_account_name=p.opt_name(spec, "serviceAccountName"),
            decryption=p.decryption(spec),
            vault=p.vault(spec),
            post_build=p.post_build(spec),
            ignore_differences=p.ignore_differences(spec),
            kubeconfig_secret=p.kubeconfig(spec, namespace),
            notifications=p.notifications(spec),
            webhook=p.webhook(spec),
            requested_at=annotations.get(REQUESTED_AT),
        )


class _Parser:
    """The rules of crds/sync.yaml, a method per part of the spec; errors name the Sync and the field."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, text: str) -> InvalidSyncSpec:
        return InvalidSyncSpec(f"{self.where}: {text}", hint="fix the Sync; see docs/agent.md for the fields")

    # -- generic fields --------------------------------------------------------------------------
    def known(self, node: Mapping[str, Any], path: str, allowed: frozenset[str] | set[str]) -> None:
        unknown = sorted(set(node) - allowed)
        if unknown:
            raise self.fail(f"{path}: unknown field {unknown[0]!r}")

    def mapping(self, node: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = node.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(f"{key} must be an object")
        return value

    def list_of(self, node: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
        value = node.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.fail(f"{key} must be a list of objects")
        return value

    def string(self, node: Mapping[str, Any], key: str, path: str) -> str:
        value = node.get(key)
        if not isinstance(value, str) or not value:
            raise self.fail(f"{path}.{key} is required (a non-empty string)")
        return value

    def name(self, node: Mapping[str, Any], key: str, path: str) -> str:
        """A required object name (non-empty, at most 253 characters)."""
        value = self.string(node, key, path)
        if len(value) > _NAME_MAX:
            raise self.fail(f"{path}.{key} must be at most {_NAME_MAX} characters")
        return value

    def opt_string(self, node: Mapping[str, Any], key: str) -> str | None:
        value = node.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(f"{key} must be a non-empty string")
        return value

    def opt_name(self, node: Mapping[str, Any], key: str) -> str | None:
        value = self.opt_string(node, key)
        if value is not None and len(value) > _NAME_MAX:
            raise self.fail(f"{key} must be at most {_NAME_MAX} characters")
        return value

    def opt_text(self, node: Mapping[str, Any], key: str, path: str) -> str | None:
        """An optional string that may be empty (e.g. a group, where "" is the core group)."""
        value = node.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(f"{path}.{key} must be a string")
        return value

    def secret_name(self, node: Mapping[str, Any], key: str, path: str) -> str | None:
        """``node[key].name`` of an optional ``{name: ...}`` reference (required inside it)."""
        if node.get(key) is None:
            return None
        return self.name(self.mapping(node, key), "name", f"{path}.{key}")

    def boolean(self, node: Mapping[str, Any], key: str, path: str = "spec", default: bool = False) -> bool:
        value = node.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"{path}.{key} must be true or false")
        return value

    def duration(self, node: Mapping[str, Any], key: str) -> float | None:
        if node.get(key) is None:
            return None
        return parse_duration(node[key], f"{self.where}: {key}")

    def label(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or len(value) > 63 or not _LABEL.match(value):
            raise self.fail(f"{path} must be a namespace name (RFC 1123 label)")
        return value

    def opt_label(self, node: Mapping[str, Any], key: str) -> str | None:
        value = node.get(key)
        return None if value is None else self.label(value, f"spec.{key}")

    # -- spec fields -----------------------------------------------------------------------------
    def interval(self, spec: Mapping[str, Any]) -> float:
        interval = parse_duration(spec["interval"], f"{self.where}: spec.interval")
        if interval <= 0:
            raise self.fail("spec.interval must be greater than zero")
        return interval

    def max_prune(self, spec: Mapping[str, Any]) -> str | None:
        value = spec.get("maxPrune")
        if value is not None and (not isinstance(value, str) or not _MAX_PRUNE.match(value)):
            raise self.fail("spec.maxPrune must be a count or a percentage such as 10%")
        return value

    def source(self, source: Any) -> SourceSpec:
        if not isinstance(source, Mapping) or len(source) != 1 or next(iter(source)) not in ("git", "path"):
            raise self.fail("spec.source must hold exactly one of git or path")
        if "path" in source:
            path = source["path"]
            if not isinstance(path, str) or not path:
                raise self.fail("spec.source.path must be a non-empty string")
            return SourceSpec(path=path)
        return SourceSpec(git=self.git(source["git"]))

    def git(self, git: Any) -> GitSourceSpec:
        if not isinstance(git, Mapping):
            raise self.fail("spec.source.git must be an object")
        self.known(git, "spec.source.git", {"url", "ref", "secretRef", "verify"})
        url = self.string(git, "url", "spec.source.git")
        if not _GIT_URL.match(url):
            raise self.fail("spec.source.git.url must be a Git URL (https://, ssh://, file:// or user@host:path)")
        ref = self.mapping(git, "ref")
        self.known(ref, "spec.source.git.ref", {"branch", "tag", "commit"})
        if len(ref) > 1:
            raise self.fail("spec.source.git.ref takes one of branch, tag or commit")
        commit = ref.get("commit")
        if commit is not None and (not isinstance(commit, str) or not _SHA.match(commit)):
            raise self.fail("spec.source.git.ref.commit must be a full 40-hex commit sha")
        return GitSourceSpec(
            url=url,
            branch=self.opt_string(ref, "branch"),
            tag=self.opt_string(ref, "tag"),
            commit=commit,
            secret_ref=self.secret_name(git, "secretRef", "spec.source.git"),
            verify_secret_ref=self.verify(git),
        )

    def verify(self, git: Mapping[str, Any]) -> str | None:
        verify = self.mapping(git, "verify")
        if not verify:
            return None
        if verify.get("mode", "HEAD") != "HEAD":
            raise self.fail("spec.source.git.verify.mode must be HEAD")
        return self.name(self.mapping(verify, "secretRef"), "name", "spec.source.git.verify.secretRef")

    def health_checks(self, spec: Mapping[str, Any]) -> tuple[HealthCheckRef, ...]:
        checks = []
        for i, check in enumerate(self.list_of(spec, "healthChecks")):
            path = f"spec.healthChecks[{i}]"
            checks.append(
                HealthCheckRef(
                    kind=self.string(check, "kind", path),
                    name=self.string(check, "name", path),
                    api_version=self.opt_text(check, "apiVersion", path) or "v1",
                    namespace=self.opt_text(check, "namespace", path) or None,
                )
            )
        return tuple(checks)

    def depends_on(self, spec: Mapping[str, Any], namespace: str) -> tuple[Ref, ...]:
        depends = []
        for i, dep in enumerate(self.list_of(spec, "dependsOn")):
            dep_ns = self.label(dep.get("namespace") or namespace, f"spec.dependsOn[{i}].namespace")
            depends.append(Ref(self.name(dep, "name", f"spec.dependsOn[{i}]"), dep_ns))
        return tuple(depends)

    def decryption(self, spec: Mapping[str, Any]) -> DecryptionSpec:
        decryption = self.mapping(spec, "decryption")
        provider = decryption.get("provider", "sops")
        if provider != "sops":
            raise self.fail("spec.decryption.provider must be sops")
        sealing_ns = None
        if decryption.get("sealingKeys") is not None:
            sealing = self.mapping(decryption, "sealingKeys")
            sealing_ns = self.label(sealing.get("namespace") or "kube-system", "spec.decryption.sealingKeys.namespace")
        return DecryptionSpec(
            provider=provider,
            secret_ref=self.secret_name(decryption, "secretRef", "spec.decryption"),
            sealing_keys_namespace=sealing_ns,
        )

    def vault(self, spec: Mapping[str, Any]) -> VaultSpec | None:
        vault = self.mapping(spec, "vault")
        if not vault:
            return None
        address = self.string(vault, "address", "spec.vault")
        if not _HTTP_URL.match(address):
            raise self.fail("spec.vault.address must be an http(s) URL")
        method = vault.get("authMethod", "token")
        if method not in _VAULT_AUTH:
            raise self.fail("spec.vault.authMethod must be token, approle or kubernetes")
        kv = str(vault.get("kvVersion", "2"))
        if kv not in ("1", "2"):
            raise self.fail("spec.vault.kvVersion must be 1 or 2")
        refresh = self.duration(vault, "refreshInterval")
        return VaultSpec(
            address=address,
            auth_method=method,
            secret_ref=self.secret_name(vault, "secretRef", "spec.vault"),
            role=self.opt_string(vault, "role"),
            mount_path=self.opt_string(vault, "mountPath"),
            kv_version=kv,
            refresh_interval=refresh if refresh is not None else 300.0,
        )

    def post_build(self, spec: Mapping[str, Any]) -> PostBuildSpec:
        post = self.mapping(spec, "postBuild")
        substitute = post.get("substitute")
        if substitute is not None and (
            not isinstance(substitute, Mapping) or not all(isinstance(v, str) for v in substitute.values())
        ):
            raise self.fail("spec.postBuild.substitute must map names to strings")
        refs = []
        for i, ref in enumerate(self.list_of(post, "substituteFrom")):
            path = f"spec.postBuild.substituteFrom[{i}]"
            if ref.get("kind") not in _VARIABLE_KINDS:
                raise self.fail(f"{path}.kind must be ConfigMap or Secret")
            refs.append(
                SubstituteFromRef(
                    kind=ref["kind"],
                    name=self.string(ref, "name", path),
                    optional=self.boolean(ref, "optional", path),
                )
            )
        return PostBuildSpec(
            substitute=dict(substitute) if substitute is not None else None,
            substitute_from=tuple(refs),
        )

    def ignore_differences(self, spec: Mapping[str, Any]) -> tuple[IgnoreDifference, ...]:
        rules = []
        for i, rule in enumerate(self.list_of(spec, "ignoreDifferences")):
            path = f"spec.ignoreDifferences[{i}]"
            kind = self.string(rule, "kind", path)
            pointers = rule.get("jsonPointers")
            if (
                not isinstance(pointers, list)
                or not pointers
                or not all(isinstance(x, str) and x.startswith("/") for x in pointers)
            ):
                raise self.fail(f"{path}.jsonPointers must list JSON pointers")
            rules.append(
                IgnoreDifference(
                    kind=kind,
                    json_pointers=tuple(pointers),
                    group=self.opt_text(rule, "group", path),
                    name=self.opt_text(rule, "name", path),
                    namespace=self.opt_text(rule, "namespace", path),
                )
            )
        return tuple(rules)

    def kubeconfig(self, spec: Mapping[str, Any], namespace: str) -> Ref | None:
        if "kubeConfig" not in spec:
            return None
        ref = self.mapping(self.mapping(spec, "kubeConfig"), "secretRef")
        key = self.opt_text(ref, "key", "spec.kubeConfig.secretRef") or ""
        return Ref(self.string(ref, "name", "spec.kubeConfig.secretRef"), namespace, key)

    def notifications(self, spec: Mapping[str, Any]) -> NotificationsSpec:
        notifications = self.mapping(spec, "notifications")
        urls = []
        for i, hook in enumerate(self.list_of(notifications, "webhooks")):
            url = self.string(hook, "url", f"spec.notifications.webhooks[{i}]")
            if not _HTTP_URL.match(url):
                raise self.fail(f"spec.notifications.webhooks[{i}].url must be an http(s) URL")
            urls.append(url)
        return NotificationsSpec(
            webhook_urls=tuple(urls),
            on_failure=self.boolean(notifications, "onFailure", "spec.notifications", default=True),
            on_recovery=self.boolean(notifications, "onRecovery", "spec.notifications", default=True),
        )

    def webhook(self, spec: Mapping[str, Any]) -> WebhookSpec | None:
        webhook = self.mapping(spec, "webhook")
        if not webhook:
            return None
        if webhook.get("type") not in _WEBHOOK_TYPES:
            raise self.fail("spec.webhook.type must be github, gitlab or generic-hmac")
        return WebhookSpec(
            type=webhook["type"],
            secret_ref=self.name(self.mapping(webhook, "secretRef"), "name", "spec.webhook.secretRef"),
        )
