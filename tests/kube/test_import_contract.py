"""Import contracts of the Kubernetes edge (STYLE.md): ``kubernetes`` is imported only by
``secretsync/kube/transport.py``, the door ``KubeClient`` is built on (imports inside functions included), and ``secretsync.kube`` and
``secretsync.crypto`` never import each other. A line scan (``import x`` / ``from x import``, any
indentation) rather than ``ast``: it is ten times faster and sees the same statements."""

from __future__ import annotations

import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "secretsync"
IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+([\w.]+)[ \t]+import\b|import[ \t]+([\w.]+))", re.MULTILINE)


def imports(text: str) -> frozenset[str]:
    return frozenset(a or b for a, b in IMPORT.findall(text))


@functools.lru_cache(maxsize=1)
def modules() -> tuple[tuple[str, frozenset[str]], ...]:
    return tuple(
        (path.relative_to(ROOT.parent).as_posix(), imports(path.read_text())) for path in sorted(ROOT.rglob("*.py"))
    )


DOOR = "secretsync/kube/transport.py"


def test_only_the_door_imports_kubernetes():
    offenders = [
        name
        for name, imported in modules()
        if any(i == "kubernetes" or i.startswith("kubernetes.") for i in imported) and name != DOOR
    ]
    assert offenders == []
    assert any(name == DOOR and "kubernetes.dynamic" in imported for name, imported in modules()), (
        "the scan must see the door's own imports"
    )


def test_kube_and_crypto_do_not_import_each_other():
    offenders = []
    for name, imported in modules():
        if name.startswith("secretsync/kube/") and any(i.startswith("secretsync.crypto") for i in imported):
            offenders.append(name)
        if name.startswith("secretsync/crypto/") and any(i.startswith("secretsync.kube") for i in imported):
            offenders.append(name)
    assert offenders == []


def test_the_scan_sees_lazy_imports():
    text = "def f():\n    from kubernetes import client\n    import kubernetes.watch\nx = 'import os'\n"
    assert imports(text) == {"kubernetes", "kubernetes.watch"}
