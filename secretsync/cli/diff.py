"""``secretsync diff SOURCE``: what ``apply`` would change, as unified diffs with Secret values masked.

Exit codes as ``kubectl diff``: 0 no change, 1 changes, 2 error (a render failure included).
With ``--prune``, objects ``apply --prune`` would delete are listed too (guards not evaluated).
"""

from __future__ import annotations

import argparse
import sys

from secretsync.cli.apply import add_cluster_arguments, cluster_setup, render_for_cluster
from secretsync.cli.render import add_source_arguments
from secretsync.errors import SecretsyncError

__all__ = ["add_arguments", "run"]

NO_CHANGES, CHANGES, ERROR = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser)
    add_cluster_arguments(parser)
    parser.add_argument("--prune", action="store_true", help="also show objects that apply --prune would delete")


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except SecretsyncError as exc:
        print(f"error: {exc.report()}", file=sys.stderr)
        return ERROR


def _run(args: argparse.Namespace) -> int:
    from secretsync.kube.apply import ApplyOptions
    from secretsync.kube.diff import diff_all
    from secretsync.kube.hooks import split_hooks
    from secretsync.kube.inventory import Inventory
    from secretsync.kube.plan import LiveIndex, owner_selector

    client, store, ignore = cluster_setup(args)
    rendered = render_for_cluster(args, client)
    objects, _ = split_hooks(rendered.objects())  # raises RenderFailed: exit 2, nothing compared
    with client:
        index = LiveIndex(client, owner_selector(store.owner_labels))
        new = Inventory.of_objects(objects)
        stale, stale_live = [], {}
        if args.prune:
            previous, live = store.load(index, {(e.id.group, e.id.kind): e.api_version for e in new})
            stale, stale_live = previous.stale(new), live
        opts = ApplyOptions(
            client=client,
            field_manager=args.field_manager,
            owner_labels=dict(store.owner_labels),
            ignore=tuple(ignore),
            dry_run=True,
            index=index,
        )
        diffs = diff_all(objects, opts, stale=stale, stale_live=stale_live)
    changed = [d for d in diffs if d.changed]
    for d in changed:
        detail = f" ({d.detail})" if d.detail else ""
        print(f"# {d.id}: {d.action}{detail}")
        if d.text:
            sys.stdout.write(d.text if d.text.endswith("\n") else d.text + "\n")
    return CHANGES if changed else NO_CHANGES
