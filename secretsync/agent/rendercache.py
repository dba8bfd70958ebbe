"""The build step of a reconcile, and the reuse of the last good render while its inputs stand.

``SyncBuilder.build(spec, state, revision, fresh=...)`` renders the revision with the Sync's
dependencies (``secretsync.agent.inputs``: sops keys, sealing keyring, Vault, postBuild variables),
or returns the render kept in ``SyncState`` when it is a pure function of unchanged inputs: the same
revision, spec generation and render options (variables included), and Vault fingerprints taken
*before* that render still the same (``secretsync.agent.vaultrefs``: metadata versions, no value
read). The apply that follows still compares against the live state. Failures carry the render's
reason (``BuildFailed``, ``DecryptionFailed``, ``UnsealFailed``, ...).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from secretsync.agent import inputs
from secretsync.agent.state import ReconcilerOptions, StepFailed, SyncState
from secretsync.api.conditions import Reason
from secretsync.api.syncspec import SyncSpec
from secretsync.errors import SecretsyncError

__all__ = ["SyncBuilder"]

log = logging.getLogger(__name__)


class SyncBuilder:
    def __init__(self, client: Any, options: ReconcilerOptions, secrets: inputs.SecretReader, metrics: Any) -> None:
        self.client = client
        self.options = options
        self.secrets = secrets
        self.metrics = metrics

    def build(self, spec: SyncSpec, state: SyncState, revision: Any, *, fresh: bool = False) -> Any:
        """Render the revision, or reuse the last good render (see the module docstring)."""
        from secretsync.agent.vaultrefs import recording
        from secretsync.render import pipeline

        options = pipeline.RenderOptions(
            path=spec.path,
            target_namespace=spec.target_namespace,
            variables=inputs.variables(self.client, spec),
            kubectl=self.options.kubectl,
        )
        refs: set[Any] = set()  # the Vault references this render reads (sops-encrypted files included)
        deps = pipeline.Dependencies(
            sops_keys=inputs.sops_keys_factory(self.secrets, spec, self.options.sops_keys),
            keyring=inputs.keyring_factory(
                self.client, spec, self.options.keyring, self.options.sealing_keys_namespace
            ),
            vault=recording(inputs.vault_factory(self.secrets, spec, state, self.options.vault), refs),
        )
        key = (revision.id, spec.generation, options)
        baseline = self.vault_fingerprints(spec, deps, state.vault_refs)
        if not fresh and self._reusable(state, key, baseline):
            state.vault_checked = time.monotonic()
            return state.rendered
        state.rendered = state.render_key = None
        rendered = self._render(spec, state, revision, deps, options)
        self._remember(spec, state, deps, refs, baseline)
        state.rendered, state.render_key = rendered, key
        return rendered

    def _reusable(self, state: SyncState, key: tuple[Any, ...], baseline: dict[Any, Any] | None) -> bool:
        if not self.options.reuse_render or state.rendered is None or state.render_key != key:
            return False
        return not state.vault_refs or (
            state.vault_exact and baseline is not None and baseline == state.vault_fingerprints
        )

    def _render(self, spec: SyncSpec, state: SyncState, revision: Any, deps: Any, options: Any) -> Any:
        from secretsync.reconcile import render_reason
        from secretsync.render import pipeline

        if state.renderer is None or state.renderer.options != options:
            state.renderer = pipeline.Renderer(deps, options, cache_size=2)
        else:
            state.renderer.dependencies = deps
        try:
            collected = state.renderer.documents(revision)
        except SecretsyncError as exc:
            raise StepFailed(Reason.BUILD_FAILED, exc) from None
        rendered = state.renderer.transform(collected, revision)
        if not rendered.ok:
            reason = render_reason(rendered)
            if reason == Reason.DECRYPTION_FAILED and self.metrics is not None:
                self.metrics.decrypt_failures.labels(spec.namespace, spec.name).inc()
            raise StepFailed(reason, rendered.failure())
        return rendered

    def _remember(
        self, spec: SyncSpec, state: SyncState, deps: Any, refs: set[Any], baseline: dict[Any, Any] | None
    ) -> None:
        """Keep the Vault references the render read and the fingerprints to compare next time."""
        state.vault_exact = baseline is not None and frozenset(refs) == state.vault_refs
        if frozenset(refs) != state.vault_refs:
            # new references (first render, or the files changed): fingerprinted just after the render that read
            # them; not exact, so the next reconcile renders again and takes its baseline first
            state.vault_refs = frozenset(refs)
            baseline = self.vault_fingerprints(spec, deps, state.vault_refs)
        if baseline is not None:  # taken before the render: a change during the render is seen next time
            state.vault_fingerprints, state.vault_checked = baseline, time.monotonic()
        elif not state.vault_refs:
            state.vault_fingerprints = None

    def vault_fingerprints(self, spec: SyncSpec, deps: Any, refs: frozenset[Any]) -> dict[Any, Any] | None:
        """Vault versions of the referenced paths (metadata only; no value is read), or None."""
        if not refs:
            return None
        from secretsync.agent.vaultrefs import fingerprints

        try:
            backend = deps.get("vault", f"Sync {spec.namespace}/{spec.name}")
            current: dict[Any, Any] = fingerprints(refs, backend)
        except Exception as exc:  # noqa: BLE001 - the render reports Vault problems itself
            log.debug("Vault fingerprints of Sync %s/%s: %s", spec.namespace, spec.name, type(exc).__name__)
            return None
        if self.metrics is not None:
            self.metrics.vault_reads.labels(spec.namespace, spec.name).inc(max(1, len(current)))
        return current
