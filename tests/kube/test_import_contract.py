"""Import contracts of the Kubernetes edge (STYLE.md): ``kubernetes`` is imported only by
``secretsync/kube/client.py`` (including imports inside functions), and ``secretsync.kube`` and
``secretsync.crypto`` never import each other. Checked on the source with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "secretsync"


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules():
    for path in sorted(ROOT.rglob("*.py")):
        yield path.relative_to(ROOT.parent).as_posix(), imports(path)


def test_only_the_client_imports_kubernetes():
    offenders = [name for name, imported in modules()
                 if any(i == "kubernetes" or i.startswith("kubernetes.") for i in imported)
                 and name != "secretsync/kube/client.py"]
    assert offenders == []


def test_kube_and_crypto_do_not_import_each_other():
    offenders = []
    for name, imported in modules():
        if name.startswith("secretsync/kube/") and any(i.startswith("secretsync.crypto") for i in imported):
            offenders.append(name)
        if name.startswith("secretsync/crypto/") and any(i.startswith("secretsync.kube") for i in imported):
            offenders.append(name)
    assert offenders == []


def test_the_contract_check_sees_lazy_imports(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    from kubernetes import client\n    import kubernetes.watch\n")
    assert imports(sample) == {"kubernetes", "kubernetes.watch"}
