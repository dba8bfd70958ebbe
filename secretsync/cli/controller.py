"""``secretsync controller``: the in-cluster SealedSecret controller, with upstream's flags.

Every flag of the Bitnami controller keeps its name and default (``--key-renew-period 720h``,
``--listen-addr :8080``, ...), takes Go's duration and boolean syntax (``--update-status=false``)
and can come from ``SEALED_SECRETS_<FLAG>`` (the command line wins), so a Helm values file
maps one to one. Additions: ``--kubeconfig``/``--context`` (outside a pod), ``--workers``, and
HA leader election (``--leader-elect`` and its timings). ``--kubeclient-qps``/``-burst`` are
accepted for compatibility; client-side throttling is not applied. SIGTERM stops (releasing
the Lease); SIGUSR1 generates a new sealing key at once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from secretsync.cli.options import BoolFlagAction, parse_go_bool
from secretsync.errors import UsageError
from secretsync.gocompat import goduration

if TYPE_CHECKING:
    from secretsync.sealedcontroller.runtime import RuntimeConfig

__all__ = ["add_arguments", "run", "parse_go_duration"]

log = logging.getLogger(__name__)


def parse_go_duration(text: str) -> dt.timedelta:
    """Go's ``time.ParseDuration``: ``720h``, ``1h30m``, ``-1.5s``, ``0``."""
    return goduration.timedelta(goduration.parse_duration(text))


def _duration(text: str) -> dt.timedelta:
    try:
        return parse_go_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _default_workers() -> int:
    """Four reconcile threads per core this process may run on, within 4..16: each spends about as long
    waiting for its three API round trips as decrypting, so two per core leave cores idle (measured by
    bench/controller.py: 2 workers on 2 cores reached ~0.36 of the raw RSA rate, 8 about twice that)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return min(16, max(4, 4 * cores))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    p = parser.add_argument
    # keys
    p("--key-prefix", default="sealed-secrets-key", help="Prefix used to name keys.")
    p("--key-size", type=int, default=4096, help="Size of encryption key.")
    p("--key-ttl", type=_duration, default=dt.timedelta(hours=87600), help="Duration that certificate is valid for.")
    p("--my-cn", default="", help="Common name to be used as issuer/subject DN in generated certificate.")
    p(
        "--key-renew-period",
        "--rotate-period",
        dest="key_renew_period",
        type=_duration,
        default=dt.timedelta(hours=720),
        help="New key generation period (automatic rotation deactivated if 0).",
    )
    p(
        "--key-order-priority",
        default="CertNotBefore",
        help="Ordering of keys based on NotBefore certificate attribute or secret creation timestamp.",
    )
    p(
        "--key-cutoff-time",
        default="",
        help="Create a new key if latest one is older than this cutoff time. RFC1123 format with numeric timezone.",
    )
    p("--privatekey-annotations", default="", help="Comma-separated annotations put on renewed sealing keys.")
    p("--privatekey-labels", default="", help="Comma-separated labels put on renewed sealing keys.")
    p("--accept-deprecated-v1-data", action=BoolFlagAction, default=True, help="Accept deprecated V1 data field.")
    p(
        "--watch-for-secrets",
        action=BoolFlagAction,
        default=False,
        help="Accepted for compatibility: key Secrets are always watched.",
    )
    # scope of the watch
    p(
        "--all-namespaces",
        action=BoolFlagAction,
        default=True,
        help="Scan all namespaces or only the current namespace (default=true).",
    )
    p("--additional-namespaces", default="", help="Comma-separated list of additional namespaces to be scanned.")
    p("--label-selector", default="", help="Label selector which can be used to filter sealed secrets.")
    p(
        "--skip-recreate",
        action=BoolFlagAction,
        default=False,
        help="Do not watch Secrets to recreate deleted managed ones.",
    )
    p("--update-status", action=BoolFlagAction, default=True, help="Update the status sub-resource.")
    p(
        "--old-gc-behavior",
        action=BoolFlagAction,
        default=False,
        help="Delete Secrets explicitly instead of relying on ownerReferences.",
    )
    p("--max-unseal-retries", type=int, default=5, help="Max unseal retries.")
    p(
        "--metrics-omit-secret-labels",
        action=BoolFlagAction,
        default=False,
        help="Do not export condition_info (which names SealedSecrets).",
    )
    # HTTP
    p("--listen-addr", default=":8080", help="HTTP serving address.")
    p("--listen-metrics-addr", default=":8081", help="HTTP metrics serving address.")
    p("--read-timeout", type=_duration, default=dt.timedelta(minutes=2), help="HTTP request timeout.")
    p("--write-timeout", type=_duration, default=dt.timedelta(minutes=2), help="HTTP response timeout.")
    p("--rate-limit", type=int, default=2, help="Sustained requests per second for the verify endpoint.")
    p("--rate-limit-burst", type=int, default=2, help="Requests allowed to exceed the rate limit.")
    # client and logging
    p("--kubeclient-qps", type=float, default=5.0, help="Accepted for compatibility (no client-side throttling).")
    p("--kubeclient-burst", type=int, default=10, help="Accepted for compatibility.")
    p("--log-level", dest="controller_log_level", default="INFO", help="Log level (DEBUG|INFO|WARN|ERROR).")
    p("--log-format", dest="controller_log_format", default="text", help="Log format (text|json).")
    p(
        "--log-info-stdout",
        action=BoolFlagAction,
        default=True,
        help="Log info to stdout and warnings/errors to stderr.",
    )
    p(
        "--version",
        dest="controller_version",
        action=BoolFlagAction,
        default=False,
        help="Print version information and exit.",
    )
    # secretsync additions
    p("--kubeconfig", default="", help="kubeconfig file (default: in-cluster, then $KUBECONFIG)")
    p("--context", default="", help="kubeconfig context")
    p(
        "--workers",
        type=int,
        default=_default_workers(),
        help="Reconcile worker threads (default: 4 per usable core, 4 to 16). RSA decryption releases the GIL, "
        "so while some workers wait on the API server others keep every core unsealing.",
    )
    p(
        "--leader-elect",
        action=BoolFlagAction,
        default=False,
        help="Run several replicas; one leads (coordination.k8s.io/v1 Lease) and writes.",
    )
    p("--leader-elect-lease-name", default="sealed-secrets-controller", help="Name of the Lease.")
    p("--leader-elect-lease-duration", type=_duration, default=dt.timedelta(seconds=15), help="Lease duration.")
    p("--leader-elect-renew-deadline", type=_duration, default=dt.timedelta(seconds=10), help="Renew deadline.")
    p("--leader-elect-retry-period", type=_duration, default=dt.timedelta(seconds=2), help="Retry period.")
    _env_defaults(parser)


def _env_defaults(parser: argparse.ArgumentParser) -> None:
    """Every long flag falls back to ``SEALED_SECRETS_<FLAG>`` (the controller's pflagenv); the CLI wins."""
    for action in parser._actions:  # noqa: SLF001 - argparse offers no public iteration
        for option in action.option_strings:
            if not option.startswith("--") or option == "--help":
                continue
            value = os.environ.get("SEALED_SECRETS_" + option[2:].upper().replace("-", "_"))
            if value in (None, ""):
                continue
            if isinstance(action, BoolFlagAction):
                try:
                    action.default = parse_go_bool(value)
                except ValueError as exc:
                    parser.error(f"SEALED_SECRETS_{option[2:].upper().replace('-', '_')}: {exc}")
            else:
                action.default = value  # argparse converts string defaults with the flag's type
            break


def _configure_logging(level: str, fmt: str, info_stdout: bool) -> None:
    from secretsync.logs import JSONFormatter

    numeric = {
        "DEBUG": logging.DEBUG,
        "INFO": logging.INFO,
        "WARN": logging.WARNING,
        "WARNING": logging.WARNING,
        "ERROR": logging.ERROR,
    }.get(level.upper(), logging.INFO)
    formatter = (
        JSONFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    err = logging.StreamHandler(sys.stderr)
    err.setFormatter(formatter)
    handlers: list[logging.Handler] = [err]
    if info_stdout:
        err.addFilter(lambda record: record.levelno >= logging.WARNING)
        out = logging.StreamHandler(sys.stdout)
        out.setFormatter(formatter)
        out.addFilter(lambda record: record.levelno < logging.WARNING)
        handlers.append(out)
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(numeric)


def build_config(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> RuntimeConfig:
    """The runtime configuration from parsed flags (``UsageError`` for bad values)."""
    from secretsync import __version__
    from secretsync.runtime.httpserver import parse_listen_addr
    from secretsync.sealedcontroller.keymanager import (
        ORDER_PRIORITIES,
        controller_namespace,
        parse_cutoff_time,
        parse_key_values,
    )
    from secretsync.sealedcontroller.reconciler import ControllerOptions
    from secretsync.sealedcontroller.runtime import RuntimeConfig

    try:
        namespace = controller_namespace(env)
        namespaces = None
        additional = [n for n in dict.fromkeys(args.additional_namespaces.split(",")) if n]
        if not args.all_namespaces or additional:
            namespaces = [namespace] + [n for n in additional if n != namespace]
        if args.key_order_priority not in ORDER_PRIORITIES:
            raise ValueError(f"--key-order-priority must be one of {', '.join(ORDER_PRIORITIES)}")
        if args.key_size < 1024:
            raise ValueError("--key-size must be at least 1024")
        if args.max_unseal_retries < 0 or args.workers < 1:
            raise ValueError("--max-unseal-retries must be >= 0 and --workers >= 1")
        options = ControllerOptions(
            namespaces=namespaces,
            label_selector=args.label_selector or None,
            skip_recreate=args.skip_recreate,
            update_status=args.update_status,
            old_gc_behavior=args.old_gc_behavior,
            max_unseal_retries=args.max_unseal_retries,
            accept_deprecated_v1=args.accept_deprecated_v1_data,
            workers=args.workers,
        )
        return RuntimeConfig(
            namespace=namespace,
            key_prefix=args.key_prefix,
            key_size=args.key_size,
            key_ttl=args.key_ttl,
            my_cn=args.my_cn,
            key_renew_period=args.key_renew_period,
            key_cutoff_time=parse_cutoff_time(args.key_cutoff_time),
            key_order_priority=args.key_order_priority,
            privatekey_labels=parse_key_values(args.privatekey_labels, "--privatekey-labels"),
            privatekey_annotations=parse_key_values(args.privatekey_annotations, "--privatekey-annotations"),
            controller=options,
            listen_addr=parse_listen_addr(args.listen_addr),
            listen_metrics_addr=parse_listen_addr(args.listen_metrics_addr) if args.listen_metrics_addr else None,
            rate_limit=args.rate_limit,
            rate_limit_burst=args.rate_limit_burst,
            http_timeout=max(args.read_timeout, args.write_timeout).total_seconds() or 120.0,
            metrics_omit_secret_labels=args.metrics_omit_secret_labels,
            leader_elect=args.leader_elect,
            lease_name=args.leader_elect_lease_name,
            lease_duration=max(1, int(args.leader_elect_lease_duration.total_seconds())),
            renew_deadline=args.leader_elect_renew_deadline.total_seconds(),
            retry_period=args.leader_elect_retry_period.total_seconds(),
            version=__version__,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from secretsync import __version__

    if args.controller_version:
        print(f"controller version: {__version__}")
        return 0
    _configure_logging(args.controller_log_level, args.controller_log_format, args.log_info_stdout)
    config = build_config(args)
    from secretsync.kube.client import KubeClient
    from secretsync.sealedcontroller.runtime import SealedSecretsRuntime

    client = KubeClient.from_env(args.kubeconfig or None, args.context or None)
    runtime = SealedSecretsRuntime(client, config)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, lambda *_: runtime.keys.renew_now())
    log.info("Starting sealed-secrets controller (secretsync %s), keys in namespace %s", __version__, config.namespace)
    runtime.start()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        runtime.stop(release=True)
        client.close()
    return 0
