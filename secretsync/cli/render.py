"""``secretsync render SOURCE``: the fully resolved objects of a source as a YAML stream on stdout.

Parses flags, builds the dependencies, calls ``secretsync.render.pipeline``, prints. Secret values
print as ``<redacted:hmac-sha256:…>`` (an HMAC-SHA256 of the value, truncated to 16 hex digits)
unless ``--show-secrets``. The HMAC key is per invocation (random) unless one is given with
``--redaction-key-file`` or ``SECRETSYNC_REDACTION_KEY``: with the same key, two renders can be
compared value by value without revealing any. When any object fails, nothing is printed on
stdout and every failure is listed on stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import sys
from pathlib import Path
from typing import Any

from secretsync.cli.options import env_default
from secretsync.errors import UsageError
from secretsync.manifests.dump import dump_all
from secretsync.objects import sort_for_apply
from secretsync.secretvalue import SecretBytes

REDACTION_KEY_ENV = "SECRETSYNC_REDACTION_KEY"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser)
    parser.add_argument(
        "--show-secrets", action="store_true", help="print Secret values in clear (default: a keyed hash of each value)"
    )
    parser.add_argument(
        "--redaction-key-file",
        default=None,
        help=f"key for the redaction hashes (default ${REDACTION_KEY_ENV}, else random per run)",
    )


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """SOURCE and the flags that say how to render it (shared by render, diff and apply)."""
    parser.add_argument(
        "source",
        metavar="SOURCE",
        help="a folder, or a Git repository (file://, https://, ssh:// URL or a bare repository)",
    )
    parser.add_argument("--path", default=".", help="folder inside the source to render (default: its root)")
    parser.add_argument("--ref", default=None, help="Git branch, tag or commit (default: the remote's default branch)")
    parser.add_argument(
        "--age-key-file",
        default=None,
        help="age identities for sops files (default: SOPS_AGE_KEY_FILE, SOPS_AGE_KEY, then sops's default key file)",
    )
    parser.add_argument(
        "--key-dir",
        default=env_default("SECRETSYNC_KEY_DIR"),
        help="sealing-key directory for SealedSecrets (default $SECRETSYNC_KEY_DIR)",
    )
    parser.add_argument(
        "--substitute",
        action="append",
        default=None,
        metavar="NAME=VALUE",
        help="postBuild variable for ${NAME} (repeatable); substitution runs only when given",
    )
    parser.add_argument(
        "--target-namespace", default=None, help="set this namespace on every namespaced object (before unsealing)"
    )
    parser.add_argument(
        "--keep-sealed-secrets",
        action="store_true",
        help="emit SealedSecrets as they are (for a cluster running a SealedSecret controller) "
        "instead of unsealing them",
    )
    parser.add_argument(
        "--ssh-key-file",
        default=env_default("SECRETSYNC_SSH_KEY_FILE"),
        help="private key for ssh:// sources (default $SECRETSYNC_SSH_KEY_FILE; the ssh agent of "
        "$SSH_AUTH_SOCK is used too)",
    )
    parser.add_argument(
        "--known-hosts-file",
        default=None,
        help="known_hosts for ssh:// sources (default ~/.ssh/known_hosts); host keys are always checked",
    )


def _variables(items: list[str] | None) -> dict[str, str] | None:
    if items is None:
        return None
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--substitute {name or item!r}: expected NAME=VALUE")
        out[name] = value
    return out


def _redaction_key(args: argparse.Namespace) -> bytes:
    if args.redaction_key_file:
        try:
            key = Path(args.redaction_key_file).read_bytes().strip()
        except OSError as exc:
            raise UsageError(f"--redaction-key-file {args.redaction_key_file}: cannot read: {exc.strerror}") from None
        if not key:  # an empty HMAC key turns every marker into a plain hash anyone can test guesses against
            raise UsageError(
                f"--redaction-key-file {args.redaction_key_file}: the file is empty",
                hint="put the installation's redaction key in it, or leave the flag out for a random key",
            )
        return key
    from_env = os.environ.get(REDACTION_KEY_ENV)
    if from_env:
        return from_env.encode()
    return os.urandom(32)


def redact(value: SecretBytes, key: bytes) -> str:
    """``<redacted:hmac-sha256:…>``: equal values give equal markers under the same key."""
    digest = hmac.new(key, value.reveal(), hashlib.sha256).hexdigest()[:16]
    return f"<redacted:hmac-sha256:{digest}>"


def present(obj: dict, show: bool, key: bytes) -> dict:
    """``obj`` ready for YAML: SecretBytes become base64 / text (``show``) or redaction markers."""
    is_secret = obj.get("kind") == "Secret"

    def walk(value: Any, path: tuple) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, path + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, path + (i,)) for i, v in enumerate(value)]
        if isinstance(value, SecretBytes):
            if not show:
                return redact(value, key)
            if is_secret and path[:1] == ("data",):
                return value.to_base64()
            try:
                return value.reveal_text()
            except UnicodeDecodeError:
                return value.to_base64()
        return value

    out = walk(obj, ())
    if show and is_secret and isinstance(obj.get("stringData"), dict):
        # binary stringData cannot be shown as text: move it to data (base64), as the API would store it.
        for k, v in obj["stringData"].items():
            if isinstance(v, SecretBytes):
                try:
                    v.reveal_text()
                except UnicodeDecodeError:
                    out.setdefault("data", {})[k] = v.to_base64()
                    del out["stringData"][k]
    return out


def open_render(args: argparse.Namespace):
    """(source, dependencies, options) for the flags of ``add_source_arguments``; close the source after use."""
    from secretsync.render import pipeline
    from secretsync.sources import open_source

    variables = _variables(args.substitute)

    def sops_keys():
        from secretsync.sops.identities import load_keys

        return load_keys(args.age_key_file, os.environ)

    def keyring():
        from secretsync.sealing.keyring import Keyring

        return Keyring.from_dir(args.key_dir)

    def vault():
        from secretsync.vault.client import VaultBackend

        return VaultBackend.from_env(os.environ)

    deps = pipeline.Dependencies(sops_keys=sops_keys, keyring=keyring if args.key_dir else None, vault=vault)
    options = pipeline.RenderOptions(
        path=args.path,
        target_namespace=args.target_namespace,
        keep_sealed_secrets=args.keep_sealed_secrets,
        variables=variables,
    )
    known_hosts = args.known_hosts_file
    if known_hosts is None and (Path.home() / ".ssh" / "known_hosts").is_file():
        known_hosts = str(Path.home() / ".ssh" / "known_hosts")
    source = open_source(
        args.source,
        ref=args.ref,
        ssh_key_file=args.ssh_key_file,
        known_hosts_file=known_hosts,
        ssh_auth_sock=os.environ.get("SSH_AUTH_SOCK") or None,
    )
    return source, deps, options


def run(args: argparse.Namespace) -> int:
    from secretsync.render import pipeline

    key = b"" if args.show_secrets else _redaction_key(args)
    source, deps, options = open_render(args)
    try:
        result = pipeline.render(source, deps, options)
    finally:
        close = getattr(source, "close", None)
        if close:
            close()
    objects = result.objects()  # raises RenderFailed (nothing printed) unless every object rendered
    text = dump_all(present(o, args.show_secrets, key) for o in sort_for_apply(objects))
    sys.stdout.write(text)
    return 0
