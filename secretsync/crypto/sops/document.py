"""Recipe-level sops operations on parsed documents: decrypt, encrypt, rotate, update keys.

Documents are ``tree.Branch`` objects as the stores produce them, with the
``sops`` metadata entry in place (the reader takes it from the first document;
each written document gets a copy, as sops does for multi-document YAML). These
functions never see a file format or a file; they take the key material as a
``SopsKeys``. Every failure raises a ``SopsError`` subclass naming ``where`` (the
file) and the key path; nothing returns an ``(ok, value)`` pair.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from secretsync.crypto.sops import shamir
from secretsync.crypto.sops.cipher import ValueCipher, typed_plaintext
from secretsync.crypto.sops.errors import (
    DataKeyUnavailable,
    EncryptError,
    FileAlreadyEncrypted,
    GroupResult,
    KeyResult,
    MetadataNotFound,
    NoEncryptionKey,
    SopsError,
    ValueDecryptError,
    VerificationFailed,
)
from secretsync.crypto.sops.keys import KeyFailure, SopsKeys
from secretsync.crypto.sops.mac import MacHasher, encrypt_mac, verify_mac
from secretsync.crypto.sops.metadata import METADATA_KEY, SOPSMetadata, from_file, to_file
from secretsync.crypto.sops.tree import Branch, Comment
from secretsync.crypto.sops.walk import Selectors, aad, copy_tree, walk
from secretsync.gocompat.gotime import format_time_seconds

__all__ = [
    "Decrypted",
    "Encrypted",
    "verify_encrypted",
    "decrypt_document",
    "encrypt_document",
    "rotate_document",
    "update_keys",
    "recover_data_key",
    "metadata_of",
    "has_metadata",
    "now_rfc3339",
]

log = logging.getLogger(__name__)


def now_rfc3339() -> str:
    """The current UTC time as sops writes ``lastmodified``."""
    return format_time_seconds(_dt.datetime.now(_dt.UTC))


@dataclass
class Decrypted:
    """The outcome of ``decrypt_document``: plaintext documents (no ``sops`` entry) and metadata.

    The data key and the cipher (which remembers IVs for ``rotate``) stay private;
    ``repr`` never shows them or the plaintext.
    """

    documents: list[Any]
    metadata: SOPSMetadata
    _data_key: bytes = field(repr=False, default=b"")
    _cipher: Any = field(repr=False, default=None)

    def __repr__(self) -> str:
        return f"Decrypted({len(self.documents)} documents, <plaintext redacted>)"


@dataclass
class Encrypted:
    """Encrypted documents (each ending with its ``sops`` entry) ready for a store to emit.

    It privately keeps the data key and the plaintext it was made from, so
    ``verify_encrypted`` can prove that what a store wrote decrypts back to the same
    data before anything is written to disk.
    """

    documents: list[Any]
    _data_key: bytes = field(repr=False, default=b"")
    _plain: list[Any] = field(repr=False, default_factory=list)

    def __repr__(self) -> str:
        return f"Encrypted({len(self.documents)} documents)"


def _comparable(node: Any) -> Any:
    """Plain data with each scalar as (type, plaintext bytes): NaN equals NaN, 1 differs from 1.0."""
    if isinstance(node, Branch):
        return [(item.key, _comparable(item.value)) for item in node if not isinstance(item.key, Comment)]
    if isinstance(node, list):
        return [_comparable(v) for v in node if not isinstance(v, Comment)]
    if node is None:
        return None
    try:
        return typed_plaintext(node)
    except TypeError:
        return ("?", repr(type(node)))


def verify_encrypted(
    parsed: Sequence[Branch], expected: Encrypted, keys: SopsKeys, *, where: str = "", compare_plaintext: bool = True
) -> None:
    """Raise unless ``parsed`` (the emitted bytes, parsed again) decrypts to ``expected``'s plaintext.

    Values and MAC are checked with the data key the file was written with; if the
    given ``keys`` can open the new master keys, the data key they recover must be
    that same key.
    """
    result = decrypt_document(parsed, keys, where=where, data_key=expected._data_key, in_place=True)
    if compare_plaintext and [_comparable(d) for d in result.documents] != [_comparable(d) for d in expected._plain]:
        raise VerificationFailed(
            f"{where + ': ' if where else ''}the re-encrypted content does not decrypt to the "
            f"original values; the file was not written",
            hint="report this as a bug in secretsync",
        )
    try:
        recovered = recover_data_key(result.metadata, keys, where)
    except DataKeyUnavailable:
        return  # the new keys are not ours to open; the values and MAC check above stand
    if recovered != expected._data_key:
        raise VerificationFailed(
            f"{where + ': ' if where else ''}the master keys of the new file do not unwrap to "
            f"its data key; the file was not written"
        )


def has_metadata(docs: Sequence[Branch]) -> bool:
    """True when the first document carries a ``sops`` entry."""
    return bool(docs) and isinstance(docs[0], Branch) and docs[0].index_of(METADATA_KEY) >= 0


def metadata_of(docs: Sequence[Branch], where: str = "") -> SOPSMetadata:
    """The validated metadata of a parsed encrypted file (``MetadataNotFound`` if absent)."""
    at = docs[0].index_of(METADATA_KEY) if docs and isinstance(docs[0], Branch) else -1
    if at < 0:
        prefix = f"{where}: " if where else ""
        raise MetadataNotFound(
            f"{prefix}sops metadata not found", hint="this file is not encrypted with sops (or was decrypted already)"
        )
    return from_file(docs[0][at].value, where)


def _ordered(group: list[Any], order: Sequence[str]) -> list[Any]:
    if len(group) < 2:
        return group
    rank = {name: i for i, name in enumerate(order)}
    return sorted(group, key=lambda k: rank.get(k.type_id, len(order)))


def recover_data_key(meta: SOPSMetadata, keys: SopsKeys, where: str = "") -> bytes:
    """The data key, from one key per group (Shamir-combined when there are several groups)."""
    groups = meta.key_groups
    needed = 1 if len(groups) <= 1 else (meta.shamir_threshold or len(groups))
    parts: list[bytes] = []
    results: list[GroupResult] = []
    for group in groups:
        if len(parts) >= needed:
            results.append(GroupResult(ok=False, keys=[KeyResult("(not tried)", "enough groups already succeeded")]))
            continue
        tried: list[KeyResult] = []
        part = None
        for key in _ordered(group, keys.decryption_order):
            try:
                part = key.decrypt(keys)
                break
            except (KeyFailure, SopsError) as exc:
                tried.append(KeyResult(key.name(), getattr(exc, "message", None) or str(exc)))
        if part is not None:
            parts.append(bytes(part))
            results.append(GroupResult(ok=True))
        else:
            results.append(GroupResult(ok=False, keys=tried))
    prefix = f"{where}: " if where else ""
    if len(parts) < needed:
        raise DataKeyUnavailable(
            f"{prefix}failed to get the data key required to decrypt the sops file",
            groups=results,
            threshold=needed,
            notes=list(keys.source_errors),
        )
    if len(groups) > 1:
        try:
            data_key = shamir.combine(parts)
        except ValueError as exc:
            raise DataKeyUnavailable(
                f"{prefix}could not combine the key groups' Shamir shares: {exc}", groups=results, threshold=needed
            ) from None
    else:
        data_key = parts[0]
    if len(data_key) != 32:
        raise DataKeyUnavailable(
            f"{prefix}the recovered data key has the wrong length", groups=results, threshold=needed
        )
    return data_key


def _strip_metadata(docs: Sequence[Branch], in_place: bool = False) -> list[Branch]:
    out = []
    for doc in docs:
        copy = doc if in_place else copy_tree(doc)
        at = copy.index_of(METADATA_KEY)
        if at >= 0:
            del copy[at]
        out.append(copy)
    return out


def _decrypt_values(docs: list[Branch], meta: SOPSMetadata, cipher: ValueCipher, where: str) -> str:
    """Decrypt ``docs`` in place; returns the computed MAC."""
    rule = meta.selectors.key_rule()
    if rule is None:
        return _decrypt_values_walk(docs, meta, cipher, where)
    hasher = MacHasher(meta.mac_only_encrypted)
    _KeyWalk(rule, cipher, hasher, where).docs(docs)
    return hasher.hexdigest()


def _decrypt_values_walk(docs: list[Branch], meta: SOPSMetadata, cipher: ValueCipher, where: str) -> str:
    """``_decrypt_values`` through the generic ``walk`` (any selector, the comment regexes too)."""
    hasher = MacHasher(meta.mac_only_encrypted)
    selectors = meta.selectors
    prefix = f"{where}: " if where else ""

    def on_leaf(value: Any, path: Sequence[str], stack: list[Any], is_comment: bool) -> Any:
        encrypted = selectors.should_encrypt(path, stack, is_comment)
        if encrypted:
            if is_comment:
                try:
                    result = cipher.decrypt(value.value, aad(path))
                except ValueDecryptError:
                    log.warning(
                        "%skept a comment at %r that did not decrypt (clear or from an older sops)", prefix, aad(path)
                    )
                    result = value
            else:
                result = cipher.decrypt(value, aad(path), where)
        else:
            result = value
        hasher.add(result, encrypted)
        return result

    walk(docs, on_leaf)
    return hasher.hexdigest()


class _KeyWalk:
    """``_decrypt_values`` for selectors that look at key names only (all but the comment regexes).

    The same visit order, decisions, AAD, errors and MAC as ``walk`` with
    ``should_encrypt``, computed per map level instead of per leaf: whether a key on
    the path matched the selector, and the AAD prefix, are carried down.
    """

    __slots__ = ("known", "test", "encrypt_if_matched", "cipher", "hasher", "where", "only_encrypted")

    def __init__(self, rule: tuple[Any, ...], cipher: ValueCipher, hasher: MacHasher, where: str):
        self.known, self.test, self.encrypt_if_matched = rule
        self.cipher, self.hasher, self.where = cipher, hasher, where
        self.only_encrypted = hasher.only_encrypted

    def docs(self, docs: list[Branch]) -> None:
        for doc in docs:
            self.branch(doc, "", False)

    def branch(self, branch: Branch, prefix: str, matched: bool) -> None:
        known, add_bytes, decrypt_leaf = self.known, self.hasher.add_bytes, self.cipher.decrypt_leaf
        encrypt_if_matched = self.encrypt_if_matched
        for item in branch:
            key = item.key
            if key.__class__ is not str:
                if isinstance(key, Comment):
                    new = self.comment(key, prefix or ":", matched)  # the root level's AAD is ":"
                    item.key = new if isinstance(new, Comment) else Comment(str(new))
                    continue
                if not isinstance(key, str):
                    raise EncryptError(
                        f"the tree contains a non-string key at {prefix or ':'!r}: only string keys are supported",
                        hint="quote the key in the file",
                    )
            value = item.value
            if value is None:
                continue
            sub = matched or known.get(key)
            if sub is None:
                sub = known[key] = self.test(key)
            if value.__class__ is str:  # the common leaf, inlined from leaf() and encrypted()
                if sub is encrypt_if_matched:
                    path = prefix + key + ":"
                    done = decrypt_leaf(value, path.encode("utf-8", "surrogateescape"))
                    if done is None:
                        item.value = self.encrypted(value, path)  # it fails again and explains
                    else:
                        value, mac_bytes = done
                        if value.__class__ is not Comment:
                            add_bytes(mac_bytes)
                        item.value = value
                elif not self.only_encrypted:
                    add_bytes(value.encode("utf-8", "surrogateescape"))
                continue
            path = prefix + key + ":"
            if not isinstance(value, (Branch, list, Comment)):
                item.value = self.leaf(value, path, sub)
            elif isinstance(value, Branch):
                self.branch(value, path, sub)
            elif isinstance(value, list):
                self.list(value, path, sub)
            else:
                item.value = self.comment(value, path, sub)

    def list(self, items: list[Any], path: str, matched: bool) -> None:
        for i, value in enumerate(items):
            if value is None:
                continue
            if value.__class__ is str or not isinstance(value, (Branch, list, Comment)):
                items[i] = self.leaf(value, path, matched)
            elif isinstance(value, Branch):
                self.branch(value, path, matched)
            elif isinstance(value, list):
                self.list(value, path, matched)
            else:
                items[i] = self.comment(value, path, matched)

    def leaf(self, value: Any, path: str, matched: bool) -> Any:
        if matched is not self.encrypt_if_matched:
            if not self.only_encrypted:
                self.hasher.add(value, False)
            return value
        return self.encrypted(value, path)

    def encrypted(self, value: Any, path: str) -> Any:
        """The plaintext of a leaf the selector says is encrypted; its MAC bytes are fed."""
        done = self.cipher.decrypt_leaf(value, path.encode("utf-8", "surrogateescape"))
        if done is None:  # not well-formed or not decrypting: the slow path raises the right error
            result = self.cipher.decrypt(value, path, self.where)
            self.hasher.add(result, True)
            return result
        result, mac_bytes = done
        if result.__class__ is not Comment:
            self.hasher.add_bytes(mac_bytes)
        return result

    def comment(self, comment: Comment, path: str, matched: bool) -> Any:
        """A comment entry: decrypted when the selector covers it, kept when it is clear."""
        if matched is not self.encrypt_if_matched:
            return comment
        try:
            result = self.cipher.decrypt(comment.value, path)
        except ValueDecryptError:
            log.warning(
                "%skept a comment at %r that did not decrypt (clear or from an older sops)",
                f"{self.where}: " if self.where else "",
                path,
            )
            return comment
        self.hasher.add(result, True)  # a value typed other than comment is covered, as in walk()
        return result


def decrypt_document(
    docs: Sequence[Branch],
    keys: SopsKeys,
    *,
    where: str = "",
    ignore_mac: bool = False,
    data_key: bytes | None = None,
    in_place: bool = False,
    remember_ivs: bool = False,
) -> Decrypted:
    """Decrypt parsed sops documents; the MAC is verified unless ``ignore_mac``.

    ``data_key`` skips the master keys (used to verify a file just written);
    ``in_place`` decrypts the given documents instead of a copy (for callers that
    just parsed them); ``remember_ivs`` keeps each value's IV for ``rotate_document``.
    """
    meta = metadata_of(docs, where)
    if data_key is None:
        data_key = recover_data_key(meta, keys, where)
    cipher = ValueCipher(data_key, remember_ivs=remember_ivs)
    plain = _strip_metadata(docs, in_place)
    computed = _decrypt_values(plain, meta, cipher, where)
    if not ignore_mac:
        verify_mac(cipher, meta.mac, computed, meta.lastmodified, where or "file")
    return Decrypted(plain, meta, data_key, cipher)


def _wrap(meta: SOPSMetadata, data_key: bytes, keys: SopsKeys, where: str) -> None:
    """Wrap ``data_key`` (or its Shamir shares) with every master key of every group."""
    groups = [g for g in meta.key_groups]
    if not groups or not any(groups):
        raise NoEncryptionKey(
            f"{where}: no master keys to encrypt the data key with"
            if where
            else "no master keys to encrypt the data key with",
            hint="pass --age or --hc-vault-transit, or add a creation rule to .sops.yaml",
        )
    if len(groups) == 1:
        parts = [data_key]
    else:
        if meta.shamir_threshold == 0:
            meta.shamir_threshold = len(groups)
        if meta.shamir_threshold < 2:
            raise EncryptError("shamir threshold must be at least 2 with more than one key group")
        if meta.shamir_threshold > len(groups):
            raise EncryptError(
                f"shamir threshold {meta.shamir_threshold} is larger than the number of key groups ({len(groups)})"
            )
        parts = shamir.split(data_key, len(groups), meta.shamir_threshold)
    failures = []
    for group, part in zip(groups, parts):
        for key in group:
            try:
                key.encrypt(part, keys)
            except (KeyFailure, SopsError) as exc:
                failures.append(KeyResult(key.name(), getattr(exc, "message", None) or str(exc)))
    if failures:
        raise DataKeyUnavailable(
            f"{where + ': ' if where else ''}could not encrypt the data key with every master key",
            groups=[GroupResult(False, failures)],
            exit_code=EncryptError.exit_code,
        )


def _encrypt_values(docs: list[Branch], meta: SOPSMetadata, cipher: ValueCipher, where: str) -> str:
    hasher = MacHasher(meta.mac_only_encrypted)
    selectors = meta.selectors
    unenc_comment = selectors._unencrypted_comment_regex

    def on_leaf(value: Any, path: Sequence[str], stack: list[Any], is_comment: bool) -> Any:
        encrypted = selectors.should_encrypt(path, stack, is_comment)
        hasher.add(value, encrypted)
        if not encrypted:
            return value
        result = cipher.encrypt(value, aad(path))
        if is_comment and unenc_comment is not None and unenc_comment.search(result):
            raise EncryptError(
                f"{where + ': ' if where else ''}the encrypted comment at {aad(path)!r} would "
                f"match unencrypted_comment_regex",
                hint="change the regex or the comment",
            )
        return result

    walk(docs, on_leaf)
    return hasher.hexdigest()


def _attach(docs: list[Branch], meta: SOPSMetadata) -> list[Branch]:
    for doc in docs:
        doc.set(METADATA_KEY, to_file(meta))
    return docs


def encrypt_document(
    docs: Sequence[Branch],
    key_groups: list[Any],
    keys: SopsKeys,
    *,
    where: str = "",
    selectors: Selectors | None = None,
    shamir_threshold: int = 0,
    mac_only_encrypted: bool = False,
    write_selector: bool = True,
    lastmodified: str | None = None,
) -> Encrypted:
    """Encrypt plaintext documents with a fresh data key for ``key_groups`` (lists of master keys).

    The result's documents each end with the ``sops`` metadata entry.
    """
    if has_metadata(docs):
        raise FileAlreadyEncrypted(
            f"{where + ': ' if where else ''}the file already contains a top-level 'sops' "
            f"entry (it is probably encrypted already)",
            hint="decrypt it first, or rename the 'sops' entry if the file is plain",
        )
    meta = SOPSMetadata(
        key_groups=[list(g) for g in key_groups],
        shamir_threshold=shamir_threshold,
        selectors=selectors or Selectors.default(),
        mac_only_encrypted=mac_only_encrypted,
        write_selector=write_selector,
    )
    data_key = os.urandom(32)
    _wrap(meta, data_key, keys, where)
    out = [copy_tree(d) for d in docs]
    cipher = ValueCipher(data_key)
    mac = _encrypt_values(out, meta, cipher, where)
    meta.lastmodified = lastmodified or now_rfc3339()
    meta.mac = encrypt_mac(cipher, mac, meta.lastmodified)
    return Encrypted(_attach(out, meta), data_key, [copy_tree(d) for d in docs])


def rotate_document(
    decrypted: Decrypted, keys: SopsKeys, *, add: Sequence[Any] = (), remove: Sequence[str] = (), where: str = ""
) -> Encrypted:
    """Re-encrypt with a new data key (IVs reused), adding master keys to group 0 and removing named ones."""
    meta = replace(decrypted.metadata)
    groups = [list(g) for g in meta.key_groups]
    if add:
        groups[0].extend(add)
    if remove:
        names = set(remove)
        groups = [[k for k in g if k.name() not in names] for g in groups]
    meta.key_groups = groups
    data_key = os.urandom(32)
    _wrap(meta, data_key, keys, where)
    out = [copy_tree(d) for d in decrypted.documents]
    cipher = ValueCipher(data_key)
    cipher.adopt_ivs(decrypted._cipher)
    mac = _encrypt_values(out, meta, cipher, where)
    meta.lastmodified = now_rfc3339()
    meta.mac = encrypt_mac(cipher, mac, meta.lastmodified)
    meta.version = meta.version or "3.11.0"
    return Encrypted(_attach(out, meta), data_key, [copy_tree(d) for d in decrypted.documents])


def update_keys(
    docs: Sequence[Branch],
    decrypted: Decrypted,
    key_groups: list[Any],
    keys: SopsKeys,
    *,
    shamir_threshold: int | None = None,
    where: str = "",
) -> Encrypted:
    """Re-wrap the same data key for ``key_groups``; values, MAC and ``lastmodified`` stay byte-identical.

    ``decrypted`` is ``decrypt_document(docs, ...)`` (it holds the data key).
    """
    data_key = decrypted._data_key
    meta = metadata_of(docs, where)
    meta.key_groups = [list(g) for g in key_groups]
    threshold = meta.shamir_threshold if shamir_threshold is None else shamir_threshold
    if len(meta.key_groups) > 1:
        threshold = min(threshold or len(meta.key_groups), len(meta.key_groups))
    meta.shamir_threshold = threshold
    _wrap(meta, data_key, keys, where)
    out = []
    for doc in docs:
        copy = copy_tree(doc)
        copy.set(METADATA_KEY, to_file(meta))
        out.append(copy)
    return Encrypted(out, data_key, [copy_tree(d) for d in decrypted.documents])


def key_names(meta: SOPSMetadata) -> list[list[str]]:
    """The master keys of each group by name (recipient, URI), to compare key sets."""
    return [[k.name() for k in group] for group in meta.key_groups]
