"""secretsync.render.documents: walking a source tree, kustomize builds, confinement.

Covers: stable walk order, skipped files (dotfiles, .sops.yaml, non-manifests), multi-document
files, errors naming file + document index (the walk goes on), symlinks leaving the root
(file, folder, kustomize resource), remote bases, real ``kubectl kustomize`` with a
sops-encrypted Secret (made by the real sops binary) and a SealedSecret passing through
intact and the sops object mapped back to its original file bytes.
Not covered: decryption itself (test_pipeline.py).
"""

from __future__ import annotations

import os

import pytest
import yaml

from secretsync.manifests.loader import ManifestError
from secretsync.render.documents import collect, is_sops_object, sops_overlay
from tests.render.conftest import SECRET

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n"


def names(collected):
    return [(d.file, d.index, d.object["metadata"]["name"]) for d in collected.documents]


def test_walk_order_and_skips(tree):
    root = tree(
        {
            "b.yaml": CM.format(name="b"),
            "a.yml": CM.format(name="a1") + "---\n" + CM.format(name="a2"),
            "sub/c.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}',
            ".sops.yaml": "creation_rules: []\n",
            ".hidden/x.yaml": CM.format(name="hidden"),
            ".dot.yaml": CM.format(name="dot"),
            "README.md": "not a manifest",
            "values.txt": "a: b",
            "aa/z.yaml": CM.format(name="z"),
        }
    )
    got = collect(root)
    assert got.errors == []
    assert names(got) == [
        ("a.yml", 0, "a1"),
        ("a.yml", 1, "a2"),
        ("aa/z.yaml", 0, "z"),
        ("b.yaml", 0, "b"),
        ("sub/c.json", 0, "c"),
    ]


def test_errors_name_file_and_index_and_walk_continues(tree):
    root = tree(
        {
            "a.yaml": CM.format(name="ok") + "---\nkind: [unclosed\n",
            "b.yaml": "a: 1\na: 2\n",
            "c.yaml": CM.format(name="c"),
        }
    )
    got = collect(root)
    assert [(e.file, e.index) for e in got.errors] == [("a.yaml", 1), ("b.yaml", 0)]
    assert names(got) == [("c.yaml", 0, "c")]  # a.yaml fails as a whole file


def test_path_option_and_bad_paths(tree):
    root = tree({"apps/a.yaml": CM.format(name="a"), "other/b.yaml": CM.format(name="b")})
    assert names(collect(root, "apps")) == [("apps/a.yaml", 0, "a")]
    for bad in ("../x", "/etc", "missing"):
        got = collect(root, bad)
        assert got.documents == [] and len(got.errors) == 1


def test_symlink_file_escaping_root_is_refused(tree, tmp_path):
    outside = tmp_path / "outside.yaml"
    outside.write_text(CM.format(name="outside"))
    root = tree({"a.yaml": CM.format(name="a")})
    os.symlink(outside, root / "link.yaml")
    os.symlink("a.yaml", root / "inside.yaml")
    got = collect(root)
    assert [str(e) for e in got.errors] == [
        "link.yaml: symlink leads outside the source root\n"
        "hint: keep every manifest inside the repository; symlinks may only "
        "point inside it".split("\n")[0]
    ]
    assert names(got) == [("a.yaml", 0, "a"), ("inside.yaml", 0, "a")]


def test_symlink_dir_escaping_root_and_loops(tree, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.yaml").write_text(CM.format(name="x"))
    root = tree({"d/a.yaml": CM.format(name="a")})
    os.symlink(tmp_path / "elsewhere", root / "escape")
    os.symlink("..", root / "d" / "loop")
    got = collect(root)
    assert [e.file for e in got.errors] == ["escape"]
    assert names(got) == [("d/a.yaml", 0, "a")]


def kustomization(**spec) -> str:
    return yaml.safe_dump(spec)


def test_kustomize_build(tree):
    root = tree(
        {
            "app/kustomization.yaml": kustomization(namespace="demo", resources=["cm.yaml", "../base"]),
            "app/cm.yaml": CM.format(name="cm"),
            "base/kustomization.yaml": kustomization(resources=["b.yaml"]),
            "base/b.yaml": CM.format(name="b"),
            "plain.yaml": CM.format(name="plain"),
        }
    )
    got = collect(root)
    assert got.errors == []
    # kustomize orders its own output; the index is the position in that output.
    assert names(got) == [
        ("app/kustomization.yaml", 0, "b"),
        ("app/kustomization.yaml", 1, "cm"),
        ("base/kustomization.yaml", 0, "b"),
        ("plain.yaml", 0, "plain"),
    ]
    assert [d.object["metadata"].get("namespace") for d in got.documents] == ["demo", "demo", None, None]


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"resources": ["https://github.com/example/repo//base?ref=main"]}, "remote base"),
        ({"resources": ["github.com/example/repo/base"]}, "remote base"),
        ({"resources": ["../../outside"]}, "outside the source root"),
        ({"resources": ["esc.yaml"]}, "outside the source root"),
        ({"configMapGenerator": [{"name": "x", "files": ["k=../../outside/f.txt"]}]}, "outside the source root"),
    ],
)
def test_kustomization_confinement(tree, tmp_path, spec, message):
    (tmp_path / "outside").mkdir(exist_ok=True)
    (tmp_path / "outside" / "f.txt").write_text("x")
    (tmp_path / "outside" / "kustomization.yaml").write_text(kustomization(resources=[]))
    root = tree({"k/kustomization.yaml": kustomization(**spec)})
    os.symlink(tmp_path / "outside" / "f.txt", root / "k" / "esc.yaml")
    got = collect(root)
    assert got.documents == []
    assert len(got.errors) == 1 and message in str(got.errors[0])


def test_kustomize_failure_is_reported(tree):
    root = tree({"k/kustomization.yaml": kustomization(resources=["missing.yaml"])})
    got = collect(root)
    assert len(got.errors) == 1 and got.errors[0].file == "k/kustomization.yaml"
    assert "kubectl kustomize failed" in str(got.errors[0])


@pytest.mark.peer
def test_kustomize_keeps_sops_and_sealed_objects_intact(tree, tmp_path, sops_encrypt, seal):
    plain = tmp_path / "plain-secret.yaml"
    plain.write_text(SECRET)
    root = tree(
        {
            "k/kustomization.yaml": kustomization(
                namespace="demo", labels=[{"pairs": {"app": "shop"}}], resources=["db.sops.yaml", "sealed.yaml"]
            ),
            "k/sealed.yaml": yaml.safe_dump(
                seal(
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {"name": "api", "namespace": "demo"},
                        "stringData": {"t": "canary"},
                    }
                )
            ),
        }
    )
    raw = sops_encrypt(plain, root / "k" / "db.sops.yaml")
    got = collect(root)
    assert got.errors == []
    by_kind = {d.object["kind"]: d for d in got.documents}
    sops_doc = by_kind["Secret"]
    assert is_sops_object(sops_doc.object)
    assert sops_doc.object["metadata"] == {"name": "db", "namespace": "demo", "labels": {"app": "shop"}}
    assert sops_doc.sops is not None and sops_doc.sops.file == "k/db.sops.yaml" and sops_doc.sops.data == raw
    original = yaml.safe_load(raw)
    for field in ("stringData", "data"):
        assert sops_doc.object[field] == original[field]  # ciphertext untouched by kustomize
    sealed = by_kind["SealedSecret"]
    sealed_original = yaml.safe_load((root / "k" / "sealed.yaml").read_text())
    assert sealed.object["spec"] == sealed_original["spec"]

    # The overlay puts plaintext back at the ciphertext's paths and keeps kustomize's metadata.
    decrypted = {**original, "stringData": {"password": "pw", "port": "5432"}, "data": {"token": "dG9r"}}
    merged = sops_overlay(sops_doc.object, original, decrypted, "k")
    assert "sops" not in merged and merged["metadata"]["labels"] == {"app": "shop"}
    assert merged["stringData"] == {"password": "pw", "port": "5432"} and merged["data"] == {"token": "dG9r"}
    tampered = {
        **sops_doc.object,
        "stringData": {**sops_doc.object["stringData"], "password": original["stringData"]["port"]},
    }
    with pytest.raises(ManifestError, match="does not match its sops file"):
        sops_overlay(tampered, original, decrypted, "k")


@pytest.mark.peer
def test_kustomize_sops_object_without_source_file_is_an_error(tree, tmp_path, sops_encrypt):
    plain = tmp_path / "p.yaml"
    plain.write_text(SECRET)
    enc = sops_encrypt(plain, tmp_path / "enc.yaml")
    doc = yaml.safe_load(enc)
    patch = [{"op": "replace", "path": "/stringData/password", "value": doc["stringData"]["port"]}]
    root = tree(
        {
            "k/kustomization.yaml": kustomization(
                resources=["s.yaml"],
                patches=[{"target": {"kind": "Secret", "name": "db"}, "patch": yaml.safe_dump(patch)}],
            ),
            "k/s.yaml": enc,
        }
    )
    got = collect(root, "k")
    assert got.documents == [] and "does not match any sops file" in str(got.errors[0])


def test_huge_file_refused_before_reading(tree):
    from secretsync.manifests.loader import Limits

    root = tree({"big.yaml": CM.format(name="big") + "  pad: '" + "x" * 5000 + "'\n", "ok.yaml": CM.format(name="ok")})
    got = collect(root, limits=Limits(max_bytes=4096))
    assert [e.file for e in got.errors] == ["big.yaml"] and "more than the limit of 4096" in str(got.errors[0])
    assert names(got) == [("ok.yaml", 0, "ok")]
