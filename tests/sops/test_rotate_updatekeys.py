"""``updatekeys`` and ``rotate``, single files and whole trees, checked with the real sops.

Covers: updatekeys (from the matching .sops.yaml rule) leaves every value, the MAC
and ``lastmodified`` byte-identical while the new recipient can decrypt with
``sops -d``; a file already matching the rule is untouched; rotate makes a new data
key (every ciphertext changes, the removed identity no longer opens the file, the
added one does) and sops accepts it; ``--recursive`` with ``--dry-run`` writes
nothing, without it rewrites only sops files, reports a broken file and leaves it
as it was.
"""

from __future__ import annotations

import json

import pytest

from secretsync.crypto.sops.errors import DataKeyUnavailable
from secretsync.sops import files as sopsfiles

PLAIN = b'{"db": {"user": "admin", "password": "pw"}, "list": ["a", "b"], "port_unencrypted": 1}'


def _rule(workdir, *recipients):
    (workdir / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: \\.json$\n    age: " + ",".join(recipients) + "\n"
    )


def _strip_keys(doc: dict) -> dict:
    doc = json.loads(json.dumps(doc))
    for field in ("age", "key_groups"):
        doc["sops"].pop(field, None)
    return doc


def test_updatekeys_keeps_values_mac_and_lastmodified(age_keys, sops_run, ours_run, workdir):
    a, b = age_keys[0], age_keys[1]
    _rule(workdir, a.recipient)
    (workdir / "s.json").write_bytes(PLAIN)
    sops_run("-e", "-i", "s.json")
    before = json.loads((workdir / "s.json").read_bytes())
    _rule(workdir, a.recipient, b.recipient)
    proc = ours_run("updatekeys", "-y", "s.json", env={"SOPS_AGE_KEY_FILE": str(a.path)})
    assert proc.returncode == 0, proc.stderr
    after = json.loads((workdir / "s.json").read_bytes())
    assert _strip_keys(after) == _strip_keys(before)
    assert after["sops"]["mac"] == before["sops"]["mac"]
    assert after["sops"]["lastmodified"] == before["sops"]["lastmodified"]
    assert [k["recipient"] for k in after["sops"]["age"]] == [a.recipient, b.recipient]
    out = sops_run("-d", "s.json", env={"SOPS_AGE_KEY_FILE": str(b.path)}).stdout
    assert json.loads(out) == json.loads(PLAIN)
    # Nothing to do the second time: the file is left byte-identical.
    content = (workdir / "s.json").read_bytes()
    proc = ours_run("updatekeys", "-y", "s.json", env={"SOPS_AGE_KEY_FILE": str(a.path)})
    assert proc.returncode == 0 and b"already up to date" in proc.stderr
    assert (workdir / "s.json").read_bytes() == content


def test_rotate_changes_data_key(age_keys, sops_run, ours_run, workdir, keys_for):
    a, b = age_keys[0], age_keys[1]
    (workdir / "s.json").write_bytes(PLAIN)
    sops_run("-e", "-i", "--age", a.recipient, "s.json")
    before = json.loads((workdir / "s.json").read_bytes())
    proc = ours_run(
        "rotate",
        "-i",
        "--add-age",
        b.recipient,
        "--rm-age",
        a.recipient,
        "s.json",
        env={"SOPS_AGE_KEY_FILE": str(a.path)},
    )
    assert proc.returncode == 0, proc.stderr
    after = json.loads((workdir / "s.json").read_bytes())
    assert [k["recipient"] for k in after["sops"]["age"]] == [b.recipient]
    assert after["db"]["password"] != before["db"]["password"] and after["list"][0] != before["list"][0]
    # IVs are reused (as sops does), only the key changed.
    assert (
        after["db"]["password"].split(",iv:")[1].split(",")[0]
        == before["db"]["password"].split(",iv:")[1].split(",")[0]
    )
    assert sops_run("-d", "s.json", env={"SOPS_AGE_KEY_FILE": str(a.path)}, check=False).returncode == 128
    with pytest.raises(DataKeyUnavailable):
        sopsfiles.decrypt_bytes((workdir / "s.json").read_bytes(), "s.json", keys_for(a))
    out = sops_run("-d", "s.json", env={"SOPS_AGE_KEY_FILE": str(b.path)}).stdout
    assert json.loads(out) == json.loads(PLAIN)


def test_recursive_updatekeys_dry_run_then_real(age_keys, sops_run, ours_run, workdir):
    a, b = age_keys[0], age_keys[1]
    _rule(workdir, a.recipient)
    tree = workdir / "repo"
    (tree / "sub").mkdir(parents=True)
    for name in ("one.json", "sub/two.json"):
        (tree / name).write_bytes(PLAIN)
        sops_run("-e", "-i", str(tree / name))
    (tree / "plain.json").write_bytes(PLAIN)
    broken = json.loads((tree / "one.json").read_bytes())
    broken["sops"]["age"][0]["enc"] = broken["sops"]["age"][0]["enc"].replace("A", "B", 3)
    (tree / "sub" / "broken.json").write_text(json.dumps(broken))
    snapshot = {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    _rule(workdir, a.recipient, b.recipient)
    env = {"SOPS_AGE_KEY_FILE": str(a.path)}
    dry = ours_run("updatekeys", "--recursive", "--dry-run", "repo", env=env)
    assert dry.returncode == 1  # the broken file fails
    assert {p: p.read_bytes() for p in snapshot} == snapshot
    assert b"2 would be updated" in dry.stdout and b"1 failed" in dry.stdout
    real = ours_run("updatekeys", "--recursive", "repo", env=env)
    assert real.returncode == 1 and b"2 updated, 0 unchanged, 1 failed" in real.stdout
    assert b"broken.json" in real.stdout
    assert (tree / "sub" / "broken.json").read_bytes() == snapshot[tree / "sub" / "broken.json"]
    assert (tree / "plain.json").read_bytes() == PLAIN
    for name in ("one.json", "sub/two.json"):
        out = sops_run("-d", str(tree / name), env={"SOPS_AGE_KEY_FILE": str(b.path)}).stdout
        assert json.loads(out) == json.loads(PLAIN)


def test_recursive_rotate(age_keys, sops_run, ours_run, workdir):
    a = age_keys[0]
    tree = workdir / "repo"
    tree.mkdir()
    (tree / "x.json").write_bytes(PLAIN)
    (tree / "y.env").write_bytes(b"A=1\nB=2\n")
    (tree / "z.yaml").write_bytes(b"# top\na: 1\nlist:\n    - x\n    # c\n    - y\n---\nb: yes\n")
    names = ("x.json", "y.env", "z.yaml")
    for name in names:
        sops_run("-e", "-i", "--age", a.recipient, str(tree / name))
    before = {n: (tree / n).read_bytes() for n in names}
    expected = {n: sops_run("-d", str(tree / n), env={"SOPS_AGE_KEY_FILE": str(a.path)}).stdout for n in names}
    proc = ours_run("rotate", "--recursive", "repo", env={"SOPS_AGE_KEY_FILE": str(a.path)})
    assert proc.returncode == 0 and b"3 rotated" in proc.stdout, proc.stderr
    for name in names:
        assert (tree / name).read_bytes() != before[name]
        assert sops_run("-d", str(tree / name), env={"SOPS_AGE_KEY_FILE": str(a.path)}).stdout == expected[name]


def test_no_file_is_rewritten_unless_its_new_content_decrypts(age_keys, sops_run, workdir, keys_for, monkeypatch):
    """A store that emits a damaged value (simulated in our own JSON store) must not cost the user the file."""
    a = age_keys[0]
    tree = workdir / "repo"
    tree.mkdir()
    (tree / "x.json").write_bytes(PLAIN)
    sops_run("-e", "-i", "--age", a.recipient, str(tree / "x.json"))
    before = (tree / "x.json").read_bytes()
    from secretsync.crypto.sops.stores import json as json_store

    real_dump = json_store.dump

    def damaging_dump(docs, indent=None):
        out = real_dump(docs, indent)
        return out.replace(b"data:", b"data:AAAA", 1)

    monkeypatch.setattr(json_store, "dump", damaging_dump)
    summary = sopsfiles.rotate_tree(str(tree), keys_for(a), progress=False)
    assert [p.name for p, _ in summary.failed] == ["x.json"] and not summary.changed
    assert (tree / "x.json").read_bytes() == before
