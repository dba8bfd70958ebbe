"""The shape of ``secretsync/cli``: commands never import each other, and only ``main`` maps errors to codes.

Covers: every command module imports from ``secretsync.cli`` only the shared modules (``options``,
``exit_codes``; ``main`` loads the commands); no command catches ``SecretsyncError`` to print it
and return a code itself (``main`` does, with a command's ``FAILURE_EXIT_CODE`` when it has one);
``diff`` answers a failure with kubectl diff's 2 through that path. Skips: nothing.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CLI = Path(__file__).resolve().parents[2] / "secretsync" / "cli"
SHARED = {"secretsync.cli.options", "secretsync.cli.exit_codes"}


def _imported(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module == "secretsync.cli":  # from secretsync.cli import options
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_commands_import_only_the_shared_cli_modules():
    commands = [p for p in CLI.glob("*.py") if p.stem not in ("__init__", "main", "options", "exit_codes")]
    assert len(commands) >= 10
    for path in commands:
        imported = _imported(ast.parse(path.read_text()))
        own = {n for n in imported if n.startswith("secretsync.cli.")} - SHARED
        assert not own, f"{path.name} imports another command: {sorted(own)}"


def test_no_command_maps_secretsync_errors_to_codes():
    for path in CLI.glob("*.py"):
        if path.stem == "main":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Name):
                assert node.type.id != "SecretsyncError", f"{path.name} catches SecretsyncError (main.py does)"


def test_diff_failure_is_kubectl_diffs_two(tmp_path):
    missing = tmp_path / "absent"
    result = subprocess.run(
        [sys.executable, "-m", "secretsync", "diff", str(missing), "--kubeconfig", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
