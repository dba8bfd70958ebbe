"""File-level sops operations: decrypt, encrypt, rotate and update keys, for one file or a tree.

This is the layer between the CLI and ``secretsync.crypto.sops``: it reads files,
picks the store from ``--input-type``/the file name, resolves ``.sops.yaml``
creation rules, and writes results atomically (temp file in the same directory,
fsync, rename, mode kept). Every encrypted output is parsed again and decrypted
before it is written (``verify_encrypted``): a file is never rewritten unless its
new content decrypts to the same data. Tree operations (``rotate_tree``,
``updatekeys_tree``) show a tqdm progress bar on a terminal, never stop at the
first bad file, and return a ``Summary``; ``dry_run`` reports without writing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from secretsync import fileio
from secretsync.crypto.sops import document
from secretsync.crypto.sops.errors import (
    CouldNotReadInput,
    CouldNotWriteOutput,
    FileAlreadyEncrypted,
    InvalidTreePath,
    MetadataNotFound,
    NoDocuments,
    NoEncryptionKey,
    NoFileSpecified,
    SopsError,
    StoreError,
)
from secretsync.crypto.sops.formats import Store, format_for_path, store_for
from secretsync.crypto.sops.keys import SopsKeys
from secretsync.crypto.sops.tree import Branch
from secretsync.crypto.sops.walk import Selectors
from secretsync.sops.config import CreationRule, SopsConfig, creation_rule_for, find_config, load_config

__all__ = [
    "read_input",
    "write_atomic",
    "decrypt_bytes",
    "encrypt_bytes",
    "rotate_bytes",
    "updatekeys_bytes",
    "parse_extract",
    "Summary",
    "find_sops_files",
    "rotate_tree",
    "updatekeys_tree",
    "rule_for_file",
    "MAX_INPUT_BYTES",
]

# Larger inputs are refused before parsing (a YAML bomb or a stray blob would exhaust memory).
MAX_INPUT_BYTES = 32 * 1024 * 1024


def read_input(path: str | os.PathLike[str], limit: int = MAX_INPUT_BYTES) -> bytes:
    """The file's bytes; sops's errors for a missing (100) or unreadable (2) file; refuses huge files."""
    p = Path(path)
    if not p.exists():
        raise NoFileSpecified(f"cannot operate on non-existent file {path}")
    try:
        size = p.stat().st_size
        if size > limit:
            raise CouldNotReadInput(
                f"{path}: file is {size} bytes, larger than the {limit} byte limit",
                hint="sops files are small; check that this is the file you meant",
            )
        with open(p, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise CouldNotReadInput(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise CouldNotReadInput(f"{path}: file is larger than the {limit} byte limit")
    return data


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, keeping its mode (0600 for new files)."""
    try:
        fileio.write_atomic(path, data)
    except OSError as exc:
        raise CouldNotWriteOutput(f"cannot write {path}: {exc.strerror}") from None


def _store(fmt: str | None, path: str, indent: int | None = None) -> Store:
    return store_for(fmt or format_for_path(path), indent)


def _load(store: Store, data: bytes, where: str, encrypted: bool) -> list[Branch]:
    try:
        docs = store.load_encrypted(data) if encrypted else store.load_plain(data)
    except StoreError as exc:
        raise StoreError(f"{where}: {exc.message}", hint=exc.hint, exit_code=1 if encrypted else 2) from None
    except RecursionError:
        raise StoreError(f"{where}: the document is nested too deeply", exit_code=1 if encrypted else 2) from None
    if not docs:
        raise NoDocuments(f"{where}: the file cannot be completely empty, it must contain at least one document")
    return docs


_EXTRACT_TOKEN = re.compile(r'\[(?:"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|(-?\d+))\]')


def parse_extract(text: str) -> list[Any]:
    """sops's ``--extract`` path: ``["a"]["b"][0]`` → ``["a", "b", 0]``."""
    out: list[Any] = []
    pos = 0
    while pos < len(text):
        m = _EXTRACT_TOKEN.match(text, pos)
        if not m:
            raise InvalidTreePath(f'invalid --extract path {text!r}: expected ["key"] or [index] parts')
        if m.group(3) is not None:
            out.append(int(m.group(3)))
        else:
            out.append(m.group(1) if m.group(1) is not None else m.group(2))
        pos = m.end()
    return out


def _extract(docs: list[Branch], path: list[Any], where: str) -> Any:
    node: Any = docs[0]
    for step in path:
        if isinstance(step, int):
            items = [v for v in node if not _is_comment(v)] if isinstance(node, list) else None
            if items is None or not -len(items) <= step < len(items):
                raise InvalidTreePath(f"{where}: component [{step}] not found")
            node = items[step]
        else:
            if not isinstance(node, Branch) or step not in list(node.keys()):
                raise InvalidTreePath(f"{where}: component ['{step}'] not found")
            node = node.get(step)
    return node


def _is_comment(value: Any) -> bool:
    from secretsync.crypto.sops.tree import Comment

    return isinstance(value, Comment)


def decrypt_bytes(
    data: bytes,
    path: str,
    keys: SopsKeys,
    *,
    input_type: str | None = None,
    output_type: str | None = None,
    ignore_mac: bool = False,
    extract: str | None = None,
    indent: int | None = None,
) -> bytes:
    """Decrypt a sops file's bytes to the plaintext output (or one extracted value)."""
    in_store = _store(input_type, path)
    out_store = _store(output_type or input_type, path, indent)
    docs = _load(in_store, data, path, encrypted=True)
    result = document.decrypt_document(docs, keys, where=path, ignore_mac=ignore_mac, in_place=True)
    if extract:
        return out_store.dump_value(_extract(result.documents, parse_extract(extract), path))
    try:
        return out_store.dump_plain(result.documents)
    except StoreError as exc:
        raise StoreError(f"{path}: {exc.message}", hint=exc.hint, exit_code=4) from None


# What to encrypt for (key groups, threshold, selectors, mac_only_encrypted): the same shape as a
# matched creation rule, whether it comes from the command line or from .sops.yaml.
EncryptSettings = CreationRule


def rule_for_file(
    path: str, *, cwd: str | None = None, config_path: str | None = None, env: dict[str, Any] | None = None
) -> tuple[CreationRule | None, SopsConfig | None]:
    """The matching creation rule of the ``.sops.yaml`` sops would use for ``path``."""
    found = find_config(cwd, config_path, env if env is not None else os.environ)
    if found is None:
        return None, None
    config = load_config(found)
    return creation_rule_for(config, path), config


def _emit_verified(enc: document.Encrypted, out_store: Store, keys: SopsKeys, where: str) -> bytes:
    try:
        output = out_store.dump_encrypted(enc.documents)
    except StoreError as exc:
        raise StoreError(f"{where}: {exc.message}", hint=exc.hint, exit_code=4) from None
    parsed = _load(out_store, output, where, encrypted=True)
    document.verify_encrypted(parsed, enc, keys, where=where)
    return output


def encrypt_bytes(
    data: bytes,
    path: str,
    keys: SopsKeys,
    settings: EncryptSettings,
    *,
    input_type: str | None = None,
    output_type: str | None = None,
    indent: int | None = None,
) -> bytes:
    """Encrypt plaintext bytes for ``settings``; the output is verified before it is returned."""
    in_store = _store(input_type, path)
    out_store = _store(output_type or input_type, path, indent)
    docs = _load(in_store, data, path, encrypted=False)
    if document.has_metadata(docs):
        raise FileAlreadyEncrypted(
            f"{path}: the file contains a top-level 'sops' entry (or sops_ lines): it is probably encrypted already",
            hint="decrypt it first; if it is a plain file, rename the 'sops' entry",
        )
    if not settings.key_groups or not any(settings.key_groups):
        raise NoEncryptionKey(
            f"{path}: no master keys given to encrypt with",
            hint="pass --age RECIPIENT or --hc-vault-transit URI, set SOPS_AGE_RECIPIENTS, or add "
            "a creation rule to .sops.yaml",
        )
    enc = document.encrypt_document(
        docs,
        settings.key_groups,
        keys,
        where=path,
        selectors=Selectors.from_mapping(settings.selectors),
        shamir_threshold=settings.shamir_threshold,
        mac_only_encrypted=settings.mac_only_encrypted,
        write_selector=out_store.name != "binary" or bool(settings.selectors),
    )
    return _emit_verified(enc, out_store, keys, path)


def rotate_bytes(
    data: bytes,
    path: str,
    keys: SopsKeys,
    *,
    add: Sequence[Any] = (),
    remove: Sequence[str] = (),
    input_type: str | None = None,
    indent: int | None = None,
) -> bytes:
    """A new data key for the file (values re-encrypted, IVs reused), optionally adding/removing master keys."""
    store = _store(input_type, path, indent)
    docs = _load(store, data, path, encrypted=True)
    decrypted = document.decrypt_document(docs, keys, where=path, remember_ivs=True)
    enc = document.rotate_document(decrypted, keys, add=add, remove=remove, where=path)
    return _emit_verified(enc, store, keys, path)


def updatekeys_bytes(
    data: bytes,
    path: str,
    keys: SopsKeys,
    key_groups: list[Any],
    *,
    shamir_threshold: int | None = None,
    input_type: str | None = None,
    indent: int | None = None,
) -> bytes | None:
    """Re-wrap the data key for ``key_groups``; ``None`` when the keys already match (nothing to do)."""
    store = _store(input_type, path, indent)
    docs = _load(store, data, path, encrypted=True)
    meta = document.metadata_of(docs, path)
    wanted = [[k.name() for k in g] for g in key_groups]
    have = document.key_names(meta)
    threshold = meta.shamir_threshold if shamir_threshold is None else shamir_threshold
    if len(key_groups) > 1:
        threshold = min(threshold or len(key_groups), len(key_groups))
    if [sorted(g) for g in wanted] == [sorted(g) for g in have] and threshold == meta.shamir_threshold:
        return None
    decrypted = document.decrypt_document(docs, keys, where=path)
    enc = document.update_keys(docs, decrypted, key_groups, keys, shamir_threshold=threshold, where=path)
    return _emit_verified(enc, store, keys, path)


# --- whole trees -------------------------------------------------------------------------------

_MARKERS = (b"ENC[AES256_GCM,",)
_SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv"}


def find_sops_files(root: str | os.PathLike[str]) -> list[Path]:
    """Files under ``root`` (sorted) that carry sops metadata, by a cheap content check."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            p = Path(dirpath) / name
            try:
                if not p.is_file() or p.is_symlink() or p.stat().st_size > MAX_INPUT_BYTES:
                    continue
                data = p.read_bytes()
            except OSError:
                continue
            if any(m in data for m in _MARKERS) and (b"sops" in data):
                found.append(p)
    return found


@dataclass
class Summary:
    """Outcome of a tree operation: files changed, unchanged and failed (with the error)."""

    changed: list[Any] = field(default_factory=list)
    unchanged: list[Any] = field(default_factory=list)
    failed: list[Any] = field(default_factory=list)  # (path, SopsError)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed

    def render(self, verb: str) -> str:
        lines = []
        for p in self.changed:
            lines.append(f"{'would ' + verb if self.dry_run else verb}: {p}")
        for p, err in self.failed:
            lines.append(f"failed: {p}: {err.message if isinstance(err, SopsError) else err}")
        lines.append(
            f"{len(self.changed)} {'would be ' if self.dry_run else ''}{verb}, {len(self.unchanged)} "
            f"unchanged, {len(self.failed)} failed"
        )
        return "\n".join(lines)


def _progress(items: list[Any], desc: str, show: bool | None) -> Iterable[Any]:
    from tqdm import tqdm

    bar: Iterable[Any] = tqdm(items, desc=desc, unit="file", disable=None if show is None else not show, leave=False)
    return bar


def _tree(
    root: str, op: Callable[[Path, bytes], bytes | None], *, dry_run: bool, desc: str, progress: bool | None
) -> Summary:
    summary = Summary(dry_run=dry_run)
    files = find_sops_files(root)
    for path in _progress(files, desc, progress):
        try:
            data = read_input(path)
            new = op(path, data)
        except SopsError as exc:
            summary.failed.append((path, exc))
            continue
        if new is None or new == data:
            summary.unchanged.append(path)
            continue
        if not dry_run:
            try:
                write_atomic(path, new)
            except SopsError as exc:
                summary.failed.append((path, exc))
                continue
        summary.changed.append(path)
    return summary


def rotate_tree(
    root: str,
    keys: SopsKeys,
    *,
    add: Sequence[Any] = (),
    remove: Sequence[str] = (),
    dry_run: bool = False,
    progress: bool | None = None,
) -> Summary:
    """``rotate`` every sops file under ``root``."""

    def op(path: Path, data: bytes) -> bytes | None:
        if remove and not add:
            meta = document.metadata_of(_load(_store(None, str(path)), data, str(path), True), str(path))
            names = {n for g in document.key_names(meta) for n in g}
            if not names & set(remove) and not add:
                return None
        return rotate_bytes(data, str(path), keys, add=add, remove=remove)

    return _tree(root, op, dry_run=dry_run, desc="rotate", progress=progress)


def updatekeys_tree(
    root: str,
    keys: SopsKeys,
    *,
    shamir_threshold: int | None = None,
    dry_run: bool = False,
    progress: bool | None = None,
    config_path: str | None = None,
    env: dict[str, Any] | None = None,
) -> Summary:
    """``updatekeys`` every sops file under ``root`` from the creation rules that match each file."""

    def op(path: Path, data: bytes) -> bytes | None:
        rule, _ = rule_for_file(str(path), cwd=str(path.parent), config_path=config_path, env=env)
        if rule is None:
            raise MetadataNotFound(
                f"{path}: no .sops.yaml creation rule applies",
                hint="add a .sops.yaml with creation rules above the files",
            )
        return updatekeys_bytes(data, str(path), keys, rule.key_groups, shamir_threshold=shamir_threshold)

    return _tree(root, op, dry_run=dry_run, desc="updatekeys", progress=progress)
