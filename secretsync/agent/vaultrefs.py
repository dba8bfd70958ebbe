"""Vault change detection for the agent: which Vault references a render used, and their fingerprints.

A render reads Vault only through ``backend.reader().read(path, version, kv_version)``.
``recording(given, refs)`` wraps the Vault dependency given to a render so every reference read is
added to ``refs`` - including placeholders inside sops-encrypted files, which cannot be seen in the
still-encrypted documents. ``fingerprints(refs, backend)`` then gives the change signal of
``secretsync.vault.placeholders.fingerprints`` (KV v2 metadata versions: no value is read; a keyed hash
for KV v1) for those references, with the same keys.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Iterable
from typing import Any

__all__ = ["recording", "fingerprints", "Reference"]

Reference = tuple[str, "str | None", "str | None"]  # (path, version, kv-version as the placeholder gave it)


class _RecordingReader:
    def __init__(self, inner: Any, refs: set[Reference]) -> None:
        self._inner, self._refs = inner, refs

    def read(self, path: str, version: str | None = None, kv_version: str | None = None) -> Any:
        self._refs.add((path, version or None, kv_version))
        return self._inner.read(path, version, kv_version)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _RecordingVault:
    def __init__(self, backend: Any, refs: set[Reference]) -> None:
        self._backend, self._refs = backend, refs

    def reader(self) -> _RecordingReader:
        inner = self._backend.reader() if hasattr(self._backend, "reader") else self._backend
        return _RecordingReader(inner, self._refs)

    def read(self, path: str, version: str | None = None, kv_version: str | None = None) -> Any:
        return self.reader().read(path, version, kv_version)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


def _is_factory(given: Any) -> bool:
    return isinstance(given, (types.FunctionType, types.MethodType, functools.partial)) or getattr(
        given, "_secretsync_factory", False
    )


def recording(given: Any, refs: set[Reference]) -> Any:
    """The Vault dependency ``given`` (a backend, a factory, or None) wrapped to record references in ``refs``."""
    if given is None:
        return None
    from secretsync.render.pipeline import factory

    def make() -> Any:
        backend = given() if _is_factory(given) else given
        return None if backend is None else _RecordingVault(backend, refs)

    return factory(make)


def fingerprints(refs: Iterable[Reference], backend: Any) -> dict[str, str]:
    """``{"kv<N>:<path>[?version=V]": fingerprint}`` for the recorded references (no value read for KV v2)."""
    default_kv = getattr(getattr(backend, "config", None), "kv_version", "2")
    out: dict[str, str] = {}
    for path, version, kv in sorted(refs, key=lambda r: (r[0], r[1] or "", r[2] or "")):
        kv_eff = (kv or default_kv).strip()
        key = f"kv{kv_eff}:{path}" + (f"?version={version}" if version and kv_eff == "2" else "")
        if key not in out:
            out[key] = backend.fingerprint(path, version, kv_eff)
    return out
