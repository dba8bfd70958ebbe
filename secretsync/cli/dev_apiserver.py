"""``secretsync dev-apiserver``: run the Kubernetes API emulator in the foreground.

Writes a kubeconfig pointing at it (admin token) and serves until interrupted.
For tests and the demo only: plain HTTP on a loopback address, state in memory
unless ``--state FILE`` (SQLite) keeps it across restarts.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from secretsync.errors import SecretsyncError, UsageError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=0, help="TCP port on the listen address (default: a free one)")
    parser.add_argument(
        "--address",
        default="127.0.0.1",
        help="listen address (default 127.0.0.1; the emulator has no TLS, keep it on loopback)",
    )
    parser.add_argument(
        "--kubeconfig-out", metavar="FILE", default=None, help="write a kubeconfig for the admin user to FILE"
    )
    parser.add_argument(
        "--rbac", action="store_true", help="authorize every request with the stored Role/ClusterRole bindings"
    )
    parser.add_argument(
        "--state",
        metavar="FILE",
        default=None,
        help="keep objects in this SQLite file across restarts (default: in memory)",
    )
    parser.add_argument("--admin-token", default=None, help="the admin bearer token (default: random)")


EMULATOR_MISSING_HINT = (
    "install the emulator distribution beside secretsync: `pip install -e ./emulator` in a "
    "secretsync checkout (it is not part of the runtime package or the image)"
)


def run(args: argparse.Namespace) -> int:
    try:
        from secretsync_emulator import APIServer
        from secretsync_emulator.persistence import StateError
    except ModuleNotFoundError as exc:
        if exc.name != "secretsync_emulator":
            raise
        raise UsageError(
            "secretsync dev-apiserver needs the Kubernetes API emulator (secretsync-emulator), which is not installed",
            hint=EMULATOR_MISSING_HINT,
        ) from None
    try:
        server = APIServer(
            host=args.address, port=args.port, rbac=args.rbac, state_file=args.state, admin_token=args.admin_token
        ).bind()
    except StateError as exc:
        raise SecretsyncError(
            str(exc), hint="start with the key the state was written with, or a new --state file"
        ) from None
    except OSError as exc:
        raise SecretsyncError(
            f"cannot listen on {args.address}:{args.port}: {exc.strerror}",
            hint="pick another --port or stop what is using it",
        ) from None
    if args.kubeconfig_out:
        server.write_kubeconfig(args.kubeconfig_out)
    print(f"Kubernetes API emulator serving on {server.url}", file=sys.stderr)
    if args.kubeconfig_out:
        print(f"kubeconfig written to {args.kubeconfig_out}", file=sys.stderr)
    sys.stderr.flush()
    stop = threading.Event()

    def _terminate(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _terminate)
    server.start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
