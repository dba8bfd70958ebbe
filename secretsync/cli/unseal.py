"""``secretsync unseal``: offline recovery of Secrets from SealedSecrets with private keys.

The short form of ``secretsync seal --recovery-unseal --recovery-private-key F1,F2``
(kubeseal's spelling, which ``seal`` also accepts). Keys may be PEM private keys,
``kubernetes.io/tls`` key Secrets, or a ``v1`` List of them (a ``kubectl get secret
-l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml`` backup), or a key dir.
The output is the ``v1`` Secret(s) in ``-o`` format; values are printed (that is
the point of recovery), never logged.
"""

from __future__ import annotations

import argparse

from secretsync.cli.options import CommaListAction, env_default
from secretsync.sealing.kubesealio import output_format, read_input, write_output
from secretsync.sealing.recovery import recover, recovery_keyring

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--key",
        "--recovery-private-key",
        dest="keys",
        action=CommaListAction,
        default=[],
        metavar="FILE",
        help="private key file: PEM, key Secret or v1 List (repeatable, comma-separated)",
    )
    parser.add_argument(
        "--key-dir",
        default=env_default("SECRETSYNC_KEY_DIR"),
        help="use every key of this key directory (secretsync keys)",
    )
    parser.add_argument("-f", "--secret-file", default="", help="SealedSecret input file (default stdin)")
    parser.add_argument(
        "-w",
        "--sealed-secret-file",
        dest="output_file",
        default="",
        help="write the Secret here instead of stdout (atomic, mode 0600)",
    )
    parser.add_argument("-o", "--format", default="json", help="output format: json (default) or yaml")


def run(args: argparse.Namespace) -> int:
    fmt = output_format(args.format, args.output_file)
    keyring = recovery_keyring(args.keys, args.key_dir)
    data, source = read_input(args.secret_file)
    write_output(recover(data, source, keyring, fmt), args.output_file, private=True)
    return 0
