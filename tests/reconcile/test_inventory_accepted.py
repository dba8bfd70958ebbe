"""Only objects the server accepted (or that already existed) enter the inventory.

Covers: an object the server refuses (a name with an underscore) never enters an entry-based
inventory (the Sync status form) - neither before the apply nor after it fails - while its valid
neighbours and the previous entries stay, and every saved inventory parses back with
``Inventory.from_status``; the ApplySet still records the new kinds before applying (crash safety);
and a Sync whose apply is refused keeps a readable ``status.inventory`` without the refused object.
"""

from __future__ import annotations

import pytest

from secretsync.api.conditions import Reason
from secretsync.kube.inventory import Inventory
from secretsync.kube.plan import owner_selector
from secretsync.reconcile import ReconcileOptions, reconcile_rendered
from tests.reconcile.conftest import write

pytestmark = pytest.mark.timeout(60)


class MemoryStore:
    """An entry-based store (like the agent's Sync status) that keeps every inventory saved, as status text."""

    owner_labels = {"test.secretsync.io/owner": "accepted"}

    def __init__(self) -> None:
        self.saved: list[list[dict]] = []

    def load(self, index, versions):
        return (Inventory.from_status(self.saved[-1]) if self.saved else Inventory()), {}

    def save(self, inventory, *, dry_run=False):
        if not dry_run:
            self.saved.append(inventory.to_status())

    def widen(self, previous, new):
        pass


def render_dir(root):
    from secretsync.render.pipeline import render
    from secretsync.sources.local import LocalSource

    return render(LocalSource(str(root)))


def cm(ns: str, name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\ndata:\n  a: b\n"


def test_refused_object_never_enters_the_inventory(kube, tmp_path):
    ns = kube.cluster.namespace
    store = MemoryStore()
    opts = ReconcileOptions(prune=True, timeout=10, poll_interval=0.05)
    first = reconcile_rendered(
        render_dir(write(tmp_path / "one", {"old.yaml": cm(ns, "old")})), kube.client, store, opts
    )
    assert first.ok
    second = reconcile_rendered(
        render_dir(write(tmp_path / "two", {"good.yaml": cm(ns, "good"), "bad.yaml": cm(ns, "bad_name")})),
        kube.client,
        store,
        opts,
    )
    assert not second.ok and second.reason == Reason.APPLY_FAILED and "bad_name" in second.error.message
    assert kube.client.get_or_none("v1", "ConfigMap", "good", ns) is not None
    for saved in store.saved:  # every inventory ever saved parses back
        Inventory.from_status(saved)
    names = {e.id.name for e in Inventory.from_status(store.saved[-1])}
    assert names == {"old", "good"}  # previous kept (not pruned after a failure), accepted added
    assert {e.id.name for e in second.inventory} == names


def test_applyset_records_new_kinds_before_applying(kube, tmp_path):
    """The ApplySet parent is widened (kinds and namespaces only) before anything is written."""
    from secretsync.kube.inventory import CONTAINS_GROUP_KINDS, ApplySet
    from secretsync.reconcile import ApplySetStore

    ns = kube.cluster.namespace
    applyset = ApplySet(kube.client, "accepted", ns)
    seen = []
    original = kube.client.apply

    def spying(obj, **kw):
        if obj.get("kind") == "ServiceAccount":  # the first member written: the parent must know its kind
            parent = kube.client.get("v1", "Secret", "accepted", ns)
            seen.append(parent["metadata"]["annotations"][CONTAINS_GROUP_KINDS])
        return original(obj, **kw)

    kube.client.apply = spying
    try:
        root = write(
            tmp_path / "src",
            {"sa.yaml": f"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\n  namespace: {ns}\n"},
        )
        result = reconcile_rendered(
            render_dir(root), kube.client, ApplySetStore(applyset), ReconcileOptions(timeout=10, poll_interval=0.05)
        )
    finally:
        del kube.client.apply
    assert result.ok
    assert seen and "ServiceAccount" in seen[0].split(",")
    members, _ = applyset.members(None, None)
    assert {e.id.name for e in members} == {"sa"}
    assert owner_selector(applyset.member_labels)
