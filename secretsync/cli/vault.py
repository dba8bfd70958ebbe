"""``secretsync vault generate PATH|-``: argocd-vault-plugin's ``generate``, same flags and input/output.

Reads a directory (``.yaml``/``.yml``/``.json``, recursively), one file, or stdin; logs in
to Vault once; resolves every placeholder of every document; then prints all documents
as YAML, each followed by ``---``. Unlike AVP nothing is printed when anything fails.
Configuration comes from AVP's variables (``AVP_TYPE=vault``, ``VAULT_ADDR``, …, the
``ARGOCD_ENV_`` prefix), ``-c FILE`` and ``-s [namespace:]name`` (a Kubernetes Secret, read
through ``secretsync.kube.client``: in a pod with its service account, else with
``$KUBECONFIG``); see docs/vault.md.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from pathlib import Path
from typing import Any

from secretsync.errors import SecretsyncError, UsageError
from secretsync.manifests.dump import dump_all
from secretsync.manifests.loader import ManifestError, load_manifests
from secretsync.secretvalue import SecretBytes

log = logging.getLogger(__name__)

_EXTENSIONS = (".yaml", ".yml", ".json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="vault_command", metavar="SUBCOMMAND")
    gen = sub.add_parser(
        "generate",
        allow_abbrev=False,
        help="generate manifests from templates with Vault values (argocd-vault-plugin generate)",
        description="Substitute Vault placeholders in PATH (a directory, a file, or - for stdin) "
        "and print the manifests as YAML separated by ---.",
    )
    gen.add_argument("path", metavar="PATH", help="directory, file, or - for stdin")
    gen.add_argument(
        "-c",
        "--config-path",
        default="",
        help="path to a file containing Vault configuration (YAML, JSON, envfile) to use",
    )
    gen.add_argument(
        "-s",
        "--secret-name",
        default="",
        help="name of the Kubernetes Secret ([namespace:]name, namespace argocd by default) holding the configuration",
    )
    gen.add_argument(
        "--verbose-sensitive-output",
        action="store_true",
        help="accepted for compatibility; secretsync never prints secret values in logs",
    )
    gen.add_argument(
        "--disable-token-cache",
        action="store_true",
        help="accepted for compatibility; secretsync keeps tokens in memory only",
    )


# ---------------------------------------------------------------------------------------------- input


def _files(path: str) -> list[tuple[str, bytes]]:
    """(name, bytes) of stdin (``-``), one file, or every manifest file under a directory (sorted)."""
    if path == "-":
        return [("<stdin>", sys.stdin.buffer.read())]
    p = Path(path)
    if p.is_dir():
        found = sorted(str(f) for f in p.rglob("*") if f.is_file() and f.suffix in _EXTENSIONS)
        if not found:
            raise SecretsyncError(
                f"no YAML or JSON files were found in {path}",
                reference="no-manifests",
                hint="point PATH at a directory holding .yaml, .yml or .json files",
            )
        return [(f, Path(f).read_bytes()) for f in found]
    if not p.is_file():
        raise SecretsyncError(f"{path}: no such file or directory", reference="no-manifests")
    return [(str(p), p.read_bytes())]


def load_documents(files: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """All non-empty documents of all files, in order (kubectl's YAML rules, see manifests.py)."""
    docs = []
    for name, data in files:
        for index, doc in load_manifests(data, name):
            if not isinstance(doc, dict):
                raise ManifestError(
                    f"a document must be a mapping (a Kubernetes object), not a {type(doc).__name__}",
                    file=name,
                    index=index,
                )
            docs.append(doc)
    return docs


# ---------------------------------------------------------------------------------------------- output


def _plain(value: Any) -> Any:
    """Keys sorted (AVP's JSON round trip sorts them); integral floats as ints, as that round trip does."""
    if isinstance(value, dict):
        return {str(k): _plain(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isfinite(value):
        return int(value) if value.is_integer() and abs(value) < 1e21 else float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _secret_out(obj: dict[str, Any]) -> dict[str, Any]:
    """A resolved Secret as text again: ``data`` SecretBytes to base64, ``stringData`` to text."""
    obj = dict(obj)
    for section, encode in (("data", SecretBytes.to_base64), ("stringData", SecretBytes.reveal_text)):
        values = obj.get(section)
        if isinstance(values, dict):
            obj[section] = {k: encode(v) if isinstance(v, SecretBytes) else v for k, v in values.items()}
    return obj


def dump_documents(objects: list[dict[str, Any]]) -> str:
    """YAML with sorted keys and a ``---`` line after each document, as ``argocd-vault-plugin generate``."""
    out = []
    for obj in objects:
        if obj.get("kind") == "Secret":
            obj = _secret_out(obj)
        text = dump_all([_plain(obj)])
        out.append(text[4:] if text.startswith("---\n") else text)
        out.append("---\n")
    return "".join(out)


# ---------------------------------------------------------------------------------------------- -s


def read_secret_config(spec: str) -> dict[str, str]:
    """AVP's ``-s``: the configuration held in a Kubernetes Secret (values stay in memory)."""
    from secretsync.kube.client import KubeClient
    from secretsync.kube.errors import KubeError
    from secretsync.vault.config import secret_config, secret_reference
    from secretsync.vault.errors import VaultConfigError

    namespace, name = secret_reference(spec)
    try:
        # the path explicitly: the library reads $KUBECONFIG only once, when first imported
        client = KubeClient.from_env(os.environ.get("KUBECONFIG") or None)
    except KubeError as exc:
        raise VaultConfigError(
            f"could not connect to local Kubernetes cluster to read Secret {namespace}/{name}: {exc.message}",
            hint="run in a pod with a service account, or set KUBECONFIG",
        ) from None
    try:
        secret = client.get("v1", "Secret", name, namespace)
    except KubeError as exc:
        raise VaultConfigError(
            f"cannot read the configuration Secret {namespace}/{name}: {exc.message}",
            hint="check -s [namespace:]name (default namespace argocd) and that this identity may get the Secret",
        ) from None
    finally:
        client.close()
    return secret_config(secret)


# ---------------------------------------------------------------------------------------------- run


def run(args: argparse.Namespace) -> int:
    if getattr(args, "vault_command", None) != "generate":
        raise UsageError("usage: secretsync vault generate PATH|- [-c FILE]", hint="see secretsync vault --help")
    if args.verbose_sensitive_output:
        log.warning("--verbose-sensitive-output is accepted but secret values are never logged")

    from secretsync.vault.client import VaultBackend
    from secretsync.vault.placeholders import resolve

    secret_values = read_secret_config(args.secret_name) if args.secret_name else None
    documents = load_documents(_files(args.path))
    backend = VaultBackend.from_env(os.environ, args.config_path or None, secret_values)
    backend.login()  # as AVP: before any manifest is looked at
    resolved = resolve(documents, backend)
    text = dump_documents(resolved)
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0
