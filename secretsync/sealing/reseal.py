"""Re-encryption of SealedSecret files in place, changing only the sealed values' text.

``reseal_text`` finds every SealedSecret of a YAML or JSON file (at any depth, so Lists too),
re-encrypts it to the newest key (``secretsync.sealing.reencrypt.re_encrypt``, in place) and
rewrites only the text of the ``encryptedData`` values that changed: comments, key order,
quoting, template labels/annotations and every other byte stay as they were. YAML is read by
the manifest loader (``compose_documents``: go-yaml v2 typing, depth and alias guards, node
positions kept); JSON values are replaced where they stand (each old ciphertext is unique).
A file is rewritten all-or-nothing: any SealedSecret that cannot be re-encrypted leaves the
text as it was and is counted as a failure. ``reseal_file`` reads, rewrites and writes one
file (atomically, keeping its mode); ``manifest_files`` lists the files under some paths.
``FileResult`` holds counts and messages only, never plaintext or ciphertext.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from secretsync.errors import SecretsyncError
from secretsync.manifests.loader import Limits, ManifestError, compose_documents, construct_document
from secretsync.sealing import objects as sealedsecret
from secretsync.sealing.keyring import Keyring, write_private_file
from secretsync.sealing.reencrypt import re_encrypt

__all__ = ["FileResult", "reseal_text", "reseal_file", "manifest_files"]

_SUFFIXES = (".yaml", ".yml", ".json")


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


def _replacement(text: str, node: yaml.Node, value: str) -> tuple[int, int, str]:
    start, end = node.start_mark.index, node.end_mark.index
    span = text[start:end]
    style = node.style if isinstance(node, yaml.ScalarNode) else None
    if style in ("'", '"'):
        return start, end, f"{style}{value}{style}"
    if style in ("|", ">"):
        trailing = len(span) - len(span.rstrip("\n"))
        return start, end, value + "\n" * trailing
    return start, end, value


def _json_objects(value: object, found: list[dict[str, Any]]) -> None:
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
    assert isinstance(obj, dict)
    result.secrets += 1
    try:
        done = re_encrypt(obj, keyring)
    except sealedsecret.UnsealError as exc:
        result.failures.append(f"{source}: {exc.message}")
        return {}
    result.current += done.kept
    result.resealed_secrets += bool(done.changed)
    return done.changed


def _reseal_json(text: str, source: str, keyring: Keyring) -> tuple[str, FileResult]:
    """JSON files (any indentation, tabs too): each old value string is unique (random
    ciphertext), so it is replaced where it stands, text around it untouched."""
    result = FileResult(source)
    try:
        documents = sealedsecret.load_documents(text.encode("utf-8"), source)
    except sealedsecret.InputError:
        result.unreadable = "not valid JSON"
        return text, result
    objects: list[dict[str, Any]] = []
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


def _yaml_edits(
    text: str, nodes: list[yaml.MappingNode], keyring: Keyring, result: FileResult
) -> list[tuple[int, int, str]]:
    """``(start, end, new text)`` of every changed sealed value of ``nodes`` (failures into ``result``)."""
    edits = []
    for node in nodes:
        try:
            obj = construct_document(node, result.path)
        except ManifestError:
            result.failures.append(f"{result.path}: a SealedSecret could not be read")
            continue
        new_items = _reseal_object(obj, result.path, keyring, result)
        if not new_items:
            continue
        encrypted = _child(_child(node, "spec"), "encryptedData")
        assert isinstance(encrypted, yaml.MappingNode)  # re_encrypt found items there
        for key_node, value_node in encrypted.value:
            if key_node.value in new_items:
                edits.append(_replacement(text, value_node, new_items[key_node.value]))
                result.items += 1
    return edits


def reseal_text(text: str, source: str, keyring: Keyring) -> tuple[str, FileResult]:
    """The file's new text and what changed; failing SealedSecrets leave the text as it was."""
    if text.lstrip().startswith(("{", "[")):
        return _reseal_json(text, source, keyring)
    result = FileResult(source)
    try:  # the loader's guards come first: _walk would follow every alias of a bomb
        documents = compose_documents(text, source)
    except ManifestError as exc:
        result.unreadable = "not valid YAML or JSON" if exc.cause == "yaml" else exc.reason
        return text, result
    nodes: list[yaml.MappingNode] = []
    for _, document in documents:
        _walk(document, nodes)
    edits = _yaml_edits(text, nodes, keyring, result)
    if result.failures or not edits:
        result.items = 0 if result.failures else result.items
        return text, result
    for start, end, value in sorted(edits, reverse=True):
        text = text[:start] + value + text[end:]
    result.changed = True
    return text, result


def reseal_file(path: str, keyring: Keyring, dry_run: bool = False) -> FileResult:
    """Re-encrypt the SealedSecrets of one file, rewriting it (atomically, same mode) unless ``dry_run``."""
    limit = Limits().max_bytes
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:  # a SealedSecret file is small; parsing a huge one would take minutes
            return FileResult(path, unreadable=f"larger than {limit} bytes")
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return FileResult(path, unreadable="cannot be read as UTF-8 text")
    new_text, result = reseal_text(text, path, keyring)
    if result.changed and not dry_run:
        try:
            write_private_file(Path(path), new_text.encode("utf-8"), Path(path).stat().st_mode & 0o7777)
        except OSError as exc:
            result.failures.append(f"{path}: cannot write: {exc.strerror}")
            result.changed = False
    return result


def manifest_files(paths: list[str]) -> list[str]:
    """The YAML/JSON files of ``paths`` (files as given; directories walked, ``.git`` skipped, sorted)."""
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
