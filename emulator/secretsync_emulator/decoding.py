"""Request-body YAML, loaded safely: one document, and no alias bombs.

A few kilobytes of nested YAML aliases ("billion laughs") expand to an
object too large to serialise; go-yaml, which the real server uses, refuses
such documents ("excessive aliasing"). ``load_yaml_document`` does the same by
counting the expanded size with an early stop.
"""

from __future__ import annotations

import yaml

__all__ = ["load_yaml_document", "MAX_NODES"]

MAX_NODES = 1_000_000


def _check_size(value, limit: int) -> None:
    count = 0
    stack = [value]
    while stack:
        node = stack.pop()
        count += 1
        if count > limit:
            raise ValueError("yaml: document contains excessive aliasing")
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def load_yaml_document(body: bytes | str, limit: int = MAX_NODES):
    """The single YAML document in ``body``; ValueError/YAMLError if there are several or it expands too far."""
    docs = list(yaml.safe_load_all(body))
    if len(docs) != 1:
        raise ValueError("expected exactly one YAML document")
    anchor = b"&" if isinstance(body, bytes) else "&"
    if anchor in body:  # without anchors there are no aliases, and nothing can expand
        _check_size(docs[0], limit)
    return docs[0]
