"""secretsync.manifests.loader: non-string mapping keys, and keys that become the same JSON key.

Covers: the text each YAML key becomes (bools, ints in every base, floats as Go's
``FormatFloat(f, 'g', -1, 32)``, ``.inf``, timestamps), compared with the real kubectl
(``kubectl patch --local``: go-yaml v2 then sigs.k8s.io/yaml's key conversion); every pair of
keys from a list of look-alikes (``1``/``"1"``/``1.0``, ``yes``/``true``, ``1e3``/``1000``...):
where kubectl keeps both we read the same two keys, where kubectl keeps only one (the last, or
one at random) we refuse the file with an error naming the file, document, object, lines and
keys, never a value; null keys and integers past int64, which kubectl refuses, are refused; the
real ``kubectl kustomize`` refuses the same look-alikes; the libyaml fast path and the pure
reference loader agree on all of it (random key mixes, hypothesis).
"""

from __future__ import annotations

import itertools
import json
import subprocess

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from secretsync.manifests.loader import ManifestError, load_manifests
from secretsync.render.documents import collect
from tests.fixtures.peers import isolated_env, peer_binary
from tests.manifests.test_manifests_fast import check_same, pure

HEAD = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\n"
# Keys that look alike once typed: several pairs become the same string in a Kubernetes object.
KEYS = [
    "1",
    '"1"',
    "1.0",
    "01",
    "0x1",
    "+1",
    "1_0",
    "10",
    "0o12",
    "012",
    "yes",
    "true",
    "y",
    "on",
    "'true'",
    "True",
    "false",
    "n",
    "0",
    "-0",
    "0.0",
    "-0.0",
    "1e3",
    "1000",
    "0x3E8",
    "1000.0",
    ".inf",
    "'.inf'",
    "-.Inf",
    ".nan",
    ".NaN",
    "1e300",
    "1e-50",
    "-1e-50",
    "0.1",
    "16777217.0",
    "16777216",
    "1.5e-7",
    "123456789.0",
    "2001-12-14",
    "'2001-12-14'",
    "x",
    "'x'",
]
CANARY = "canary-value-7d1e"


def kubectl_json(tmp_path, body: str) -> subprocess.CompletedProcess:
    path = tmp_path / "probe.yaml"
    path.write_text(HEAD + body)
    return subprocess.run(
        [peer_binary("kubectl"), "patch", "--local", "-f", str(path), "--type", "merge", "-p", "{}", "-o", "json"],
        capture_output=True,
        text=True,
        env=isolated_env(tmp_path),
        timeout=60,
    )


def ours(body: str) -> dict:
    ((_, obj),) = load_manifests((HEAD + body).encode(), "probe.yaml")
    return obj


@pytest.mark.peer
def test_each_key_becomes_the_text_kubectl_gives_it(tmp_path):
    body = "probe:\n" + "".join(f"  m{i}: {{{key}: v}}\n" for i, key in enumerate(KEYS))
    proc = kubectl_json(tmp_path, body)
    assert proc.returncode == 0, proc.stderr
    theirs = json.loads(proc.stdout)["probe"]
    assert ours(body)["probe"] == theirs
    assert theirs[f"m{KEYS.index('1e3')}"] == {"1000": "v"}
    assert theirs[f"m{KEYS.index('123456789.0')}"] == {"1.2345679e+08": "v"}  # the float's float32 text


@pytest.mark.peer
def test_look_alike_keys_are_refused_where_kubectl_keeps_one(tmp_path):
    pairs = list(itertools.combinations(KEYS, 2))
    body = "probe:\n" + "".join(f"  p{i}: {{{a}: first, {b}: second}}\n" for i, (a, b) in enumerate(pairs))
    proc = kubectl_json(tmp_path, body)
    assert proc.returncode == 0, proc.stderr
    theirs = json.loads(proc.stdout)["probe"]
    collisions = 0
    for i, (a, b) in enumerate(pairs):
        single = f"probe: {{{a}: first, {b}: second}}\n"
        if len(theirs[f"p{i}"]) == 2:
            assert ours(single)["probe"] == theirs[f"p{i}"], (a, b)
            continue
        collisions += 1
        with pytest.raises(ManifestError) as info:
            ours(single)
        message = str(info.value)
        assert message.startswith("probe.yaml (document 0) ConfigMap/probe: line 5: "), message
        (key,) = theirs[f"p{i}"]
        assert f" {a} (line 5) and {b} " in message or message.endswith(f"duplicate key {key!r}"), message
        assert "first" not in message and "second" not in message
    assert collisions >= 20  # the list is built to collide often (yes/true/on/y, 1/"1"/01/0x1/+1, ...)


@pytest.mark.peer
@pytest.mark.parametrize(
    "key, kubectl_says, we_say",
    [
        ("~", "unsupported map key of type", "a null mapping key"),
        ("null", "unsupported map key of type", "a null mapping key"),
        ("9223372036854775808", "unsupported map key of type: uint64", "beyond int64"),
    ],
)
def test_keys_kubectl_refuses_are_refused(tmp_path, key, kubectl_says, we_say):
    body = f"data:\n  {key}: {CANARY}\n"
    proc = kubectl_json(tmp_path, body)
    assert proc.returncode != 0 and kubectl_says in proc.stderr
    with pytest.raises(ManifestError, match=we_say) as info:
        ours(body)
    assert "ConfigMap/probe: line 6:" in str(info.value) and CANARY not in str(info.value)


def test_collision_error_names_both_keys_and_lines_not_values():
    text = (
        "---\n" + HEAD.replace("probe", "a") + "---\n" + "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        f"  name: web\n  namespace: demo\nspec:\n  yes: {CANARY}\n  'x': 1\n  true: {CANARY}\n"
    )
    with pytest.raises(ManifestError) as info:
        load_manifests(text.encode(), "app.yaml")
    assert info.value.file == "app.yaml" and info.value.index == 1
    assert str(info.value) == (
        "app.yaml (document 1) Deployment.apps/demo/web: line 15: the keys yes (line 13) and true both become "
        "the key 'true' of a Kubernetes object (JSON keys are strings), so kubectl would keep only one of them; "
        "remove or rename one"
    )


def test_a_merged_key_is_overridden_by_a_look_alike_own_key():
    obj = ours('base: &b {1: merged, y: merged}\nprobe:\n  <<: *b\n  "1": own\n  true: own\n')
    assert obj["probe"] == {"1": "own", "true": "own"}


def test_distinct_keys_python_would_merge_are_kept():
    # True == 1 == 1.0 in a Python dict; they are three different keys of a Kubernetes object.
    assert ours("probe: {true: a, 1: b, 0.5: c, false: d, 0: e}\n")["probe"] == {
        "true": "a",
        "1": "b",
        "0.5": "c",
        "false": "d",
        "0": "e",
    }


@pytest.mark.peer
@pytest.mark.parametrize("keys", [("yes", "true"), ("1", '"1"'), ("1", "1.0")])
def test_kustomize_refuses_the_look_alikes_too(tmp_path, keys):
    first, second = keys
    root = tmp_path / "src"
    (root / "k").mkdir(parents=True)
    manifest = HEAD + f"data:\n  {first}: a\n  {second}: b\n"
    (root / "k" / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["cm.yaml"]}))
    (root / "k" / "cm.yaml").write_text(manifest)
    (root / "plain.yaml").write_text(manifest)
    got = collect(root, kubectl=peer_binary("kubectl"))
    assert got.documents == []
    errors = {e.file: str(e) for e in got.errors}
    assert set(errors) == {"k/kustomization.yaml", "plain.yaml"}
    assert "kubectl kustomize failed" in errors["k/kustomization.yaml"]
    assert "both become the key" in errors["plain.yaml"]


@pytest.mark.parametrize(
    "body",
    [
        "probe: {yes: a, true: b}\n",
        "probe: {1: a, '1': b}\n",
        "probe:\n  1: a\n  1.0: b\n",
        "probe: {1e3: a, 1000: b}\n",
        "probe: {~: a}\n",
        "probe: {9223372036854775808: a}\n",
        "probe: {true: a, 1: b}\n",
        "probe: {.inf: a, 1e300: b}\n",
    ],
)
def test_fast_path_and_reference_agree_on_look_alike_keys(body):
    text = HEAD + body
    fast_took = check_same(text)
    docs, error = pure(text)
    assert fast_took == (error is None)
    if error is None:
        assert load_manifests(text.encode(), "f.yaml") == docs
    else:
        with pytest.raises(ManifestError) as info:
            load_manifests(text.encode(), "f.yaml")
        assert str(info.value) == error


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(KEYS), min_size=1, max_size=6), st.booleans())
def test_fast_path_agrees_with_reference_on_random_key_mixes(keys, flow):
    if flow:
        body = "probe: {" + ", ".join(f"{k}: {i}" for i, k in enumerate(keys)) + "}\n"
    else:
        body = "probe:\n" + "".join(f"  {k}: {i}\n" for i, k in enumerate(keys))
    check_same(HEAD + body)
    docs, error = pure(HEAD + body)
    if error is None:
        assert len(docs[0][1]["probe"]) == len(keys)  # accepted: no key was lost
