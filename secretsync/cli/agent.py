"""``secretsync agent``: the long-running GitOps agent (cluster mode) or one implicit Sync (local mode).

Cluster mode reconciles every ``Sync`` it owns (``--namespace`` to watch one namespace,
``--shard-index/--shard-count`` to split Syncs by a stable hash, ``--leader-elect`` for HA with a
Lease). Local mode, ``secretsync agent --source DIR --kubeconfig F``, runs one implicit Sync made
from the flags, kept in memory, and watches DIR with watchdog so a saved file is applied at once.
Flags only parse and wire: the work is in ``secretsync.agent.runtime``. SIGTERM/SIGINT stop
(releasing the Lease).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from secretsync.cli.options import add_kubeconfig
from secretsync.errors import UsageError

if TYPE_CHECKING:
    from secretsync.agent.runtime import AgentConfig
    from secretsync.sealing.keyring import Keyring
    from secretsync.vault.client import VaultBackend

__all__ = ["add_arguments", "run", "build_local_sync", "build_config"]

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_kubeconfig(parser)
    p = parser.add_argument
    p("--namespace", default=None, help="watch Syncs in this namespace only (default: all namespaces)")
    p("--concurrent", type=int, default=4, help="how many Syncs are reconciled at the same time (default 4)")
    p(
        "--metrics-addr",
        default=":8080",
        help="listen address of /metrics, /healthz, /readyz and /hook/<id> (default :8080; empty to disable)",
    )
    p("--shard-index", type=int, default=0, help="this replica's shard (0-based)")
    p("--shard-count", type=int, default=1, help="number of shards; Syncs are split by a stable hash")
    p("--leader-elect", action="store_true", help="run only while holding the Lease (HA with several replicas)")
    p(
        "--leader-election-namespace",
        default=os.environ.get("POD_NAMESPACE", "secretsync-system"),
        help="namespace of the Lease (default $POD_NAMESPACE, else secretsync-system)",
    )
    p(
        "--log-format",
        dest="agent_log_format",
        choices=["text", "json"],
        default=None,
        help="log line format (text or json)",
    )
    p(
        "--log-level",
        dest="agent_log_level",
        choices=["debug", "info", "warning", "error"],
        default=None,
        help="log verbosity (default info: one line per reconcile that changed something, each failure)",
    )
    p(
        "--sealing-keys-namespace",
        default="kube-system",
        help="namespace of the SealedSecret controller's key Secrets (default kube-system)",
    )
    p("--source-poll", default="1m", help="how often Git sources are checked for a new commit (default 1m)")
    p("--git-cache-dir", default=None, help="where fetched commits are kept (default: a temporary directory)")
    p("--no-drift", action="store_true", help="do not watch managed objects for drift")
    local = parser.add_argument_group("local mode (one implicit Sync from flags)")
    local.add_argument("--source", default=None, help="a folder to apply and watch (local mode)")
    local.add_argument("--path", default=".", help="folder inside the source to render")
    local.add_argument("--interval", default="10m", help="re-apply interval (default 10m)")
    local.add_argument("--prune", action="store_true", help="delete objects that left the folder")
    local.add_argument("--target-namespace", default=None, help="namespace for namespaced objects without one")
    local.add_argument("--age-key-file", default=None, help="age identities for sops files (else SOPS_AGE_KEY_FILE)")
    local.add_argument("--key-dir", default=None, help="sealing keys for SealedSecrets (secretsync keys generate)")
    local.add_argument(
        "--substitute", action="append", default=[], metavar="NAME=VALUE", help="postBuild variable (repeatable)"
    )
    local.add_argument("--name", default="local", help="name of the implicit Sync (default local)")
    local.add_argument("--sync-namespace", default="default", help="namespace of the implicit Sync")


def _addr(text: str) -> tuple[str, int] | None:
    if not text:
        return None
    from secretsync.runtime.httpserver import parse_listen_addr

    try:
        return parse_listen_addr(text)
    except ValueError as exc:
        raise UsageError(f"--metrics-addr: {exc}") from None


def _seconds(text: str, flag: str) -> float:
    from secretsync.api.syncspec import InvalidSyncSpec, parse_duration

    try:
        return parse_duration(text, flag)
    except InvalidSyncSpec as exc:
        raise UsageError(exc.message) from None


def build_local_sync(args: argparse.Namespace) -> dict[str, Any]:
    """The implicit Sync of local mode, as an object (validated like any Sync)."""
    from secretsync.api.syncspec import API_VERSION, KIND, InvalidSyncSpec, SyncSpec

    spec: dict[str, Any] = {
        "source": {"path": str(Path(args.source).resolve())},
        "path": args.path,
        "interval": args.interval,
        "prune": bool(args.prune),
    }
    if args.target_namespace:
        spec["targetNamespace"] = args.target_namespace
    if args.substitute:
        pairs = {}
        for item in args.substitute:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise UsageError(f"--substitute {item!r}: expected NAME=VALUE")
            pairs[name] = value
        spec["postBuild"] = {"substitute": pairs}
    obj = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": args.name, "namespace": args.sync_namespace, "generation": 1},
        "spec": spec,
    }
    try:
        SyncSpec.parse(obj)
    except InvalidSyncSpec as exc:
        raise UsageError(exc.message) from None
    return obj


def build_config(args: argparse.Namespace) -> AgentConfig:
    from secretsync.agent.reconciler import ReconcilerOptions
    from secretsync.agent.runtime import AgentConfig

    if args.concurrent < 1:
        raise UsageError("--concurrent must be at least 1")
    if args.shard_count < 1 or not 0 <= args.shard_index < args.shard_count:
        raise UsageError("--shard-index must be between 0 and --shard-count - 1")
    options = ReconcilerOptions(
        sealing_keys_namespace=args.sealing_keys_namespace,
        git_cache_dir=Path(args.git_cache_dir) if args.git_cache_dir else None,
    )
    config = AgentConfig(
        namespace=args.namespace,
        concurrent=args.concurrent,
        shard_index=args.shard_index,
        shard_count=args.shard_count,
        leader_elect=args.leader_elect,
        lease_namespace=args.leader_election_namespace,
        source_poll=_seconds(args.source_poll, "--source-poll"),
        drift=not args.no_drift,
        http_addr=_addr(args.metrics_addr),
        reconciler=options,
    )
    if args.source:
        if not Path(args.source).is_dir():
            raise UsageError(f"--source {args.source}: not a folder")
        if args.leader_elect or args.shard_count > 1:
            raise UsageError("local mode (--source) runs one Sync: --leader-elect and sharding do not apply")
        config.local_sync = build_local_sync(args)
        options.allow_local_sources = True
        options.sops_keys = _local_sops_keys(args)
        options.keyring = _local_keyring(args)
        options.vault = _local_vault()
    return config


def _local_sops_keys(args: argparse.Namespace) -> Any:
    from secretsync.render.pipeline import factory

    def load() -> Any:
        from secretsync.sops.identities import load_keys

        return load_keys(args.age_key_file, os.environ)

    return factory(load)


def _local_keyring(args: argparse.Namespace) -> Keyring | None:
    if not args.key_dir:
        return None
    from secretsync.sealing.keyring import Keyring

    return Keyring.from_dir(args.key_dir)


def _local_vault() -> VaultBackend | None:
    if not os.environ.get("AVP_TYPE"):
        return None
    from secretsync.vault.client import VaultBackend

    return VaultBackend.from_env(os.environ)


def run(args: argparse.Namespace) -> int:
    from secretsync.logs import configure_logging

    configure_logging(args.agent_log_level or "info", args.agent_log_format or getattr(args, "log_format", "text"))
    config = build_config(args)
    from secretsync.agent.runtime import AgentRuntime
    from secretsync.kube.client import KubeClient
    from secretsync.sources.local import LocalWatcher

    client = KubeClient.from_env(args.kubeconfig, args.context)
    runtime = AgentRuntime(client, config)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    watcher = None
    runtime.start()
    if config.local_sync is not None:
        from secretsync.api.syncspec import sync_key

        key = sync_key(config.local_sync)
        watcher = LocalWatcher(Path(args.source), lambda: runtime.trigger(key)).start()
        print(
            f"secretsync agent: applying {args.source} (Sync {key[0]}/{key[1]}); watching for changes", file=sys.stderr
        )
    if runtime.http_url:
        log.info("agent endpoints on %s", runtime.http_url)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        if watcher is not None:
            watcher.stop()
        runtime.stop(release=True)
        client.close()
    return 0
