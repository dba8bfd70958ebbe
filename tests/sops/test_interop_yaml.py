"""YAML interop with the real sops 3.11, both directions (the most used format).

Covers: go-yaml v3 typing as sops applies it (``yes``/``on``/``y`` stay strings,
``0x1F``/``017``/``1_000`` ints, ``1e20``/``08`` floats, dates and timestamps as
``type:time``, ``null`` untouched, ``""`` never encrypted), the ``type:`` tags we
write equal sops's for the same input, multi-document files (one MAC across
documents, metadata in every document), comments in maps and lists (list comments
become ``- ENC[...type:comment]`` items), the comment selectors with nested
comments, and the byte-exact output of ``sops -d`` for files written either way.
"""

from __future__ import annotations

import re

import pytest

from secretsync.crypto.sops.keys.age import AgeKey
from secretsync.sops import files as sopsfiles
from secretsync.sops.files import EncryptSettings

TYPES = b"""\
# head comment
str: hello world
yes_word: yes
on_word: on
y_word: y
Off_word: Off
bool_true: true
bool_upper: TRUE
hex: 0x1F
octal: 017
octal_o: 0o17
bin: 0b101
under: 1_000
plus: +5
neg: -12
float_exp: 1e20
float_dot: 1.
float_lead: 08
float_small: 1e-7
inf: .inf
nan: .NaN
date: 2024-01-02
stamp: 2024-01-02 10:00:00.5
rfc: 2024-01-02T10:00:00.123456789+02:00
colon: 1:20
nothing: null
tilde: ~
empty: ""
quoted_num: "42"
tagged: !!str 42
multi: |
    line one
    line two
folded: >
    folded text
    here
unicode: "\\u00e9t\\u00e9 \\U0001F600"
nested:
    # comment in a map
    list:
        - one
        # comment in a list
        - 2
        - - inner
          - 3.5
        - key: value
          other: [a, b]
    empty_map: {}
    empty_list: []
port_unencrypted: 5432
"""

MULTI = b"""\
apiVersion: v1
kind: Secret
metadata:
    name: first
stringData:
    password: one
---
# second document
apiVersion: v1
kind: Secret
metadata:
    name: second
data:
    token: dG9rZW4=
"""

COMMENTS = b"""\
# sops:enc
secret: one
plain: two
section:
    # sops:enc
    inner: three
    # a following comment
    after: four
list:
    - a
    # sops:enc
    - b
    - c
"""


def _tags(blob: bytes) -> dict[str, str]:
    """key → type tag of its ENC value, for top-level ``key: ENC[...]`` lines."""
    out = {}
    for line in blob.decode().splitlines():
        m = re.match(r"^(\w+): ENC\[AES256_GCM,.*type:(\w+)\]$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def _both(data: bytes, name: str, key, sops_run, workdir, keys_for, *flags: str, selectors=None):
    (workdir / name).write_bytes(data)
    theirs = sops_run("-e", "--age", key.recipient, *flags, name).stdout
    ours = sopsfiles.encrypt_bytes(
        data, name, keys_for(key), EncryptSettings(key_groups=[[AgeKey(key.recipient)]], selectors=selectors or {})
    )
    return theirs, ours


def _sops_d(blob: bytes, name: str, key, sops_run, workdir) -> bytes:
    (workdir / name).write_bytes(blob)
    return sops_run("-d", name, env={"SOPS_AGE_KEY_FILE": str(key.path)}).stdout


@pytest.mark.parametrize("sample", ["types", "multi", "comments"])
def test_yaml_both_directions(sample, age_keys, sops_run, workdir, keys_for):
    data = {"types": TYPES, "multi": MULTI, "comments": COMMENTS}[sample]
    key = age_keys[0]
    theirs, ours = _both(data, "in.yaml", key, sops_run, workdir, keys_for)
    expected = _sops_d(theirs, "theirs.yaml", key, sops_run, workdir)
    # theirs -> ours: same bytes as sops -d
    assert sopsfiles.decrypt_bytes(theirs, "theirs.yaml", keys_for(key)) == expected
    # ours -> theirs: sops accepts our file and prints the same as for its own
    assert _sops_d(ours, "ours.yaml", key, sops_run, workdir) == expected
    assert sopsfiles.decrypt_bytes(ours, "ours.yaml", keys_for(key)) == expected


def test_yaml_type_tags_match_sops(age_keys, sops_run, workdir, keys_for):
    theirs, ours = _both(TYPES, "t.yaml", age_keys[0], sops_run, workdir, keys_for)
    assert _tags(ours) == _tags(theirs)
    tags = _tags(ours)
    for name in ("yes_word", "on_word", "y_word", "Off_word", "colon", "quoted_num", "tagged", "str"):
        assert tags[name] == "str", name
    for name in ("hex", "octal", "octal_o", "bin", "under", "plus", "neg"):
        assert tags[name] == "int", name
    for name in ("float_exp", "float_dot", "float_lead", "float_small", "inf", "nan"):
        assert tags[name] == "float", name
    for name in ("date", "stamp", "rfc"):
        assert tags[name] == "time", name
    assert tags["bool_true"] == tags["bool_upper"] == "bool"
    for text in (ours, theirs):
        assert re.search(rb"^nothing: null$", text, re.M) and re.search(rb'^empty: ""$', text, re.M)
        assert re.search(rb"^port_unencrypted: 5432$", text, re.M)


def test_multi_document_metadata_and_single_mac(age_keys, sops_run, workdir, keys_for):
    theirs, ours = _both(MULTI, "m.yaml", age_keys[0], sops_run, workdir, keys_for)
    for blob in (theirs, ours):
        docs = blob.split(b"\n---\n")
        assert len(docs) == 2 and all(b"\nsops:\n" in d for d in docs)
        macs = re.findall(rb"mac: (ENC\[[^\]]+\])", blob)
        assert len(macs) == 2 and macs[0] == macs[1]
    # Swapping the documents keeps every value's AAD but breaks the one MAC.
    first, second = ours.split(b"\n---\n")
    swapped = second.rstrip(b"\n") + b"\n---\n" + first + b"\n"
    with pytest.raises(Exception) as info:
        sopsfiles.decrypt_bytes(swapped, "m.yaml", keys_for(age_keys[0]))
    assert getattr(info.value, "exit_code", None) == 51


def test_list_comments_become_encrypted_items(age_keys, sops_run, workdir, keys_for):
    theirs, ours = _both(COMMENTS, "c.yaml", age_keys[0], sops_run, workdir, keys_for)
    for blob in (theirs, ours):
        assert re.search(rb"^    - ENC\[AES256_GCM,[^\]]*type:comment\]$", blob, re.M)
        assert re.search(rb"^    #ENC\[AES256_GCM,[^\]]*type:comment\]$", blob, re.M)


@pytest.mark.parametrize("selector", ["unencrypted_comment_regex", "encrypted_comment_regex"])
def test_yaml_comment_selectors_match_sops(selector, age_keys, sops_run, workdir, keys_for):
    key = age_keys[0]
    flag = "--" + selector.replace("_", "-")
    theirs, ours = _both(
        COMMENTS, "c.yaml", key, sops_run, workdir, keys_for, flag, "sops:enc", selectors={selector: "sops:enc"}
    )

    def shape(blob):
        return [
            re.sub(r"ENC\[AES256_GCM,[^\]]*type:(\w+)\]", r"ENC(\1)", line)
            for line in blob.decode().split("\nsops:\n")[0].splitlines()
        ]

    assert shape(ours) == shape(theirs)
    assert any("ENC(" in line for line in shape(ours)) and any("ENC(" not in line for line in shape(ours))
    expected = _sops_d(theirs, "theirs.yaml", key, sops_run, workdir)
    assert _sops_d(ours, "ours.yaml", key, sops_run, workdir) == expected
    assert sopsfiles.decrypt_bytes(theirs, "theirs.yaml", keys_for(key)) == expected


def test_tampered_comments_like_sops(age_keys, sops_run, workdir, keys_for):
    """A ``#ENC`` map comment that fails to decrypt is kept (sops warns); a tampered
    ``- ENC[...type:comment]`` list item is a value and fails the file with exit 25."""
    key = age_keys[0]
    (workdir / "c.yaml").write_bytes(COMMENTS)
    blob = sops_run("-e", "--age", key.recipient, "c.yaml").stdout
    lines = blob.decode().split("\n")
    map_comment = next(i for i, line in enumerate(lines) if line.startswith("    #ENC["))
    list_comment = next(i for i, line in enumerate(lines) if line.startswith("    - ENC[") and "type:comment" in line)
    env = {"SOPS_AGE_KEY_FILE": str(key.path)}
    swapped_map = list(lines)
    swapped_map[map_comment] = swapped_map[map_comment].replace("#ENC[AES256_GCM,data:", "#ENC[AES256_GCM,data:AA")
    (workdir / "m.yaml").write_text("\n".join(swapped_map))
    theirs = sops_run("-d", "m.yaml", env=env)
    assert sopsfiles.decrypt_bytes("\n".join(swapped_map).encode(), "m.yaml", keys_for(key)) == theirs.stdout
    broken_list = list(lines)
    broken_list[list_comment] = broken_list[list_comment].replace("ENC[AES256_GCM,data:", "ENC[AES256_GCM,data:AA")
    (workdir / "l.yaml").write_text("\n".join(broken_list))
    assert sops_run("-d", "l.yaml", env=env, check=False).returncode == 25
    with pytest.raises(Exception) as info:
        sopsfiles.decrypt_bytes("\n".join(broken_list).encode(), "l.yaml", keys_for(key))
    assert getattr(info.value, "exit_code", None) == 25
