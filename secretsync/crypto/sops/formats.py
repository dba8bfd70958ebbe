"""File formats: the name ⇄ store mapping and sops's rule for picking one from a path (spec §8).

``store_for(name)`` gives a ``Store`` with sops's four roles (load/emit × plain/
encrypted) over the per-format modules in ``stores/``. ``format_for_path`` follows
``cmd/sops/formats``: ``.yaml``/``.yml``, ``.json``, ``.env`` (suffix only), ``.ini``,
anything else binary. The YAML store is imported lazily so the other formats work
without it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from secretsync.crypto.sops.errors import StoreError
from secretsync.crypto.sops.tree import Branch

__all__ = ["Store", "store_for", "format_for_path", "FORMATS"]

FORMATS = ("yaml", "json", "dotenv", "ini", "binary")
_ALIASES = {"yml": "yaml", "env": "dotenv"}


@dataclass(frozen=True)
class Store:
    """One format's loaders and emitters (bytes ⇄ lists of ``Branch``)."""

    name: str
    load_plain: Callable[[bytes], list[Branch]]
    load_encrypted: Callable[[bytes], list[Branch]]
    dump_plain: Callable[[list[Branch]], bytes]
    dump_encrypted: Callable[[list[Branch]], bytes]
    dump_value: Callable[[Any], bytes]


def format_for_path(path: str) -> str:
    lower = str(path).lower()
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    if lower.endswith(".json"):
        return "json"
    if lower.endswith(".env"):
        return "dotenv"
    if lower.endswith(".ini"):
        return "ini"
    return "binary"


def _module(name: str) -> Any:
    """The store module for a format name (imported here, not at the top: the stores import this module's tree)."""
    from secretsync.crypto.sops.stores import binary, dotenv, ini, json, yaml

    return {"binary": binary, "dotenv": dotenv, "ini": ini, "json": json, "yaml": yaml}[name]


def _value_json(value: Any, indent: int | None) -> bytes:
    from secretsync.crypto.sops.stores import json as json_store

    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    text = json_store.dumps_value(value, indent)
    if isinstance(value, Branch):  # sops's JSON EmitValue ends a map, not a list or scalar, with a newline
        text += "\n"
    return text.encode("utf-8", "surrogateescape")


@functools.lru_cache(maxsize=32)
def store_for(name: str, indent: int | None = None) -> Store:
    """The store for a format name (``yaml``, ``json``, ``dotenv``, ``ini``, ``binary``)."""
    name = _ALIASES.get(name, name)
    if name == "json":
        mod = _module("json")
        return Store(
            "json",
            mod.load,
            mod.load,
            lambda d: mod.dump(d, indent),
            lambda d: mod.dump(d, indent),
            lambda v: _value_json(v, indent),
        )
    if name == "binary":
        mod = _module("binary")
        return Store(
            "binary",
            mod.load_plain,
            mod.load,
            mod.dump_plain,
            lambda d: mod.dump(d, indent),
            lambda v: _value_json(v, indent),
        )
    if name == "dotenv":
        mod = _module("dotenv")
        return Store("dotenv", mod.load, mod.load, mod.dump, mod.dump, lambda v: _value_json(v, None))
    if name == "ini":
        mod = _module("ini")
        return Store("ini", mod.load, mod.load, mod.dump, mod.dump, lambda v: _value_json(v, None))
    if name == "yaml":
        mod = _module("yaml")
        yaml_indent = 4 if indent is None else indent

        def dump(docs: list[Branch]) -> bytes:
            text: bytes = mod.dump(docs, indent=yaml_indent)
            return text

        return Store("yaml", mod.load, mod.load, dump, dump, mod.dump_value)
    raise StoreError(f"unknown format {name!r}: use one of {', '.join(FORMATS)}", exit_code=1)
