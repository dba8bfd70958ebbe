"""Git credentials of a Sync (``source.git.secretRef``) turned into a ``GitSource``.

The Secret follows Flux's GitRepository layout: ``username`` + ``password`` (HTTPS basic auth;
a token goes in ``password``) or ``identity`` (an SSH private key) + ``known_hosts``. HTTPS
credentials travel in the URL's user-info, which ``GitSource`` masks in every message. The SSH
key and known_hosts must be files for ``ssh``: they are written with mode 0600 into a RAM-backed
directory (``/dev/shm`` when present) owned by the source and removed by ``close()``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from secretsync.secretvalue import SecretBytes
from secretsync.sources import SourceError
from secretsync.sources.git import GitSource

__all__ = ["open_git", "CredentialedGitSource"]


def _text(value: object) -> str:
    return value.reveal().decode("utf-8", "replace") if isinstance(value, SecretBytes) else str(value or "")


class CredentialedGitSource(GitSource):
    """A ``GitSource`` that also removes its credential directory on ``close()``."""

    cred_dir: Path | None = None

    def close(self) -> None:
        super().close()
        if self.cred_dir is not None:
            shutil.rmtree(self.cred_dir, ignore_errors=True)
            self.cred_dir = None


def open_git(
    url: str, ref: str | None, creds: Mapping[str, object], *, cache_dir: Path | None = None, timeout: float = 60.0
) -> GitSource:
    """A Git source for ``url`` at ``ref`` with the credentials of a Secret's ``data`` (maybe empty)."""
    if "username" in creds or "password" in creds:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("https", "http"):
            raise SourceError(
                f"{url}: username/password credentials need an https:// URL",
                hint="use an https:// URL, or give identity and known_hosts for SSH",
            )
        user = urllib.parse.quote(_text(creds.get("username")) or "git", safe="")
        password = urllib.parse.quote(_text(creds.get("password")), safe="")
        host = parts.netloc.rsplit("@", 1)[-1]
        url = urllib.parse.urlunsplit((parts.scheme, f"{user}:{password}@{host}", parts.path, parts.query, ""))
    if "identity" not in creds:
        return CredentialedGitSource(url, ref, cache_dir=cache_dir, timeout=timeout)
    if "known_hosts" not in creds:
        raise SourceError(
            f"{url}: an SSH identity needs known_hosts in the same Secret",
            hint="add the server's host keys (ssh-keyscan output) under known_hosts",
        )
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    cred_dir = Path(tempfile.mkdtemp(prefix="secretsync-ssh-", dir=base))
    for name in ("identity", "known_hosts"):
        fd = os.open(cred_dir / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            value = creds[name]
            fh.write(value.reveal() if isinstance(value, SecretBytes) else str(value).encode())
    source = CredentialedGitSource(
        url,
        ref,
        cache_dir=cache_dir,
        timeout=timeout,
        ssh_key_file=str(cred_dir / "identity"),
        known_hosts_file=str(cred_dir / "known_hosts"),
    )
    source.cred_dir = cred_dir
    return source
