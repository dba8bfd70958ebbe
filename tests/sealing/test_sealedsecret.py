"""SealedSecret ⇄ Secret logic: scope binding, template → Secret, ownerReferences, errors.

Scope binding uses values made by the reference codec (not our sealer) where the
point is the label: strict a/b fails as c/b and a/d with ``no key could decrypt
secret``; namespace-wide and cluster-wide; annotations only on the template count as
strict; ``"True"`` is strict; item keys are not bound. Also kubeseal's seal rules
(spec section 6) at the library level, per-item error lists, invalid base64 (names the
item, no decrypt attempted), v1 ``spec.data`` and the both-fields error.
"""

from __future__ import annotations

import base64
import json

import pytest

from secretsync import SecretBytes
from secretsync.crypto import sealing
from secretsync.manifests.dump import dump_kubeseal as dump
from secretsync.sealing.keyring import Keyring
from secretsync.sealing.objects import (
    InputError,
    SealError,
    UnsealError,
    load_documents,
    merge_into,
    seal_secret,
    unseal_sealed_secret,
)
from tests.sealing import refcodec

CW = "sealedsecrets.bitnami.com/cluster-wide"
NW = "sealedsecrets.bitnami.com/namespace-wide"


def sealed_obj(key, ns, name, items, scope="strict", annotations=None, template=None, label_ns=None, label_name=None):
    """A SealedSecret whose values the reference codec sealed for (label_ns/label_name, scope)."""
    lbl = refcodec.label(
        scope, label_ns if label_ns is not None else ns, label_name if label_name is not None else name
    )
    pub = key.private_key.public_key()
    meta = {"name": name, "namespace": ns}
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": meta,
        "spec": {
            "template": template or {"metadata": {}},
            "encryptedData": {k: base64.b64encode(refcodec.encrypt(pub, v, lbl)).decode() for k, v in items.items()},
        },
    }


def plain(secret):
    return {k: v.reveal() for k, v in secret["data"].items()}


@pytest.fixture
def ring(key_pool):
    return Keyring([key_pool[0]])


def test_strict_binding(key_pool, ring):
    obj = sealed_obj(key_pool[0], "a", "b", {"k": b"v"})
    assert plain(unseal_sealed_secret(obj, ring)) == {"k": b"v"}
    for ns, name in (("c", "b"), ("a", "d")):
        moved = dict(obj, metadata={"namespace": ns, "name": name})
        with pytest.raises(UnsealError) as info:
            unseal_sealed_secret(moved, ring)
        assert info.value.kubeseal_text == "no key could decrypt secret (k)"
        assert f"{ns}/{name}" in info.value.message


def test_namespace_wide_binding(key_pool, ring):
    obj = sealed_obj(key_pool[0], "a", "b", {"k": b"v"}, scope="namespace-wide", annotations={NW: "true"})
    renamed = dict(obj, metadata=dict(obj["metadata"], name="other"))
    assert plain(unseal_sealed_secret(renamed, ring)) == {"k": b"v"}
    with pytest.raises(UnsealError):
        unseal_sealed_secret(dict(obj, metadata=dict(obj["metadata"], namespace="c")), ring)


def test_cluster_wide_binding(key_pool, ring):
    obj = sealed_obj(key_pool[0], "a", "b", {"k": b"v"}, scope="cluster-wide", annotations={CW: "true"})
    moved = dict(obj, metadata=dict(obj["metadata"], namespace="x", name="y"))
    assert plain(unseal_sealed_secret(moved, ring)) == {"k": b"v"}


def test_both_annotations_mean_cluster_wide(key_pool, ring):
    obj = sealed_obj(key_pool[0], "a", "b", {"k": b"v"}, scope="cluster-wide", annotations={CW: "true", NW: "true"})
    assert plain(unseal_sealed_secret(obj, ring)) == {"k": b"v"}


def test_template_only_annotation_is_strict(key_pool, ring):
    template = {"metadata": {"annotations": {CW: "true"}}}
    cluster_sealed = sealed_obj(key_pool[0], "a", "b", {"k": b"v"}, scope="cluster-wide", template=template)
    with pytest.raises(UnsealError):
        unseal_sealed_secret(cluster_sealed, ring)
    strict_sealed = sealed_obj(key_pool[0], "a", "b", {"k": b"v"}, scope="strict", template=template)
    assert plain(unseal_sealed_secret(strict_sealed, ring)) == {"k": b"v"}


def test_capitalised_true_is_strict(key_pool, ring):
    obj = sealed_obj(key_pool[0], "a", "b", {"k": b"v"}, scope="strict", annotations={CW: "True"})
    assert plain(unseal_sealed_secret(obj, ring)) == {"k": b"v"}
    obj = sealed_obj(key_pool[0], "a", "b", {"k": b"v"}, scope="cluster-wide", annotations={CW: "True"})
    with pytest.raises(UnsealError):
        unseal_sealed_secret(obj, ring)


def test_item_keys_are_not_bound(key_pool, ring):
    obj = sealed_obj(key_pool[0], "a", "b", {"k": b"v"})
    obj["spec"]["encryptedData"] = {"renamed": obj["spec"]["encryptedData"]["k"]}
    assert plain(unseal_sealed_secret(obj, ring)) == {"renamed": b"v"}


def test_errors_are_collected_per_message(key_pool, ring):
    obj = sealed_obj(key_pool[0], "a", "b", {"good": b"v"})
    wrong = sealed_obj(key_pool[1], "a", "b", {"x": b"1", "y": b"2"})
    obj["spec"]["encryptedData"].update(wrong["spec"]["encryptedData"])
    obj["spec"]["encryptedData"]["bad64"] = "AgB$$$"
    with pytest.raises(UnsealError) as info:
        unseal_sealed_secret(obj, ring)
    lines = info.value.kubeseal_text.splitlines()
    assert "no key could decrypt secret (x, y)" in lines
    assert "illegal base64 data at input byte 3 (bad64)" in lines
    assert info.value.items == ["bad64", "x", "y"]


def test_invalid_base64_does_not_mention_decrypt(key_pool, ring):
    obj = sealed_obj(key_pool[0], "a", "b", {})
    obj["spec"]["encryptedData"] = {"password": "not base64!"}
    with pytest.raises(UnsealError) as info:
        unseal_sealed_secret(obj, ring)
    assert "password" in info.value.message and "decrypt" not in info.value.message


def test_template_to_secret(key_pool, ring):
    template = {
        "metadata": {
            "labels": {"app": "x"},
            "annotations": {"a": "1"},
            "finalizers": ["f"],
            "name": "ignored",
            "namespace": "ignored",
        },
        "type": "kubernetes.io/basic-auth",
        "immutable": True,
        "data": {
            "config.json": '{"user": {{ toJson .user }}, "pw": {{ index . "password" | toJson }}}',
            "b64": "{{ .user | b64enc }}",
            "static": "plain text",
        },
    }
    obj = sealed_obj(key_pool[0], "ns", "creds", {"user": b"admin", "password": b"p<&>w"}, template=template)
    obj["metadata"]["uid"] = "1234-uid"
    secret = unseal_sealed_secret(obj, ring)
    assert all(isinstance(v, SecretBytes) for v in secret["data"].values())
    assert plain(secret) == {
        "user": b"admin",
        "password": b"p<&>w",
        "b64": b"YWRtaW4=",
        "static": b"plain text",
        "config.json": b'{"user": "admin", "pw": "p\\u003c\\u0026\\u003ew"}',
    }
    meta = secret["metadata"]
    assert (meta["name"], meta["namespace"]) == ("creds", "ns")
    assert meta["labels"] == {"app": "x"} and meta["annotations"] == {"a": "1"} and meta["finalizers"] == ["f"]
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "bitnami.com/v1alpha1",
            "kind": "SealedSecret",
            "name": "creds",
            "uid": "1234-uid",
            "controller": True,
        }
    ]
    assert secret["type"] == "kubernetes.io/basic-auth" and secret["immutable"] is True


def test_template_data_without_encrypted_data(ring, key_pool):
    obj = sealed_obj(key_pool[0], "ns", "n", {}, template={"data": {"k": "fixed"}})
    assert plain(unseal_sealed_secret(obj, ring)) == {"k": b"fixed"}


def test_skip_set_owner_references(key_pool, ring):
    template = {"metadata": {"annotations": {"sealedsecrets.bitnami.com/skip-set-owner-references": "true"}}}
    obj = sealed_obj(key_pool[0], "ns", "n", {"k": b"v"}, template=template)
    assert "ownerReferences" not in unseal_sealed_secret(obj, ring)["metadata"]
    template["metadata"]["annotations"]["sealedsecrets.bitnami.com/skip-set-owner-references"] = "True"
    assert "ownerReferences" in unseal_sealed_secret(obj, ring)["metadata"]


def test_unsupported_template_function_names_it(key_pool, ring):
    obj = sealed_obj(key_pool[0], "ns", "n", {"k": b"v"}, template={"data": {"out": "{{ sha256sum .k }}"}})
    with pytest.raises(UnsealError) as info:
        unseal_sealed_secret(obj, ring)
    assert 'template: out:1: function "sha256sum" not defined (out)' in info.value.kubeseal_text


def test_deprecated_v1_data(key_pool, ring):
    inner = json.dumps({"apiVersion": "v1", "kind": "Secret", "data": {"k": base64.b64encode(b"v1").decode()}})
    value = refcodec.encrypt(key_pool[0].private_key.public_key(), inner.encode(), b"ns/n")
    obj = {
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": {"name": "n", "namespace": "ns"},
        "spec": {"data": base64.b64encode(value).decode()},
    }
    assert plain(unseal_sealed_secret(obj, ring)) == {"k": b"v1"}
    with pytest.raises(UnsealError, match="deprecated"):
        unseal_sealed_secret(obj, ring, accept_deprecated_v1=False)
    obj["spec"]["encryptedData"] = {"x": "AgA="}
    with pytest.raises(
        UnsealError, match="cannot use the field 'encryptedData' and the deprecated field 'data' at the same time"
    ):
        unseal_sealed_secret(obj, ring)


def test_non_map_encrypted_data_is_empty_like_the_controller(ring):
    obj = {"kind": "SealedSecret", "metadata": {"name": "n", "namespace": "ns"}, "spec": {"encryptedData": ["x"]}}
    assert unseal_sealed_secret(obj, ring)["data"] == {}


# ---- seal rules (kubeseal's default seal)


def secret(**meta):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", **meta}, "data": {"k": "dg=="}}


def test_seal_output_shape(key_pool, ring):
    inp = secret(
        namespace="ns",
        labels={"l": "1"},
        uid="u",
        resourceVersion="9",
        creationTimestamp="2020-01-01T00:00:00Z",
        ownerReferences=[{"kind": "X"}],
        annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}", "keep": "me"},
    )
    inp["stringData"] = {"k": "wins", "s": "str"}
    inp["type"] = "Opaque"
    out = seal_secret(inp, key_pool[0].certificate)
    assert list(out) == ["kind", "apiVersion", "metadata", "spec"]
    assert out["metadata"] == {"name": "s", "namespace": "ns"}
    assert out["spec"]["template"] == {
        "metadata": {"name": "s", "namespace": "ns", "labels": {"l": "1"}, "annotations": {"keep": "me"}},
        "type": "Opaque",
    }
    assert plain(unseal_sealed_secret(out, ring)) == {"k": b"wins", "s": b"str"}


@pytest.mark.parametrize("scope,ann", [(sealing.Scope.NAMESPACE_WIDE, NW), (sealing.Scope.CLUSTER_WIDE, CW)])
def test_seal_scope_rewrites_annotations(key_pool, scope, ann):
    out = seal_secret(
        secret(namespace="ns", annotations={CW: "true", NW: "true", "x": "y"}), key_pool[0].certificate, scope
    )
    assert out["metadata"]["annotations"] == {ann: "true"}
    assert out["spec"]["template"]["metadata"]["annotations"] == {ann: "true", "x": "y"}


def test_strict_cannot_override_annotation(key_pool):
    out = seal_secret(secret(namespace="ns", annotations={CW: "true"}), key_pool[0].certificate, sealing.Scope.STRICT)
    assert out["metadata"]["annotations"] == {CW: "true"}


def test_namespace_rules(key_pool):
    cert = key_pool[0].certificate
    with pytest.raises(SealError, match='^namespace mismatch: input secret is in namespace "a" but "b" was specified$'):
        seal_secret(secret(namespace="a"), cert, namespace="b")
    assert seal_secret(secret(), cert, namespace="b")["metadata"]["namespace"] == "b"
    assert seal_secret(secret(), cert, default_namespace="ctx")["metadata"]["namespace"] == "ctx"
    cluster = seal_secret(secret(annotations={CW: "true"}), cert, namespace="b")
    assert "namespace" not in cluster["metadata"]
    assert (
        seal_secret(secret(namespace="a", annotations={CW: "true"}), cert, namespace="b")["metadata"]["namespace"]
        == "a"
    )
    with pytest.raises(SealError, match="^secret must declare a namespace$"):
        seal_secret(secret(), cert, default_namespace="")


def test_seal_refusals(key_pool):
    cert = key_pool[0].certificate
    with pytest.raises(
        SealError,
        match="^secret.data is empty in input Secret, assuming this is an error and "
        "aborting. To work with empty data, --allow-empty-data can be used$",
    ):
        seal_secret({"metadata": {"name": "s", "namespace": "n"}}, cert)
    assert (
        seal_secret({"metadata": {"name": "s", "namespace": "n"}}, cert, allow_empty_data=True)["spec"]["encryptedData"]
        == {}
    )
    with pytest.raises(SealError, match="^missing metadata.name in input Secret$"):
        seal_secret({"metadata": {"namespace": "n"}, "data": {"k": "dg=="}}, cert)
    with pytest.raises(InputError, match='data\\["k"\\] is not valid base64'):
        seal_secret({"metadata": {"name": "s", "namespace": "n"}, "data": {"k": "%%"}}, cert)


def test_merge_into(key_pool, ring):
    cert = key_pool[0].certificate
    base = seal_secret(secret(namespace="ns", labels={"a": "1"}), cert)
    extra = seal_secret(
        {"metadata": {"name": "s", "namespace": "ns", "labels": {"b": "2"}}, "stringData": {"new": "n"}}, cert
    )
    merged = merge_into(base, extra)
    assert merged["metadata"] == base["metadata"]
    assert merged["spec"]["template"]["metadata"]["labels"] == {"a": "1", "b": "2"}
    assert plain(unseal_sealed_secret(merged, ring)) == {"k": b"v", "new": b"n"}


def test_load_documents_and_dump():
    docs = load_documents(b'{"kind": "Secret", "metadata": {"name": "a"}}\n{"kind": "Secret"}', "in.json")
    assert [d.get("kind") for d in docs] == ["Secret", "Secret"]
    docs = load_documents(b"---\nkind: A\n---\n---\nkind: B\n", "in.yaml")
    assert [d["kind"] for d in docs] == ["A", "B"]
    for bad in (b"kind: [unclosed", b'{"kind": ', b"- a\n- b\n", b"just a string"):
        with pytest.raises(InputError):
            load_documents(bad, "bad.yaml")
    text = dump(
        [
            {
                "kind": "SealedSecret",
                "apiVersion": "bitnami.com/v1alpha1",
                "metadata": {"name": "n", "annotations": {CW: "true"}},
                "spec": {"encryptedData": {"b": "x<y", "a": "1"}, "template": {"metadata": {}}},
            }
        ],
        "json",
    )
    assert text.endswith("}\n") and "\\u003c" in text and text.index('"a"') < text.index('"b"')
    text = dump([{"kind": "SealedSecret", "metadata": {"annotations": {CW: "true"}, "name": "n"}}], "yaml")
    assert text.startswith("---\n") and f'{CW}: "true"' in text


def test_key_order_json_bytewise_yaml_goyaml():
    """JSON maps sort bytewise (encoding/json); YAML maps in go-yaml v2's order (digits numerically,
    other runes before letters), as sigs.k8s.io/yaml emits them."""
    obj = {"kind": "Secret", "apiVersion": "v1", "data": {"k10": "a", "k2": "b", "a_b": "c", "aB": "d"}}
    text = dump([obj], "json")
    assert [text.index(f'"{k}"') for k in ("aB", "a_b", "k10", "k2")] == sorted(
        text.index(f'"{k}"') for k in ("aB", "a_b", "k10", "k2")
    )
    lines = dump([obj], "yaml").splitlines()
    assert lines == ["---", "apiVersion: v1", "data:", "  a_b: c", "  aB: d", "  k2: b", "  k10: a", "kind: Secret"]


def test_null_template_item_removes_key_and_errors_combine(key_pool, ring):
    obj = sealed_obj(key_pool[0], "ns", "n", {"keep": b"1", "drop": b"2"}, template={"data": {"drop": None}})
    assert plain(unseal_sealed_secret(obj, ring)) == {"keep": b"1"}
    wrong = sealed_obj(key_pool[1], "ns", "n", {"x": b"1"})
    obj["spec"]["encryptedData"].update(wrong["spec"]["encryptedData"])
    obj["spec"]["template"]["data"] = {"t": "{{ nosuch }}"}
    with pytest.raises(UnsealError) as info:
        unseal_sealed_secret(obj, ring)
    assert sorted(info.value.kubeseal_text.splitlines()) == [
        "no key could decrypt secret (x)",
        'template: t:1: function "nosuch" not defined (t)',
    ]


def test_deprecated_v1_takes_metadata_from_the_sealed_secret_inside(key_pool, ring):
    inner = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": "x", "namespace": "y", "labels": {"from": "inside"}},
            "data": {"k": base64.b64encode(b"v1").decode()},
        }
    )
    value = refcodec.encrypt(key_pool[0].private_key.public_key(), inner.encode(), b"ns/n")
    obj = {
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": {"name": "n", "namespace": "ns", "uid": "u1"},
        "spec": {"data": base64.b64encode(value).decode()},
    }
    secret = unseal_sealed_secret(obj, ring)
    assert secret["metadata"]["labels"] == {"from": "inside"} and secret["type"] == "Opaque"
    assert (secret["metadata"]["namespace"], secret["metadata"]["name"]) == ("ns", "n")
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "u1"
    with pytest.raises(
        UnsealError, match="using deprecated 'data' field, use 'encryptedData' or flip the feature flag"
    ):
        unseal_sealed_secret(obj, ring, accept_deprecated_v1=False)


def test_load_documents_refuses_alias_bombs_deep_nesting_and_huge_input():
    """A billion-laughs SealedSecret, deep nesting or a huge file is refused by name before any walk."""
    lines = ["kind: SealedSecret", "metadata: {name: x, namespace: d}", "a0: &a0 [l, l, l, l, l, l, l, l, l]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 25)]
    lines.append("spec: {template: {metadata: {x: *a24}}, encryptedData: {}}")
    with pytest.raises(InputError, match=r"bomb\.yaml: document 1: .*alias"):
        load_documents("\n".join(lines).encode(), "bomb.yaml")
    with pytest.raises(InputError, match=r"deep\.yaml: .*nest"):
        load_documents(b"a: " + b"[" * 5000 + b"]" * 5000, "deep.yaml")
    with pytest.raises(InputError, match=r"deep\.json: .*nest"):
        load_documents(b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}", "deep.json")
    with pytest.raises(InputError, match=r"huge\.yaml: .*bytes"):
        load_documents(b"kind: Secret\n" + b"#" * (9 * 1024 * 1024), "huge.yaml")
    ok = load_documents(b"a: &x [1, 2]\nb: *x\nkind: SealedSecret\n", "alias.yaml")  # small aliases still work
    assert ok == [{"a": [1, 2], "b": [1, 2], "kind": "SealedSecret"}]
