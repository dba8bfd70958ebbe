"""The top-level CLI: help lists commands and exit codes; unknown failures print no message text."""

import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "secretsync", *args], capture_output=True, text=True, timeout=60)


def test_help_lists_exit_codes():
    result = run("--help")
    assert result.returncode == 0
    assert "exit codes" in result.stdout
    assert result.stderr == ""


def test_no_command_is_a_usage_error():
    result = run()
    assert result.returncode == 2
    assert "usage" in result.stderr


def test_version():
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("secretsync ")
