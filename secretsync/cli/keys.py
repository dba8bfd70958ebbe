"""``secretsync keys generate|rotate|list|cert --key-dir DIR``: sealing-key management.

Keys are stored as the upstream controller's key Secrets, one YAML file per key
(mode 0600), so the directory can be ``kubectl apply``-ed for the upstream controller
or ours. ``rotate`` adds a newest key and keeps the old ones (they keep unsealing);
``cert`` prints the newest certificate, as ``/v1/cert.pem`` serves it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from secretsync.cli.options import env_default
from secretsync.errors import SecretsyncError, UsageError
from secretsync.gocompat import goduration, gotime
from secretsync.sealing import keyring as keyring_mod

__all__ = ["add_arguments", "run", "parse_go_duration"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="keys_command", metavar="ACTION")
    for name, summary in (
        ("generate", "create the first key of a new key directory"),
        ("rotate", "add a new newest key; old keys are kept and keep unsealing"),
        ("list", "show every key: name, created, NotAfter, fingerprint, newest"),
        ("cert", "print the newest certificate (PEM)"),
    ):
        p = sub.add_parser(name, help=summary, description=summary, allow_abbrev=False)
        p.add_argument(
            "--key-dir",
            default=env_default("SECRETSYNC_KEY_DIR"),
            required=not env_default("SECRETSYNC_KEY_DIR"),
            help="key directory (default $SECRETSYNC_KEY_DIR)",
        )
        if name in ("generate", "rotate"):
            p.add_argument("--key-size", type=int, default=keyring_mod.DEFAULT_KEY_SIZE, help="RSA key size (4096)")
            p.add_argument("--key-ttl", default="87600h", help="certificate validity, Go duration (87600h)")
            p.add_argument("--my-cn", default="", help="certificate common name (default empty, as upstream)")
            p.add_argument("--key-prefix", default=keyring_mod.DEFAULT_KEY_PREFIX, help="key Secret name prefix")
            p.add_argument(
                "--controller-namespace",
                default=keyring_mod.DEFAULT_NAMESPACE,
                help="namespace written into the key Secrets (kube-system)",
            )


def parse_go_duration(text: str) -> dt.timedelta:
    """A Go duration (``time.ParseDuration``, as kubeseal's ``--key-ttl``) such as ``87600h`` or ``1h30m``."""
    try:
        return goduration.timedelta(goduration.parse_duration(text))
    except ValueError:
        raise UsageError(f"invalid duration {text!r} (Go syntax, e.g. 87600h)") from None


def _generate(args: argparse.Namespace, store: keyring_mod.FileKeyStore) -> int:
    if args.keys_command == "generate" and store.directory.is_dir() and store.list():
        raise SecretsyncError(
            f"key directory {store.directory} already holds keys",
            hint="use `secretsync keys rotate` to add a newer key",
        )
    key = keyring_mod.rotate(
        store,
        bits=args.key_size,
        ttl=parse_go_duration(args.key_ttl),
        cn=args.my_cn,
        namespace=args.controller_namespace,
        prefix=args.key_prefix,
    )
    print(f"{key.name} {key.fingerprint} (newest; sealing key)")
    return 0


def _list(store: keyring_mod.FileKeyStore) -> int:
    ring = keyring_mod.Keyring.from_store(store, str(store.directory))
    newest = ring.newest()
    rows = [("NAME", "CREATED", "NOT-AFTER", "FINGERPRINT", "NEWEST")]
    for key in reversed(ring.keys):
        created = key.not_before or key.created
        rows.append(
            (
                key.name,
                gotime.format_time_seconds(created) if created else "-",
                gotime.format_time_seconds(key.not_after) if key.not_after else "-",
                key.fingerprint,
                "*" if key is newest else "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return 0


def run(args: argparse.Namespace) -> int:
    if not getattr(args, "keys_command", None):
        raise UsageError("choose an action: secretsync keys generate|rotate|list|cert --key-dir DIR")
    store = keyring_mod.FileKeyStore(args.key_dir)
    if args.keys_command in ("generate", "rotate"):
        return _generate(args, store)
    if args.keys_command == "list":
        return _list(store)
    sys.stdout.buffer.write(keyring_mod.Keyring.from_dir(args.key_dir).certificate_pem())
    return 0
