"""The ``secretsync sops`` command line: sops's flags, outputs and exit codes, next to the real sops.

Covers: ``-e``/``-d`` and the ``encrypt``/``decrypt`` subcommands, flags after the
file, ``-i``/``--output``, ``--extract``, ``--input-type``/``--output-type``
conversion, ``filestatus``, and the exit codes both tools give for a missing file
(100), an already encrypted file (203), an empty YAML/JSON file, a non-sops file
(1) and an unsupported key type; stderr stays clean on success.
"""

from __future__ import annotations

import json

import pytest

PLAIN = b'{"a": {"b": ["x", "y"], "c": 2}, "d": "text"}'


@pytest.fixture
def enc_file(age_keys, sops_run, workdir):
    (workdir / "f.json").write_bytes(PLAIN)
    sops_run("-e", "-i", "--age", age_keys[0].recipient, "f.json")
    return workdir / "f.json"


def test_decrypt_forms_and_clean_stderr(enc_file, age_keys, ours_run, sops_run):
    env = {"SOPS_AGE_KEY_FILE": str(age_keys[0].path)}
    expected = sops_run("-d", enc_file.name, env=env).stdout
    for args in (
        ["-d", enc_file.name],
        ["decrypt", enc_file.name],
        [enc_file.name, "--decrypt"],
        ["decrypt", enc_file.name, "--ignore-mac"],
    ):
        proc = ours_run(*args, env=env)
        assert proc.returncode == 0 and proc.stdout == expected and proc.stderr == b"", args


@pytest.mark.parametrize("path", ['["a"]["b"][1]', '["a"]["c"]', '["d"]', '["a"]', '["a"]["b"]'])
def test_extract_matches_sops(path, enc_file, age_keys, ours_run, sops_run):
    env = {"SOPS_AGE_KEY_FILE": str(age_keys[0].path)}
    theirs = sops_run("-d", "--extract", path, enc_file.name, env=env)
    ours = ours_run("-d", "--extract", path, enc_file.name, env=env)
    assert ours.returncode == theirs.returncode == 0
    assert ours.stdout == theirs.stdout


def test_output_and_in_place(enc_file, age_keys, ours_run, sops_run, workdir):
    env = {"SOPS_AGE_KEY_FILE": str(age_keys[0].path)}
    assert ours_run("-d", "--output", "out.json", enc_file.name, env=env).returncode == 0
    assert json.loads((workdir / "out.json").read_bytes()) == json.loads(PLAIN)
    (workdir / "p.env").write_bytes(b"A=1\n")
    assert ours_run("-e", "-i", "--age", age_keys[0].recipient, "p.env").returncode == 0
    assert b"sops_mac=ENC[" in (workdir / "p.env").read_bytes()
    assert sops_run("-d", "p.env", env=env).stdout == b"A=1\n"


def test_type_conversion_json_to_dotenv(enc_file, age_keys, ours_run, sops_run, workdir):
    (workdir / "flat.json").write_bytes(b'{"A": "1", "B": "two"}')
    sops_run("-e", "-i", "--age", age_keys[0].recipient, "flat.json")
    env = {"SOPS_AGE_KEY_FILE": str(age_keys[0].path)}
    theirs = sops_run("-d", "--output-type", "dotenv", "flat.json", env=env).stdout
    ours = ours_run("-d", "--output-type", "dotenv", "flat.json", env=env).stdout
    assert ours == theirs == b"A=1\nB=two\n"


def test_filestatus(enc_file, ours_run, sops_run, workdir):
    (workdir / "plain.json").write_bytes(PLAIN)
    for name in (enc_file.name, "plain.json"):
        assert ours_run("filestatus", name).stdout == sops_run("filestatus", name).stdout


@pytest.mark.parametrize("case", ["missing", "already-encrypted", "not-sops", "empty-json", "pgp-only"])
def test_exit_codes_match_sops(case, enc_file, age_keys, ours_run, sops_run, workdir):
    env = {"SOPS_AGE_KEY_FILE": str(age_keys[0].path)}
    if case == "missing":
        args = ["-d", "nope.json"]
    elif case == "already-encrypted":
        args = ["-e", "--age", age_keys[0].recipient, enc_file.name]
    elif case == "not-sops":
        (workdir / "plain.json").write_bytes(PLAIN)
        args = ["-d", "plain.json"]
    elif case == "empty-json":
        (workdir / "empty.json").write_bytes(b"")
        args = ["-e", "--age", age_keys[0].recipient, "empty.json"]
    else:
        doc = json.loads(enc_file.read_bytes())
        doc["sops"]["pgp"] = [
            {
                "created_at": "2026-01-01T00:00:00Z",
                "enc": "-----BEGIN PGP MESSAGE-----\nx\n-----END PGP MESSAGE-----\n",
                "fp": "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4",
            }
        ]
        del doc["sops"]["age"]
        (workdir / "pgp.json").write_text(json.dumps(doc))
        args = ["-d", "pgp.json"]
    theirs = sops_run(*args, env=env, check=False)
    ours = ours_run(*args, env=env)
    assert ours.returncode == theirs.returncode != 0, (theirs.stderr, ours.stderr)
    assert ours.stdout == b""
    if case == "pgp-only":
        assert b"PGP FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4" in ours.stderr and b"not supported" in ours.stderr


@pytest.mark.parametrize("path", ['["s"]', '["i"]', '["f"]', '["b"]', '["t"]', '["m"]', '["l"]', '["l"][1]'])
def test_extract_from_yaml_matches_sops(path, age_keys, ours_run, sops_run, workdir):
    (workdir / "y.yaml").write_bytes(
        b"s: text\ni: 0x1F\nf: 1e20\nb: yes\nt: 2024-01-02\nm:\n    k: v\nl:\n    - 1\n    - two\n"
    )
    sops_run("-e", "-i", "--age", age_keys[0].recipient, "y.yaml")
    env = {"SOPS_AGE_KEY_FILE": str(age_keys[0].path)}
    theirs = sops_run("-d", "--extract", path, "y.yaml", env=env)
    ours = ours_run("-d", "--extract", path, "y.yaml", env=env)
    assert ours.returncode == 0 and ours.stdout == theirs.stdout


@pytest.mark.parametrize("flag", ["--add-hc-vault-transit", "--rm-hc-vault-transit"])
@pytest.mark.parametrize("recursive", [False, True])
def test_rotate_with_a_bad_transit_uri_is_a_clear_error(flag, recursive, enc_file, age_keys, ours_run, sops_run):
    env = {"SOPS_AGE_KEY_FILE": str(age_keys[0].path)}
    before = enc_file.read_bytes()
    args = ["rotate", flag, "http://x/v1/bad", *(["--recursive", "."] if recursive else [enc_file.name])]
    ours = ours_run(*args, env=env)
    if not recursive:
        assert ours.returncode == sops_run(*args, env=env, check=False).returncode == 1
    assert ours.returncode == 1 and ours.stdout == b"" and b"internal error" not in ours.stderr
    assert b"http://x/v1/bad" in ours.stderr and enc_file.read_bytes() == before
