"""``secretsync diff SOURCE``: what ``apply`` would change, as unified diffs with Secret values masked.

Exit codes as ``kubectl diff``: 0 no change, 1 changes, 2 error (a render failure included).
With ``--prune``, objects ``apply --prune`` would delete are listed too (guards not evaluated).
"""

from __future__ import annotations

import argparse
import sys

from secretsync.cli import exit_codes, options

__all__ = ["add_arguments", "run", "FAILURE_EXIT_CODE"]

# kubectl diff's codes: 0 no change, 1 changes, 2 error (cli/main.py gives every SecretsyncError this code).
FAILURE_EXIT_CODE = exit_codes.DIFF_ERROR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_source_arguments(parser)
    options.add_cluster_arguments(parser)
    parser.add_argument("--prune", action="store_true", help="also show objects that apply --prune would delete")


def run(args: argparse.Namespace) -> int:
    from secretsync.kube.apply import ApplyOptions
    from secretsync.kube.client import KubeClient
    from secretsync.kube.diff import diff_all
    from secretsync.kube.hooks import split_hooks
    from secretsync.kube.inventory import ApplySet, Inventory
    from secretsync.kube.plan import LiveIndex, owner_selector
    from secretsync.reconcile import ApplySetStore
    from secretsync.render.request import render_request

    ignore = options.ignore_rules(args)
    kind, name = options.applyset_parent(args)
    request = options.render_request(args)
    client = KubeClient.from_env(args.kubeconfig, args.context)
    store = ApplySetStore(ApplySet(client, name, args.applyset_namespace, kind))
    rendered = render_request(request, read_object=lambda s: client.get_or_none("v1", s.kind, s.name, s.namespace))
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
    return exit_codes.DIFF_CHANGES if changed else exit_codes.DIFF_NO_CHANGES
