"""``.sops.yaml`` discovery and creation-rule matching, compared with what the real sops picks.

Covers: first match wins, ``path_regex`` relative to the config's directory, a
rule without ``path_regex`` as catch-all, discovery upward from the working
directory, ``--config``, rule selectors and ``shamir_threshold``/``key_groups``,
no matching rule is an error even with ``--age`` given, ``.sops.yml`` is ignored,
and comma lists vs YAML lists of recipients.
"""

from __future__ import annotations

import json

import pytest

from secretsync.crypto.sops.errors import NoMatchingCreationRule
from secretsync.sops.config import creation_rule_for, find_config, load_config


def _recipients(blob: bytes) -> list[list[str]]:
    meta = json.loads(blob)["sops"]
    if meta.get("key_groups"):
        return [[k["recipient"] for k in g.get("age") or []] for g in meta["key_groups"]]
    return [[k["recipient"] for k in meta.get("age") or []]]


@pytest.fixture
def configured(age_keys, workdir):
    r = [k.recipient for k in age_keys]
    (workdir / ".sops.yaml").write_text(f"""\
creation_rules:
  - path_regex: ^sub/.*\\.json$
    age: {r[0]}
    encrypted_regex: ^(password)$
  - path_regex: \\.prod\\.json$
    age:
      - {r[1]}
      - {r[2]}
  - path_regex: groups\\.json$
    shamir_threshold: 2
    key_groups:
      - age: [{r[0]}]
      - age: [{r[1]}, {r[1]}]
      - age: [{r[2]}]
  - path_regex: \\.json$
    age: "{r[3]} , {r[0]}"
""")
    (workdir / "sub").mkdir()
    return workdir


CASES = ["sub/a.json", "b.prod.json", "sub/c.prod.json", "x/groups.json", "plain.json"]


@pytest.mark.parametrize("name", CASES)
def test_rule_choice_matches_sops(name, configured, age_keys, sops_run, ours_run):
    path = configured / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"password": "p", "user": "u"}')
    theirs = sops_run("-e", name).stdout
    ours = ours_run("-e", name, env={"SOPS_AGE_KEY_FILE": str(age_keys[0].path)}, check=True).stdout
    assert _recipients(ours) == _recipients(theirs)
    t_meta, o_meta = json.loads(theirs)["sops"], json.loads(ours)["sops"]
    assert t_meta.get("encrypted_regex") == o_meta.get("encrypted_regex")
    assert t_meta.get("shamir_threshold") == o_meta.get("shamir_threshold")
    assert json.loads(theirs)["user"].startswith("ENC[") == json.loads(ours)["user"].startswith("ENC[")


def test_config_found_from_subdirectory(configured, age_keys, sops_run, ours_run):
    (configured / "sub" / "deep").mkdir()
    (configured / "sub" / "deep" / "d.json").write_text('{"password": "p"}')
    cwd = configured / "sub" / "deep"
    theirs = sops_run("-e", "d.json", cwd=cwd).stdout
    ours = ours_run("-e", "d.json", cwd=cwd, check=True).stdout
    assert _recipients(ours) == _recipients(theirs) == [[age_keys[0].recipient]]


def test_no_matching_rule_is_an_error_even_with_age(configured, age_keys, sops_run, ours_run):
    (configured / "x.env").write_text("A=1\n")
    theirs = sops_run("-e", "--age", age_keys[0].recipient, "x.env", check=False)
    assert theirs.returncode != 0 and b"no matching creation rules" in theirs.stderr
    ours = ours_run("-e", "--age", age_keys[0].recipient, "x.env")
    assert ours.returncode != 0 and b"no matching creation rules" in ours.stderr
    with pytest.raises(NoMatchingCreationRule):
        creation_rule_for(load_config(configured / ".sops.yaml"), configured / "x.env")


def test_explicit_config_and_sops_yml_ignored(age_keys, workdir, tmp_path, ours_run):
    (workdir / ".sops.yml").write_text(f"creation_rules:\n  - age: {age_keys[1].recipient}\n")
    assert find_config(workdir, env={}) is None
    other = tmp_path / "elsewhere.yaml"
    other.write_text(f"creation_rules:\n  - age: {age_keys[2].recipient}\n")
    (workdir / "f.json").write_text('{"a": "b"}')
    ours = ours_run("-e", "--config", str(other), "f.json", check=True).stdout
    assert _recipients(ours) == [[age_keys[2].recipient]]
    assert find_config(workdir, env={"SOPS_CONFIG": str(other)}) == other
