"""secretsync.fileio.write_atomic: the one writer for files that may hold keys or secrets.

Covers: 0600 for a new file, the existing mode kept, an explicit mode, content replaced whole,
no temporary file left behind after success or failure, the temporary file private before its
first byte is written, a sops write error naming the file, and that sopsfiles.write_atomic and keyring.write_private_file go through it. Not covered: crash durability.
"""

from __future__ import annotations

import os
import stat

import pytest

from secretsync import fileio
from secretsync.crypto.sops.errors import SopsError
from secretsync.sealing import keyring
from secretsync.sops import files as sopsfiles


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_file_is_private(tmp_path):
    target = tmp_path / "key.yaml"
    fileio.write_atomic(target, b"one")
    assert target.read_bytes() == b"one" and mode_of(target) == 0o600
    assert os.listdir(tmp_path) == ["key.yaml"]


def test_existing_mode_is_kept_and_explicit_mode_wins(tmp_path):
    target = tmp_path / "f.yaml"
    target.write_bytes(b"old content that is longer")
    os.chmod(target, 0o640)
    fileio.write_atomic(target, b"new")
    assert target.read_bytes() == b"new" and mode_of(target) == 0o640
    fileio.write_atomic(target, b"newer", 0o600)
    assert target.read_bytes() == b"newer" and mode_of(target) == 0o600


def test_mode_is_set_before_the_first_byte(tmp_path, monkeypatch):
    seen = []
    real_fdopen = os.fdopen

    def spy(fd, *args, **kwargs):
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(fileio.os, "fdopen", spy)
    fileio.write_atomic(tmp_path / "f", b"x", 0o400)
    assert seen == [0o400]


def test_failure_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "dir"
    target.mkdir()
    (target / "inside").write_text("keep")
    with pytest.raises(OSError):
        fileio.write_atomic(target, b"x")
    assert sorted(os.listdir(tmp_path)) == ["dir"]


def test_both_callers_use_it(tmp_path, monkeypatch):
    calls = []
    real = fileio.write_atomic
    monkeypatch.setattr(fileio, "write_atomic", lambda *a: (calls.append(a), real(*a)))
    sopsfiles.write_atomic(tmp_path / "a.yaml", b"a")
    keyring.write_private_file(tmp_path / "b.yaml", b"b", 0o640)
    assert [c[1:] for c in calls] == [(b"a",), (b"b", 0o640)]
    assert mode_of(tmp_path / "a.yaml") == 0o600 and mode_of(tmp_path / "b.yaml") == 0o640


def test_sops_writer_names_the_file_on_failure(tmp_path):
    with pytest.raises(SopsError) as info:
        sopsfiles.write_atomic(tmp_path / "missing-dir" / "f.yaml", b"x")
    assert "missing-dir" in str(info.value)
