"""``secretsync vault generate PATH|-``: argocd-vault-plugin's ``generate``, same flags and input/output.

Parses flags, reads the ``-s`` Secret, and calls ``secretsync.vault.generate`` and
``secretsync.vault.placeholders``. Reads a directory (``.yaml``/``.yml``/``.json``, recursively), one file, or stdin; logs in
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
import os
import sys

from secretsync.errors import UsageError

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
    from secretsync.vault.generate import dump_documents, load_documents, manifest_files
    from secretsync.vault.placeholders import resolve

    secret_values = read_secret_config(args.secret_name) if args.secret_name else None
    documents = load_documents(manifest_files(args.path))
    backend = VaultBackend.from_env(os.environ, args.config_path or None, secret_values)
    backend.login()  # as AVP: before any manifest is looked at
    resolved = resolve(documents, backend)
    text = dump_documents(resolved)
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0
