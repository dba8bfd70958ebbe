"""``.sops.yaml``: finding it and matching creation rules as sops 3.11 does (spec §11).

``find_config`` honours ``--config``/``SOPS_CONFIG``, else searches ``.sops.yaml``
from the working directory upward (100 levels; ``.sops.yml`` is not used).
``creation_rule_for`` returns the first rule whose ``path_regex`` (unanchored,
matched against the absolute path with the config directory prefix stripped)
matches, a rule without ``path_regex`` matching everything; a config with rules
but no match is an error even when keys are given on the command line. A rule
becomes key groups of master key objects, a threshold, selectors and
``mac_only_encrypted``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from secretsync.crypto.sops.errors import ConfigError, NoMatchingCreationRule
from secretsync.crypto.sops.keys.age import AgeKey
from secretsync.crypto.sops.keys.hc_vault import VaultTransitKey
from secretsync.crypto.sops.keys.unsupported import AWSKMSKey, AzureKVKey, GCPKMSKey, PGPKey
from secretsync.crypto.sops.walk import SELECTOR_FIELDS, Selectors
from secretsync.manifests.loader import safe_load_all_guarded

__all__ = ["find_config", "load_config", "SopsConfig", "CreationRule", "creation_rule_for", "parse_key_list"]

CONFIG_NAME = ".sops.yaml"


@dataclass
class CreationRule:
    """One matched creation rule, as keys and options."""

    key_groups: list[Any] = field(default_factory=list)
    shamir_threshold: int = 0
    selectors: dict[str, Any] = field(default_factory=dict)
    mac_only_encrypted: bool = False


@dataclass
class SopsConfig:
    path: Path
    rules: list[Any] = field(default_factory=list)  # raw rule mappings
    stores: dict[str, Any] = field(default_factory=dict)

    def indent(self, fmt: str) -> int | None:
        section = self.stores.get(fmt) or {}
        value = section.get("indent") if isinstance(section, dict) else None
        return int(value) if isinstance(value, int) else None


def find_config(
    cwd: str | os.PathLike[str] | None = None, explicit: str | None = None, env: Mapping[str, str] = os.environ
) -> Path | None:
    """The config file to use, or ``None``."""
    chosen = explicit or env.get("SOPS_CONFIG")
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise ConfigError(f"config file {chosen} does not exist", hint="fix --config or SOPS_CONFIG")
        return path
    here = Path(cwd or os.getcwd()).resolve()
    for _ in range(100):
        candidate = here / CONFIG_NAME
        if candidate.is_file():
            return candidate
        if here.parent == here:
            break
        here = here.parent
    return None


def load_config(path: Path) -> SopsConfig:
    try:
        docs = safe_load_all_guarded(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path} is not valid YAML{where}") from None
    except ValueError as exc:  # an alias bomb
        raise ConfigError(f"{path}: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply") from None
    if len(docs) > 1:
        raise ConfigError(f"{path} is not valid YAML: it holds {len(docs)} documents, expected one")
    raw = docs[0] if docs else None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    rules = raw.get("creation_rules") or []
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise ConfigError(f"{path}: creation_rules must be a list of mappings")
    stores = raw.get("stores") or {}
    return SopsConfig(path=path, rules=rules, stores=stores if isinstance(stores, dict) else {})


def parse_key_list(value: Any) -> list[str]:
    """A comma-separated string or (3.11+) a YAML list, whitespace trimmed, empties dropped."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    out: list[str] = []
    for item in items:
        for part in str(item).split(",") if not isinstance(value, list) else [str(item)]:
            part = part.strip()
            if part:
                out.append(part)
    return out


def _dedupe(keys: list[Any]) -> list[Any]:
    seen = set()
    out = []
    for k in keys:
        if k.name() not in seen:
            seen.add(k.name())
            out.append(k)
    return out


def _vault_keys(uris: list[str], where: str) -> list[Any]:
    keys = []
    for uri in uris:
        try:
            keys.append(VaultTransitKey.from_uri(uri))
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return keys


def _group_from_rule(rule: Mapping[str, Any], where: str) -> list[Any]:
    keys: list[Any] = [AgeKey(r) for r in parse_key_list(rule.get("age"))]
    keys += [PGPKey({"fp": fp}) for fp in parse_key_list(rule.get("pgp"))]
    keys += [AWSKMSKey({"arn": arn}) for arn in parse_key_list(rule.get("kms"))]
    keys += [GCPKMSKey({"resource_id": r}) for r in parse_key_list(rule.get("gcp_kms"))]
    keys += [AzureKVKey({"vault_url": r}) for r in parse_key_list(rule.get("azure_keyvault"))]
    keys += _vault_keys(parse_key_list(rule.get("hc_vault_transit_uri")), where)
    return keys


def _group_from_key_group(group: Mapping[str, Any], where: str) -> list[Any]:
    keys: list[Any] = [AgeKey(str(r).strip()) for r in group.get("age") or []]
    keys += [PGPKey({"fp": str(fp)}) for fp in group.get("pgp") or []]
    for entry in group.get("kms") or []:
        keys.append(AWSKMSKey(dict(entry) if isinstance(entry, dict) else {"arn": str(entry)}))
    for entry in group.get("gcp_kms") or []:
        keys.append(GCPKMSKey(dict(entry) if isinstance(entry, dict) else {"resource_id": str(entry)}))
    for entry in group.get("azure_keyvault") or []:
        keys.append(AzureKVKey({"vault_url": entry.get("vaultUrl", "")} if isinstance(entry, dict) else {}))
    keys += _vault_keys([str(u) for u in group.get("hc_vault") or []], where)
    for merged in group.get("merge") or []:
        if isinstance(merged, dict):
            keys += _group_from_key_group(merged, where)
    return _dedupe(keys)


def creation_rule_for(config: SopsConfig, file_path: str | os.PathLike[str]) -> CreationRule | None:
    """The first matching rule for ``file_path`` (``None`` when the config has no rules)."""
    if not config.rules:
        return None
    config_dir = str(config.path.resolve().parent)
    target = str(Path(file_path).absolute())
    if target.startswith(config_dir + os.sep):
        target = target[len(config_dir) + 1 :]
    for index, rule in enumerate(config.rules):
        pattern = rule.get("path_regex")
        if pattern:
            try:
                if not re.search(str(pattern), target):
                    continue
            except re.error as exc:
                raise ConfigError(f"{config.path}: creation_rules[{index}].path_regex is invalid: {exc.msg}") from None
        where = f"{config.path}: creation_rules[{index}]"
        if rule.get("key_groups"):
            groups = [_group_from_key_group(g, where) for g in rule["key_groups"] if isinstance(g, dict)]
        else:
            group = _group_from_rule(rule, where)
            groups = [group] if group else []
        selectors = {name: str(rule[name]) for name in SELECTOR_FIELDS if rule.get(name)}
        try:
            Selectors(**selectors)
        except Exception as exc:  # ConflictingParameters: name the rule
            raise ConfigError(
                f"{where}: {getattr(exc, 'message', exc)}", exit_code=getattr(exc, "exit_code", 5)
            ) from None
        threshold = rule.get("shamir_threshold") or 0
        return CreationRule(
            key_groups=groups,
            shamir_threshold=int(threshold),
            selectors=selectors,
            mac_only_encrypted=bool(rule.get("mac_only_encrypted")),
        )
    raise NoMatchingCreationRule(
        f"error loading config: no matching creation rules found in {config.path} for {file_path}",
        hint="add a creation rule whose path_regex matches this file",
    )
