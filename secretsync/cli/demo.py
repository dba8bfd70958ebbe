"""``secretsync demo``: the README's first command, on embedded defaults.

Today it shows sealing end to end, offline: a throwaway key directory in a temporary
directory (``keys generate``), an embedded example Secret sealed exactly as
``secretsync seal`` does it, the SealedSecret printed, then unsealed again and the
resulting Secret printed with its values masked. Everything is removed at the end.
Later sessions grow this into the full agent demo.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from secretsync import keyring as keyring_mod
from secretsync import sealedsecret
from secretsync.crypto import sealing

__all__ = ["add_arguments", "run"]

# The demo's example Secret (not a real credential).
_EXAMPLE = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "db-credentials", "namespace": "demo", "labels": {"app": "shop"}},
    "type": "Opaque",
    "stringData": {"username": "shop", "password": "demo-password-not-a-secret"},
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key-size", type=int, default=keyring_mod.DEFAULT_KEY_SIZE,
                        help="RSA key size of the throwaway key (4096, as upstream)")


def _masked(secret: dict) -> dict:
    shown = dict(secret)
    shown["data"] = {k: f"<{len(v)} bytes, masked>" for k, v in secret["data"].items()}
    return shown


def run(args: argparse.Namespace) -> int:
    out = sys.stdout
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="secretsync-demo-") as tmp:
        key_dir = Path(tmp) / "keys"
        out.write(f"1. Generating a throwaway {args.key_size}-bit sealing key in {key_dir} "
                  f"(upstream key Secret format, mode 0600)\n")
        store = keyring_mod.FileKeyStore(key_dir)
        key = keyring_mod.rotate(store, bits=args.key_size)
        out.write(f"   {key.name}  {key.fingerprint}\n\n")

        ring = keyring_mod.Keyring.from_dir(key_dir)
        cert = keyring_mod.load_certificate(ring.certificate_pem(), "demo certificate")
        out.write("2. Sealing the example Secret demo/db-credentials (what `secretsync seal --cert` does):\n\n")
        sealed = sealedsecret.seal_secret(_EXAMPLE, cert, sealing.Scope.STRICT)
        out.write(sealedsecret.dump([sealed], "yaml"))
        out.write("\n   Each value is RSA-OAEP + AES-GCM, bound to demo/db-credentials (strict scope):\n"
                  "   kubeseal and the upstream controller read this file as they read their own.\n\n")

        out.write("3. Unsealing it with the key directory (what the controller does; values masked):\n\n")
        secret = sealedsecret.unseal_sealed_secret(sealed, ring)
        out.write(sealedsecret.dump([_masked(secret)], "yaml"))
        expected = {k: v.encode() for k, v in _EXAMPLE["stringData"].items()}
        ok = {k: v.reveal() for k, v in secret["data"].items()} == expected
        out.write(f"\n   round trip {'OK' if ok else 'FAILED'}: {len(secret['data'])} values restored\n\n")

        moved = dict(sealed, metadata=dict(sealed["metadata"], namespace="other"))
        try:
            sealedsecret.unseal_sealed_secret(moved, ring)
            out.write("4. Moving it to namespace other: unexpectedly readable\n")
            ok = False
        except sealedsecret.UnsealError as exc:
            out.write(f"4. The same SealedSecret moved to namespace 'other' is refused:\n   {exc.kubeseal_text}\n")
    out.write(f"\nDone in {time.monotonic() - started:.1f} s; the temporary key directory was removed.\n")
    return 0 if ok else 1
