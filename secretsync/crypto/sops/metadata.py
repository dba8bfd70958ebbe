"""The ``sops`` metadata block: on-disk form ⇄ ``SOPSMetadata`` (spec §6).

``from_file`` reads the block as any store hands it over (a ``Branch`` or plain
mapping; dotenv/INI give strings for numbers and booleans) and validates it;
``to_file`` writes it back in the field order sops 3.11 uses. The in-memory type
keeps master keys as objects grouped in key groups; one group is written as the
top-level key lists, several as ``key_groups``. Unknown fields are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from secretsync.crypto.sops.errors import ConflictingParameters, MetadataError, MetadataNotFound
from secretsync.crypto.sops.keys import KEY_FIELDS, KNOWN_FIELDS, key_from_file
from secretsync.crypto.sops.mac import mac_aad
from secretsync.crypto.sops.tree import Branch, Item, to_plain
from secretsync.crypto.sops.walk import SELECTOR_FIELDS, Selectors

__all__ = ["SOPSMetadata", "from_file", "to_file", "SOPS_VERSION", "METADATA_KEY"]

SOPS_VERSION = "3.11.0"
METADATA_KEY = "sops"
_SEMVER = re.compile(r"^v?(?:1\.)?\d+\.\d+\.\d+")


@dataclass
class SOPSMetadata:
    """What sops keeps about a file: key groups, threshold, selectors, MAC, timestamps."""

    key_groups: list[Any] = field(default_factory=list)  # list of lists of master keys
    shamir_threshold: int = 0
    lastmodified: str = ""
    mac: str = ""
    selectors: Selectors = field(default_factory=Selectors.default)
    mac_only_encrypted: bool = False
    version: str = SOPS_VERSION
    # Whether the file spelled out a selector (binary files carry none).
    write_selector: bool = True

    def master_keys(self) -> list[Any]:
        return [k for group in self.key_groups for k in group]


def _as_int(value: Any, name: str) -> int:
    if value in (None, ""):
        return 0
    try:
        number = float(value) if isinstance(value, str) else value
        if isinstance(number, bool) or int(number) != number:
            raise ValueError
        return int(number)
    except (TypeError, ValueError):
        raise MetadataError(f"sops metadata: {name} is not an integer") from None


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "t")


def _keys_of(group: dict[str, Any], where: str) -> list[Any]:
    keys = []
    for name in KNOWN_FIELDS:
        entries = group.get(name)
        if not entries:
            continue
        if not isinstance(entries, list):
            raise MetadataError(f"sops metadata: {where}{name} must be a list")
        for entry in entries:
            if not isinstance(entry, dict):
                raise MetadataError(f"sops metadata: {where}{name} entries must be mappings")
            keys.append(key_from_file(name, entry))
    return keys


def from_file(block: Any, where: str = "") -> SOPSMetadata:
    """Parse and validate a metadata block; ``where`` (the file name) prefixes errors."""
    prefix = f"{where}: " if where else ""
    if isinstance(block, Branch):
        block = to_plain(block)
    if not isinstance(block, dict):
        raise MetadataNotFound(f"{prefix}sops metadata not found", hint="this is not a sops-encrypted file")
    selectors_given = {name: block.get(name) for name in SELECTOR_FIELDS if block.get(name)}
    try:
        selectors = Selectors.from_mapping(selectors_given)
    except ConflictingParameters as exc:
        raise MetadataError(f"{prefix}{exc.message}") from None
    groups: list[Any] = []
    top = _keys_of(block, "")
    if top:
        groups = [top]
    elif isinstance(block.get("key_groups"), list):
        for i, group in enumerate(block["key_groups"]):
            if not isinstance(group, dict):
                raise MetadataError(f"{prefix}sops metadata: key_groups[{i}] must be a mapping")
            groups.append(_keys_of(group, f"key_groups[{i}]."))
    if not any(groups):
        raise MetadataError(
            f"{prefix}no keys found in the file's sops metadata",
            hint="the sops metadata is damaged; restore the file from version control",
        )
    lastmodified = str(block.get("lastmodified") or "")
    try:
        mac_aad(lastmodified)
    except MetadataError:
        raise MetadataError(
            f"{prefix}sops metadata: lastmodified is not an RFC3339 timestamp",
            hint="restore sops.lastmodified from version control",
        ) from None
    version = str(block.get("version") or "")
    if version and not _SEMVER.match(version):
        raise MetadataError(f"{prefix}sops metadata: version {version!r} is not Major.Minor.Patch")
    return SOPSMetadata(
        key_groups=groups,
        shamir_threshold=_as_int(block.get("shamir_threshold"), "shamir_threshold"),
        lastmodified=lastmodified,
        mac=str(block.get("mac") or ""),
        selectors=selectors,
        mac_only_encrypted=_as_bool(block.get("mac_only_encrypted", False)),
        version=version,
        write_selector=bool(selectors_given),
    )


def _group_to_file(group: list[Any], with_empty_vault: bool) -> Branch:
    out = Branch()
    for name in KEY_FIELDS:
        entries = [Branch(Item(k, v) for k, v in key.to_file().items()) for key in group if key.field == name]
        if entries or (with_empty_vault and name == "hc_vault"):
            out.append(Item(name, entries))
    for key in group:  # recognised extras (hckms) after the known ones
        if key.field not in KEY_FIELDS:
            out.set(key.field, (out.get(key.field) or []) + [Branch(Item(k, v) for k, v in key.to_file().items())])
    return out


def to_file(meta: SOPSMetadata) -> Branch:
    """The metadata block in sops 3.11's field order."""
    out = Branch()
    if meta.shamir_threshold:
        out.append(Item("shamir_threshold", meta.shamir_threshold))
    if len(meta.key_groups) > 1:
        out.append(Item("key_groups", [_group_to_file(g, True) for g in meta.key_groups]))
        flat = Branch()
    else:
        flat = _group_to_file(meta.key_groups[0] if meta.key_groups else [], False)
    for item in flat:
        if item.key != "pgp":
            out.append(item)
    out.append(Item("lastmodified", meta.lastmodified))
    out.append(Item("mac", meta.mac))
    if flat.get("pgp"):
        out.append(Item("pgp", flat.get("pgp")))
    if meta.write_selector:
        for name, value in meta.selectors.as_dict().items():
            out.append(Item(name, value))
    if meta.mac_only_encrypted:
        out.append(Item("mac_only_encrypted", True))
    out.append(Item("version", meta.version or SOPS_VERSION))
    return out
