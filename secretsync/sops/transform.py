"""sops decryption for the render pipeline: whole manifest files and Flux's nested Secret values.

``decrypt_manifest_file`` decrypts a sops-encrypted YAML or JSON manifest file
(MAC verified, always) into one plain object per document. In a ``Secret``,
``data`` values become ``SecretBytes`` of the base64-decoded bytes and
``stringData`` values ``SecretBytes`` of the text, as the cross-area convention
asks. ``decrypt_secret_data`` follows Flux's convention for a Secret that is not
itself encrypted: a ``data`` value that is a whole sops file (found by Flux's
marker substrings) is decrypted in the format its key's extension names
(``.dockerconfigjson`` → JSON, ``.yaml/.yml/.json/.env/.ini``, else binary). A
Secret that still holds sops metadata after decryption is refused, as Flux does.
Errors name the file, object and key, never a value.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from secretsync.crypto.sops import document
from secretsync.crypto.sops.errors import SopsError, StoreError
from secretsync.crypto.sops.formats import format_for_path, store_for
from secretsync.crypto.sops.keys import SopsKeys
from secretsync.crypto.sops.tree import Branch, Comment
from secretsync.gocompat import gobase64
from secretsync.gocompat.gotime import format_time
from secretsync.secretvalue import SecretBytes

__all__ = [
    "decrypt_manifest_file",
    "decrypt_secret_data",
    "is_sops_file",
    "SopsManifestError",
    "DISABLE_ANNOTATION",
    "MAX_FILE_BYTES",
]

# Flux's markers for a sops file inside a Secret value (decryptor.go).
_MARKERS = (b'"mac": "ENC[', b"mac: ENC[", b"sops_mac=ENC[", b"[sops]")
DISABLE_ANNOTATION = "kustomize.toolkit.fluxcd.io/decrypt"
MAX_FILE_BYTES = 5 * 1024 * 1024  # Flux refuses larger sops inputs


class SopsManifestError(SopsError):
    """A manifest could not be decrypted or still carries sops metadata (names file/object/key)."""

    reference = "sops-manifest"
    exit_code = 3


def is_sops_file(data: bytes) -> bool:
    """Whether ``data`` looks like a sops file (Flux's marker test; cheap, no parsing)."""
    return any(marker in data for marker in _MARKERS)


def _plain(node: Any) -> Any:
    """Tree → Kubernetes-style plain data (timestamps as RFC3339 text, comments dropped)."""
    if node.__class__ is str:  # most leaves: skip the isinstance chain
        return node
    if isinstance(node, Branch):
        out = {}
        for item in node:
            key, value = item.key, item.value
            if key.__class__ is str:  # string keys: the common case, and never a comment
                out[key] = value if value.__class__ is str else _plain(value)
            elif not isinstance(key, Comment):
                out[key] = _plain(value)
        return out
    if isinstance(node, list):
        return [_plain(v) for v in node if not isinstance(v, Comment)]
    if isinstance(node, _dt.datetime):
        return format_time(node)
    if isinstance(node, (bytes, bytearray)):
        return bytes(node).decode("utf-8", "replace")
    return node


def _ident(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
    ns = meta.get("namespace")
    return f"{obj.get('kind', '?')} {ns + '/' if ns else ''}{meta.get('name', '?')}"


def _is_secret(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("kind") == "Secret" and str(obj.get("apiVersion", "v1")) == "v1"


def _secret_values(obj: dict[str, Any], where: str) -> dict[str, Any]:
    """``data``/``stringData`` values as ``SecretBytes`` (``data`` base64-decoded), in place."""
    out = obj
    data = obj.get("data")
    if isinstance(data, dict):
        converted = {}
        for key, value in data.items():
            if isinstance(value, SecretBytes) or value is None:
                converted[key] = value
                continue
            try:
                converted[key] = SecretBytes.from_base64(str(value))
            except ValueError:
                raise SopsManifestError(
                    f"{where}: {_ident(obj)}: data[{key!r}] is not valid base64 after decryption",
                    hint="data values must be base64; use stringData for text",
                ) from None
        out["data"] = converted
    string_data = obj.get("stringData")
    if isinstance(string_data, dict):
        out["stringData"] = {
            k: v if isinstance(v, SecretBytes) or v is None else SecretBytes(v if isinstance(v, str) else str(v))
            for k, v in string_data.items()
        }
    return out


def _refuse_if_encrypted(obj: dict[str, Any], where: str) -> None:
    if _is_secret(obj) and "sops" in obj:
        raise SopsManifestError(
            f"{where}: {_ident(obj)} is sops-encrypted; configuring decryption is required",
            hint="give the age key or Vault token that decrypts it",
        )


def decrypt_manifest_file(data: bytes, path: str, keys: SopsKeys) -> list[dict[str, Any]]:
    """Every document of a sops-encrypted YAML/JSON manifest file, decrypted, as plain objects."""
    if len(data) > MAX_FILE_BYTES:
        raise SopsManifestError(f"{path}: file is larger than {MAX_FILE_BYTES} bytes; refused")
    fmt = "json" if str(path).lower().endswith(".json") else "yaml"
    try:
        docs = store_for(fmt).load_encrypted(data)
    except StoreError as exc:
        raise SopsManifestError(f"{path}: {exc.message}", hint=exc.hint) from None
    result = document.decrypt_document(docs, keys, where=path, in_place=True)
    objects = []
    for index, doc in enumerate(result.documents):
        obj = _plain(doc)
        where = f"{path} (document {index})"
        _refuse_if_encrypted(obj, where)
        if _is_secret(obj):
            obj = _secret_values(obj, where)
        objects.append(obj)
    return objects


def _format_for_key(key: str) -> str:
    """Flux: ``.dockerconfigjson`` is JSON, otherwise the format sops picks from the extension."""
    return "json" if key.lower().endswith(".dockerconfigjson") else format_for_path(key)


def decrypt_secret_data(obj: dict[str, Any], keys: SopsKeys) -> dict[str, Any]:
    """A Secret whose ``data`` values may be whole sops files (Flux): those are decrypted in place.

    Returns a new object with every ``data`` value as ``SecretBytes``. A Secret that
    is itself sops-encrypted is refused; the ``kustomize.toolkit.fluxcd.io/decrypt:
    disabled`` annotation skips decryption (and the object is returned unchanged).
    """
    where = _ident(obj)
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if annotations.get(DISABLE_ANNOTATION) == "disabled":
        return obj
    _refuse_if_encrypted(obj, "manifest")
    data = obj.get("data")
    if not isinstance(data, dict):
        return obj
    out_data: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, SecretBytes):
            raw = value.reveal()
        elif isinstance(value, str):
            try:
                raw = gobase64.decode(value)
            except ValueError:
                raise SopsManifestError(f"{where}: data[{key!r}] is not valid base64") from None
        else:
            out_data[key] = value
            continue
        if not is_sops_file(raw):
            out_data[key] = SecretBytes(raw)
            continue
        fmt = _format_for_key(str(key))
        label = f"{where} data[{key!r}]"
        store = store_for(fmt)
        try:
            docs = store.load_encrypted(raw)
        except StoreError as exc:
            raise SopsManifestError(f"{label}: {exc.message}", hint=exc.hint) from None
        decrypted = document.decrypt_document(docs, keys, where=label, in_place=True)
        try:
            out_data[key] = SecretBytes(store.dump_plain(decrypted.documents))
        except StoreError as exc:
            raise SopsManifestError(f"{label}: {exc.message}") from None
    return {**obj, "data": out_data}
