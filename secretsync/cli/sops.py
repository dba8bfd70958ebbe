"""``secretsync sops``: sops's command line (3.11 flag names and exit codes) over ``secretsync.sops.files``.

Forms: ``sops -e|-d|-r [flags] FILE`` and ``sops encrypt|decrypt|rotate|updatekeys|filestatus
[flags] FILE``. Output goes to stdout unless ``-i/--in-place`` or ``--output``.
Extensions: ``rotate --recursive DIR`` and ``updatekeys --recursive DIR`` walk a tree
with a progress bar, print a summary, honour ``--dry-run`` and never rewrite a file
whose new content does not decrypt. PGP and cloud KMS flags are accepted and fail
with a clear "not supported" error, as those key types are not implemented.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from secretsync.cli.options import env_default
from secretsync.crypto.sops.errors import (
    EXIT_GENERIC,
    ConfigError,
    ConflictingParameters,
    NoEncryptionKey,
    NoFileSpecified,
    SopsError,
)
from secretsync.crypto.sops.keys.age import AgeKey
from secretsync.crypto.sops.keys.hc_vault import VaultTransitKey
from secretsync.crypto.sops.walk import SELECTOR_FIELDS

if TYPE_CHECKING:
    from secretsync.crypto.sops.keys import MasterKey, SopsKeys
    from secretsync.sops.files import EncryptSettings

__all__ = ["add_arguments", "run"]

_SUBCOMMANDS = ("encrypt", "decrypt", "rotate", "updatekeys", "filestatus")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags, then everything from the first positional on, re-parsed intermixed in ``run``.

    argparse cannot match a positional list interrupted by options (``updatekeys -y
    FILE``); urfave/cli can. So the remainder is parsed again with
    ``parse_intermixed_args`` by a parser that has the same flags.
    """
    _add_flags(parser)
    parser.add_argument(
        "rest",
        nargs=argparse.REMAINDER,
        metavar="[COMMAND] FILE ...",
        help=f"optional command ({', '.join(_SUBCOMMANDS)}), then the file (or directory with "
        f"--recursive); flags may follow",
    )


def _intermixed(args: argparse.Namespace) -> argparse.Namespace:
    inner = argparse.ArgumentParser(prog="secretsync sops", allow_abbrev=False, add_help=False)
    _add_flags(inner)
    inner.add_argument("words", nargs="*")
    return inner.parse_intermixed_args(list(args.rest or []), namespace=args)


def _add_flags(parser: argparse.ArgumentParser) -> None:
    p = parser.add_argument
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("-e", "--encrypt", action="store_true", help="encrypt a file")
    mode.add_argument("-d", "--decrypt", action="store_true", help="decrypt a file")
    mode.add_argument("-r", "--rotate", action="store_true", help="generate a new data key and re-encrypt")
    p("-i", "--in-place", action="store_true", help="write the output back to the same file")
    p("--output", default="", help="save the output to this file instead of stdout")
    p(
        "--age",
        "-a",
        default=env_default("SOPS_AGE_RECIPIENTS", ""),
        help="comma-separated age recipients (env SOPS_AGE_RECIPIENTS)",
    )
    p(
        "--hc-vault-transit",
        default=env_default("SOPS_VAULT_URIS", ""),
        help="comma-separated Vault transit URIs https://host:8200/v1/<engine>/keys/<key> (env SOPS_VAULT_URIS)",
    )
    for flag, env in (
        ("--pgp", "SOPS_PGP_FP"),
        ("--kms", "SOPS_KMS_ARN"),
        ("--gcp-kms", "SOPS_GCP_KMS_IDS"),
        ("--azure-kv", "SOPS_AZURE_KEYVAULT_URLS"),
    ):
        p(flag, default=env_default(env, ""), help=f"not supported by secretsync (env {env})")
    for name in SELECTOR_FIELDS:
        p("--" + name.replace("_", "-"), dest=name, default="", help=f"sops {name} selector")
    p("--mac-only-encrypted", action="store_true", help="compute the MAC only over encrypted values")
    p("--shamir-secret-sharing-threshold", type=int, default=None, help="number of key groups required")
    p(
        "--input-type",
        default="",
        choices=["", "yaml", "json", "dotenv", "ini", "binary"],
        help="input format (default: from the file extension)",
    )
    p(
        "--output-type",
        default="",
        choices=["", "yaml", "json", "dotenv", "ini", "binary"],
        help="output format (default: the input format)",
    )
    p("--filename-override", default="", help="use this path to pick formats and creation rules")
    p("--extract", default="", help='print only the value at this path, e.g. \'["a"]["b"][0]\'')
    p("--ignore-mac", action="store_true", help="do not verify the MAC (for inspecting damaged files)")
    p("--add-age", default="", help="rotate: add these age recipients to the first key group")
    p("--rm-age", default="", help="rotate: remove these age recipients")
    p("--add-hc-vault-transit", default="", help="rotate: add these Vault transit URIs")
    p("--rm-hc-vault-transit", default="", help="rotate: remove these Vault transit URIs")
    p("--config", default=env_default("SOPS_CONFIG", ""), help="path to .sops.yaml (env SOPS_CONFIG)")
    p("--indent", type=int, default=None, help="indentation for YAML (spaces) or JSON (spaces instead of a tab)")
    p(
        "--decryption-order",
        default=env_default("SOPS_DECRYPTION_ORDER", ""),
        help="comma-separated key types to try first (default age,pgp)",
    )
    p("-y", "--yes", action="store_true", help="updatekeys: do not ask for confirmation")
    p("--recursive", action="store_true", help="rotate/updatekeys: every sops file under the directory")
    p("--dry-run", action="store_true", help="with --recursive: report what would change, write nothing")
    p("--disable-version-check", action="store_true", help="accepted for sops compatibility (no effect)")
    p("--verbose", action="store_true", help="accepted for sops compatibility")


def _split(text: str) -> list[str]:
    return [x.strip() for x in (text or "").split(",") if x.strip()]


def _keys(args: argparse.Namespace) -> SopsKeys:
    from secretsync.sops.identities import load_keys

    keys = load_keys()
    if args.decryption_order:
        keys.decryption_order = tuple(_split(args.decryption_order))
    return keys


def _cli_key_group(args: argparse.Namespace) -> list[MasterKey]:
    for flag in ("pgp", "kms", "gcp_kms", "azure_kv"):
        if getattr(args, flag):
            raise NoEncryptionKey(
                f"--{flag.replace('_', '-')} keys are not supported by secretsync",
                hint="use --age or --hc-vault-transit",
            )
    return [AgeKey(r) for r in _split(args.age)] + _transit_keys(args.hc_vault_transit)


def _transit_keys(uris: str) -> list[MasterKey]:
    """The Vault transit keys of a comma-separated URI flag; a bad URI is a usage-level error (exit 1, as sops)."""
    try:
        return [VaultTransitKey.from_uri(uri) for uri in _split(uris)]
    except ValueError as exc:
        raise ConfigError(str(exc), exit_code=EXIT_GENERIC) from None


def _rotate_changes(args: argparse.Namespace) -> tuple[list[MasterKey], list[str]]:
    """(keys to add, key names to remove) of ``rotate``'s --add-*/--rm-* flags."""
    add = [AgeKey(r) for r in _split(args.add_age)] + _transit_keys(args.add_hc_vault_transit)
    remove = _split(args.rm_age) + [k.name() for k in _transit_keys(args.rm_hc_vault_transit)]
    return add, remove


def _encrypt_settings(args: argparse.Namespace, target: str) -> EncryptSettings:
    from secretsync.sops.commands import encrypt_settings

    return encrypt_settings(
        target,
        key_group=_cli_key_group(args),
        selectors={name: getattr(args, name) for name in SELECTOR_FIELDS if getattr(args, name)},
        shamir_threshold=args.shamir_secret_sharing_threshold,
        mac_only_encrypted=args.mac_only_encrypted,
        config_path=args.config or None,
    )


def _write(args: argparse.Namespace, path: str, data: bytes) -> None:
    from secretsync.sops.files import write_atomic

    if args.in_place:
        write_atomic(path, data)
    elif args.output:
        write_atomic(args.output, data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def _confirm(message: str) -> bool:
    print(message, file=sys.stderr)
    print("Is this okay? (y/n):", end=" ", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def _command(args: argparse.Namespace, words: list[str]) -> str:
    """The operation: a subcommand word (removed from ``words``) or -e/-d/-r; sops's errors when none."""
    command = ""
    if words and words[0] in _SUBCOMMANDS:
        command = words.pop(0)
    elif args.encrypt:
        command = "encrypt"
    elif args.decrypt:
        command = "decrypt"
    elif args.rotate:
        command = "rotate"
    if not words:
        raise NoFileSpecified("no file specified", hint="usage: secretsync sops -d FILE")
    if not command:
        raise SopsError(
            "no operation given: secretsync does not open an editor",
            hint="use -e/--encrypt, -d/--decrypt, -r/--rotate or updatekeys",
            exit_code=EXIT_GENERIC,
        )
    if args.in_place and args.output:
        raise ConflictingParameters("--in-place and --output cannot be used together")
    return command


def run(args: argparse.Namespace) -> int:
    args = _intermixed(args)
    words = list(args.words)
    command = _command(args, words)
    if args.recursive:
        return _run_recursive(args, command, words)
    if command == "filestatus":
        return _filestatus(words[0], args.input_type or None)
    if command == "updatekeys":
        for path in words:
            _updatekeys(args, path)
        return 0
    _SINGLE_FILE[command](args, words[0])
    return 0


def _run_recursive(args: argparse.Namespace, command: str, roots: list[str]) -> int:
    """``rotate``/``updatekeys --recursive``: a summary per tree; exit 1 (sops's generic code) if any file failed."""
    from secretsync.sops import files as sopsfiles

    if command not in ("rotate", "updatekeys"):
        raise ConflictingParameters("--recursive works with rotate and updatekeys only")
    keys = _keys(args)
    total_failed = 0
    for root in roots:
        if command == "rotate":
            add, remove = _rotate_changes(args)
            summary = sopsfiles.rotate_tree(root, keys, add=add, remove=remove, dry_run=args.dry_run)
            verb = "rotated"
        else:
            summary = sopsfiles.updatekeys_tree(
                root,
                keys,
                shamir_threshold=args.shamir_secret_sharing_threshold,
                dry_run=args.dry_run,
                config_path=args.config or None,
            )
            verb = "updated"
        print(summary.render(verb))
        total_failed += len(summary.failed)
    return EXIT_GENERIC if total_failed else 0


def _decrypt(args: argparse.Namespace, path: str) -> None:
    from secretsync.sops import files as sopsfiles

    out = sopsfiles.decrypt_bytes(
        sopsfiles.read_input(path),
        args.filename_override or path,
        _keys(args),
        input_type=args.input_type or None,
        output_type=args.output_type or None,
        ignore_mac=args.ignore_mac,
        extract=args.extract or None,
        indent=args.indent,
    )
    _write(args, path, out)


def _encrypt(args: argparse.Namespace, path: str) -> None:
    from secretsync.sops import files as sopsfiles

    target = args.filename_override or path
    data = sopsfiles.read_input(path)
    settings = _encrypt_settings(args, os.path.abspath(target))
    out = sopsfiles.encrypt_bytes(
        data,
        target,
        _keys(args),
        settings,
        input_type=args.input_type or None,
        output_type=args.output_type or None,
        indent=args.indent,
    )
    _write(args, path, out)


def _rotate(args: argparse.Namespace, path: str) -> None:
    from secretsync.sops import files as sopsfiles

    data = sopsfiles.read_input(path)
    add, remove = _rotate_changes(args)
    out = sopsfiles.rotate_bytes(
        data,
        args.filename_override or path,
        _keys(args),
        add=add,
        remove=remove,
        input_type=args.input_type or None,
        indent=args.indent,
    )
    _write(args, path, out)


_SINGLE_FILE = {"decrypt": _decrypt, "encrypt": _encrypt, "rotate": _rotate}


def _updatekeys(args: argparse.Namespace, path: str) -> None:
    """One file's ``updatekeys``: the key groups of its creation rule, after confirmation unless ``-y``."""
    from secretsync.sops import files as sopsfiles

    target = args.filename_override or path
    data = sopsfiles.read_input(path)
    rule, _ = sopsfiles.rule_for_file(os.path.abspath(target), config_path=args.config or None)
    if rule is None:
        raise ConfigError(
            f"no .sops.yaml creation rule found for {path}",
            hint="updatekeys takes the keys from .sops.yaml; create one or pass --config",
        )
    out = sopsfiles.updatekeys_bytes(
        data,
        target,
        _keys(args),
        rule.key_groups,
        shamir_threshold=args.shamir_secret_sharing_threshold,
        input_type=args.input_type or None,
        indent=args.indent,
    )
    if out is None:
        print(f"File {path} already up to date", file=sys.stderr)
        return
    if not args.yes and not _confirm(
        f"The following changes will be made to the file's groups:\n{_describe(rule.key_groups)}"
    ):
        print(f"File {path} left unchanged", file=sys.stderr)
        return
    sopsfiles.write_atomic(path, out)
    print(f"File {path} synced with new keys", file=sys.stderr)


def _describe(groups: list[list[MasterKey]]) -> str:
    lines = []
    for i, group in enumerate(groups):
        lines.append(f"Group {i + 1}")
        lines.extend(f"    {k.name()}" for k in group)
    return "\n".join(lines)


def _filestatus(path: str, fmt: str | None) -> int:
    import json

    from secretsync.sops.commands import file_status

    print(json.dumps({"encrypted": file_status(path, fmt)}, separators=(",", ":")))
    return 0
