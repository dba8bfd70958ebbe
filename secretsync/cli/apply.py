"""``secretsync apply SOURCE``: one reconcile from the command line (render, apply, prune, wait).

Parses flags, builds the client, the ApplySet inventory and the render, calls
``secretsync.reconcile``, prints the change set (Flux's ``Kind/ns/name action`` lines) and a
summary. Exit code 0 on success; a failed step gives that error's code (1, or 3 when a value
could not be decrypted); nothing is applied or pruned after a failed render.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from secretsync.cli.controller import parse_go_duration
from secretsync.cli.options import add_kubeconfig
from secretsync.cli.render import add_source_arguments, open_render
from secretsync.errors import UsageError

__all__ = [
    "add_arguments",
    "run",
    "add_cluster_arguments",
    "cluster_setup",
    "substitution_options",
    "render_for_cluster",
]


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by ``apply`` and ``diff``: cluster access, inventory, ignore rules."""
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser)
    add_cluster_arguments(parser)
    parser.add_argument("--prune", action="store_true", help="delete objects of this ApplySet that left the source")
    parser.add_argument("--wait", action="store_true", help="wait until every applied object is healthy")
    parser.add_argument(
        "--timeout", default="5m", help="how long to wait for waves, hooks and --wait (Go duration, 5m)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would change (server-side dry-run), write nothing"
    )
    parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="allow --prune to delete everything when the source renders no object",
    )
    parser.add_argument(
        "--max-prune",
        default=None,
        metavar="N|P%",
        help="refuse to prune more than N objects (or P%% of those owned) in one run",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="recreate objects whose change touches an immutable field (never Secrets: they need "
        "the secretsync.io/force: enabled annotation)",
    )


def _applyset(args: argparse.Namespace) -> tuple[str, str]:
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


def cluster_setup(args: argparse.Namespace) -> tuple[Any, Any, list]:
    """(client, inventory store, ignore rules) from the shared cluster flags."""
    from secretsync.kube.client import KubeClient
    from secretsync.kube.inventory import ApplySet
    from secretsync.kube.plan import IgnoreRule
    from secretsync.reconcile import ApplySetStore

    try:
        ignore = [IgnoreRule.parse(text) for text in args.ignore_differences]
    except ValueError as exc:
        raise UsageError(f"--ignore-differences: {exc}") from None
    kind, name = _applyset(args)
    client = KubeClient.from_env(args.kubeconfig, args.context)
    store = ApplySetStore(ApplySet(client, name, args.applyset_namespace, kind))
    return client, store, ignore


def substitution_options(args: argparse.Namespace, client: Any, options: Any) -> Any:
    """``options`` with ``--substitute-from`` variables (read now) under the ``--substitute`` ones (Flux's order)."""
    if not args.substitute_from:
        return options
    from secretsync.render.substitute import VariableSource, VariableSourceNotFound, collect_variables

    sources = []
    for ref in args.substitute_from:
        kind, _, rest = ref.partition("/")
        namespace, _, name = rest.partition("/")
        kind = {"configmap": "ConfigMap", "secret": "Secret"}.get(kind.lower(), "")
        if not kind or not namespace or not name or "/" in name:
            raise UsageError(f"--substitute-from {ref!r}: expected configmap/NAMESPACE/NAME or secret/NAMESPACE/NAME")
        sources.append(VariableSource(kind, namespace, name))
    try:
        variables = collect_variables(
            options.variables,
            sources,
            lambda s: client.get_or_none("v1", s.kind, s.name, s.namespace),
            what="--substitute-from",
        )
    except VariableSourceNotFound as exc:
        raise UsageError(exc.message) from None
    return dataclasses.replace(options, variables=variables)


def render_for_cluster(args: argparse.Namespace, client: Any) -> Any:
    """Render the source named by the render flags, with substitutions read from the cluster; the
    source is closed afterwards. Shared by ``apply`` and ``diff``."""
    from secretsync.render import pipeline

    source, deps, options = open_render(args)
    options = substitution_options(args, client, options)
    try:
        return pipeline.render(source, deps, options)
    finally:
        close = getattr(source, "close", None)
        if close:
            close()


def _seconds(text: str) -> float:
    try:
        return parse_go_duration(text).total_seconds()
    except ValueError as exc:
        raise UsageError(f"--timeout: {exc}") from None


def run(args: argparse.Namespace) -> int:
    from secretsync.kube.prune import MaxPrune
    from secretsync.reconcile import ReconcileOptions, reconcile_rendered

    try:
        max_prune = MaxPrune.parse(args.max_prune) if args.max_prune is not None else None
    except ValueError as exc:
        raise UsageError(f"--max-prune: {exc}") from None
    opts = ReconcileOptions(
        prune=args.prune,
        wait=args.wait,
        timeout=_seconds(args.timeout),
        dry_run=args.dry_run,
        allow_empty=args.allow_empty,
        max_prune=max_prune,
        force_recreate=args.force,
        field_manager=args.field_manager,
    )
    client, store, opts.ignore = cluster_setup(args)
    rendered = render_for_cluster(args, client)
    with client:
        result = reconcile_rendered(rendered, client, store, opts)
    suffix = " (dry run)" if args.dry_run else ""
    for line in result.changes.lines():
        print(line + suffix)
    revision = result.revision or args.source
    if result.error is not None:
        print(
            f"reconcile of {revision} failed at {result.stage} ({result.reason}); {result.changes.summary()}{suffix}",
            file=sys.stderr,
        )
        raise result.error
    print(f"applied {revision}: {result.changes.summary()}{suffix}")
    return 0
