"""secretsync.manifests.fastpath: the libyaml fast path reads exactly what the pure-Python reference loader reads.

Covers: differential checks of ``_load_yaml_fast`` (libyaml composer) against ``_load_yaml_stream``
(PyYAML's pure scanner, which defines our semantics) on random YAML-like text (hypothesis) and on
every YAML file in the repository; inputs where the fast path must decline (tabs, errors, depth,
alias bombs) and the pure loader's error is what the caller gets; the fallback when PyYAML has no
libyaml. The kubectl comparisons of the typing rules are in test_manifests.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretsync.manifests import fastpath as manifests
from secretsync.manifests import loader as reference
from secretsync.manifests.loader import Limits, ManifestError, load_manifests

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")


def pure(text: str, limits: Limits = Limits()):
    """The reference: (documents, None) or (None, error message)."""
    try:
        return [(i, v) for i, v in reference._load_yaml_stream(text, "f.yaml", limits) if v is not None], None
    except ManifestError as exc:
        return None, str(exc)


def shape(value):
    """Values with their exact types (1, 1.0 and True compare equal in Python; PlainStr is a str)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [shape(v) for v in value]
    return (type(value).__name__, value if value == value else "nan")


def check_same(text: str, limits: Limits = Limits()) -> bool:
    """Asserts the fast path either declines or agrees with the reference; True if it took the input."""
    fast = manifests._load_yaml_fast(text, limits)
    if fast is None:
        return False
    docs, error = pure(text, limits)
    assert error is None, f"fast path accepted what the reference refuses: {error}"
    assert shape([(i, v) for i, v in fast if v is not None]) == shape(docs)
    return True


TOKENS = [
    "a",
    "b",
    "k8s",
    "y",
    "no",
    "017",
    "08",
    "1e3",
    "1:20",
    ".inf",
    "~",
    "${X}",
    "-",
    "- ",
    ": ",
    ":",
    "\n",
    "\n  ",
    "\n    ",
    " ",
    "  ",
    "#",
    " # c",
    "'",
    '"',
    "[",
    "]",
    "{",
    "}",
    ",",
    "&x ",
    "*x",
    "<<: ",
    "---\n",
    "...\n",
    "|",
    "|-\n  ",
    ">",
    "!!str ",
    "!!int ",
    "!!binary ",
    "? ",
    "%",
    "@",
    "`",
    "\\",
    "\t",
    "\r\n",
    "\x85",
    "\u2028",
    "\ufeff",
    "é",
    "\x07",
    "=",
    "!",
    "!t ",
    "%YAML 1.1\n",
]


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_fast_path_agrees_with_reference_on_random_text(tokens):
    check_same("".join(tokens))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.sampled_from(TOKENS),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
        max_leaves=20,
    ),
    st.sampled_from([{}, {"default_flow_style": True}, {"default_style": '"'}, {"default_style": "'"}]),
)
def test_fast_path_agrees_with_reference_on_generated_documents(value, style):
    text = yaml.safe_dump_all([value, {"apiVersion": "v1", "kind": "A", "v": value}], **style)
    check_same(text)


def repository_yaml() -> list[Path]:
    found = []
    for folder in ("examples", "deploy", "crds", "tests"):
        found += sorted(p for p in (ROOT / folder).rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return found


def test_fast_path_agrees_on_every_repository_yaml_file():
    files = repository_yaml()
    assert files, "no YAML files found in the repository"
    taken = 0
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        taken += check_same(text)
    assert taken > len(files) // 2  # most real files go through libyaml


@pytest.mark.parametrize(
    "text",
    [
        "a: b\tc\n",  # libyaml accepts, PyYAML's scanner refuses
        "a:\n" + "".join("  " * i + "- \n" for i in range(1, 150)),
        "[" * 3000 + "]" * 3000,
        "a: &a [*a]\n",
        "a: 1\na: 2\n",
        "a: .inf\n",
        "a: [unclosed\n",
        "a: !!int x\n",
        "a: !unknown x\n",
        "a: {yes: 1, true: 2}\n",  # keys that become the same text
        "a: {1: 1, '1': 2}\n",
        "a: {~: 1}\n",  # a key kubectl refuses
    ],
)
def test_fast_path_declines_and_the_reference_error_is_reported(text):
    assert manifests._load_yaml_fast(text, Limits()) is None
    _, expected = pure(text)
    with pytest.raises(ManifestError) as info:
        load_manifests(text.encode(), "f.yaml")
    assert str(info.value) == expected


def test_depth_as_written_counts_an_alias_as_one_level():
    limits = Limits(max_depth=4)
    text = "a: &x {b: {c: 1}}\nd: {e: *x}\n"  # the alias sits at depth 3 as written; expanded it reaches 5
    assert check_same(text, limits)
    loader = manifests._FastLoader(text)
    try:  # the one-pass builder itself takes it (no detour through PyYAML's constructor)
        assert manifests._Builder(4, 100).build(loader.get_single_node(), 1, True)["d"] == {"e": {"b": {"c": 1}}}
    finally:
        loader.dispose()
    assert manifests._load_yaml_fast("a: {b: {c: {d: 1}}}\n", limits) is None
    assert pure("a: {b: {c: {d: 1}}}\n", limits)[1].endswith("nesting deeper than 4 levels")


def test_without_libyaml_the_reference_loader_is_used(monkeypatch):
    monkeypatch.setattr(manifests, "_FastLoader", None)
    assert manifests._load_yaml_fast("a: 1\n", Limits()) is None
    assert load_manifests(b"a: y\n", "f.yaml") == [(0, {"a": True})]


@pytest.mark.parametrize(
    "text",
    [
        "base: &b {p: 1, q: 2}\nchild:\n  <<: *b\n  q: 3\n",  # merge keys: PyYAML's constructor builds it
        "1: a\nyes: b\n.inf: c\n1.5: d\n1e3: e\n",  # non-string keys
        "yes: a\n1: b\n",  # True == 1 in a Python dict: two keys all the same
        "a: &x\n  - 1\n  - b: ${X}\nc: *x\nd: [*x, *x]\n",  # aliases, PlainStr
        "k: '1:20'\nl: \"y\"\nm: 08\nn: 0x1F\no: 1e3\np: ~\nq: Off\n",
    ],
)
def test_one_pass_builder_and_its_fallback_agree_with_reference(text):
    assert check_same(text)


def test_one_pass_builder_takes_ordinary_manifests():
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  labels: {a: 'on'}\ndata:\n  k: QUJD\nlist: [1, y, ~]\n"
    )
    loader = manifests._FastLoader(text)
    try:
        built = manifests._Builder(100, 1000).build(loader.get_single_node(), 1, True)
    finally:
        loader.dispose()
    assert shape(built) == shape(pure(text)[0][0][1])


def test_one_pass_builder_copies_aliases_and_counts_them():
    ((_, value),) = manifests._load_yaml_fast("a: &x {k: [1]}\nb: *x\n", Limits())
    value["a"]["k"].append(2)
    assert value["b"] == {"k": [1]}
    text = "a: &x [1, 2, 3]\nb: [*x, *x]\n"  # 16 nodes once the aliases are expanded
    for cap in range(10, 20):
        fast = manifests._load_yaml_fast(text, Limits(max_nodes=cap))
        assert (fast is not None) == (cap >= 16) == (pure(text, Limits(max_nodes=cap))[1] is None)
