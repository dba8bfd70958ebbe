"""One render asked for from outside the agent: a ``RenderRequest`` opened into a source, dependencies and options.

``secretsync render``, ``diff`` and ``apply`` describe what to render (SOURCE, ``--path``,
``--ref``, keys, variables, ...) as a ``RenderRequest``; ``open_render`` turns it into the
``Source``, the lazily made ``Dependencies`` (sops keys from the environment, the sealing keys
of ``key_dir``, Vault from argocd-vault-plugin's variables) and the ``RenderOptions``;
``render_request`` runs the render and closes the source. Variables from ConfigMaps and
Secrets (``--substitute-from``) are read through a callable, so this module needs no
Kubernetes client (``render`` does not import ``kube``).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from secretsync.errors import UsageError
from secretsync.render import pipeline
from secretsync.render.substitute import VariableSource, VariableSourceNotFound, collect_variables
from secretsync.secretvalue import SecretBytes
from secretsync.sources import Source, open_source

__all__ = ["RenderRequest", "open_render", "render_request", "default_known_hosts"]

ReadObject = Callable[[VariableSource], "Mapping[str, Any] | None"]
"""Reads a variable source (a ConfigMap or Secret) from the cluster; ``None`` when it does not exist."""


@dataclass(frozen=True)
class RenderRequest:
    """What to render and with which keys; ``variables`` None means no substitution."""

    source: str
    path: str = "."
    ref: str | None = None
    age_key_file: str | None = None
    key_dir: str | None = None
    variables: Mapping[str, str | SecretBytes] | None = None
    variable_sources: tuple[VariableSource, ...] = ()
    target_namespace: str | None = None
    keep_sealed_secrets: bool = False
    ssh_key_file: str | None = None
    known_hosts_file: str | None = None


def default_known_hosts() -> str | None:
    """``~/.ssh/known_hosts`` when it exists (``GitSource`` checks host keys against it)."""
    path = Path.home() / ".ssh" / "known_hosts"
    return str(path) if path.is_file() else None


def _dependencies(request: RenderRequest, env: Mapping[str, str]) -> pipeline.Dependencies:
    """Keys and backends, each made on first need (a render without SealedSecrets never loads sealing keys)."""

    def sops_keys() -> Any:
        from secretsync.sops.identities import load_keys

        return load_keys(request.age_key_file, env)

    def keyring(key_dir: str) -> Any:
        from secretsync.sealing.keyring import Keyring

        return Keyring.from_dir(key_dir)

    def vault() -> Any:
        from secretsync.vault.client import VaultBackend

        return VaultBackend.from_env(env)

    keys = functools.partial(keyring, request.key_dir) if request.key_dir else None  # a factory: made on first need
    return pipeline.Dependencies(sops_keys=sops_keys, keyring=keys, vault=vault)


def open_render(
    request: RenderRequest, env: Mapping[str, str] | None = None
) -> tuple[Source, pipeline.Dependencies, pipeline.RenderOptions]:
    """(source, dependencies, options) of ``request``; the caller closes the source after use."""
    env = os.environ if env is None else env
    options = pipeline.RenderOptions(
        path=request.path,
        target_namespace=request.target_namespace,
        keep_sealed_secrets=request.keep_sealed_secrets,
        variables=request.variables,
    )
    known_hosts = request.known_hosts_file if request.known_hosts_file is not None else default_known_hosts()
    source = open_source(
        request.source,
        ref=request.ref,
        ssh_key_file=request.ssh_key_file,
        known_hosts_file=known_hosts,
        ssh_auth_sock=env.get("SSH_AUTH_SOCK") or None,
    )
    return source, _dependencies(request, env), options


def render_request(
    request: RenderRequest, env: Mapping[str, str] | None = None, read_object: ReadObject | None = None
) -> pipeline.RenderResult:
    """Render ``request`` once and close its source.

    With ``variable_sources``, their variables (read now with ``read_object``) go under the
    inline ``variables`` (Flux's order); a missing one is a ``UsageError`` (named on the command line).
    """
    source, deps, options = open_render(request, env)
    try:
        if request.variable_sources:
            if read_object is None:
                raise ValueError("variable sources need a read_object callable")
            try:
                variables = collect_variables(
                    options.variables, request.variable_sources, read_object, what="--substitute-from"
                )
            except VariableSourceNotFound as exc:
                # The sources are named on the command line: a missing one is a usage error (exit 2).
                raise UsageError(exc.message) from None
            options = dataclasses.replace(options, variables=variables)
        return pipeline.render(source, deps, options)
    finally:
        close = getattr(source, "close", None)
        if close:
            close()
