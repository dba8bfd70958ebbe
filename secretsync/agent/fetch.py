"""The source step of a reconcile: open the Sync's Git repository or folder, fetch a revision, verify it.

``SourceFetcher.fetch(spec, state, fresh=...)`` opens the source once per (URL, ref, credentials
Secret version) and keeps it in ``SyncState``; Git commits are cached per repository URL under
``git_cache_dir``. ``resolve_shared`` lets one ``git ls-remote`` per URL+ref serve every Sync that
asks within ``resolve_share`` seconds (the source poller uses it too). ``verify`` checks the commit
signature against the keys of ``source.git.verify.secretRef``. Failures: ``ArtifactFailed``,
``VerificationFailed``; a folder source outside local mode is ``InvalidSpec`` (stalled).
"""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path
from typing import Any

from secretsync.agent.inputs import SecretReader
from secretsync.agent.state import ReconcilerOptions, StepFailed, SyncState
from secretsync.api.conditions import Reason
from secretsync.api.syncspec import SyncSpec

__all__ = ["SourceFetcher"]

Resolved = tuple[str, str | None]


class SourceFetcher:
    def __init__(self, options: ReconcilerOptions, secrets: SecretReader) -> None:
        self.options = options
        self.secrets = secrets
        self._resolved: dict[tuple[Any, ...], tuple[float, Resolved]] = {}  # shared ls-remote results
        self._lock = threading.Lock()
        self.resolves = 0  # git ls-remote calls made by reconciles

    def fetch(self, spec: SyncSpec, state: SyncState, *, fresh: bool = False) -> tuple[Any, Any]:
        """(source, revision) of the Sync; ``fresh`` asks the remote rather than a shared ls-remote result."""
        from secretsync.sources import SourceError

        try:
            source = self._open(spec, state)
            if spec.git is None:
                revision = source.fetch()
            else:
                revision = source.fetch(self.resolve_shared(spec, state, source, fresh=fresh))
        except SourceError as exc:
            raise StepFailed(Reason.ARTIFACT_FAILED, exc) from None
        return source, revision

    def resolve_shared(self, spec: SyncSpec, state: SyncState, source: Any, *, fresh: bool = False) -> Resolved:
        """The commit of the Sync's URL+ref, one ``git ls-remote`` serving every Sync that asks within
        ``resolve_share`` seconds (credentials are part of the key). ``fresh`` always asks the remote."""
        assert spec.git is not None
        key = (spec.git.url, spec.git.ref, state.source_key)
        now = time.monotonic()
        share = self.options.resolve_share
        with self._lock:
            hit = self._resolved.get(key)
        if hit is not None and not fresh and now - hit[0] < share:
            return hit[1]
        resolved: Resolved = source.resolve()
        with self._lock:
            self.resolves += 1
            self._resolved[key] = (time.monotonic(), resolved)
            if len(self._resolved) > 1024:
                self._resolved = {k: v for k, v in self._resolved.items() if now - v[0] < share}
        return resolved

    def verify(self, spec: SyncSpec, source: Any, revision: Any) -> None:
        if spec.git is None or not spec.git.verify_secret_ref:
            return
        from secretsync.sources import SourceError
        from secretsync.sources.verify import VerificationError, verify_commit

        keys = self.secrets.data(spec.namespace, spec.git.verify_secret_ref, "verification keys")
        try:
            verify_commit(source, revision.commit, keys)
        except (VerificationError, SourceError) as exc:
            raise StepFailed(Reason.VERIFICATION_FAILED, exc) from None

    def _open(self, spec: SyncSpec, state: SyncState) -> Any:
        if spec.git is None:
            return self._open_folder(spec, state)
        creds: dict[str, Any] = {}
        url = spec.git.url
        secret_version = None
        if spec.git.secret_ref:
            secret = self.secrets.secret(spec.namespace, spec.git.secret_ref, "Git credentials")
            secret_version = secret["metadata"].get("resourceVersion")
            creds = secret.get("data") or {}
        key = ("git", url, spec.git.ref, secret_version)
        if state.source_key != key:
            from secretsync.agent.gitcreds import open_git

            if state.source is not None and hasattr(state.source, "close"):
                state.source.close()
            state.source = open_git(url, spec.git.ref, creds, cache_dir=self._cache_dir(spec))
            state.source_key = key
        return state.source

    def _open_folder(self, spec: SyncSpec, state: SyncState) -> Any:
        if not self.options.allow_local_sources:
            raise StepFailed(
                Reason.INVALID_SPEC,
                f"Sync {spec.namespace}/{spec.name}: spec.source.path is only "
                "allowed in local mode (secretsync agent --source)",
                stalled=True,
            )
        key = ("path", spec.local_path)
        if state.source_key != key:
            from secretsync.sources.local import LocalSource

            assert spec.local_path is not None
            state.source, state.source_key = LocalSource(spec.local_path), key
        return state.source

    def _cache_dir(self, spec: SyncSpec) -> Path | None:
        """One commit cache per repository URL, shared by the Syncs that use it (checkouts are by sha)."""
        base = self.options.git_cache_dir
        if not base or spec.git is None:
            return None
        return Path(base) / hashlib.sha256(spec.git.url.encode()).hexdigest()[:16]
