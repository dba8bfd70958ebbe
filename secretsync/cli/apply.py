"""``secretsync apply SOURCE``: one reconcile from the command line (render, apply, prune, wait).

Parses flags, builds the client, the ApplySet inventory and the render, calls
``secretsync.reconcile``, prints the change set (Flux's ``Kind/ns/name action`` lines) and a
summary. Exit code 0 on success; a failed step gives that error's code (1, or 3 when a value
could not be decrypted); nothing is applied or pruned after a failed render.
"""

from __future__ import annotations

import argparse
import sys

from secretsync.cli import options
from secretsync.errors import UsageError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_source_arguments(parser)
    options.add_cluster_arguments(parser)
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


def run(args: argparse.Namespace) -> int:
    from secretsync.kube.client import KubeClient
    from secretsync.kube.inventory import ApplySet
    from secretsync.kube.prune import MaxPrune
    from secretsync.reconcile import ApplySetStore, ReconcileOptions, reconcile_rendered
    from secretsync.render.request import render_request

    try:
        max_prune = MaxPrune.parse(args.max_prune) if args.max_prune is not None else None
    except ValueError as exc:
        raise UsageError(f"--max-prune: {exc}") from None
    opts = ReconcileOptions(
        prune=args.prune,
        wait=args.wait,
        timeout=options.duration_seconds(args.timeout, "--timeout"),
        dry_run=args.dry_run,
        allow_empty=args.allow_empty,
        max_prune=max_prune,
        force_recreate=args.force,
        field_manager=args.field_manager,
    )
    opts.ignore = options.ignore_rules(args)
    kind, name = options.applyset_parent(args)
    request = options.render_request(args)
    client = KubeClient.from_env(args.kubeconfig, args.context)
    store = ApplySetStore(ApplySet(client, name, args.applyset_namespace, kind))
    rendered = render_request(request, read_object=lambda s: client.get_or_none("v1", s.kind, s.name, s.namespace))
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
