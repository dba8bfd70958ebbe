"""Sources: where manifests come from. ``Source.fetch()`` gives a ``Revision`` (a directory and an id).

- ``secretsync.sources.local.LocalSource``: a folder on disk.
- ``secretsync.sources.git.GitSource``: a Git repository at a ref, fetched with the ``git`` CLI.

``open_source(spec, ref=...)`` picks one from a command-line SOURCE argument.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from secretsync.errors import SecretsyncError

__all__ = ["Revision", "Source", "SourceError", "open_source", "is_git_url"]


class SourceError(SecretsyncError):
    """The source could not be read or fetched (nothing was rendered)."""

    reference = "source-unavailable"


@dataclass(frozen=True)
class Revision:
    """A source tree at one revision.

    ``root`` is the directory to render from (treated as read-only); ``id`` is the revision as
    reported to users (``main@sha1:<sha>`` for Git, ``local@sha256:<digest>`` for a folder);
    ``commit`` is the Git commit (None for a folder).
    """

    root: Path
    id: str
    commit: str | None = None


class Source(Protocol):
    def fetch(self) -> Revision: ...


_GIT_SCHEMES = ("file://", "https://", "http://", "ssh://", "git://")


def is_git_url(spec: str) -> bool:
    """A URL git understands, ``user@host:path`` scp syntax, or a local bare repository."""
    if spec.startswith(_GIT_SCHEMES):
        return True
    if "@" in spec.split(":", 1)[0] and ":" in spec and not os.path.exists(spec):
        return True
    path = Path(spec)
    return path.is_dir() and (path / "HEAD").is_file() and (path / "objects").is_dir()


def open_source(
    spec: str,
    *,
    ref: str | None = None,
    cache_dir: Path | None = None,
    timeout: float = 60.0,
    ssh_key_file: str | None = None,
    known_hosts_file: str | None = None,
    ssh_auth_sock: str | None = None,
) -> Source:
    """A source for a command-line SOURCE: a Git URL / bare repository, or a folder.

    The SSH options (``ssh_key_file``, ``known_hosts_file``, ``ssh_auth_sock``) go to ``GitSource``.
    """
    if is_git_url(spec):
        from secretsync.sources.git import GitSource

        return GitSource(
            spec,
            ref=ref,
            cache_dir=cache_dir,
            timeout=timeout,
            ssh_key_file=ssh_key_file,
            known_hosts_file=known_hosts_file,
            ssh_auth_sock=ssh_auth_sock,
        )
    if ref:
        raise SourceError(
            f"{spec}: --ref needs a Git repository, but this is a folder",
            hint="give a Git URL (file://, https://, ssh://) or a bare repository path",
        )
    from secretsync.sources.local import LocalSource

    return LocalSource(spec)
