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
import sys
from pathlib import Path

from secretsync.cli.options import CommaListAction, env_default
from secretsync.errors import SecretsyncError, UsageError
from secretsync.manifests.loader import Limits
from secretsync.sealing import objects as sealedsecret
from secretsync.sealing.keyring import Keyring, write_private_file

__all__ = ["add_arguments", "run", "read_input", "write_output", "output_format", "recover"]


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
        raise sealedsecret.InputError(
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


def load_keyring(key_files: list[str], key_dir: str | None) -> Keyring:
    if key_files:
        keyring = Keyring.from_files(key_files)
        if key_dir:
            keyring = Keyring(list(keyring.keys) + list(Keyring.from_dir(key_dir).keys))
        return keyring
    if key_dir:
        return Keyring.from_dir(key_dir)
    raise UsageError("no private key given: pass --recovery-private-key FILE (or --key FILE, --key-dir DIR)")


def recover(data: bytes, source: str, keyring: Keyring, fmt: str) -> str:
    """The Secrets of every SealedSecret in ``data``, dumped in ``fmt``."""
    objects = sealedsecret.load_documents(data, source)
    if not objects:
        raise SecretsyncError(f"{source}: no SealedSecret found in the input")
    secrets = []
    for index, obj in enumerate(objects, 1):
        if obj.get("kind") != sealedsecret.KIND:
            raise sealedsecret.InputError(
                f"{source}: document {index} is a {obj.get('kind') or 'object without kind'}, not a SealedSecret"
            )
        secrets.append(sealedsecret.unseal_sealed_secret(obj, keyring, accept_deprecated_v1=False))
    return sealedsecret.dump(secrets, fmt)


def run(args: argparse.Namespace) -> int:
    fmt = output_format(args.format, args.output_file)
    keyring = load_keyring(args.keys, args.key_dir)
    data, source = read_input(args.secret_file)
    write_output(recover(data, source, keyring, fmt), args.output_file, private=True)
    return 0
