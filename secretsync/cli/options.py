"""Options defined once, shared by the commands (as pip's ``cmdoptions``), and their parsing.

Go's pflag (kubeseal) and urfave/cli (sops) accept things argparse does not by
default: ``--raw=false``, comma-separated repeatable lists, values from environment
variables; the helpers here add exactly that. ``add_source_arguments`` (render, diff,
apply) and ``add_cluster_arguments`` (diff, apply) define the shared flags once;
``render_request``, ``applyset_parent``, ``ignore_rules`` and ``duration_seconds`` turn
them into library values, raising ``UsageError`` (exit 2) for a malformed one.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from secretsync.errors import UsageError
from secretsync.gocompat import gostrconv

if TYPE_CHECKING:
    from secretsync.kube.plan import IgnoreRule
    from secretsync.render.request import RenderRequest
    from secretsync.render.substitute import VariableSource

__all__ = [
    "CommaListAction",
    "BoolFlagAction",
    "parse_go_bool",
    "env_default",
    "add_kubeconfig",
    "split_args",
    "add_source_arguments",
    "add_cluster_arguments",
    "substitute_variables",
    "variable_sources",
    "render_request",
    "applyset_parent",
    "ignore_rules",
    "duration_seconds",
]


def parse_go_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool``: 1 t T TRUE true True / 0 f F FALSE false False."""
    try:
        return gostrconv.parse_bool(text)
    except ValueError:
        raise ValueError(f"invalid boolean {text!r} (use true or false)") from None


class CommaListAction(argparse.Action):
    """Repeatable option whose values may also be comma-separated: ``-k a,b -k c`` → [a, b, c]."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        items = list(getattr(namespace, self.dest, None) or [])
        items.extend(v for v in str(values).split(",") if v)
        setattr(namespace, self.dest, items)


class BoolFlagAction(argparse.Action):
    """A boolean flag as pflag has them: ``--raw`` is true, ``--raw=false`` is false."""

    def __init__(
        self,
        option_strings: Sequence[str],
        dest: str,
        default: bool = False,
        required: bool = False,
        help: str | None = None,  # noqa: A002 - argparse's own keyword
    ) -> None:
        super().__init__(
            option_strings, dest, nargs="?", const="true", default=default, required=required, help=help, metavar="BOOL"
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        try:
            setattr(namespace, self.dest, parse_go_bool(str(values) if values is not None else "true"))
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


# ---------------------------------------------------------------------------------------------- render, diff, apply


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


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by ``apply`` and ``diff``: cluster access, inventory, ignore rules, cluster variables."""
    add_kubeconfig(parser)
    parser.add_argument(
        "--applyset",
        default=None,
        metavar="[secret/|configmap/]NAME",
        help="the ApplySet parent that records what this source owns (kubectl's --applyset; "
        "default: secretsync-<hash of SOURCE and --path>)",
    )
    parser.add_argument(
        "--applyset-namespace", default="default", help="namespace of the ApplySet parent (default: default)"
    )
    parser.add_argument(
        "--ignore-differences",
        action="append",
        default=[],
        metavar="KIND[.GROUP][/NS/NAME]=PTR",
        help="JSON pointers neither diffed nor applied on live objects, e.g. "
        "'Deployment.apps/demo/web=/spec/replicas' (repeatable)",
    )
    parser.add_argument(
        "--substitute-from",
        action="append",
        default=[],
        metavar="configmap/NS/NAME|secret/NS/NAME",
        help="postBuild variables from a ConfigMap's or Secret's data, read from the cluster "
        "(repeatable; later ones win, --substitute wins over all)",
    )
    parser.add_argument("--field-manager", default="secretsync", help=argparse.SUPPRESS)


def substitute_variables(items: list[str] | None) -> dict[str, str] | None:
    """``--substitute NAME=VALUE`` items as a map; None when the flag was not given (no substitution)."""
    if items is None:
        return None
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--substitute {name or item!r}: expected NAME=VALUE")
        out[name] = value
    return out


def variable_sources(refs: Sequence[str]) -> tuple[VariableSource, ...]:
    """``--substitute-from configmap/NS/NAME|secret/NS/NAME`` items."""
    from secretsync.render.substitute import VariableSource

    sources = []
    for ref in refs:
        kind, _, rest = ref.partition("/")
        namespace, _, name = rest.partition("/")
        kind = {"configmap": "ConfigMap", "secret": "Secret"}.get(kind.lower(), "")
        if not kind or not namespace or not name or "/" in name:
            raise UsageError(f"--substitute-from {ref!r}: expected configmap/NAMESPACE/NAME or secret/NAMESPACE/NAME")
        sources.append(VariableSource(kind, namespace, name))
    return tuple(sources)


def render_request(args: argparse.Namespace) -> RenderRequest:
    """The render named by the flags of ``add_source_arguments`` (and ``--substitute-from`` when defined)."""
    from secretsync.render.request import RenderRequest

    return RenderRequest(
        source=args.source,
        path=args.path,
        ref=args.ref,
        age_key_file=args.age_key_file,
        key_dir=args.key_dir,
        variables=substitute_variables(args.substitute),
        variable_sources=variable_sources(getattr(args, "substitute_from", None) or []),
        target_namespace=args.target_namespace,
        keep_sealed_secrets=args.keep_sealed_secrets,
        ssh_key_file=args.ssh_key_file,
        known_hosts_file=args.known_hosts_file,
    )


def applyset_parent(args: argparse.Namespace) -> tuple[str, str]:
    """``--applyset [secret/|configmap/]NAME`` as (kind, name); default a Secret named after SOURCE and --path."""
    if args.applyset:
        kind, sep, name = args.applyset.rpartition("/")
        kinds = {
            "": "Secret",
            "secret": "Secret",
            "secrets": "Secret",
            "configmap": "ConfigMap",
            "configmaps": "ConfigMap",
        }
        if kind.lower() not in kinds or not name:
            raise UsageError(f"--applyset {args.applyset!r}: expected [secret/|configmap/]NAME")
        return kinds[kind.lower()], name
    from secretsync.kube.inventory import local_applyset_name

    return "Secret", local_applyset_name(args.source, args.path)


def ignore_rules(args: argparse.Namespace) -> list[IgnoreRule]:
    """``--ignore-differences`` items."""
    from secretsync.kube.plan import IgnoreRule

    try:
        return [IgnoreRule.parse(text) for text in args.ignore_differences]
    except ValueError as exc:
        raise UsageError(f"--ignore-differences: {exc}") from None


def duration_seconds(text: str, flag: str) -> float:
    """A Go duration flag (``5m``, ``1h30m``) in seconds."""
    from secretsync.gocompat import goduration

    try:
        return goduration.seconds(goduration.parse_duration(text))
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None
