"""The decisions behind ``secretsync sops`` that are not flag parsing: encryption settings and file status.

``encrypt_settings`` merges what the command line gives (a key group, selectors, a Shamir
threshold, ``--mac-only-encrypted``) with the matching ``.sops.yaml`` creation rule as sops
3.11 does: command-line keys replace the rule's key groups; a selector on the command line
and another in the rule conflict. ``file_status`` is ``sops filestatus``: whether a file
holds complete sops metadata. Used by ``secretsync.cli.sops``; no printing here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from secretsync.crypto.sops import document
from secretsync.crypto.sops.errors import ConflictingParameters, SopsError
from secretsync.crypto.sops.formats import format_for_path, store_for
from secretsync.sops.files import EncryptSettings, read_input, rule_for_file

__all__ = ["encrypt_settings", "file_status"]


def encrypt_settings(
    target: str,
    *,
    key_group: Sequence[Any],
    selectors: Mapping[str, str],
    shamir_threshold: int | None,
    mac_only_encrypted: bool,
    config_path: str | None = None,
) -> EncryptSettings:
    """The settings ``encrypt`` uses for ``target`` (an absolute path): the flags over its creation rule."""
    rule, _ = rule_for_file(target, config_path=config_path)
    rule_selectors = dict(rule.selectors) if rule else {}
    for name in selectors:
        rule_selectors.pop(name, None)
    if selectors and rule_selectors:
        raise ConflictingParameters(
            f"the selector given on the command line ({', '.join(selectors)}) "
            f"conflicts with the creation rule's ({', '.join(rule_selectors)})",
            hint="give only one selector",
        )
    rule_selectors.update(selectors)
    if key_group:
        groups = [list(key_group)]
    else:
        groups = rule.key_groups if rule else []
    threshold = shamir_threshold
    if threshold is None:
        threshold = rule.shamir_threshold if rule else 0
    return EncryptSettings(
        key_groups=groups,
        shamir_threshold=threshold,
        selectors=rule_selectors,
        mac_only_encrypted=mac_only_encrypted or bool(rule and rule.mac_only_encrypted),
    )


def file_status(path: str, fmt: str | None) -> bool:
    """Whether ``path`` is a sops file: it parses in its format and carries a version and a MAC."""
    data = read_input(path)
    try:
        docs = store_for(fmt or format_for_path(path)).load_encrypted(data)
        meta = document.metadata_of(docs, path)
    except SopsError:
        return False
    return bool(meta.version and meta.mac)
