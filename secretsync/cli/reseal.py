"""``secretsync reseal --key-dir DIR PATH...``: offline re-encryption to the newest key.

Every SealedSecret found in the YAML/JSON files under PATH is decrypted with any key
of the key dir and its items re-sealed with the newest key, keeping scope, namespace
and name (same OAEP label). The file is rewritten in place, changing only the text
of the ``encryptedData`` values that changed: comments, key order, quoting, template
labels/annotations and every other byte stay as they were (upstream's re-encrypt
since v0.36 drops template-only metadata; this keeps it). Items already sealed with
the newest key are left alone, so re-running is a no-op.

A file is rewritten all-or-nothing: if any SealedSecret in it cannot be decrypted it
is left untouched and counted as a failure (exit code 3). Files are processed in
parallel on all cores; ``--dry-run`` reports without writing. Plaintext stays in the
worker processes' memory. The rewrite itself is ``secretsync.sealing.reseal``; this command
runs it over a process pool and prints the summary.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from concurrent.futures import ProcessPoolExecutor

from tqdm import tqdm

from secretsync.cli import exit_codes
from secretsync.cli.options import env_default
from secretsync.errors import SecretsyncError, UsageError
from secretsync.sealing.keyring import Keyring
from secretsync.sealing.reseal import FileResult, manifest_files, reseal_file

__all__ = ["add_arguments", "run"]

log = logging.getLogger(__name__)
_KEYRING: Keyring | None = None  # per worker process


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories to scan (recursively)")
    parser.add_argument(
        "--key-dir",
        default=env_default("SECRETSYNC_KEY_DIR"),
        help="key directory: every key decrypts, the newest seals (default $SECRETSYNC_KEY_DIR)",
    )
    parser.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")
    parser.add_argument(
        "-j", "--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)"
    )


def _init_worker(key_dir: str) -> None:
    global _KEYRING
    logging.getLogger("secretsync.sealing.keyring").setLevel(logging.ERROR)  # the parent already warned
    _KEYRING = Keyring.from_dir(key_dir)


def _process(path: str, dry_run: bool) -> FileResult:
    assert _KEYRING is not None  # set by run() or _init_worker
    return reseal_file(path, _KEYRING, dry_run)


def run(args: argparse.Namespace) -> int:
    global _KEYRING
    if not args.key_dir:
        raise UsageError("pass --key-dir DIR (or set SECRETSYNC_KEY_DIR)")
    _KEYRING = Keyring.from_dir(args.key_dir)  # fail early, warn once about skipped key files
    files = manifest_files(args.paths)
    jobs = max(1, min(args.jobs, len(files)))
    results: list[FileResult] = []
    with tqdm(total=len(files), unit="file", file=sys.stderr, disable=None, desc="reseal") as bar:
        if jobs == 1:
            for path in files:
                results.append(_process(path, args.dry_run))
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=(args.key_dir,)) as pool:
                for result in pool.map(_process, files, [args.dry_run] * len(files), chunksize=1):
                    results.append(result)
                    bar.update()
    failures = [f for r in results for f in r.failures]
    for skipped in (r for r in results if r.unreadable):
        log.warning("skipped %s: %s", skipped.path, skipped.unreadable)
    verb = "would reseal" if args.dry_run else "resealed"
    print(
        f"{verb} {sum(r.items for r in results)} items in {sum(r.resealed_secrets for r in results)} "
        f"SealedSecrets, {sum(r.changed for r in results)} files changed; scanned {len(files)} files, "
        f"{sum(r.secrets for r in results)} SealedSecrets; skipped {sum(r.current for r in results)} items "
        f"already on the newest key and {sum(bool(r.unreadable) for r in results)} unreadable files; "
        f"failures: {len(failures)}",
        file=sys.stderr,
    )
    if failures:
        raise SecretsyncError(
            "\n".join(failures),
            reference="reseal-failed",
            exit_code=exit_codes.DECRYPT_FAILED,
            hint="files with failures were left unchanged; add the missing keys to --key-dir",
        )
    return 0
