"""The package layout of issue 12, checked rather than described.

- every runtime module imports without the emulator, and importing all of them loads no
  module of ``secretsync_emulator`` (the runtime package and the image never contain it);
- ``secretsync/`` holds only the stage packages and the base modules;
- none of our modules is loaded by name through ``importlib`` (static tools must see every edge);
- no runtime module over ~600 lines, and no function rated worse than C by radon unless a
  comment beside it says why.

The import contracts themselves are import-linter's (``.importlinter``, run by scripts/test).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "secretsync"

PACKAGES = {
    "api",
    "gocompat",
    "manifests",
    "crypto",
    "sources",
    "sops",
    "sealing",
    "vault",
    "render",
    "kube",
    "runtime",
    "agent",
    "sealedcontroller",
    "cli",
}
MODULES = {"__init__", "__main__", "errors", "secretvalue", "fileio", "logs", "retry", "objects", "reconcile"}

_IMPORT_ALL = """
import importlib, json, pkgutil, sys
import secretsync
names = sorted(m.name for m in pkgutil.walk_packages(secretsync.__path__, "secretsync.")
               if m.name != "secretsync.__main__")
for name in names:
    importlib.import_module(name)
print(json.dumps({"imported": names,
                  "emulator": sorted(m for m in sys.modules if m.split(".")[0] == "secretsync_emulator")}))
"""


def test_every_runtime_module_imports_without_loading_the_emulator():
    out = subprocess.run([sys.executable, "-c", _IMPORT_ALL], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.splitlines()[-1])
    on_disk = {
        p.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".").removesuffix(".__init__")
        for p in PACKAGE.rglob("*.py")
    } - {"secretsync.__main__"}
    assert set(report["imported"]) == on_disk - {"secretsync"}, "walk_packages must see every module on disk"
    assert len(report["imported"]) > 100
    assert report["emulator"] == []


def test_top_level_holds_only_the_stage_packages_and_the_base_modules():
    found_packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    found_modules = {p.stem for p in PACKAGE.glob("*.py")}
    stray_dirs = {
        p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__" and not (p / "__init__.py").exists()
    }
    assert found_packages == PACKAGES
    assert found_modules <= MODULES, f"unexpected top-level modules: {sorted(found_modules - MODULES)}"
    assert stray_dirs == set()


def test_no_module_of_ours_is_loaded_by_name():
    offenders = [
        p.relative_to(ROOT).as_posix()
        for p in PACKAGE.rglob("*.py")
        if "import_module(" in p.read_text() or "find_spec(" in p.read_text()
    ]
    assert offenders == []


MAX_LINES = 650  # "no runtime module over ~600 lines"
MAX_COMPLEXITY = 20  # radon's C ends at 20; D and worse need a comment saying why


def test_no_runtime_module_is_a_god_module():
    long = {
        p.relative_to(ROOT).as_posix(): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_complex_functions_say_why():
    from radon.complexity import cc_visit

    unexplained = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        lines = text.splitlines()
        for block in cc_visit(text):
            if block.complexity <= MAX_COMPLEXITY:
                continue
            # The reason is a comment naming the complexity (or radon), above the definition or in its first lines.
            around = lines[max(0, block.lineno - 8) : block.lineno + 6]
            if not any("#" in line and ("complex" in line.lower() or "radon" in line.lower()) for line in around):
                unexplained.append(
                    f"{path.relative_to(ROOT).as_posix()}:{block.lineno} {block.fullname} ({block.complexity})"
                )
    assert unexplained == []
