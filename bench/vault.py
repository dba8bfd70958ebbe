"""Vault placeholders at scale: reads seen by the server, and wall time, against a naive baseline.

Renders 1,000 manifests holding 5,000 inline placeholders over 200 distinct KV v2 paths
against an OpenBao dev server started with ``-config`` holding an ``audit "file"`` block
(OpenBao creates audit devices only from its configuration; dev mode accepts ``-config``
with no extra flag). The server's own audit log counts the reads:

- secretsync: ``resolve(objects, backend)`` with its per-render cache (goal: exactly 200);
- naive baseline: the same substitution code, but one read per placeholder occurrence,
  which is what argocd-vault-plugin does for inline placeholders (5,000 reads).

Both renders must give identical objects. Prints the read counts and the wall-time ratio
measured in the same run. Usage: ``.venv/bin/python bench/vault.py [--manifests N]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from secretsync.vault.client import VaultBackend  # noqa: E402
from secretsync.vault.config import VaultConfig  # noqa: E402
from secretsync.vault.placeholders import resolve  # noqa: E402
from tests.fixtures.openbao import start_openbao  # noqa: E402

MOUNT = "benchkv"


class OneReadPerOccurrence:
    """The baseline: every placeholder occurrence is a fresh GET (no cache)."""

    def __init__(self, backend: VaultBackend) -> None:
        self.backend = backend

    def read(self, path, version=None, kv_version=None):
        return self.backend.read(path, version, kv_version)


def audit_reads(log: Path, offset: int) -> tuple[int, int]:
    """KV reads of the bench mount in the audit log after ``offset``; returns (count, new offset)."""
    with log.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    count = 0
    for line in data.splitlines():
        entry = json.loads(line)
        request = entry.get("request") or {}
        if (
            entry.get("type") == "response"
            and request.get("operation") == "read"
            and str(request.get("path", "")).startswith(f"{MOUNT}/data/")
        ):
            count += 1
    return count, offset + len(data)


def manifests(count: int, per: int, paths: int) -> list[dict]:
    out = []
    for i in range(count):
        data = {}
        for j in range(per):
            n = (i * per + j) % paths
            data[f"k{j}"] = f"<path:{MOUNT}/data/app{n:03d}#key{j % 5}>"
        out.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cm-{i:04d}", "namespace": "bench"},
                "data": data,
            }
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifests", type=int, default=1000)
    parser.add_argument("--per-manifest", type=int, default=5)
    parser.add_argument("--paths", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="secretsync-bench-vault-") as tmp:
        tmp_path = Path(tmp)
        audit_log = tmp_path / "audit.log"
        config = f'audit "file" "bench" {{\n  options {{\n    file_path = "{audit_log}"\n  }}\n}}\n'
        server = start_openbao(tmp_path, config_text=config)
        try:
            client = server.client()
            client.sys.enable_secrets_engine("kv", path=MOUNT, options={"version": "2"})
            for n in range(args.paths):
                client.secrets.kv.v2.create_or_update_secret(
                    path=f"app{n:03d}", mount_point=MOUNT, secret={f"key{k}": f"value-{n}-{k}" for k in range(5)}
                )
            objects = manifests(args.manifests, args.per_manifest, args.paths)
            placeholders = args.manifests * args.per_manifest
            backend = VaultBackend(
                VaultConfig.from_env(
                    {
                        "AVP_TYPE": "vault",
                        "AVP_AUTH_TYPE": "token",
                        "VAULT_ADDR": server.addr,
                        "VAULT_TOKEN": server.token,
                    }
                )
            )
            backend.login()
            _, offset = audit_reads(audit_log, 0)

            started = time.perf_counter()
            ours = resolve(objects, backend)
            ours_time = time.perf_counter() - started
            ours_reads, offset = audit_reads(audit_log, offset)

            started = time.perf_counter()
            naive = resolve(objects, OneReadPerOccurrence(backend))
            naive_time = time.perf_counter() - started
            naive_reads, offset = audit_reads(audit_log, offset)
        finally:
            server.stop()

    if ours != naive:
        print("ERROR: the two renders differ", file=sys.stderr)
        return 1
    print(f"manifests: {args.manifests}, placeholders: {placeholders}, distinct paths: {args.paths}")
    print(
        f"reads seen by the server (audit log): secretsync {ours_reads} (goal {args.paths}), "
        f"naive one-read-per-occurrence {naive_reads}"
    )
    print(
        f"wall time: secretsync {ours_time:.3f} s, naive {naive_time:.3f} s, "
        f"ratio naive/secretsync {naive_time / ours_time:.1f}x"
    )
    print(f"reads ratio naive/secretsync {naive_reads / max(ours_reads, 1):.1f}x")
    return 0 if ours_reads == args.paths else 1


if __name__ == "__main__":
    sys.exit(main())
