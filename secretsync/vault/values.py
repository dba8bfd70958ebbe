"""``SecretData``: the key/value map of one Vault secret, as reads return it; its repr never shows values."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

from secretsync.secretvalue import REDACTED

__all__ = ["SecretData"]


class SecretData(Mapping[str, Any]):
    """The key/value map of one Vault secret; its repr and str never show values."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None) -> None:
        self._data = dict(data or {})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"SecretData({REDACTED}, keys={sorted(self._data)})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("SecretData cannot be pickled")
