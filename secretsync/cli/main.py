"""``secretsync`` entry point: the command registry and the one exception → exit-code map.

Commands are imported lazily (only the one being run), so ``--help`` and light
commands never pay for the Kubernetes or Vault clients. Each loader is a static import
inside a function, so import-linter and readers still see every edge.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from secretsync.cli import exit_codes
from secretsync.errors import SecretsyncError


def _load_seal() -> ModuleType:
    from secretsync.cli import seal

    return seal


def _load_unseal() -> ModuleType:
    from secretsync.cli import unseal

    return unseal


def _load_keys() -> ModuleType:
    from secretsync.cli import keys

    return keys


def _load_reseal() -> ModuleType:
    from secretsync.cli import reseal

    return reseal


def _load_sops() -> ModuleType:
    from secretsync.cli import sops

    return sops


def _load_vault() -> ModuleType:
    from secretsync.cli import vault

    return vault


def _load_dev_apiserver() -> ModuleType:
    from secretsync.cli import dev_apiserver

    return dev_apiserver


def _load_render() -> ModuleType:
    from secretsync.cli import render

    return render


def _load_diff() -> ModuleType:
    from secretsync.cli import diff

    return diff


def _load_apply() -> ModuleType:
    from secretsync.cli import apply

    return apply


def _load_controller() -> ModuleType:
    from secretsync.cli import controller

    return controller


def _load_agent() -> ModuleType:
    from secretsync.cli import agent

    return agent


def _load_demo() -> ModuleType:
    from secretsync.cli import demo

    return demo


# name -> (module loader, one-line summary). Keep in build order.
COMMANDS: dict[str, tuple[Callable[[], ModuleType], str]] = {
    "seal": (_load_seal, "seal a Secret into a SealedSecret (kubeseal-compatible flags)"),
    "unseal": (_load_unseal, "decrypt SealedSecrets with private keys (offline recovery)"),
    "keys": (_load_keys, "generate, rotate, list sealing keys; print the current certificate"),
    "reseal": (_load_reseal, "re-encrypt every SealedSecret under a path to the newest key"),
    "sops": (_load_sops, "encrypt, decrypt, rotate and update sops files (sops-compatible flags)"),
    "vault": (_load_vault, "substitute Vault placeholders (argocd-vault-plugin compatible)"),
    "dev-apiserver": (_load_dev_apiserver, "run the Kubernetes API emulator (tests and demo)"),
    "render": (_load_render, "render a source to fully resolved manifests"),
    "diff": (_load_diff, "show what apply would change in the cluster"),
    "apply": (_load_apply, "render and apply a source once (server-side apply, prune, wait)"),
    "controller": (_load_controller, "run the in-cluster SealedSecret controller"),
    "agent": (_load_agent, "run the GitOps agent"),
    "demo": (_load_demo, "run the end-to-end demo on embedded defaults"),
}

log = logging.getLogger("secretsync")


def build_parser(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, object | None]:
    """The top-level parser; only the command named in ``argv`` gets its module imported."""
    commands = COMMANDS
    parser = argparse.ArgumentParser(
        prog="secretsync",
        description="A GitOps agent for Kubernetes whose speciality is secrets.",
        epilog=exit_codes.SUMMARY,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("SECRETSYNC_LOG_LEVEL", "warning"),
        choices=["debug", "info", "warning", "error"],
        help="log verbosity (default warning)",
    )
    parser.add_argument(
        "--log-format",
        default=os.environ.get("SECRETSYNC_LOG_FORMAT", "text"),
        choices=["text", "json"],
        help="log line format",
    )
    parser.add_argument("--version", action="version", version=f"secretsync {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if a in commands), None)
    module = None
    for name, (load, summary) in commands.items():
        p = sub.add_parser(name, help=summary, description=summary, allow_abbrev=False)
        if name == chosen:
            module = load()
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
        failure_code: int | None = getattr(module, "FAILURE_EXIT_CODE", None)  # diff: kubectl diff's 2
        return exc.exit_code if failure_code is None else failure_code
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
        print(
            f"error: internal error {type(exc).__name__}{where}; run with SECRETSYNC_DEBUG=1 for the "
            f"traceback and report it",
            file=sys.stderr,
        )
        return exit_codes.ERROR
