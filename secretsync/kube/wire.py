"""What goes over the wire to the Kubernetes API and back: JSON bodies, Secret values, clipped text.

Secret values follow the convention of ``conventions.md``: in an object of kind ``Secret``,
``data`` values are ``SecretBytes`` holding the decoded bytes and ``stringData`` values are
``SecretBytes`` holding the text. Outgoing (``encode_body``, ``to_wire``), ``SecretBytes``
become base64 under a Secret's ``data`` and UTF-8 text anywhere else; incoming Secrets
(``from_wire``) get their ``data`` turned back into ``SecretBytes``. All other values are plain
JSON types. ``clip`` shortens any text the server sent to 256 characters before it may reach an
error message; ``parse_json`` never raises an exception that holds the text it was given.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from secretsync.gocompat import gobase64
from secretsync.secretvalue import SecretBytes

__all__ = ["MESSAGE_LIMIT", "clip", "parse_json", "encode_body", "to_wire", "from_wire", "object_ref"]

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 256


def clip(text: str) -> str:
    """``text`` on one line, at most ``MESSAGE_LIMIT`` characters (the end replaced by ``...``)."""
    text = " ".join(str(text).split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."


def parse_json(text: str | bytes) -> Any:
    """json.loads, or None when it is not JSON (the decode error, which holds the text, is dropped here)."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def _is_secret(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def _wire_value(value: Any) -> Any:
    if isinstance(value, SecretBytes):
        return value.reveal_text()
    if isinstance(value, (bytes, bytearray)):
        raise TypeError("raw bytes cannot be sent to the API: wrap plaintext in SecretBytes (or give text)")
    if isinstance(value, dict):
        return {k: _wire_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire_value(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, SecretBytes):
        return value.reveal_text()
    if isinstance(value, (bytes, bytearray)):
        raise TypeError("raw bytes cannot be sent to the API: wrap plaintext in SecretBytes (or give text)")
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"a {type(value).__name__} cannot be sent to the API as JSON")


def _secret_data_to_wire(obj: Any) -> Any:
    """A shallow copy of ``obj`` with a Secret's ``data`` values (or those of list items) in base64."""
    if isinstance(obj, dict) and _is_secret(obj) and isinstance(obj.get("data"), dict):
        out = dict(obj)
        out["data"] = {k: (v.to_base64() if isinstance(v, SecretBytes) else v) for k, v in obj["data"].items()}
        return out
    if isinstance(obj, dict) and isinstance(obj.get("items"), list):
        out = dict(obj)
        out["items"] = [_secret_data_to_wire(i) for i in obj["items"]]
        return out
    return obj


def encode_body(obj: Any) -> bytes:
    """The JSON request body for ``obj`` (what ``to_wire`` gives, serialised by the C encoder in one pass)."""
    return json.dumps(
        _secret_data_to_wire(obj), separators=(",", ":"), ensure_ascii=False, default=_json_default
    ).encode("utf-8")


def to_wire(obj: Any) -> Any:
    """A JSON-ready copy: ``SecretBytes`` → base64 in a Secret's ``data``, text anywhere else."""
    if isinstance(obj, dict) and _is_secret(obj) and isinstance(obj.get("data"), dict):
        out = {k: _wire_value(v) for k, v in obj.items() if k != "data"}
        out["data"] = {
            k: (v.to_base64() if isinstance(v, SecretBytes) else _wire_value(v)) for k, v in obj["data"].items()
        }
        return out
    if isinstance(obj, dict) and isinstance(obj.get("items"), list):
        out = {k: _wire_value(v) for k, v in obj.items() if k != "items"}
        out["items"] = [to_wire(i) for i in obj["items"]]
        return out
    return _wire_value(obj)


def from_wire(obj: Any) -> Any:
    """Turn a received Secret's ``data``/``stringData`` values into ``SecretBytes`` (in place)."""
    if not isinstance(obj, dict):
        return obj
    if _is_secret(obj):
        data = obj.get("data")
        if isinstance(data, dict):
            for k, v in data.items():
                if isinstance(v, str):
                    try:
                        data[k] = SecretBytes(gobase64.decode(v))
                    except ValueError:
                        # never echo it; keep it redacted as the raw text
                        data[k] = SecretBytes(v)
                        log.warning("Secret %s: data key %r is not valid base64", object_ref(obj), k)
        sdata = obj.get("stringData")
        if isinstance(sdata, dict):
            for k, v in sdata.items():
                if isinstance(v, str):
                    sdata[k] = SecretBytes(v)
    return obj


def object_ref(obj: Mapping[str, Any]) -> str:
    """``namespace/name`` (or ``name`` for cluster-scoped objects) of an object dict."""
    meta = obj.get("metadata") or {}
    ns, name = meta.get("namespace"), meta.get("name", "?")
    return f"{ns}/{name}" if ns else str(name)
