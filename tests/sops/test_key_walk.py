"""The per-level decryption walk (``document._KeyWalk``) against the generic per-leaf walk (differential).

Covers: hypothesis-generated trees (nested maps and lists, comment entries in maps
and lists, every scalar type sops encrypts, nulls, empty strings, keys that match
and miss each selector, a leading ``sops``-like key) encrypted by the generic walk
with each key-name selector (both suffixes, both regexes, none) and with and
without ``mac_only_encrypted``; then decrypted by both walks from copies: the same
tree (types and values), the same MAC, the same remembered IVs. Tampered trees (two
encrypted values swapped, a clear value changed into an ``ENC[`` lookalike, a value
of another type written where a ciphertext belongs) raise the same error class and
message from both. The real-sops interop of the whole path is in the other modules
here (test_selectors, test_interop_yaml, test_tamper).
"""

from __future__ import annotations

import datetime as _dt
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretsync.crypto.sops import document
from secretsync.crypto.sops.cipher import ValueCipher
from secretsync.crypto.sops.errors import SopsError
from secretsync.crypto.sops.metadata import SOPSMetadata
from secretsync.crypto.sops.tree import Branch, Comment, Item
from secretsync.crypto.sops.walk import Selectors, copy_tree
from tests.sops.yaml.trees import shape

SELECTORS = [
    Selectors.default(),
    Selectors(encrypted_suffix="_enc"),
    Selectors(unencrypted_regex="^(meta|x)"),
    Selectors(encrypted_regex="^(data|stringData)$"),
    Selectors(),
]

_keys = st.sampled_from(["data", "stringData", "meta", "a", "b_unencrypted", "c_enc", "x1", "sops", "é", "k:v"])
_scalars = st.one_of(
    st.text(max_size=6),
    st.just(""),
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.datetimes(timezones=st.just(_dt.UTC)).filter(lambda d: d.year > 1),
    st.binary(max_size=4).filter(lambda b: not _utf8(b)),
)
_comments = st.text(max_size=5).map(Comment)


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _tree(children):
    entry = st.one_of(st.tuples(_keys, children).map(lambda kv: Item(*kv)), _comments.map(Item))
    return st.one_of(st.lists(entry, max_size=4).map(Branch), st.lists(st.one_of(children, _comments), max_size=3))


_documents = st.lists(
    st.one_of(
        st.tuples(_keys, st.recursive(_scalars, _tree, max_leaves=12)).map(lambda kv: Item(*kv)), _comments.map(Item)
    ),
    min_size=1,
    max_size=5,
).map(Branch)


def _both(encrypted, meta, data_key, where="f.yaml"):
    """(result, MAC, IVs) or the raised error's (class, message), from each walk."""
    out = []
    for run in (document._decrypt_values, document._decrypt_values_walk):
        docs = [copy_tree(d) for d in encrypted]
        cipher = ValueCipher(data_key, remember_ivs=True)
        try:
            mac = run(docs, meta, cipher, where)
        except SopsError as exc:
            out.append(("error", type(exc).__name__, exc.message))
            continue
        out.append(([shape(d) for d in docs], mac, sorted(cipher._ivs.items(), key=repr)))
    return out


def _encrypt(doc, selectors, mac_only):
    meta = SOPSMetadata(selectors=selectors, mac_only_encrypted=mac_only)
    data_key = os.urandom(32)
    docs = [copy_tree(doc)]
    mac = document._encrypt_values(docs, meta, ValueCipher(data_key), "")
    return docs, meta, data_key, mac


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=_documents, which=st.sampled_from(range(len(SELECTORS))), mac_only=st.booleans())
def test_same_tree_and_mac_as_the_generic_walk(doc, which, mac_only):
    try:
        encrypted, meta, data_key, mac = _encrypt(doc, SELECTORS[which], mac_only)
    except SopsError:
        return  # not encryptable (sops refuses the same); nothing to decrypt
    ours, generic = _both(encrypted, meta, data_key)
    assert ours == generic
    assert ours[1] == mac  # and both agree with the MAC computed while encrypting


def _leaves(node, found):
    if isinstance(node, Branch):
        for item in node:
            if isinstance(item.value, str) and item.value.startswith("ENC["):
                found.append(item)
            else:
                _leaves(item.value, found)
    elif isinstance(node, list):
        for v in node:
            _leaves(v, found)
    return found


@pytest.mark.parametrize("which", range(len(SELECTORS)))
def test_tampering_raises_the_same_error(which):
    doc = Branch(
        [
            Item("data", Branch([Item("p", "one"), Item("q", "two"), Item("n", 5)])),
            Item("meta", Branch([Item("c_enc", "three"), Item("x1", [True, "four"])])),
            Item("d_enc", "five"),
            Item(Comment(" note")),
        ]
    )
    encrypted, meta, data_key, _ = _encrypt(doc, SELECTORS[which], False)
    leaves = _leaves(encrypted[0], [])
    assert len(leaves) >= 2
    swapped = [copy_tree(d) for d in encrypted]
    a, b = _leaves(swapped[0], [])[:2]
    a.value, b.value = b.value, a.value
    lookalike = [copy_tree(d) for d in encrypted]
    _leaves(lookalike[0], [])[0].value = "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]"
    clear = [copy_tree(d) for d in encrypted]
    _leaves(clear[0], [])[-1].value = 7
    for tampered in (swapped, lookalike, clear):
        ours, generic = _both(tampered, meta, data_key)
        assert ours == generic
        assert ours[0] == "error"


@pytest.mark.parametrize(
    "plain,type_name",
    [
        (b"true", "bool"),
        (b"+5", "int"),
        (b"007", "int"),
        (b"1e3", "float"),
        (b"2024-01-02T03:04:05.500+01:00", "time"),
        (b"\xff", "str"),
        (b"\xfe", "bytes"),
        (b"hi", "comment"),
    ],
)
def test_non_canonical_plaintext_hashes_like_the_generic_walk(plain, type_name):
    """A ciphertext written by another tool may hold ``true`` or ``+5``: the MAC covers sops's re-rendering."""
    import base64

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    data_key, iv = os.urandom(32), os.urandom(32)
    sealed = AESGCM(data_key).encrypt(iv, plain, b"data:v:")
    value = (
        f"ENC[AES256_GCM,data:{base64.b64encode(sealed[:-16]).decode()},iv:{base64.b64encode(iv).decode()},"
        f"tag:{base64.b64encode(sealed[-16:]).decode()},type:{type_name}]"
    )
    doc = Branch([Item("data", Branch([Item("v", value)]))])
    meta = SOPSMetadata(selectors=Selectors(encrypted_regex="^data$"))
    ours, generic = _both([doc], meta, data_key)
    assert ours == generic
    assert ours[0] != "error"
