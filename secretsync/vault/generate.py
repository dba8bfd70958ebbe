"""argocd-vault-plugin's ``generate`` as a library: read the manifests, and print them as AVP does.

``manifest_files(path)`` is AVP's input (stdin for ``-``, one file, or every ``.yaml``/``.yml``/
``.json`` file under a directory, sorted); ``load_documents`` parses them with kubectl's YAML
rules; ``dump_documents`` prints resolved objects as ``argocd-vault-plugin generate`` does
(sorted keys, integral floats as ints, a ``---`` line after each document, Secret values as
base64 / text again). Resolving the placeholders is ``secretsync.vault.placeholders.resolve``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

from secretsync.errors import SecretsyncError
from secretsync.manifests.dump import dump_all
from secretsync.manifests.loader import ManifestError, load_manifests
from secretsync.secretvalue import SecretBytes

__all__ = ["manifest_files", "load_documents", "dump_documents"]

_EXTENSIONS = (".yaml", ".yml", ".json")


def manifest_files(path: str) -> list[tuple[str, bytes]]:
    """(name, bytes) of stdin (``-``), one file, or every manifest file under a directory (sorted)."""
    if path == "-":
        return [("<stdin>", sys.stdin.buffer.read())]
    p = Path(path)
    if p.is_dir():
        found = sorted(str(f) for f in p.rglob("*") if f.is_file() and f.suffix in _EXTENSIONS)
        if not found:
            raise SecretsyncError(
                f"no YAML or JSON files were found in {path}",
                reference="no-manifests",
                hint="point PATH at a directory holding .yaml, .yml or .json files",
            )
        return [(f, Path(f).read_bytes()) for f in found]
    if not p.is_file():
        raise SecretsyncError(f"{path}: no such file or directory", reference="no-manifests")
    return [(str(p), p.read_bytes())]


def load_documents(files: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """All non-empty documents of all files, in order (kubectl's YAML rules, see manifests.py)."""
    docs = []
    for name, data in files:
        for index, doc in load_manifests(data, name):
            if not isinstance(doc, dict):
                raise ManifestError(
                    f"a document must be a mapping (a Kubernetes object), not a {type(doc).__name__}",
                    file=name,
                    index=index,
                )
            docs.append(doc)
    return docs


def _plain(value: Any) -> Any:
    """Keys sorted (AVP's JSON round trip sorts them); integral floats as ints, as that round trip does."""
    if isinstance(value, dict):
        return {str(k): _plain(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isfinite(value):
        return int(value) if value.is_integer() and abs(value) < 1e21 else float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _secret_out(obj: dict[str, Any]) -> dict[str, Any]:
    """A resolved Secret as text again: ``data`` SecretBytes to base64, ``stringData`` to text."""
    obj = dict(obj)
    for section, encode in (("data", SecretBytes.to_base64), ("stringData", SecretBytes.reveal_text)):
        values = obj.get(section)
        if isinstance(values, dict):
            obj[section] = {k: encode(v) if isinstance(v, SecretBytes) else v for k, v in values.items()}
    return obj


def dump_documents(objects: list[dict[str, Any]]) -> str:
    """YAML with sorted keys and a ``---`` line after each document, as ``argocd-vault-plugin generate``."""
    out = []
    for obj in objects:
        if obj.get("kind") == "Secret":
            obj = _secret_out(obj)
        text = dump_all([_plain(obj)])
        out.append(text[4:] if text.startswith("---\n") else text)
        out.append("---\n")
    return "".join(out)
