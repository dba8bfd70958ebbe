"""kubectl JSONPath templates: our engine against the real ``kubectl`` as the differential oracle.

The data sits under an extra top-level field of a ConfigMap-shaped object and both engines
evaluate the same template on the whole object (``kubectl patch --local ... -o jsonpath=T``,
LIBRARIES.md §3). Covers fields, ``['key']`` (a dotted key there is a path, as in client-go),
escaped dots, indexes and negative indexes, slices with steps, ``[*]``, unions, ``..`` recursion, filters (==, !=, <, >=,
existence), ``{range}…{end}`` (nested), quoted literals with escapes, ``{@}``, scalar and
JSON printing (floats, bools, null, HTML-safe escapes), and the error cases (missing key,
out of bounds, bad syntax). Wildcards over mappings are left out (Go visits keys in random
order). Also a hypothesis run over random lists of numbers and strings.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretsync.vault.jsonpath import JSONPathError, render
from tests.fixtures.peers import isolated_env, peer_binary

pytestmark = pytest.mark.peer  # real peers: OpenBao dev server, kubectl, bao CLI

DATA = {
    "a": {
        "b": [1, 2, {"c": "x"}],
        "s": "text",
        "n": None,
        "t": True,
        "f": 1.5,
        "big": 1e21,
        "small": 1e-7,
        "e": "<&>\u2028",
        "i": 3.0,
    },
    "ports": [
        {"name": "http", "port": 80, "tls": False},
        {"name": "https", "port": 443, "tls": True},
        {"name": "metrics", "port": 9090},
    ],
    "nested": [[1, 2], [3, 4]],
    "dotted.key": {"x": "y"},
    "empty": [],
}
SEP = "\n=====\n"

TEMPLATES = [
    "{.zz.a.s}",
    "{.zz.a.b}",
    "{.zz.a.b[0]}",
    "{.zz.a.b[-1]}",
    "{.zz.a.b[-1].c}",
    "{.zz.a.b[0:2]}",
    "{.zz.a.b[1:]}",
    "{.zz.a.b[:2]}",
    "{.zz.a.b[0:-1:1]}",
    "{.zz.a.b[::2]}",
    "{.zz.a.b[*]}",
    "{.zz.a.b[3:3]}",
    "{.zz.a.n}",
    "{.zz.a.t}",
    "{.zz.a.f}",
    "{.zz.a.big}",
    "{.zz.a.small}",
    "{.zz.a.i}",
    "{.zz.a.e}",
    "{.zz.a}",
    "{.zz.ports[*].name}",
    "{.zz.ports[0,2].port}",
    "{.zz.ports[*]['name','port']}",
    "{.zz.ports[?(@.port==443)].name}",
    "{.zz.ports[?(@.port!=443)].name}",
    "{.zz.ports[?(@.port<443)].name}",
    "{.zz.ports[?(@.port>=443)].name}",
    "{.zz.ports[?(@.name=='metrics')].port}",
    "{.zz.ports[?(@.tls)].name}",
    "{.zz.nested[?(@[0]==3)]}",
    "{range .zz.ports[*]}{.name}:{.port}{'\\n'}{end}",
    "{range .zz.nested[*]}[{range @[*]}{@};{end}]{end}",
    "{.zz.dotted\\.key.x}",
    "{.zz..name}",
    "{.zz.ports..port}",
    "text {'lit'} {\"dq\\t\"} {.zz.a.s}",
    "{.zz.nested}",
    "{.zz.nested[1][0]}",
    "{.zz.empty}",
    "{.zz.empty[*]}",
    "{range .zz.empty[*]}never{end}after",
    "{.zz.a.b[2]}",
    "{$.zz.a.s}",
]

ERRORS = [
    "{.zz.nope}",
    "{.zz.a.b[5]}",
    "{.zz.a.b[-9]}",
    "{.zz.a.s[0]}",
    "{.zz.a.b[2:1]}",
    "{.zz.a",
    "{.zz.a.b[x]}",
    "{end}",
    "{.zz['dotted.key'].x}",
    "{.zz.ports[?(@.tls==true)].name}",
    "{.zz.ports[?(@.missing=='x')]}",
    "{.zz.a.b[ 0 ]}",
]


def kubectl_jsonpath(template: str, data, tmp_path) -> subprocess.CompletedProcess:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "oracle"}, "zz": data}
    path = tmp_path / "obj.json"
    path.write_text(json.dumps(obj))
    return subprocess.run(
        [
            peer_binary("kubectl"),
            "patch",
            "--local",
            "-f",
            str(path),
            "--type",
            "merge",
            "-p",
            "{}",
            "--allow-missing-template-keys=false",
            "-o",
            f"jsonpath={template}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=isolated_env(tmp_path),
    )


def as_kubectl_holds_it(value):
    """kubectl's oracle caveat (LIBRARIES.md §3): its patch round trip re-encodes a float as Go JSON and decodes
    integer text as int64, so a whole float that fits int64 reaches the printer as an integer. AVP's values are
    json.Number or float64, never that; compare them in the form kubectl holds."""
    if isinstance(value, float) and value.is_integer() and -(2**63) <= value < 2**63:
        return int(value)
    return value


def whole(data) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "oracle"}, "zz": data}


def test_templates_match_kubectl(tmp_path):
    joined = "{'" + SEP.replace("\n", "\\n") + "'}"
    proc = kubectl_jsonpath(joined.join(TEMPLATES), DATA, tmp_path)
    assert proc.returncode == 0, proc.stderr
    theirs = proc.stdout.split(SEP)
    ours = [render(t, whole(DATA)) for t in TEMPLATES]
    assert len(theirs) == len(TEMPLATES)
    mismatches = [(t, o, k) for t, o, k in zip(TEMPLATES, ours, theirs) if o != k]
    assert not mismatches


@pytest.mark.parametrize("template", ERRORS)
def test_errors_match_kubectl(template, tmp_path):
    proc = kubectl_jsonpath(template, DATA, tmp_path)
    assert proc.returncode != 0
    with pytest.raises(JSONPathError) as err:
        render(template, whole(DATA))
    assert str(err.value).split(":")[0] in proc.stderr


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.one_of(
            st.integers(-(10**6), 10**6),
            st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=8),
            st.booleans(),
            st.floats(allow_nan=False, allow_infinity=False, width=64),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_random_lists_match_kubectl(tmp_path, values):
    values = [as_kubectl_holds_it(v) for v in values]
    templates = ["{.zz.v}", "{.zz.v[*]}", "{.zz.v[-1]}", "{.zz.v[0:-1]}", "{range .zz.v[*]}<{@}>{end}", "{.zz}"]
    joined = "{'" + SEP.replace("\n", "\\n") + "'}"
    proc = kubectl_jsonpath(joined.join(templates), {"v": values}, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split(SEP) == [render(t, whole({"v": values})) for t in templates]
