"""The YAML store's restricted fast path (``stores.yaml_fast``) against its full loader (differential).

Covers: hypothesis-generated documents of the shape the fast path reads (block maps,
indented and indentless lists, maps in lists, one-line plain and quoted scalars with
go-yaml's tricky words, ``|``/``|-``/``|+``/``>`` blocks with uneven indentation), with
and without a random edit (a character inserted or dropped, a blank line, ``#``,
``---``); every YAML file in the repository (committed sops vectors, examples, deploy)
and a sops-written file. For each input the fast path either declines (``None``) or
returns exactly what the full loader returns — same types, values, order and
timestamps' nanoseconds — and never accepts an input the full loader refuses. The
full loader is PyYAML's libyaml parser with our go-yaml typing, itself checked
against the real sops in the other modules of this directory. Also: the fast path
takes the common shapes (a sops-written Secret file) rather than declining them,
so the speed it exists for does not silently disappear.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretsync.crypto.sops.stores import yaml as yaml_store
from secretsync.crypto.sops.stores.yaml_fast import load_fast
from tests.sops.yaml.trees import shape

ROOT = Path(__file__).resolve().parents[3]
_EXAMPLES = int(os.environ.get("SECRETSYNC_FAST_PATH_EXAMPLES", "200"))


def _full(data: bytes):
    try:
        return shape(yaml_store._load_full(data))
    except Exception as exc:  # noqa: BLE001 - the error class is what we compare
        return ("error", type(exc).__name__)


def _check(data: bytes) -> bool:
    """Assert the fast path agrees with the full loader; True when it took the input."""
    fast = load_fast(data)
    if fast is None:
        return False
    assert shape(fast) == _full(data), data
    return True


_WORDS = [
    "true",
    "True",
    "FALSE",
    "null",
    "Null",
    "~",
    "yes",
    "on",
    "off",
    "y",
    "0x1F",
    "0o17",
    "017",
    "08",
    "0b101",
    "1e3",
    "1e400",
    "1.",
    ".5",
    ".inf",
    "-.Inf",
    ".nan",
    "+5",
    "-7",
    "1_000",
    "1:20",
    "-x",
    "2020-01-01",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14T21:59:43.123456789Z",
    "2001-12-14 21:59:43.10",
    "2020-1-2",
    "2020-01-01T00:00:00+24:00",
    "2020-13-01",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "-9223372036854775809",
    "ENC[AES256_GCM,data:YWI=,iv:Y2Q=,tag:ZWY=,type:str]",
    "http://h:80/p?q=1",
    "a b  c",
    "a,b]",
    "<<",
    "=",
    "$x",
    "(x)",
    "^x",
    ";x",
    "a'b",
    'a"b',
    "\\x",
    '"q u"',
    "'s q'",
    '""',
    "''",
    '"a\\"b"',
    "'it''s'",
    "a: b",
    "a:",
    "- a",
    "-",
    "|",
    ">",
    "[a]",
    "{a: 1}",
    "&a x",
    "*a",
    "!!str 1",
    "!x y",
    "%x",
    "@x",
    "`x",
    "?x",
    ":x",
    ",x",
    "#x",
    "a #x",
    " x",
    "x ",
    "é",
]
_PLAINISH = st.text(alphabet="abXZ019._/-+=:,[]'\" ", min_size=1, max_size=10).filter(
    lambda t: t[0] not in " -'\"" and t[-1] not in " :" and ": " not in t
)
_SCALARS = st.one_of(
    _PLAINISH,
    _PLAINISH,
    st.sampled_from(_WORDS),
    st.text(alphabet="ab1 :#-?[]{},&*!|>'\"%@`\t._/+=~$\\é", min_size=0, max_size=6),
)
_CLEAN_SCALARS = st.one_of(
    _PLAINISH.filter(lambda t: t[0].isalnum()),
    st.sampled_from(
        [
            w
            for w in _WORDS
            if w
            in (
                "true",
                "null",
                "~",
                "yes",
                "0x1F",
                "017",
                "08",
                "1e3",
                "1e400",
                ".5",
                ".nan",
                "+5",
                "-7",
                "1_000",
                "1:20",
                "-x",
                "2020-01-01",
                "2001-12-14T21:59:43.123456789Z",
                "2001-12-14 21:59:43.10",
                "9223372036854775807",
                "a b  c",
                '"q u"',
                "'s q'",
                '""',
                "''",
                "http://h:80/p?q=1",
                "<<",
                "$x",
            )
        ]
    ),
)
_CLEAN_KEYS = st.text(alphabet="abcdefgh_./-", min_size=1, max_size=5).filter(lambda k: k[0] not in "-/.")
_KEYS = st.one_of(
    st.text(alphabet="abcdefgh", min_size=1, max_size=4),
    st.sampled_from(
        [
            "data",
            "sops",
            "x.y",
            "a/b",
            "a-b",
            "_k",
            ".dockerconfigjson",
            "true",
            "1",
            ".5",
            "null",
            "~",
            "yes",
            "on",
            "a b",
            "-a",
            "<<",
            "k:",
            '"q"',
            "t1",
            "0x1",
            "2020-01-01",
        ]
    ),
)


@st.composite
def _block(draw, indent: int, depth: int, clean: bool):
    if depth < 3 and draw(st.integers(0, 3)) == 0:
        return draw(_seq(indent + draw(st.sampled_from([0, 2, 4])), depth, clean))
    return draw(_map(indent + draw(st.sampled_from([2, 4, 1])), depth, clean))


@st.composite
def _map(draw, indent: int, depth: int, clean: bool, first: str | None = None):
    keys = draw(st.lists(_CLEAN_KEYS if clean else _KEYS, min_size=1, max_size=4, unique=True))
    scalars = _CLEAN_SCALARS if clean else _SCALARS
    lines = []
    for j, key in enumerate(keys):
        lead = first if j == 0 and first is not None else " " * indent
        kind = draw(
            st.sampled_from(
                ["scalar", "scalar", "block", "literal", "null"] if depth < 3 else ["scalar", "literal", "null"]
            )
        )
        if kind == "scalar":
            lines.append(f"{lead}{key}: {draw(scalars)}")
        elif kind == "null":
            lines.append(f"{lead}{key}:")
        elif kind == "literal":
            lines.append(f"{lead}{key}: {draw(st.sampled_from(['|', '|-'] if clean else ['|', '|', '|-', '|+', '>']))}")
            width = indent + draw(st.sampled_from([2, 4, 1] if clean else [2, 2, 4, 1, 0]))
            for n in range(draw(st.integers(1 if clean else 0, 3))):
                shift = draw(st.sampled_from([0, 0, 2] if clean and n else [0] if clean else [0, 0, 0, 2, -1]))
                body = st.text(alphabet="ab- :=+/'\"|", min_size=1 if clean else 0, max_size=6)
                lines.append(
                    " " * max(0, width + shift) + draw(body.filter(lambda t: not clean or " " not in (t[0], t[-1])))
                )
        else:
            lines.append(f"{lead}{key}:")
            lines.append(draw(_block(indent, depth + 1, clean)))
    return "\n".join(lines)


@st.composite
def _seq(draw, indent: int, depth: int, clean: bool):
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["scalar", "map"] if depth < 3 else ["scalar"]))
        if kind == "scalar":
            lines.append(" " * indent + "- " + draw(_CLEAN_SCALARS if clean else _SCALARS))
        else:
            lines.append(draw(_map(indent + 2, depth + 1, clean, first=" " * indent + "- ")))
    return "\n".join(lines)


@st.composite
def _document(draw, clean: bool = False):
    if clean:
        return (draw(_map(0, 0, True)) + "\n").encode()
    text = draw(_map(0, 0, False)) + draw(st.sampled_from(["\n"] * 8 + ["", "\n\n", "\n---\nb: 1\n", "\n...\n"]))
    if draw(st.integers(0, 2)) == 0:  # one random edit
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(alphabet="a :-#\n\t'\"|", max_size=2)) + text[at + draw(st.integers(0, 2)) :]
    return text.encode("utf-8")


@settings(max_examples=_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_document())
def test_generated_documents_agree_or_decline(data):
    _check(data)


@settings(max_examples=max(50, _EXAMPLES // 4), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_document(clean=True))
def test_clean_generated_documents_are_taken(data):
    """Documents inside the fast path's grammar are taken (so the test above exercises acceptance)."""
    assert _check(data), data


def _repository_yaml() -> list[Path]:
    folders = [ROOT / name for name in ("tests", "examples", "deploy", "crds", "keys") if (ROOT / name).is_dir()]
    return sorted(
        p
        for folder in folders
        for pattern in ("*.yaml", "*.yml", "*.plain")
        for p in folder.rglob(pattern)
        if p.is_file() and p.stat().st_size < 1_000_000
    )


def test_repository_yaml_files_agree_or_decline():
    files = _repository_yaml()
    assert files
    taken = sum(_check(p.read_bytes()) for p in files)
    assert taken > 0


def test_sops_written_files_take_the_fast_path(sops, tmp_path):
    """A comment-free Secret (list, timestamp, quoted word) and what the real sops writes for it are taken."""
    plain = (
        b"apiVersion: v1\nkind: Secret\nmetadata:\n    name: app\n    namespace: team-a\ntype: Opaque\n"
        b'data:\n    password: cGFzcw==\nstringData:\n    user: admin\n    mode: "on"\n    port: 5432\n'
        b"    when: 2024-01-02T03:04:05.123456789+01:00\n    list:\n        - a\n        - 1.5\n"
    )
    (tmp_path / "s.yaml").write_bytes(plain)
    encrypted = sops.run(
        "-e", "--encrypted-regex", "^(data|stringData)$", "--age", sops.recipient, str(tmp_path / "s.yaml")
    ).stdout
    assert _check(encrypted)
    assert _check(plain)


@pytest.mark.parametrize(
    "data",
    [
        b"a: 1\na: 2\n",
        b"a: 9223372036854775808\n",
        b"a: 2020-01-01T00:00:00+24:00\n",
        b"- a\n",
        b"a: b: c\n",
        b"a: |\nb: 1\n",
        b"a:\n  b: 1\n c: 2\n",
        b"a: 'x\n  y'\n",
        b"a: x\n  y\n",
        b"a:\n  - b\n  c: 1\n",
        b'a: "\\t"\n',
        b"a: [1]\n",
        b"a: &x 1\nb: *x\n",
        b"1: a\n",
        b"a: x # c\n",
        b"a: x\n\nb: y\n",
        b"a: |\n    x\n  y\n",
        b"a:\n- - b\n",
        b"a: x\r\n",
        b"\xef\xbb\xbfa: 1\n",
        b"a: 1",
        b"",
        b"a: x \n",
        b"a: \n",
        b"a:\n- \n",
        b"a:\n- x \n",
        b"a: |\n  x \n",
        b"a: |\n  x\n   \n  y\n",
        b"a:\n  \nb: 1\n",
        b"...: 1\n",
        b"a: 1\n---\nb: 2\n",
        b"a: 1\n...\n",
        b"---\na: 1\n",
        b"%YAML 1.2\n---\na: 1\n",
        b"k" * 600 + b": 1\n",
    ],
)
def test_declines_what_it_does_not_cover(data):
    assert load_fast(data) is None
