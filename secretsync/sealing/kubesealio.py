"""kubeseal's input and output conventions, shared by ``secretsync seal`` and ``secretsync unseal``.

``read_input``: ``-f FILE`` or stdin (``-``/empty), at most a size cap read (a Secret or
SealedSecret is small), with kubeseal's notice when stdin is a terminal. ``output_format``:
``-o json|yaml`` case-insensitive, a ``.yaml``/``.yml`` output file forcing YAML.
``write_output``: stdout, or an atomic write of ``-w FILE`` keeping its mode (0600 for
recovered plaintext), only ever called on success. ``context_namespace``: the namespace
kubeseal fills into a Secret without one, the kubeconfig context's (read, never contacted).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from secretsync.errors import SecretsyncError
from secretsync.manifests.loader import Limits
from secretsync.sealing.keyring import write_private_file
from secretsync.sealing.objects import InputError

__all__ = ["read_input", "output_format", "write_output", "context_namespace"]


def read_input(path: str, limit: int = Limits().max_bytes) -> tuple[bytes, str]:
    """Bytes of ``-f`` (or stdin) and the name to use in messages; more than ``limit`` bytes is an
    error (at most ``limit`` + 1 are read, so a huge input is never loaded whole)."""
    if not path or path == "-":
        if sys.stdin.isatty():
            print("(tty detected: expecting json/yaml k8s resource in stdin)", file=sys.stderr)
        data, source = sys.stdin.buffer.read(limit + 1), "stdin"
    else:
        try:
            with open(path, "rb") as handle:
                data, source = handle.read(limit + 1), path
        except OSError as exc:
            raise SecretsyncError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise InputError(
            f"{source}: input is larger than the limit of {limit} bytes",
            hint="a Secret or SealedSecret is small; check that this is the input you meant",
        )
    return data, source


def output_format(fmt: str, output_file: str = "") -> str:
    """kubeseal's ``-o`` rule: json/yaml case-insensitive; a .yaml/.yml output file forces YAML."""
    if output_file.lower().endswith((".yaml", ".yml")):
        return "yaml"
    value = (fmt or "json").lower()
    if value not in ("json", "yaml"):
        raise SecretsyncError(f"unsupported output format: {fmt}")
    return value


def write_output(text: str | bytes, output_file: str, *, private: bool = False) -> None:
    """Write to stdout, or atomically to ``output_file`` (only ever called on success)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if not output_file or output_file == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    path = Path(output_file)
    try:
        mode = 0o600 if private else (path.stat().st_mode & 0o777 if path.exists() else 0o644)
        write_private_file(path, data, mode)
    except OSError as exc:
        raise SecretsyncError(f"cannot write {output_file}: {exc.strerror}") from None


def context_namespace(kubeconfig: str = "", context: str = "") -> str:
    """The namespace kubectl would use: the context's, else ``default`` (no cluster access)."""
    paths = [kubeconfig] if kubeconfig else (os.environ.get("KUBECONFIG") or "").split(os.pathsep)
    paths = [p for p in paths if p] or [str(Path.home() / ".kube" / "config")]
    for path in paths:
        try:
            config = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            continue
        if not isinstance(config, dict):
            continue
        wanted = context or config.get("current-context") or ""
        for entry in config.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name") == wanted:
                return str((entry.get("context") or {}).get("namespace") or "default")
    return "default"
