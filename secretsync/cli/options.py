"""argparse helpers shared by the commands that copy another tool's flags.

Go's pflag (kubeseal) and urfave/cli (sops) accept things argparse does not by
default: ``--raw=false``, comma-separated repeatable lists, values from environment
variables. These helpers add exactly that, nothing more.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any

__all__ = ["CommaListAction", "BoolFlagAction", "parse_go_bool", "env_default", "add_kubeconfig"]

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def parse_go_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool``: 1 t T TRUE true True / 0 f F FALSE false False."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"invalid boolean {text!r} (use true or false)")


class CommaListAction(argparse.Action):
    """Repeatable option whose values may also be comma-separated: ``-k a,b -k c`` → [a, b, c]."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, self.dest, None) or [])
        items.extend(v for v in str(values).split(",") if v)
        setattr(namespace, self.dest, items)


class BoolFlagAction(argparse.Action):
    """A boolean flag as pflag has them: ``--raw`` is true, ``--raw=false`` is false."""

    def __init__(self, option_strings, dest, default=False, required=False, help=None):
        super().__init__(
            option_strings, dest, nargs="?", const="true", default=default, required=required, help=help, metavar="BOOL"
        )

    def __call__(self, parser, namespace, values, option_string=None):
        try:
            setattr(namespace, self.dest, parse_go_bool(values if values is not None else "true"))
        except ValueError as exc:
            parser.error(f"{option_string}: {exc}")


def env_default(name: str, default: Any = None) -> Any:
    """The value of environment variable ``name`` if set and non-empty, else ``default``."""
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def add_kubeconfig(parser: argparse.ArgumentParser) -> None:
    """``--kubeconfig``, ``--context`` as kubectl spells them (``KUBECONFIG`` is the fallback)."""
    parser.add_argument(
        "--kubeconfig",
        default=env_default("KUBECONFIG"),
        help="path to the kubeconfig file (default $KUBECONFIG, then ~/.kube/config)",
    )
    parser.add_argument("--context", default=None, help="kubeconfig context to use")


def split_args(values: Sequence[str] | None) -> list[str]:
    """Flatten a list of possibly comma-separated values."""
    out: list[str] = []
    for v in values or []:
        out.extend(x for x in v.split(",") if x)
    return out
