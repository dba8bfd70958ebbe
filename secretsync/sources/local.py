"""A folder on disk as a source: its revision id is a digest of the files it holds; a watcher tells of changes.

``LocalSource(path).fetch()`` fingerprints the folder (``tree_digest``). ``LocalWatcher(root,
on_change).start()`` runs a watchdog observer on it and calls ``on_change`` (debounced) when a file
changes: the agent's local mode and ``secretsync demo`` use it to reconcile at once. This module is
the one door to ``watchdog`` (the ``door-watchdog`` import contract).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from secretsync.sources import Revision, SourceError

__all__ = ["LocalSource", "LocalWatcher", "tree_digest"]


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

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def fetch(self) -> Revision:
        if not self.path.is_dir():
            raise SourceError(f"{self.path}: not a directory", hint="give a folder of manifests or a Git URL as SOURCE")
        root = self.path.resolve()
        return Revision(root=root, id=f"local@sha256:{tree_digest(root)}")


_IGNORED_EVENTS = ("opened", "closed_no_write")  # reads, not changes
_IGNORED_SUFFIXES = ("~", ".swp", ".tmp")  # editors' scratch files


def _is_change(event_type: str, src_path: Any) -> bool:
    """Whether a watchdog event is a change worth a reconcile (not a read, a dotfile or a scratch file)."""
    if event_type in _IGNORED_EVENTS:
        return False
    name = Path(str(src_path)).name
    return not (name.startswith(".") or name.endswith(_IGNORED_SUFFIXES))


class LocalWatcher:
    """A watchdog observer on a folder that calls ``on_change`` when a file under it changes (debounced)."""

    def __init__(self, root: str | os.PathLike[str], on_change: Callable[[], None], debounce: float = 0.05) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        self.root = Path(root)
        self.on_change = on_change
        self.debounce = debounce
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:  # noqa: D401 - watchdog callback
                if _is_change(event.event_type, event.src_path):
                    watcher._schedule()

        self.observer = Observer()
        self.observer.schedule(Handler(), str(self.root), recursive=True)

    def _schedule(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.debounce, self.on_change)
            self._timer.daemon = True
            self._timer.start()

    def start(self) -> LocalWatcher:
        self.observer.start()
        return self

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(5)
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
