"""``secretsync`` entry point: the command registry and the one exception → exit-code map.

Commands are imported lazily (only the one being run), so ``--help`` and light
commands never pay for the Kubernetes or Vault clients.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Sequence

from secretsync.cli import exit_codes
from secretsync.errors import SecretsyncError

# name -> (module, one-line summary). Keep in build order.
COMMANDS: dict[str, tuple[str, str]] = {
    "seal": ("secretsync.cli.seal", "seal a Secret into a SealedSecret (kubeseal-compatible flags)"),
    "unseal": ("secretsync.cli.unseal", "decrypt SealedSecrets with private keys (offline recovery)"),
    "keys": ("secretsync.cli.keys", "generate, rotate, list sealing keys; print the current certificate"),
    "reseal": ("secretsync.cli.reseal", "re-encrypt every SealedSecret under a path to the newest key"),
    "sops": ("secretsync.cli.sops", "encrypt, decrypt, rotate and update sops files (sops-compatible flags)"),
    "vault": ("secretsync.cli.vault", "substitute Vault placeholders (argocd-vault-plugin compatible)"),
    "dev-apiserver": ("secretsync.cli.dev_apiserver", "run the Kubernetes API emulator (tests and demo)"),
    "render": ("secretsync.cli.render", "render a source to fully resolved manifests"),
    "diff": ("secretsync.cli.diff", "show what apply would change in the cluster"),
    "apply": ("secretsync.cli.apply", "render and apply a source once (server-side apply, prune, wait)"),
    "controller": ("secretsync.cli.controller", "run the in-cluster SealedSecret controller"),
    "agent": ("secretsync.cli.agent", "run the GitOps agent"),
    "demo": ("secretsync.cli.demo", "run the end-to-end demo on embedded defaults"),
}

log = logging.getLogger("secretsync")


def _available_commands() -> dict[str, tuple[str, str]]:
    """Commands whose module exists in this build."""
    found = {}
    for name, (module, summary) in COMMANDS.items():
        if importlib.util.find_spec(module) is not None:
            found[name] = (module, summary)
    return found


def build_parser(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, object | None]:
    """The top-level parser; only the command named in ``argv`` gets its module imported."""
    commands = _available_commands()
    parser = argparse.ArgumentParser(
        prog="secretsync",
        description="A GitOps agent for Kubernetes whose speciality is secrets.",
        epilog=exit_codes.SUMMARY,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--log-level", default=os.environ.get("SECRETSYNC_LOG_LEVEL", "warning"),
                        choices=["debug", "info", "warning", "error"], help="log verbosity (default warning)")
    parser.add_argument("--log-format", default=os.environ.get("SECRETSYNC_LOG_FORMAT", "text"),
                        choices=["text", "json"], help="log line format")
    parser.add_argument("--version", action="version", version=f"secretsync {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if a in commands), None)
    module = None
    for name, (module_name, summary) in commands.items():
        p = sub.add_parser(name, help=summary, description=summary, allow_abbrev=False)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(p)
            p.set_defaults(_module=module)
    return parser, module


def _version() -> str:
    from secretsync import __version__
    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, _ = build_parser(argv)
    args = parser.parse_args(argv)
    from secretsync.logs import configure_logging
    configure_logging(args.log_level, args.log_format)
    module = getattr(args, "_module", None)
    if module is None:
        parser.print_help(sys.stderr)
        return exit_codes.USAGE
    try:
        return int(module.run(args) or 0)
    except SecretsyncError as exc:
        print(f"error: {exc.report()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return exit_codes.INTERRUPTED
    except BrokenPipeError:
        # Python would print a second error when flushing stdout at exit; point it at devnull.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return exit_codes.BROKEN_PIPE
    except Exception as exc:  # noqa: BLE001 - the one place that maps unknown failures
        if os.environ.get("SECRETSYNC_DEBUG"):
            raise
        # The message of an unexpected exception may echo input (possibly a secret): name the type only.
        where = ""
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is not None:
            where = f" at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"
        print(f"error: internal error {type(exc).__name__}{where}; run with SECRETSYNC_DEBUG=1 for the "
              f"traceback and report it", file=sys.stderr)
        return exit_codes.ERROR
