"""Hypothesis-generated documents through secretsync and the real sops (differential, both ways).

Covers: random JSON documents (unicode and control characters in keys and values,
numbers, nesting) and random dotenv files (any printable value text, ``=`` and
quotes inside values, comments) — a file sops encrypted decrypts with secretsync to
sops's own ``-d`` bytes, and a file secretsync encrypted decrypts with ``sops -d``
to the same bytes. Few examples (each one runs sops three times); the CI profile
derandomizes them.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretsync.crypto.sops.keys.age import AgeKey
from secretsync.sops import files as sopsfiles
from secretsync.sops.files import EncryptSettings

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    _text,
)
_json_docs = st.dictionaries(
    _text.filter(lambda k: k != "sops"),
    st.recursive(_scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(_text, c, max_size=3), max_leaves=8),
    min_size=1,
    max_size=5,
)
_env_key = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="=#"), min_size=1, max_size=8
).filter(lambda k: not k.startswith("sops_"))
_env_value = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=15)
_env_lines = st.lists(
    st.one_of(st.tuples(_env_key, _env_value).map(lambda kv: f"{kv[0]}={kv[1]}"), _env_value.map(lambda c: "#" + c)),
    min_size=1,
    max_size=6,
)

_settings = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def _roundtrip(data: bytes, suffix: str, key, sops_run, workdir, keys_for):
    (workdir / f"in{suffix}").write_bytes(data)
    theirs = sops_run("-e", "--age", key.recipient, f"in{suffix}").stdout
    (workdir / f"theirs{suffix}").write_bytes(theirs)
    env = {"SOPS_AGE_KEY_FILE": str(key.path)}
    expected = sops_run("-d", f"theirs{suffix}", env=env).stdout
    assert sopsfiles.decrypt_bytes(theirs, f"theirs{suffix}", keys_for(key)) == expected
    ours = sopsfiles.encrypt_bytes(
        data, f"in{suffix}", keys_for(key), EncryptSettings(key_groups=[[AgeKey(key.recipient)]])
    )
    (workdir / f"ours{suffix}").write_bytes(ours)
    assert sops_run("-d", f"ours{suffix}", env=env).stdout == expected


@_settings
@given(doc=_json_docs)
def test_random_json_both_ways(doc, age_keys, sops_run, workdir, keys_for):
    _roundtrip(json.dumps(doc).encode(), ".json", age_keys[0], sops_run, workdir, keys_for)


@_settings
@given(lines=_env_lines)
def test_random_dotenv_both_ways(lines, age_keys, sops_run, workdir, keys_for):
    data = ("\n".join(lines) + "\n").encode()
    _roundtrip(data, ".env", age_keys[0], sops_run, workdir, keys_for)
