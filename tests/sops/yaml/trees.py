"""A comparable form of a sops tree for the differential tests (loaders, walks).

``shape(node)`` keeps everything that tells two trees apart: container kinds, order,
types, reprs, a timestamp's nanoseconds and zone; NaN equals NaN.
"""

from __future__ import annotations

import math

from secretsync.crypto.sops.tree import Branch


def shape(node):
    if isinstance(node, Branch):
        return ("map", [(shape(item.key), shape(item.value)) for item in node])
    if isinstance(node, list):
        return ("seq", [shape(v) for v in node])
    if isinstance(node, float) and math.isnan(node):
        return ("nan",)
    return (type(node).__name__, repr(node), getattr(node, "nanosecond", None), repr(getattr(node, "tzinfo", None)))
