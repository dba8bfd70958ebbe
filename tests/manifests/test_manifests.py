"""secretsync.manifests (loader, dump) and secretsync.objects: YAML/JSON loading rules, limits, identity, ordering, output.

Covers: scalar typing differentially against the real kubectl (it reads manifests with
go-yaml v2 via sigs.k8s.io/yaml; ``kubectl patch --local`` evaluates offline), both for our
loader and for what our dumper writes; duplicate keys, alias bombs, depth and size caps,
invalid documents naming file + index; JSON streams; ObjectId forms; apply order and waves.
Not covered here: files on disk (test_documents.py).
"""

from __future__ import annotations

import json
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secretsync.manifests.dump import dump_all
from secretsync.manifests.loader import (
    Limits,
    ManifestError,
    expand_lists,
    load_manifests,
    validate_object,
)
from secretsync.objects import ObjectId, apply_order_key, sort_for_apply, sync_wave
from tests.fixtures.peers import isolated_env, peer_binary

SCALARS = [
    "y",
    "Y",
    "yes",
    "No",
    "n",
    "on",
    "OFF",
    "true",
    "False",
    "017",
    "08",
    "0o17",
    "0x1F",
    "0b101",
    "1_000",
    "+5",
    "-7",
    "1.",
    ".5",
    ".5e3",
    ".0_",  # go-yaml's '.' case: ParseFloat of the text as written; "_" only between digits
    ".0_1",
    "._5",
    ".5e1_0",
    "1e3",
    "1E-2",
    "1:20",
    "2001-12-14",
    "2001-12-14T21:59:43Z",
    "~",
    "null",
    "Null",
    "0",
    "00",
    "-0",
    "12345678901234567890",
    "99999999999999999999999",
    "1.5e10",
    "0x_1F",
    "abc",
    "1.2.3",
    "+.5",
    "-1_0.5",
    "0755",
    "0.",
    "1e",
    "e1",
    "0xG",
    "--1",
]


def kubectl_reads(tmp_path, probe_yaml: str) -> dict:
    """What kubectl makes of ``probe:`` entries (offline, no cluster)."""
    path = tmp_path / "probe.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\n" + probe_yaml)
    proc = subprocess.run(
        [peer_binary("kubectl"), "patch", "--local", "-f", str(path), "--type", "merge", "-p", "{}", "-o", "json"],
        capture_output=True,
        text=True,
        env=isolated_env(tmp_path),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["probe"]


def typed(value):
    """Compare JSON-wise: numbers by value (kubectl prints 1000.0 as 1000), bools apart from ints."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, (int, float)):
        return ("number", float(value))
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    return [typed(v) for v in value]


def probe_doc(scalars: list[str]) -> str:
    return "probe:\n" + "".join(f"  k{i}: {s}\n" for i, s in enumerate(scalars))


def ours(doc: str) -> dict:
    ((_, obj),) = load_manifests(("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\n" + doc).encode(), "p")
    return obj["probe"]


@pytest.mark.peer
def test_scalar_typing_matches_kubectl(tmp_path):
    doc = probe_doc(SCALARS)
    assert typed(ours(doc)) == typed(kubectl_reads(tmp_path, doc))


@pytest.mark.peer
@settings(max_examples=5, deadline=None)
@given(st.lists(st.text(alphabet="0123456789._+-:eExobnNyY~", min_size=1, max_size=8), min_size=20, max_size=40))
def test_random_scalars_match_kubectl(tmp_path_factory, scalars):
    tmp_path = tmp_path_factory.mktemp("probe")
    usable = []
    for s in scalars:
        try:
            ours(probe_doc([s]))
        except ManifestError:
            continue  # non-finite numbers and YAML syntax errors: checked separately
        usable.append(s)
    doc = probe_doc(usable)
    assert typed(ours(doc)) == typed(kubectl_reads(tmp_path, doc))


@pytest.mark.peer
def test_dumped_strings_keep_their_type_in_kubectl(tmp_path):
    values = {f"k{i}": s for i, s in enumerate(SCALARS)}
    values.update(
        {
            "multi": "line one\nline two\n",
            "colon": "a: b",
            "hash": "x #y",
            "empty": "",
            "num": 5,
            "flag": True,
            "nothing": None,
            "float": 1.5,
        }
    )
    text = dump_all([{"probe": values}])
    body = text.split("\n", 1)[1]  # drop the leading '---'
    assert typed(kubectl_reads(tmp_path, body)) == typed(values)


def test_pyyaml_differences_are_handled():
    got = ours(probe_doc(["y", "1:20", "08", "1e3", "2001-12-14"]))
    assert got == {"k0": True, "k1": "1:20", "k2": 8.0, "k3": 1000.0, "k4": "2001-12-14"}
    assert isinstance(got["k2"], float)


def test_duplicate_keys_are_refused_with_file_and_index():
    with pytest.raises(ManifestError) as info:
        load_manifests(b"a: 1\n---\nb: 1\nc:\n  d: 1\n  d: 2\n", "dup.yaml")
    assert info.value.file == "dup.yaml" and info.value.index == 1
    assert "duplicate key 'd'" in str(info.value)


def test_duplicate_keys_in_json_are_refused():
    with pytest.raises(ManifestError, match="duplicate key 'a'"):
        load_manifests(b'{"a": 1, "a": 2}', "dup.json")


def test_merge_keys_may_be_overridden():
    ((_, obj),) = load_manifests(b"base: &b {p: 1, q: 2}\nchild:\n  <<: *b\n  q: 3\n", "m.yaml")
    assert obj["child"] == {"p": 1, "q": 3}


def test_alias_bomb_is_refused_quickly():
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    with pytest.raises(ManifestError, match="alias bomb"):
        load_manifests("\n".join(lines).encode(), "bomb.yaml")


def test_aliases_become_independent_copies():
    ((_, obj),) = load_manifests(b"a: &x {k: 1}\nb: *x\n", "a.yaml")
    obj["a"]["k"] = 2
    assert obj["b"]["k"] == 1


def test_recursive_alias_is_refused():
    with pytest.raises(ManifestError):
        load_manifests(b"a: &a [*a]\n", "r.yaml")


@pytest.mark.parametrize(
    "data", [b"a:\n" + b"".join(b"  " * i + b"- \n" for i in range(1, 150)), b"[" * 3000 + b"]" * 3000]
)
def test_depth_cap(data):
    with pytest.raises(ManifestError, match="nesting deeper than"):
        load_manifests(data, "deep")


def test_size_cap_names_the_file():
    with pytest.raises(ManifestError) as info:
        load_manifests(b"a: " + b"x" * 2000 + b"\n", "big.yaml", Limits(max_bytes=1000))
    assert "big.yaml" in str(info.value) and "1000" in str(info.value)


def test_yaml_error_names_index_and_position_without_content():
    data = b"apiVersion: v1\nkind: A\n---\napiVersion: v1\nkind: B\nsecret: [canary-s3cr3t\n"
    with pytest.raises(ManifestError) as info:
        load_manifests(data, "bad.yaml")
    assert info.value.index == 1 and "line" in str(info.value)
    assert "canary-s3cr3t" not in str(info.value)


def test_non_finite_numbers_are_refused():
    with pytest.raises(ManifestError, match="infinite or NaN"):
        load_manifests(b"a: .inf\n", "inf.yaml")


def test_empty_documents_are_skipped_but_counted():
    assert load_manifests(b"---\n---\na: 1\n---\n---\nb: 2\n", "e.yaml") == [(1, {"a": 1}), (3, {"b": 2})]


def test_json_stream():
    assert load_manifests(b'{"a": 1}\n{"b": [1, 2]}', "s.json") == [(0, {"a": 1}), (1, {"b": [1, 2]})]
    with pytest.raises(ManifestError) as info:
        load_manifests(b'{"a": 1}\n{"b": ', "s.json")
    assert info.value.index == 1


@pytest.mark.parametrize(
    "value, message",
    [
        ([1], "must be a mapping"),
        ({"kind": "A", "metadata": {"name": "x"}}, "apiVersion"),
        ({"apiVersion": "v1", "metadata": {"name": "x"}}, "kind"),
        ({"apiVersion": "v1", "kind": "A"}, "metadata.name"),
        ({"apiVersion": "v1", "kind": "A", "metadata": {"name": "x", "namespace": 3}}, "namespace"),
    ],
)
def test_validate_object(value, message):
    with pytest.raises(ManifestError, match=message) as info:
        validate_object(value, "f.yaml", 4)
    assert str(info.value).startswith("f.yaml (document 4)")


def test_list_kinds_are_expanded():
    assert expand_lists({"apiVersion": "v1", "kind": "List", "items": [{"a": 1}, {"b": 2}]}) == [{"a": 1}, {"b": 2}]
    assert expand_lists({"kind": "ConfigMap"}) == [{"kind": "ConfigMap"}]


def test_object_id_forms():
    oid = ObjectId.of({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "d"}})
    assert (oid.group, oid.kind, oid.namespace, oid.name) == ("apps", "Deployment", "d", "web")
    assert str(oid) == "Deployment.apps/d/web"
    assert oid.key == "d_web_apps_Deployment" and ObjectId.from_key(oid.key) == oid
    ns = ObjectId.of({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "d"}})
    assert str(ns) == "Namespace/d" and ObjectId.from_key(ns.key) == ns
    with pytest.raises(ValueError):
        ObjectId.from_key("a_b")


def obj(kind, name, api="v1", wave=None, argo_wave=None):
    annotations = {}
    if wave is not None:
        annotations["secretsync.io/sync-wave"] = wave
    if argo_wave is not None:
        annotations["argocd.argoproj.io/sync-wave"] = argo_wave
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "annotations": annotations}}


def test_apply_order_stage_wave_kind():
    items = [
        obj("Deployment", "web", "apps/v1"),
        obj("Widget", "w", "example.com/v1", wave="-1"),
        obj("ConfigMap", "late", wave="1"),
        obj("Secret", "s"),
        obj("ClusterRole", "r", "rbac.authorization.k8s.io/v1"),
        obj("Namespace", "demo"),
        obj("CustomResourceDefinition", "widgets.example.com", "apiextensions.k8s.io/v1"),
        obj("ValidatingWebhookConfiguration", "v", "admissionregistration.k8s.io/v1"),
        obj("ConfigMap", "cm"),
        obj("Job", "migrate", "batch/v1", argo_wave="1"),
    ]
    order = [o["metadata"]["name"] for o in sort_for_apply(items)]
    assert order == ["widgets.example.com", "demo", "r", "w", "cm", "s", "web", "v", "late", "migrate"]


def test_sync_wave_annotations():
    assert sync_wave(obj("A", "a")) == 0
    assert sync_wave(obj("A", "a", argo_wave="3")) == 3
    assert sync_wave(obj("A", "a", wave="-2", argo_wave="3")) == -2
    with pytest.raises(ManifestError, match="sync-wave must be an integer"):
        sync_wave(obj("A", "a", wave="soon"))
    assert apply_order_key(obj("A", "a", wave="5"))[1] == 5


def test_dumper_refuses_secret_bytes():
    from secretsync import SecretBytes

    with pytest.raises(TypeError):
        dump_all([{"a": SecretBytes(b"x")}])


@pytest.mark.peer
@settings(max_examples=4, deadline=None)
@given(
    st.lists(
        st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff"), max_size=12)
        | st.sampled_from(SCALARS),
        min_size=20,
        max_size=40,
    )
)
def test_random_strings_dumped_read_back_as_strings_in_kubectl(tmp_path_factory, strings):
    values = {f"k{i}": s for i, s in enumerate(strings)}
    body = dump_all([{"probe": values}]).split("\n", 1)[1]
    assert kubectl_reads(tmp_path_factory.mktemp("dump"), body) == values
    ((_, again),) = load_manifests(("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p\n" + body).encode(), "d")
    assert again["probe"] == values
