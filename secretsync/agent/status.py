"""Where a Sync's inventory and status live: ``status.inventory`` of the Sync, or an ApplySet in local mode.

``SyncStatusStore`` and ``LocalSyncStore`` are the two ``secretsync.reconcile.InventoryStore``s of the
agent; ``status_patch`` is the merge patch that turns the status the reconcile started from into the
one it ends with (a key that left status is sent as null, since a merge patch keeps keys it does not
name). Conditions themselves are set with ``secretsync.api.conditions``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from secretsync.agent.state import owner_labels
from secretsync.api.syncspec import SyncSpec
from secretsync.kube.inventory import Inventory

__all__ = ["SyncStatusStore", "LocalSyncStore", "StatusWriter", "status_patch"]

log = logging.getLogger(__name__)


class StatusWriter(Protocol):
    def write_status(self, obj: dict[str, Any], status: dict[str, Any]) -> None: ...


def status_patch(original: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any] | None:
    """The merge patch from ``original`` to ``status``, or None when nothing changed."""
    if status == original:
        return None
    return {**{k: None for k in original if k not in status}, **status}


class SyncStatusStore:
    """``secretsync.reconcile.InventoryStore`` kept in the Sync's ``status.inventory`` (Flux's form)."""

    def __init__(self, writer: StatusWriter, obj: dict[str, Any]) -> None:
        self._writer = writer
        self._obj = obj
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        self.owner_labels: Mapping[str, str] = owner_labels(ns, name)

    def load(self, index: Any, versions: Mapping[Any, Any]) -> tuple[Inventory, dict[Any, Any]]:
        entries = ((self._obj.get("status") or {}).get("inventory") or {}).get("entries") or []
        good = []
        for entry in entries:
            try:
                Inventory.from_status([entry])
                good.append(entry)
            except (ValueError, KeyError, TypeError):
                # written by an older agent (an object the server refused entered the inventory): it never existed
                log.warning(
                    "Sync %s/%s: dropping unreadable inventory entry %r",
                    self._obj["metadata"]["namespace"],
                    self._obj["metadata"]["name"],
                    str(entry.get("id"))[:300],
                )
        return Inventory.from_status(good), {}

    def save(self, inventory: Inventory, *, dry_run: bool = False) -> None:
        if dry_run:
            return
        status = self._obj.setdefault("status", {})
        entries = inventory.to_status()
        if ((status.get("inventory") or {}).get("entries") or []) == entries:
            return
        status["inventory"] = {"entries": entries}
        self._writer.write_status(self._obj, {"inventory": status["inventory"]})

    def widen(self, previous: Inventory, new: Inventory) -> None:
        """Nothing before applying: entries are recorded once the server accepted them. After a crash
        mid-apply the objects already written carry the Sync's owner labels and the same render
        records them on the next reconcile."""


class LocalSyncStore:
    """Local mode's ``InventoryStore``: an ApplySet parent Secret in the Sync's namespace, named as ``secretsync
    apply`` names it for the same folder and path, so the inventory outlives the process and a restart prunes
    what left the folder (with every prune guard). Members carry the Sync's owner labels and the part-of label."""

    def __init__(self, client: Any, spec: SyncSpec) -> None:
        from secretsync.kube.inventory import ApplySet, local_applyset_name

        self.applyset = ApplySet(client, local_applyset_name(spec.local_path or ".", spec.path), spec.namespace)
        self.owner_labels: Mapping[str, str] = {
            **owner_labels(spec.namespace, spec.name),
            **self.applyset.member_labels,
        }

    def load(self, index: Any, versions: Mapping[Any, Any]) -> tuple[Inventory, dict[Any, Any]]:
        members: tuple[Inventory, dict[Any, Any]] = self.applyset.members(index, versions)
        return members

    def save(self, inventory: Inventory, *, dry_run: bool = False) -> None:
        self.applyset.save(inventory, dry_run=dry_run)

    def widen(self, previous: Inventory, new: Inventory) -> None:
        self.applyset.widen(new, previous)
