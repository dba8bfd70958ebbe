"""The value type for plaintext secret bytes: it never shows its content.

``SecretBytes`` wraps plaintext so that ``repr``, ``str``, f-strings, logging and
tracebacks print a redacted marker instead of the value. Reading the value is an
explicit act (``reveal()``), which makes every place that handles plaintext easy
to find with grep. Equality is constant-time. The type is deliberately not a
``bytes`` subclass: a subclass would leak through ``bytes`` methods, slicing,
``%s`` formatting and ``json.dumps``.
"""

from __future__ import annotations

import base64
import hmac
from typing import NoReturn

__all__ = ["SecretBytes", "REDACTED"]

REDACTED = "<redacted>"


class SecretBytes:
    """Plaintext secret bytes that redact themselves when printed."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes | bytearray | memoryview | str) -> None:
        if isinstance(value, str):
            value = value.encode("utf-8")
        elif not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"SecretBytes needs bytes or str, not {type(value).__name__}")
        self._value = bytes(value)

    @classmethod
    def from_base64(cls, text: str | bytes) -> SecretBytes:
        """Decode standard base64 (validated); the error never echoes the input."""
        try:
            return cls(base64.b64decode(text, validate=True))
        except (ValueError, TypeError):
            raise ValueError("value is not valid base64") from None

    def reveal(self) -> bytes:
        """Return the plaintext. Every caller is a place where plaintext is handled."""
        return self._value

    def reveal_text(self, encoding: str = "utf-8") -> str:
        """Return the plaintext decoded as text (UTF-8 by default)."""
        return self._value.decode(encoding)

    def to_base64(self) -> str:
        """The value as standard base64 text, as Kubernetes Secret ``data`` holds it."""
        return base64.b64encode(self._value).decode("ascii")

    def __len__(self) -> int:
        return len(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SecretBytes):
            return hmac.compare_digest(self._value, other._value)
        return NotImplemented

    def __hash__(self) -> int:
        # Hash of the value would let an attacker with a dict probe contents; keep identity-free but stable.
        return hash((SecretBytes, len(self._value)))

    def __repr__(self) -> str:
        return f"SecretBytes({REDACTED}, {len(self._value)} bytes)"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __reduce__(self) -> NoReturn:  # pickling would write plaintext to wherever the pickle goes
        raise TypeError("SecretBytes cannot be pickled")

    def __copy__(self) -> SecretBytes:
        return self

    def __deepcopy__(self, memo: object) -> SecretBytes:
        return self
