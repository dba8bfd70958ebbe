"""``secretsync reseal``: offline re-encryption of a folder to the newest key.

Covers: the output unseals with only the newest key; scope, template labels and
annotations, comments, quoting and every other byte of the file are kept (only the
``encryptedData`` values change); JSON files and ``v1`` Lists; a second run changes
nothing; ``--dry-run`` writes nothing; a file with an undecryptable SealedSecret is
left unchanged and reported (exit 3); unreadable files are skipped; several files are
processed by the process pool; the summary line.
"""

from __future__ import annotations

import base64
import json
import re

import yaml

from secretsync.crypto.sealing import Scope
from secretsync.sealing.keyring import Keyring
from secretsync.sealing.objects import seal_secret, unseal_sealed_secret
from tests.sealing.conftest import write_key_dir

CW = "sealedsecrets.bitnami.com/cluster-wide"

YAML_FILE = """\
# A hand-written file: comments and layout must survive.
apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  name: app
  namespace: prod   # where it lives
spec:
  template:
    metadata:
      labels:
        only-in-template: "yes"
      annotations:
        note: keep me
    type: Opaque
  encryptedData:
    password: 'PASSWORD'
    token: "TOKEN"
    plain: PLAIN
---
apiVersion: v1
kind: ConfigMap
metadata: {name: untouched}
data: {a: b}
"""


def seal_item(key, value, label):
    from tests.sealing import refcodec

    return base64.b64encode(refcodec.encrypt(key.private_key.public_key(), value, label)).decode()


def make_tree(tmp_path, old_key):
    tree = tmp_path / "repo"
    (tree / "apps").mkdir(parents=True)
    text = YAML_FILE
    for item in ("PASSWORD", "TOKEN", "PLAIN"):
        text = text.replace(item, seal_item(old_key, item.lower().encode(), b"prod/app"), 1)
    (tree / "apps" / "app.yaml").write_text(text)
    cluster = seal_secret(
        {"metadata": {"name": "c", "namespace": "x"}, "stringData": {"k": "cw"}},
        old_key.certificate,
        Scope.CLUSTER_WIDE,
    )
    listing = {"apiVersion": "v1", "kind": "List", "items": [cluster]}
    (tree / "apps" / "list.json").write_text(json.dumps(listing, indent="\t"))  # tab-indented JSON
    (tree / "notes.yaml").write_text("value: {{ .Values.x }\n  broken: [\n")  # a Helm template, not YAML
    return tree


def test_reseal_tree(cli, key_pool, tmp_path):
    old, new = key_pool[0], key_pool[4]
    tree = make_tree(tmp_path, old)
    kd = write_key_dir(tmp_path / "kd", [old, new])
    before = (tree / "apps" / "app.yaml").read_text()
    r = cli("reseal", "--key-dir", str(kd), str(tree))
    assert r.returncode == 0, r.stderr_text
    assert "resealed 4 items in 2 SealedSecrets, 2 files changed; scanned 3 files" in r.stderr_text
    assert "1 unreadable files" in r.stderr_text
    after = (tree / "apps" / "app.yaml").read_text()
    # only the three values changed; quoting kept
    pattern = re.compile(r"(password: ')[^']+(')|(token: \")[^\"]+(\")|(plain: )\S+")
    assert pattern.sub("X", before) == pattern.sub("X", after) and before != after
    newest_only = Keyring([new])
    docs = [d for d in yaml.safe_load_all(after)]
    secret = unseal_sealed_secret(docs[0], newest_only)
    assert {k: v.reveal() for k, v in secret["data"].items()} == {
        "password": b"password",
        "token": b"token",
        "plain": b"plain",
    }
    assert secret["metadata"]["labels"] == {"only-in-template": "yes"}
    assert secret["metadata"]["annotations"] == {"note": "keep me"}
    listing_text = (tree / "apps" / "list.json").read_text()
    assert "\n\t\t{" in listing_text  # layout kept
    listing = json.loads(listing_text)
    cluster = listing["items"][0]
    assert cluster["metadata"]["annotations"] == {CW: "true"}
    moved = dict(cluster, metadata=dict(cluster["metadata"], namespace="elsewhere"))
    assert unseal_sealed_secret(moved, newest_only)["data"]["k"].reveal() == b"cw"
    # second run: nothing left to do
    r = cli("reseal", "--key-dir", str(kd), str(tree))
    assert "resealed 0 items" in r.stderr_text and "skipped 4 items already on the newest key" in r.stderr_text
    assert (tree / "apps" / "app.yaml").read_text() == after


def test_dry_run_writes_nothing(cli, key_pool, tmp_path):
    tree = make_tree(tmp_path, key_pool[0])
    kd = write_key_dir(tmp_path / "kd", [key_pool[0], key_pool[4]])
    snapshot = {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    r = cli("reseal", "--dry-run", "--key-dir", str(kd), str(tree))
    assert r.returncode == 0 and "would reseal 4 items" in r.stderr_text
    assert {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()} == snapshot


def test_failure_leaves_file_unchanged(cli, key_pool, tmp_path):
    tree = make_tree(tmp_path, key_pool[0])
    app = tree / "apps" / "app.yaml"
    text = app.read_text().replace("plain: ", "plain: " + seal_item(key_pool[2], b"x", b"prod/app") + "\n    old: ", 1)
    app.write_text(text)
    kd = write_key_dir(tmp_path / "kd", [key_pool[0], key_pool[4]])
    r = cli("reseal", "--key-dir", str(kd), str(tree))
    assert r.returncode == 3
    assert f"{app}: cannot unseal SealedSecret prod/app: no key could decrypt secret (plain)" in r.stderr_text
    assert "failures: 1" in r.stderr_text
    assert app.read_text() == text
    # the other file was still resealed
    assert "1 files changed" in r.stderr_text


def test_reseal_requires_key_dir(cli, tmp_path):
    r = cli("reseal", str(tmp_path))
    assert r.returncode == 2 and "--key-dir" in r.stderr_text


def test_hostile_yaml_is_skipped_as_unreadable_not_walked(key_pool):
    """An alias bomb or deeply nested file in the repository is reported, neither walked for ever nor fatal."""
    from secretsync.sealing.reseal import reseal_text

    ring = Keyring([key_pool[0]])
    lines = ["a0: &a0 [l, l, l, l, l, l, l, l, l]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 25)]
    for name, text in (
        ("bomb.yaml", "\n".join(lines) + "\n"),
        ("deep.yaml", "a: " + "[" * 5000 + "]" * 5000),
        ("deep.json", '{"a": ' + "[" * 5000 + "]" * 5000 + "}"),
    ):
        new_text, result = reseal_text(text, name, ring)
        assert new_text == text and not result.changed and result.unreadable, name


def test_huge_file_is_skipped_before_reading(cli, key_pool, tmp_path):
    tree = tmp_path / "repo"
    tree.mkdir()
    (tree / "huge.yaml").write_bytes(b"kind: SealedSecret\n" + b"#" * (9 * 1024 * 1024))
    kd = write_key_dir(tmp_path / "kd", [key_pool[0]])
    r = cli("reseal", "-j", "1", "--key-dir", str(kd), str(tree))
    assert r.returncode == 0 and "1 unreadable files" in r.stderr_text and "huge.yaml" in r.stderr_text
