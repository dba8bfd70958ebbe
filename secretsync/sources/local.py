"""A folder on disk as a source; its revision id is a digest of the manifest files it holds.

Watching the folder for changes (watchdog) belongs to the agent and is not here yet.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from secretsync.sources import Revision, SourceError

__all__ = ["LocalSource", "tree_digest"]


def tree_digest(root: Path) -> str:
    """sha256 over (relative path, content) of every file under ``root`` but ``.git``, in sorted order.

    Dotfiles count: the walk skips them, but kustomize may read them (``envs: [.env]``).
    Symlinks (to files or folders) are hashed as their target text, not followed
    (confinement is checked when rendering; a linked folder inside the root is hashed where it is).
    """
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        names = sorted(filenames + [d for d in dirnames if Path(dirpath, d).is_symlink()])
        for name in names:
            path = Path(dirpath, name)
            rel = path.relative_to(root).as_posix()
            digest.update(rel.encode() + b"\0")
            if path.is_symlink():
                digest.update(b"link:" + os.readlink(path).encode() + b"\0")
            elif path.is_file():
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


class LocalSource:
    """A directory; ``fetch()`` checks it exists and fingerprints its content."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def fetch(self) -> Revision:
        if not self.path.is_dir():
            raise SourceError(f"{self.path}: not a directory", hint="give a folder of manifests or a Git URL as SOURCE")
        root = self.path.resolve()
        return Revision(root=root, id=f"local@sha256:{tree_digest(root)}")
