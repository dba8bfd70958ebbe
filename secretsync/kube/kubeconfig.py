"""Kubeconfig *content* held in memory (a remote cluster's Secret): the subset secretsync accepts.

``parse_kubeconfig_data`` reads a server, its CA data, ``insecure-skip-tls-verify``,
``tls-server-name``, a bearer token and the context's namespace. Client certificates (their key
would have to be written to a file for TLS), ``exec`` and ``auth-provider`` (they run commands)
and file references are refused with an error naming the source, never quoting the content.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from secretsync.kube.errors import KubeConfigError
from secretsync.secretvalue import SecretBytes

__all__ = ["RemoteCluster", "parse_kubeconfig_data"]

_REFUSED_USER_FIELDS = (
    "client-certificate-data",
    "client-key-data",
    "client-certificate",
    "client-key",
    "exec",
    "auth-provider",
    "tokenFile",
    "username",
)


@dataclass(frozen=True)
class RemoteCluster:
    """Where and as whom to connect, as read from kubeconfig content."""

    server: str
    token: str | None
    ca_pem: bytes | None
    verify_ssl: bool
    tls_server_name: str | None
    namespace: str

    def __repr__(self) -> str:  # the token is a credential
        return f"RemoteCluster(server={self.server!r}, namespace={self.namespace!r})"


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, what: str) -> KubeConfigError:
        return KubeConfigError(
            f"{self.source}: {what}",
            reference="kube-config",
            hint="use a kubeconfig with a server, its CA data and a bearer token",
        )

    def mapping(self, data: SecretBytes | bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
        if isinstance(data, Mapping):
            return data
        import yaml  # local: only this reader parses YAML

        raw = data.reveal() if isinstance(data, SecretBytes) else data
        try:
            config = yaml.safe_load(raw)
        except yaml.YAMLError:
            config = None
        if not isinstance(config, dict):
            raise self.fail("not a kubeconfig (YAML mapping expected)")
        return config

    def context(
        self, config: Mapping[str, Any], context: str | None
    ) -> tuple[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]]:
        """The chosen context, its cluster and its user (each a mapping)."""
        ctx_name = context or config.get("current-context")
        named = {
            section: {
                e.get("name"): e.get(section[:-1]) or {} for e in config.get(section) or [] if isinstance(e, dict)
            }
            for section in ("contexts", "clusters", "users")
        }
        ctx = named["contexts"].get(ctx_name)
        if not ctx_name or ctx is None:
            raise self.fail(
                f"context {ctx_name!r} not found" if ctx_name else "no context given and no current-context"
            )
        cluster = named["clusters"].get(ctx.get("cluster"))
        if not cluster or not cluster.get("server"):
            raise self.fail(f"context {ctx_name!r} names no cluster with a server")
        return ctx, cluster, named["users"].get(ctx.get("user"), {})

    def check_supported(self, cluster: Mapping[str, Any], user: Mapping[str, Any]) -> None:
        for field in _REFUSED_USER_FIELDS:
            if field in user:
                raise self.fail(f"user field {field!r} is not supported here")
        if "certificate-authority" in cluster:
            raise self.fail("a CA file reference is not supported here; embed certificate-authority-data")

    def ca_pem(self, cluster: Mapping[str, Any]) -> bytes | None:
        ca = cluster.get("certificate-authority-data")
        try:
            return base64.b64decode(ca, validate=True) if ca else None
        except ValueError:
            raise self.fail("certificate-authority-data is not valid base64") from None


def parse_kubeconfig_data(
    data: SecretBytes | bytes | str | Mapping[str, Any], context: str | None = None, *, source: str = "kubeconfig"
) -> RemoteCluster:
    """The connection ``data`` (YAML text or an already parsed mapping) describes for ``context``
    (default: its current-context); ``KubeConfigError`` naming ``source`` when it is unusable."""
    reader = _Reader(source)
    config = reader.mapping(data)
    ctx, cluster, user = reader.context(config, context)
    reader.check_supported(cluster, user)
    return RemoteCluster(
        server=cluster["server"],
        token=user.get("token"),
        ca_pem=reader.ca_pem(cluster),
        verify_ssl=not cluster.get("insecure-skip-tls-verify", False),
        tls_server_name=cluster.get("tls-server-name"),
        namespace=ctx.get("namespace") or "default",
    )
