"""Bad input for the YAML store: refused with a clear StoreError, as sops refuses it.

Covers malformed YAML, empty streams, top-level lists and scalars, non-string and
duplicate keys, mistyped tags, invalid !!binary, a billion-laughs alias bomb, a
recursive alias, very deep nesting and a 50 MB input (refused by size, at once).
Each message names the line/column and never the offending value; where sops
itself can be asked, it must refuse the same input.
"""

from __future__ import annotations

import pytest

from secretsync.crypto.sops.errors import StoreError
from secretsync.crypto.sops.stores import yaml as store

SECRET = "s3cr3t-value"

BAD = {
    "malformed": f"a: [1, 2\nb: {SECRET}\n".encode(),
    "tab-indent": f"a:\n\tb: {SECRET}\n".encode(),
    "empty": b"",
    "only-comment": b"# nothing here\n",
    "top-level-list": f"- {SECRET}\n- b\n".encode(),
    "top-level-scalar": f"{SECRET}\n".encode(),
    "int-key": f"1: {SECRET}\n".encode(),
    "bool-key": f"true: {SECRET}\n".encode(),
    "null-key": f"~: {SECRET}\n".encode(),
    "map-key": f"? [a]\n: {SECRET}\n".encode(),
    "duplicate-key": f"a: {SECRET}\nb: 1\na: 2\n".encode(),
    "bad-int-tag": f"a: !!int {SECRET}\n".encode(),
    "bad-float-tag": b"a: !!float 1e400\n",
    "bad-binary": f'a: !!binary "{SECRET}!"\n'.encode(),
    "second-doc-list": f"a: 1\n---\n- {SECRET}\n".encode(),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_refused_by_us_and_by_sops(sops, name):
    data = BAD[name]
    with pytest.raises(StoreError) as info:
        store.load(data)
    message = info.value.report()
    assert SECRET not in message and "YAML" in message
    if data.strip() and name not in ("empty", "only-comment"):
        assert "line " in message, message
    assert sops.encrypt(data, check=False).returncode != 0, f"sops accepted {name}"


def test_exit_codes_follow_sops(sops):
    for data in (b"", b"\n", b"# c\n", b"- a\n", b"a: 1\na: 2\n", b"1: x\n"):
        with pytest.raises(StoreError) as info:
            store.load(data)
        assert info.value.exit_code == sops.encrypt(data, check=False).returncode, data


def test_duplicate_key_names_the_key_and_line():
    with pytest.raises(StoreError) as info:
        store.load(b"a: 1\nb:\n  c: 1\n  c: 2\n")
    assert "'c'" in info.value.message and "line 4" in info.value.message


def test_billion_laughs_is_refused():
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    with pytest.raises(StoreError) as info:
        store.load(("\n".join(lines) + "\n").encode())
    assert "aliases expand" in info.value.message


def test_small_alias_use_is_fine():
    doc = store.load(b"a: &x [1, 2]\nb: *x\nc: *x\n")[0]
    assert doc.get("b") == doc.get("c") == [1, 2]


def test_recursive_alias_is_refused():
    with pytest.raises(StoreError):
        store.load(b"a: &x [1, *x]\n")


def test_deep_nesting_is_refused():
    depth = store.MAX_DEPTH + 10
    with pytest.raises(StoreError) as info:
        store.load(("a: " + "[" * depth + "]" * depth + "\n").encode())
    assert "nested" in info.value.message
    ok = store.MAX_DEPTH - 2
    assert store.load(("a: " + "[" * ok + "]" * ok + "\n").encode())


def test_50mb_file_is_refused_by_size():
    data = b"k: " + b"x" * (50 * 1024 * 1024) + b"\n"
    with pytest.raises(StoreError) as info:
        store.load(data)
    assert str(store.MAX_INPUT_BYTES) in info.value.message


def test_invalid_utf8_is_refused():
    with pytest.raises(StoreError) as info:
        store.load(b"a: \xff\xfe\n")
    assert "UTF-8" in info.value.message


def test_large_file_below_limit_loads_and_dumps():
    data = "".join(f"key{i}:\n    a: value-{i}\n    b: {i}\n" for i in range(5000)).encode()
    docs = store.load(data)
    assert len(docs[0]) == 5000 and docs[0].get("key4999").get("b") == 4999
    assert store.dump(docs) == data
