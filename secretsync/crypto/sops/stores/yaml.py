"""The sops YAML store: bytes ⇄ ``tree.Branch`` documents, as sops 3.11 (go-yaml v3) does it.

Public interface (used by the sops tree walk, the CLI and manifest decryption):

* ``load(data) -> list[Branch]`` — every document of the stream. Maps keep order,
  sequences are lists, comments are ``Comment`` entries placed where go-yaml v3 and
  sops's store place them (see ``yaml_comments``), scalars are typed by go-yaml v3's
  rules (see ``goyaml``): str, int, float, bool, None, ``goyaml.Timestamp`` (a
  ``datetime`` with nanoseconds), bytes for non-UTF-8 ``!!binary``. Anchors and
  aliases are expanded into independent copies. A ``sops`` key stays an ordinary entry.
* ``dump(docs, indent=4) -> bytes`` and ``dump_value(value) -> bytes`` — see ``yaml_emit``.

Refused with ``StoreError`` (message: line/column and what is wrong, never a value):
malformed YAML, a stream without documents, a document that is not a mapping (exit 2,
as sops's "Error unmarshalling file"), a 0-byte input (exit 92, as sops), non-string or duplicate keys, integers in [2^63, 2^64)
(go-yaml's uint64, which sops cannot encrypt; exit 23), timestamps with a zone
offset of 24 hours or more (sops cannot encrypt them either; exit 23), more than ``MAX_DEPTH``
nested collections, aliases expanding to more than ``MAX_ALIAS_NODES`` nodes (YAML
bombs), and inputs above ``MAX_INPUT_BYTES`` (16 MiB, refused before parsing: a 10 MB
file takes about 6 s of CPU to load, so the limit bounds a worker at ~10 s; a 50 MB
file is refused at once).

Parsing uses PyYAML's libyaml event parser (go-yaml v3 is a port of libyaml, so
both see the same structure and positions); ``yaml_builder`` turns the events into documents
(typing and comments are ours). Files of
the common comment-free shape first try ``yaml_fast``, a restricted line reader that
gives the same documents without PyYAML's per-token event objects, or declines.
"""

from __future__ import annotations

from typing import Any

import yaml as _pyyaml

from secretsync.crypto.sops.errors import StoreError
from secretsync.crypto.sops.stores.yaml_builder import MAX_ALIAS_NODES, MAX_DEPTH, UNMARSHAL, Builder, error
from secretsync.crypto.sops.stores.yaml_fast import load_fast
from secretsync.crypto.sops.tree import Branch

__all__ = ["load", "dump", "dump_value", "MAX_INPUT_BYTES", "MAX_DEPTH", "MAX_ALIAS_NODES"]

MAX_INPUT_BYTES = 16 * 1024 * 1024

_Parser = getattr(_pyyaml, "CSafeLoader", _pyyaml.SafeLoader)


def _decode(data: bytes) -> str:
    if isinstance(data, str):
        return data
    if len(data) > MAX_INPUT_BYTES:
        raise StoreError(
            f"YAML: input is {len(data)} bytes, above the limit of {MAX_INPUT_BYTES} bytes",
            exit_code=UNMARSHAL,
            hint="split the file; sops files are meant to be small",
        )
    try:
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StoreError(
            f"YAML: input is not valid UTF-8 (byte offset {exc.start})",
            exit_code=UNMARSHAL,
            hint="save the file as UTF-8",
        ) from None


def load(data: bytes) -> list[Branch]:
    """Parse a YAML stream into Branch documents as sops 3.11 does (see module docstring).

    Files of the common shape (no comments, one-line scalars, ``|`` blocks) take
    ``yaml_fast``, which returns the same documents without PyYAML's event objects.
    """
    if len(data) <= MAX_INPUT_BYTES:
        docs = load_fast(data)
        if docs is not None:
            return docs
    return _load_full(data)


def _load_full(data: bytes) -> list[Branch]:
    """``load`` through PyYAML's libyaml event parser: any YAML, comments placed, errors raised."""
    if not data:
        raise StoreError(
            "YAML: the file is completely empty; it must contain at least one document",
            exit_code=92,
            hint="add a mapping to the file, or do not pass it to sops",
        )
    text = _decode(data)
    builder = Builder(text)
    parser = _Parser(text)
    try:
        return builder.run(parser.get_event)  # get_event: None after the stream's end
    except _pyyaml.MarkedYAMLError as exc:
        problem = exc.problem or exc.context or "malformed YAML"
        raise error(problem, exc.problem_mark) from None
    except _pyyaml.YAMLError as exc:
        raise error(type(exc).__name__) from None
    finally:
        parser.dispose()


def dump(docs: list[Branch], indent: int = 4) -> bytes:
    """Emit documents like sops 3.11 (go-yaml v3 with ``SetIndent(indent)``)."""
    from secretsync.crypto.sops.stores.yaml_emit import emit_documents

    return emit_documents(docs, indent)


def dump_value(value: Any) -> bytes:
    """What ``sops -d --extract`` prints for one value of a YAML file (strings raw)."""
    from secretsync.crypto.sops.stores.yaml_emit import emit_value

    return emit_value(value)
