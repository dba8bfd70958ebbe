"""The committed sops vectors (tests/vectors/sops/, written by the real sops 3.11.0), both directions.

One loader, every vector: decrypting gives exactly the bytes ``sops -d`` printed
(``*.plain``); every ``ENC[...]`` value (and the MAC) re-encrypted with the
recovered data key and its own IV reproduces sops's ciphertext byte for byte —
so the cipher, the AAD paths, the type encodings and the MAC text agree at the
byte level. Negative cases: a flipped tag byte, a value moved to another key, the
wrong identity, one Shamir share short.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from secretsync.crypto.sops.cipher import ENC_PATTERN, ValueCipher
from secretsync.crypto.sops.document import metadata_of, recover_data_key
from secretsync.crypto.sops.errors import DataKeyUnavailable, ValueDecryptError
from secretsync.crypto.sops.formats import format_for_path, store_for
from secretsync.crypto.sops.mac import mac_aad
from secretsync.crypto.sops.metadata import METADATA_KEY
from secretsync.crypto.sops.tree import Comment
from secretsync.crypto.sops.walk import aad, copy_tree, walk
from secretsync.sops import files as sopsfiles
from secretsync.sops.identities import load_keys

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "sops"
FILES = [
    "secret.yaml",
    "secret.json",
    "secret.env",
    "secret.ini",
    "secret.bin",
    "multi.yaml",
    "mac-only.yaml",
    "comment-regex.yaml",
    "shamir.json",
]


def _keys(*numbers: int):
    text = "\n".join((VECTORS / f"identity-{n}.txt").read_text() for n in numbers)
    return load_keys(age_key_text=text, env={}, use_defaults=False)


def _identities_for(name: str) -> tuple[int, ...]:
    return (2, 3) if name == "shamir.json" else (1,)


@pytest.mark.parametrize("name", FILES)
def test_vector_decrypts_to_sops_output(name):
    data = (VECTORS / name).read_bytes()
    assert (
        sopsfiles.decrypt_bytes(data, name, _keys(*_identities_for(name))) == (VECTORS / f"{name}.plain").read_bytes()
    )


@pytest.mark.parametrize("name", FILES)
def test_vector_values_reencrypt_byte_for_byte(name):
    data = (VECTORS / name).read_bytes()
    docs = store_for(format_for_path(name)).load_encrypted(data)
    meta = metadata_of(docs, name)
    cipher = ValueCipher(recover_data_key(meta, _keys(*_identities_for(name)), name))
    seen = []

    def check(value, path, stack, is_comment):
        text = value.value if isinstance(value, Comment) else value
        if isinstance(text, str) and ENC_PATTERN.match(text):
            plain = cipher.decrypt(text, aad(path))
            iv = base64.b64decode(ENC_PATTERN.match(text).group(2))
            assert cipher.encrypt(plain, aad(path), iv=iv) == text, (name, aad(path))
            seen.append(aad(path))
        return value

    body = [copy_tree(d) for d in docs]
    for d in body:
        if METADATA_KEY in list(d.keys()):
            d.remove(METADATA_KEY)
    walk(body, check)
    assert seen
    mac_text = cipher.decrypt(meta.mac, mac_aad(meta.lastmodified))
    iv = base64.b64decode(ENC_PATTERN.match(meta.mac).group(2))
    assert cipher.encrypt(mac_text, mac_aad(meta.lastmodified), iv=iv) == meta.mac


def _flip_tag(text: str) -> str:
    m = ENC_PATTERN.match(text)
    tag = bytearray(base64.b64decode(m.group(3)))
    tag[-1] ^= 0x80
    return text.replace("tag:" + m.group(3), "tag:" + base64.b64encode(bytes(tag)).decode())


def test_vector_negative_cases():
    data = (VECTORS / "secret.json").read_text()
    import json

    doc = json.loads(data)
    flipped = dict(doc, password=_flip_tag(doc["password"]))
    with pytest.raises(ValueDecryptError):
        sopsfiles.decrypt_bytes(json.dumps(flipped).encode(), "secret.json", _keys(1))
    moved = dict(doc, user=doc["password"])
    with pytest.raises(ValueDecryptError) as info:
        sopsfiles.decrypt_bytes(json.dumps(moved).encode(), "secret.json", _keys(1))
    assert "'user:'" in info.value.message
    with pytest.raises(DataKeyUnavailable):
        sopsfiles.decrypt_bytes(data.encode(), "secret.json", _keys(2))
    with pytest.raises(DataKeyUnavailable) as info:
        sopsfiles.decrypt_bytes((VECTORS / "shamir.json").read_bytes(), "shamir.json", _keys(3))
    assert info.value.exit_code == 128
