"""Bad input: clear errors (sops's exit codes where sops has one), no crash, no partial output.

Covers: a file that is not sops-encrypted, a truncated ``ENC[...]``, invalid
base64, a wrong IV length, a clear value where ciphertext belongs, binary garbage,
a 50 MB file (refused by size before parsing), a YAML alias bomb, deeply nested
JSON, broken metadata (bad ``lastmodified``, bad version, no keys, two
selectors). Every error is a ``SopsError`` naming the file and never echoing the
value; the CLI writes nothing to stdout or ``--output``.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretsync.crypto.sops.errors import SopsError
from secretsync.sops import files as sopsfiles
from tests.sops.conftest import CANARY


@pytest.fixture
def good(age_keys, sops_run, workdir) -> dict:
    (workdir / "g.json").write_text(json.dumps({"secret": CANARY, "n": 1}))
    return json.loads(sops_run("-e", "--age", age_keys[0].recipient, "g.json").stdout)


def _with(good: dict, **changes) -> bytes:
    doc = json.loads(json.dumps(good))
    for key, value in changes.items():
        if key.startswith("sops_"):
            if value is None:
                doc["sops"].pop(key[5:], None)
            else:
                doc["sops"][key[5:]] = value
        else:
            doc[key] = value
    return json.dumps(doc).encode()


def _enc_parts(value: str) -> dict:
    inner = value[len("ENC[AES256_GCM,") : -1]
    return dict(part.split(":", 1) for part in inner.split(","))


CASES = {
    "truncated": lambda g: _with(g, secret=g["secret"][:40]),
    "invalid-base64": lambda g: _with(g, secret=g["secret"].replace("data:", "data:!!")),
    "wrong-iv-length": lambda g: _with(g, secret=g["secret"].replace("iv:" + _enc_parts(g["secret"])["iv"], "iv:AAAA")),
    "clear-value": lambda g: _with(g, secret="I am not encrypted"),
    "clear-number": lambda g: _with(g, secret=42),
    "bad-lastmodified": lambda g: _with(g, sops_lastmodified="yesterday"),
    "bad-version": lambda g: _with(g, sops_version="3.7"),
    "no-keys": lambda g: _with(g, sops_age=None),
    "two-selectors": lambda g: _with(g, sops_encrypted_regex="x"),
    "not-sops": lambda g: b'{"just": "json"}',
    "garbage": lambda g: bytes(range(256)) * 4,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_a_clear_error(case, good, age_keys, keys_for, ours_run, sops_run, workdir):
    data = CASES[case](good)
    with pytest.raises(SopsError) as info:
        sopsfiles.decrypt_bytes(data, "bad.json", keys_for(age_keys[0]))
    report = info.value.report()
    assert "bad.json" in report and CANARY not in report and "I am not encrypted" not in report
    (workdir / "bad.json").write_bytes(data)
    env = {"SOPS_AGE_KEY_FILE": str(age_keys[0].path)}
    ours = ours_run("-d", "--output", "out.json", "bad.json", env=env)
    assert ours.returncode == info.value.exit_code != 0
    assert ours.stdout == b"" and not (workdir / "out.json").exists()
    assert b"internal error" not in ours.stderr and b"Traceback" not in ours.stderr
    theirs = sops_run("-d", "bad.json", env=env, check=False)
    assert theirs.returncode != 0
    if case in ("truncated", "invalid-base64", "clear-value"):
        assert ours.returncode == theirs.returncode == 25


def test_fifty_megabytes_is_refused_before_parsing(workdir, ours_run, age_keys):
    big = workdir / "big.json"
    with open(big, "wb") as fh:
        fh.write(b'{"a": "')
        fh.write(b"x" * (50 * 1024 * 1024))
        fh.write(b'"}')
    proc = ours_run("-e", "--age", age_keys[0].recipient, "big.json")
    assert proc.returncode == 2 and b"limit" in proc.stderr and proc.stdout == b""


@pytest.mark.skipif("not __import__('importlib').util.find_spec('secretsync.crypto.sops.stores.yaml')")
def test_yaml_alias_bomb_is_refused(workdir, ours_run, age_keys):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join(f"*{prev}" for _ in range(9)) + "]")
    (workdir / "bomb.yaml").write_text("\n".join(lines) + "\n")
    proc = ours_run("-e", "--age", age_keys[0].recipient, "bomb.yaml")
    assert proc.returncode != 0 and proc.stdout == b"" and b"Traceback" not in proc.stderr
    assert b"internal error" not in proc.stderr


def test_deeply_nested_json_is_an_error(age_keys, keys_for):
    deep = b'{"a": ' * 100000 + b"1" + b"}" * 100000
    from secretsync.crypto.sops.keys.age import AgeKey

    with pytest.raises(SopsError) as info:
        sopsfiles.encrypt_bytes(
            deep,
            "deep.json",
            keys_for(age_keys[0]),
            sopsfiles.EncryptSettings(key_groups=[[AgeKey(age_keys[0].recipient)]]),
        )
    assert "deep.json" in info.value.message and info.value.exit_code == 2


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(noise=st.binary(max_size=300))
def test_random_bytes_never_crash(noise, age_keys, keys_for):
    keys = keys_for(age_keys[0])
    for name in ("x.json", "x.env", "x.ini", "x.bin"):
        try:
            sopsfiles.decrypt_bytes(noise, name, keys)
        except SopsError:
            pass


@given(
    text=st.text(max_size=200)
    | st.from_regex(
        r"ENC\[AES256_GCM,data:[A-Za-z0-9+/=!]*,iv:[A-Za-z0-9+/=]*,"
        r"tag:[A-Za-z0-9+/=]*,type:[a-z]*\]",
        fullmatch=True,
    )
)
def test_value_cipher_fails_only_with_its_own_error(text):
    import os as _os

    from secretsync.crypto.sops.cipher import ValueCipher
    from secretsync.crypto.sops.errors import ValueDecryptError

    try:
        result = ValueCipher(_os.urandom(32)).decrypt(text, "a:b:", "f.yaml")
    except ValueDecryptError as exc:
        assert len(text) < 8 or text not in exc.report()  # the value is never echoed
        assert "f.yaml" in exc.message and "'a:b:'" in exc.message
    else:
        assert text == "" and result == ""


def test_sops_yaml_alias_bomb_and_deep_nesting_are_config_errors(tmp_path):
    """A hostile .sops.yaml (a repository's, found by walking up) is refused by name, not expanded."""
    from secretsync.crypto.sops.errors import ConfigError
    from secretsync.sops.config import load_config

    lines = ["a0: &a0 [l, l, l, l, l, l, l, l, l]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 25)]
    lines.append("creation_rules: [{age: *a24}]")
    for name, text, reason in (
        (".sops.yaml", "\n".join(lines), "alias"),
        ("deep.yaml", "a: " + "[" * 5000 + "]" * 5000, "nest"),
        ("two.yaml", "creation_rules: []\n---\ncreation_rules: []\n", "documents"),
    ):
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(ConfigError, match=f"{name}.*{reason}"):
            load_config(path)
