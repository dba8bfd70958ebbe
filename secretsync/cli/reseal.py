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
worker processes' memory.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from tqdm import tqdm

from secretsync.cli import exit_codes
from secretsync.cli.options import env_default
from secretsync.errors import SecretsyncError, UsageError
from secretsync.manifests.loader import Limits, alias_expanded_size
from secretsync.sealing import objects as sealedsecret
from secretsync.sealing.keyring import Keyring, write_private_file

__all__ = ["add_arguments", "run", "reseal_text", "FileResult"]

log = logging.getLogger(__name__)
_SUFFIXES = (".yaml", ".yml", ".json")
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


@dataclass
class FileResult:
    """What happened to one file (no plaintext, no ciphertext)."""

    path: str
    secrets: int = 0  # SealedSecrets found
    resealed_secrets: int = 0
    items: int = 0  # items re-encrypted
    current: int = 0  # items already sealed with the newest key
    changed: bool = False
    unreadable: str = ""  # why the file was skipped
    failures: list[str] = field(default_factory=list)


def _walk(node: yaml.Node, found: list[yaml.MappingNode]) -> None:
    """Mapping nodes that look like SealedSecrets (kind: SealedSecret), at any depth (Lists)."""
    if isinstance(node, yaml.MappingNode):
        keys = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        kind = keys.get("kind")
        if isinstance(kind, yaml.ScalarNode) and kind.value == sealedsecret.KIND:
            found.append(node)
            return
        for _, value in node.value:
            _walk(value, found)
    elif isinstance(node, yaml.SequenceNode):
        for value in node.value:
            _walk(value, found)


def _child(node: yaml.Node | None, name: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == name), None)


def _replacement(text: str, node: yaml.ScalarNode, value: str) -> tuple[int, int, str]:
    start, end = node.start_mark.index, node.end_mark.index
    span = text[start:end]
    if node.style in ("'", '"'):
        return start, end, f"{node.style}{value}{node.style}"
    if node.style in ("|", ">"):
        trailing = len(span) - len(span.rstrip("\n"))
        return start, end, value + "\n" * trailing
    return start, end, value


def _json_objects(value: object, found: list[dict]) -> None:
    if isinstance(value, dict):
        if value.get("kind") == sealedsecret.KIND:
            found.append(value)
            return
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            _json_objects(item, found)


def _reseal_object(obj: object, source: str, keyring: Keyring, result: FileResult) -> dict[str, str]:
    """New values for one candidate object (empty if none or on failure), counted into ``result``."""
    if not sealedsecret.is_sealed_secret(obj):
        return {}
    result.secrets += 1
    try:
        new_items = sealedsecret.reseal_items(obj, keyring)
    except sealedsecret.UnsealError as exc:
        result.failures.append(f"{source}: {exc.message}")
        return {}
    result.current += len((obj.get("spec") or {}).get("encryptedData") or {}) - len(new_items)
    result.resealed_secrets += bool(new_items)
    return new_items


def _reseal_json(text: str, source: str, keyring: Keyring) -> tuple[str, FileResult]:
    """JSON files (any indentation, tabs too): each old value string is unique (random
    ciphertext), so it is replaced where it stands, text around it untouched."""
    result = FileResult(source)
    try:
        documents = sealedsecret.load_documents(text.encode("utf-8"), source)
    except sealedsecret.InputError:
        result.unreadable = "not valid JSON"
        return text, result
    objects: list[dict] = []
    _json_objects(documents, objects)
    edits = []
    for obj in objects:
        for key, value in _reseal_object(obj, source, keyring, result).items():
            old = json.dumps(obj["spec"]["encryptedData"][key])
            if text.count(old) != 1:
                result.failures.append(
                    f"{source}: SealedSecret {obj['metadata'].get('name')}: item {key} is not "
                    f"written as a plain JSON string; reseal it with secretsync seal --re-encrypt"
                )
                continue
            edits.append((old, json.dumps(value)))
    if result.failures or not edits:
        return text, result
    for old, new in edits:
        text = text.replace(old, new, 1)
    result.items, result.changed = len(edits), True
    return text, result


def reseal_text(text: str, source: str, keyring: Keyring) -> tuple[str, FileResult]:
    """The file's new text and what changed; failing SealedSecrets leave the text as it was."""
    if text.lstrip().startswith(("{", "[")):
        return _reseal_json(text, source, keyring)
    result = FileResult(source)
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        budget = Limits().max_nodes
        for document in documents:  # _walk would follow every alias: refuse bombs first
            if document is not None:
                budget -= alias_expanded_size(document, budget)
    except yaml.YAMLError:
        result.unreadable = "not valid YAML or JSON"
        return text, result
    except ValueError as exc:
        result.unreadable = str(exc)
        return text, result
    except RecursionError:
        result.unreadable = "nested too deeply"
        return text, result
    nodes: list[yaml.MappingNode] = []
    for document in documents:
        if document is not None:
            _walk(document, nodes)
    edits = []
    constructor = yaml.SafeLoader("")
    for node in nodes:
        try:
            obj = constructor.construct_document(node)
        except yaml.YAMLError:
            result.failures.append(f"{source}: a SealedSecret could not be read")
            continue
        new_items = _reseal_object(obj, source, keyring, result)
        if not new_items:
            continue
        encrypted = _child(_child(node, "spec"), "encryptedData")
        for key_node, value_node in encrypted.value:
            if key_node.value in new_items:
                edits.append(_replacement(text, value_node, new_items[key_node.value]))
                result.items += 1
    if result.failures or not edits:
        result.items = 0 if result.failures else result.items
        return text, result
    for start, end, value in sorted(edits, reverse=True):
        text = text[:start] + value + text[end:]
    result.changed = True
    return text, result


def _init_worker(key_dir: str) -> None:
    global _KEYRING
    logging.getLogger("secretsync.sealing.keyring").setLevel(logging.ERROR)  # the parent already warned
    _KEYRING = Keyring.from_dir(key_dir)


def _process(path: str, dry_run: bool) -> FileResult:
    limit = Limits().max_bytes
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:  # a SealedSecret file is small; parsing a huge one would take minutes
            return FileResult(path, unreadable=f"larger than {limit} bytes")
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return FileResult(path, unreadable="cannot be read as UTF-8 text")
    new_text, result = reseal_text(text, path, _KEYRING)
    if result.changed and not dry_run:
        try:
            write_private_file(Path(path), new_text.encode("utf-8"), Path(path).stat().st_mode & 0o7777)
        except OSError as exc:
            result.failures.append(f"{path}: cannot write: {exc.strerror}")
            result.changed = False
    return result


def _files(paths: list[str]) -> list[str]:
    out = []
    for item in paths:
        path = Path(item)
        if path.is_file():
            out.append(str(path))
        elif path.is_dir():
            out.extend(
                str(p)
                for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in _SUFFIXES and ".git" not in p.parts
            )
        else:
            raise SecretsyncError(f"{item}: no such file or directory")
    return out


def run(args: argparse.Namespace) -> int:
    global _KEYRING
    if not args.key_dir:
        raise UsageError("pass --key-dir DIR (or set SECRETSYNC_KEY_DIR)")
    _KEYRING = Keyring.from_dir(args.key_dir)  # fail early, warn once about skipped key files
    files = _files(args.paths)
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
    for path in (r for r in results if r.unreadable):
        log.warning("skipped %s: %s", path.path, path.unreadable)
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
