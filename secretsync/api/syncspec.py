"""Typed, stdlib-only view of a ``Sync`` (secretsync.io/v1alpha1): spec with defaults and validation.

``SyncSpec.parse(obj)`` turns the object's ``spec`` into frozen dataclasses, applying the
defaults of docs/agent.md and the same rules as the CRD schema in ``crds/sync.yaml`` (so a Sync
that reaches the agent without the server's validation, e.g. in local mode, is refused the same
way). A wrong spec raises ``InvalidSyncSpec`` naming the Sync and the field: the agent turns
it into ``Stalled`` with reason ``InvalidSpec`` (it needs a human, retrying cannot help).
Durations use Go's syntax (``5m``, ``1h30m``) as Flux's do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from secretsync.errors import SecretsyncError

__all__ = [
    "GROUP",
    "VERSION",
    "API_VERSION",
    "KIND",
    "InvalidSyncSpec",
    "GitSourceSpec",
    "SyncSpec",
    "VaultSpec",
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

_DURATION = re.compile(r"^(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h))+$")
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_GIT_URL = re.compile(r"^(https?|ssh|file|git)://.+|^[^@/\s]+@[^:\s]+:.+$")
_MAX_PRUNE = re.compile(r"^[0-9]+%?$")


class InvalidSyncSpec(SecretsyncError):
    """The Sync's spec breaks a rule of the CRD schema: fix the Sync (retrying cannot help)."""

    reference = "invalid-sync-spec"


def parse_duration(text: Any, where: str) -> float:
    """Seconds of a Go duration such as ``10m`` or ``1h30m`` (the units the CRD allows)."""
    if not isinstance(text, str) or not _DURATION.match(text):
        raise InvalidSyncSpec(f"{where}: {text!r} is not a duration", hint="use Go's syntax, e.g. 30s, 5m or 1h30m")
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))


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
class VaultSpec:
    address: str
    auth_method: str = "token"
    secret_ref: str | None = None
    role: str | None = None
    mount_path: str | None = None
    kv_version: str = "2"
    refresh_interval: float = 300.0


@dataclass(frozen=True)
class SyncSpec:
    """What one Sync asks for; defaults as documented in docs/agent.md."""

    namespace: str
    name: str
    generation: int
    git: GitSourceSpec | None
    local_path: str | None
    interval: float
    prune: bool
    path: str = "."
    retry_interval: float | None = None
    timeout: float | None = None
    allow_empty: bool = False
    max_prune: str | None = None
    target_namespace: str | None = None
    wait: bool = False
    health_checks: tuple[dict, ...] = ()
    depends_on: tuple[Ref, ...] = ()
    suspend: bool = False
    service_account_name: str | None = None
    decryption_secret: str | None = None
    sealing_keys_namespace: str | None = None
    vault: VaultSpec | None = None
    substitute: Mapping[str, str] | None = None
    substitute_from: tuple[dict, ...] = ()
    ignore_differences: tuple[dict, ...] = ()
    kubeconfig_secret: Ref | None = None
    notify_urls: tuple[str, ...] = ()
    notify_on_failure: bool = True
    notify_on_recovery: bool = True
    webhook_type: str | None = None
    webhook_secret: str | None = None
    requested_at: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

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
        p = _Parser(where)
        if not isinstance(spec, Mapping):
            raise InvalidSyncSpec(f"{where}: spec is required", hint="see docs/agent.md for a minimal Sync")
        p.known(
            spec,
            "spec",
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
            },
        )
        for required in ("source", "interval", "prune"):
            if required not in spec:
                raise InvalidSyncSpec(f"{where}: spec.{required} is required", hint="see docs/agent.md")
        git, local = p.source(spec["source"])
        interval = parse_duration(spec["interval"], f"{where}: spec.interval")
        if interval <= 0:
            raise InvalidSyncSpec(f"{where}: spec.interval must be greater than zero")
        max_prune = spec.get("maxPrune")
        if max_prune is not None and (not isinstance(max_prune, str) or not _MAX_PRUNE.match(max_prune)):
            raise InvalidSyncSpec(f"{where}: spec.maxPrune must be a count or a percentage such as 10%")
        target = spec.get("targetNamespace")
        if target is not None:
            p.label(target, "spec.targetNamespace")
        depends = []
        for i, dep in enumerate(p.list_of(spec, "dependsOn")):
            dep_ns = dep.get("namespace") or namespace
            p.label(dep_ns, f"spec.dependsOn[{i}].namespace")
            depends.append(Ref(p.string(dep, "name", f"spec.dependsOn[{i}]"), dep_ns))
        decryption = p.mapping(spec, "decryption")
        if decryption.get("provider", "sops") != "sops":
            raise InvalidSyncSpec(f"{where}: spec.decryption.provider must be sops")
        sealing = decryption.get("sealingKeys")
        sealing_ns = None
        if sealing is not None:
            sealing_ns = (sealing or {}).get("namespace") or "kube-system"
        post = p.mapping(spec, "postBuild")
        substitute = post.get("substitute")
        if substitute is not None and (
            not isinstance(substitute, Mapping) or not all(isinstance(v, str) for v in substitute.values())
        ):
            raise InvalidSyncSpec(f"{where}: spec.postBuild.substitute must map names to strings")
        substitute_from = tuple(p.list_of(post, "substituteFrom"))
        for i, ref in enumerate(substitute_from):
            if ref.get("kind") not in ("ConfigMap", "Secret"):
                raise InvalidSyncSpec(f"{where}: spec.postBuild.substituteFrom[{i}].kind must be ConfigMap or Secret")
            p.string(ref, "name", f"spec.postBuild.substituteFrom[{i}]")
        ignores = tuple(p.list_of(spec, "ignoreDifferences"))
        for i, rule in enumerate(ignores):
            p.string(rule, "kind", f"spec.ignoreDifferences[{i}]")
            pointers = rule.get("jsonPointers")
            if (
                not isinstance(pointers, list)
                or not pointers
                or not all(isinstance(x, str) and x.startswith("/") for x in pointers)
            ):
                raise InvalidSyncSpec(f"{where}: spec.ignoreDifferences[{i}].jsonPointers must list JSON pointers")
        kubeconfig = None
        if "kubeConfig" in spec:
            ref = p.mapping(p.mapping(spec, "kubeConfig"), "secretRef")
            kubeconfig = Ref(p.string(ref, "name", "spec.kubeConfig.secretRef"), namespace, ref.get("key") or "")
        notifications = p.mapping(spec, "notifications")
        urls = []
        for i, hook in enumerate(p.list_of(notifications, "webhooks")):
            url = p.string(hook, "url", f"spec.notifications.webhooks[{i}]")
            if not re.match(r"^https?://.+", url):
                raise InvalidSyncSpec(f"{where}: spec.notifications.webhooks[{i}].url must be an http(s) URL")
            urls.append(url)
        webhook = p.mapping(spec, "webhook")
        if webhook and webhook.get("type") not in ("github", "gitlab", "generic-hmac"):
            raise InvalidSyncSpec(f"{where}: spec.webhook.type must be github, gitlab or generic-hmac")
        annotations = meta.get("annotations") or {}
        return cls(
            namespace=namespace,
            name=name,
            generation=int(meta.get("generation") or 0),
            git=git,
            local_path=local,
            interval=interval,
            prune=p.boolean(spec, "prune"),
            path=p.opt_string(spec, "path") or ".",
            retry_interval=p.duration(spec, "retryInterval"),
            timeout=p.duration(spec, "timeout"),
            allow_empty=p.boolean(spec, "allowEmpty"),
            max_prune=max_prune,
            target_namespace=target,
            wait=p.boolean(spec, "wait"),
            health_checks=tuple(p.list_of(spec, "healthChecks")),
            depends_on=tuple(depends),
            suspend=p.boolean(spec, "suspend"),
            service_account_name=p.opt_string(spec, "serviceAccountName"),
            decryption_secret=p.opt_string(p.mapping(decryption, "secretRef"), "name"),
            sealing_keys_namespace=sealing_ns,
            vault=p.vault(spec),
            substitute=dict(substitute) if substitute is not None else None,
            substitute_from=substitute_from,
            ignore_differences=ignores,
            kubeconfig_secret=kubeconfig,
            notify_urls=tuple(urls),
            notify_on_failure=notifications.get("onFailure", True) is not False,
            notify_on_recovery=notifications.get("onRecovery", True) is not False,
            webhook_type=webhook.get("type") if webhook else None,
            webhook_secret=p.string(p.mapping(webhook, "secretRef"), "name", "spec.webhook.secretRef")
            if webhook
            else None,
            requested_at=annotations.get(REQUESTED_AT),
            raw=spec,
        )


class _Parser:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, text: str) -> InvalidSyncSpec:
        return InvalidSyncSpec(f"{self.where}: {text}", hint="fix the Sync; see docs/agent.md for the fields")

    def known(self, node: Mapping[str, Any], path: str, allowed: set[str]) -> None:
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

    def opt_string(self, node: Mapping[str, Any], key: str) -> str | None:
        value = node.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(f"{key} must be a non-empty string")
        return value

    def boolean(self, node: Mapping[str, Any], key: str) -> bool:
        value = node.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(f"spec.{key} must be true or false")
        return value

    def duration(self, node: Mapping[str, Any], key: str) -> float | None:
        if node.get(key) is None:
            return None
        return parse_duration(node[key], f"{self.where}: {key}")

    def label(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or len(value) > 63 or not _LABEL.match(value):
            raise self.fail(f"{path} must be a namespace name (RFC 1123 label)")

    def source(self, source: Any) -> tuple[GitSourceSpec | None, str | None]:
        if not isinstance(source, Mapping) or len(source) != 1 or next(iter(source)) not in ("git", "path"):
            raise self.fail("spec.source must hold exactly one of git or path")
        if "path" in source:
            path = source["path"]
            if not isinstance(path, str) or not path:
                raise self.fail("spec.source.path must be a non-empty string")
            return None, path
        git = source["git"]
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
        verify = self.mapping(git, "verify")
        verify_ref = None
        if verify:
            if verify.get("mode", "HEAD") != "HEAD":
                raise self.fail("spec.source.git.verify.mode must be HEAD")
            verify_ref = self.string(self.mapping(verify, "secretRef"), "name", "spec.source.git.verify.secretRef")
        return GitSourceSpec(
            url=url,
            branch=self.opt_string(ref, "branch"),
            tag=self.opt_string(ref, "tag"),
            commit=commit,
            secret_ref=self.opt_string(self.mapping(git, "secretRef"), "name"),
            verify_secret_ref=verify_ref,
        ), None

    def vault(self, spec: Mapping[str, Any]) -> VaultSpec | None:
        vault = self.mapping(spec, "vault")
        if not vault:
            return None
        address = self.string(vault, "address", "spec.vault")
        if not re.match(r"^https?://.+", address):
            raise self.fail("spec.vault.address must be an http(s) URL")
        method = vault.get("authMethod", "token")
        if method not in ("token", "approle", "kubernetes"):
            raise self.fail("spec.vault.authMethod must be token, approle or kubernetes")
        kv = str(vault.get("kvVersion", "2"))
        if kv not in ("1", "2"):
            raise self.fail("spec.vault.kvVersion must be 1 or 2")
        refresh = self.duration(vault, "refreshInterval")
        return VaultSpec(
            address=address,
            auth_method=method,
            secret_ref=self.opt_string(self.mapping(vault, "secretRef"), "name"),
            role=self.opt_string(vault, "role"),
            mount_path=self.opt_string(vault, "mountPath"),
            kv_version=kv,
            refresh_interval=refresh if refresh is not None else 300.0,
        )
