"""Atomic, private file writes: the one writer for files that may hold keys or secrets.

``write_atomic`` replaces a file so that a reader (or a crash) sees either the old content or the
new, never a mix, and the content is never readable by others, not even for a moment: a fresh
temporary file (``mkstemp``: a new name, never an existing file or a symlink) in the target's own
directory gets its mode before any byte is written, is fsynced, renamed over the target, and the
directory is fsynced so the rename survives a crash. On failure the temporary file is removed and
the ``OSError`` passes through for the caller to name the file in its own error type.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: str | os.PathLike[str], data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically. ``mode`` defaults to the existing file's
    permission bits, or 0600 for a new file."""
    target = Path(path)
    if mode is None:
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = 0o600
    directory = target.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the rename itself has happened
    finally:
        os.close(dir_fd)
