"""``ManifestError.cause`` (and line/column) for each refusal of the loader, and ``compose_documents``.

Covers: size, encoding, YAML and JSON syntax (with the position), depth, alias expansion and a
duplicate key each name their cause, so callers (kubeseal's commands) can word them their own
way; ``compose_documents`` keeps node positions, gives an empty document as a null scalar and
guards aliases before any walk; ``construct_document`` builds with the loader's typing.
"""

from __future__ import annotations

import pytest

from secretsync.manifests.loader import Limits, ManifestError, compose_documents, construct_document, load_manifests

BOMB = "\n".join(
    ["a0: &a0 [l, l, l, l, l, l, l, l, l]"]
    + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
)


@pytest.mark.parametrize(
    ("data", "limits", "cause", "line"),
    [
        (b"a: 1\n" * 10, Limits(max_bytes=10), "size", None),
        (b"a: \xff\n", Limits(), "encoding", None),
        (b"a: 1\nb: [\n", Limits(), "yaml", 3),
        (b'{"a": ', Limits(), "json", 1),
        (b"a: " + b"[" * 20 + b"]" * 20, Limits(max_depth=10), "depth", None),
        (BOMB.encode(), Limits(max_nodes=10_000), "aliases", None),
        (b"a: 1\na: 2\n", Limits(), "refused", None),
    ],
)
def test_each_refusal_names_its_cause(data, limits, cause, line):
    with pytest.raises(ManifestError) as info:
        load_manifests(data, "f.yaml", limits)
    assert info.value.cause == cause
    assert info.value.line == line
    if cause in ("yaml", "json"):
        assert info.value.column is not None and info.value.detail


def test_compose_documents_keeps_positions_and_guards_aliases():
    text = "---\n---\nkind: SealedSecret\nspec:\n  encryptedData:\n    k: 'AgB'\n"
    [(first, empty), (index, node)] = compose_documents(text, "f.yaml")
    assert (first, index) == (0, 1) and construct_document(empty) is None
    value = node.value[1][1].value[0][1].value[0][1]
    assert text[value.start_mark.index : value.end_mark.index] == "'AgB'"
    assert construct_document(node) == {"kind": "SealedSecret", "spec": {"encryptedData": {"k": "AgB"}}}
    with pytest.raises(ManifestError) as info:
        compose_documents(BOMB, "bomb.yaml", Limits(max_nodes=10_000))
    assert info.value.cause == "aliases"


def test_construct_document_uses_the_loader_typing_and_refusals():
    [(_, node)] = compose_documents("a: y\nb: 017\n", "f.yaml")
    assert construct_document(node) == {"a": True, "b": 15}
    [(_, node)] = compose_documents("a: 1\na: 2\n", "f.yaml")
    with pytest.raises(ManifestError, match="duplicate key") as info:
        construct_document(node, "f.yaml", 0)
    assert info.value.cause == "refused"
