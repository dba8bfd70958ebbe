"""The primitives composed as the controllers will use them: an Informer feeds a WorkQueue whose workers
reconcile (here: mirror each labelled ConfigMap into ``<name>-mirror``), gated by a LeaderElector. Two
replicas run against one API server: only the leader writes, every source gets its mirror, a change is
followed, a deleted mirror is recreated, and when the leader dies (no release) the other replica takes over
and keeps reconciling; Events record the work. Also the usage example for the reconcilers built on these."""

from __future__ import annotations

import threading

from secretsync.kube.watch import Informer
from secretsync.runtime.leader import LeaderElector
from secretsync.runtime.queue import WorkQueue
from secretsync.runtime.recorder import EventRecorder
from tests.fixtures.polling import wait_for
from tests.kube.conftest import client_for


class MirrorController:
    def __init__(self, kube, namespace, identity, writes):
        self.kube, self.namespace, self.identity, self.writes = kube, namespace, identity, writes
        self.queue = WorkQueue(name=f"mirror-{identity}", base_delay=0.05, max_delay=1)
        self.sources = Informer(
            kube,
            "v1",
            "ConfigMap",
            namespace,
            label_selector="mirror=yes",
            handler=lambda ev: self.queue.add(ev.object["metadata"]["name"]),
        )
        self.mirrors = Informer(
            kube, "v1", "ConfigMap", namespace, label_selector="mirror-of", handler=self._mirror_event
        )
        self.events = EventRecorder(kube, "mirror-controller")
        self.elector = LeaderElector(
            kube,
            namespace,
            "mirror-controller",
            identity=identity,
            lease_duration=2,
            renew_deadline=1.5,
            retry_period=0.2,
            on_started_leading=self._lead,
        )

    def _mirror_event(self, ev):
        if ev.type == "DELETED":  # recreate a deleted mirror
            self.queue.add(ev.object["metadata"]["labels"]["mirror-of"])

    def _lead(self, term: threading.Event):
        for name in [o["metadata"]["name"] for o in self.sources.items()]:
            self.queue.add(name)  # a new leader starts from the full picture
        self.queue.start(self.reconcile, workers=2)

    def reconcile(self, name):
        if not self.elector.is_leader():
            return None
        source = self.sources.get(self.namespace, name)
        if source is None:
            return None
        mirror = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{name}-mirror", "namespace": self.namespace, "labels": {"mirror-of": name}},
            "data": dict(source.get("data") or {}),
        }
        live = self.kube.get_or_none("v1", "ConfigMap", f"{name}-mirror", self.namespace)
        if live is not None and live.get("data") == mirror["data"]:
            return None  # no-op reconcile writes nothing
        self.kube.apply(mirror, field_manager="mirror-controller", force=True)
        self.writes.append((self.identity, name, dict(mirror["data"])))
        self.events.event(source, "Normal", "Mirrored", f"mirrored into {name}-mirror")
        return None

    def start(self):
        self.sources.start()
        self.mirrors.start()
        self.elector.start()
        return self

    def stop(self, release=True):
        self.elector.stop(release=release)
        self.queue.shutdown()
        self.events.flush()
        self.events.stop()
        self.sources.stop()
        self.mirrors.stop()


def test_two_replicas_one_writer_with_failover(apiserver, kube, namespace):
    writes = []
    ca = client_for(apiserver, timeout=10)
    cb = client_for(apiserver, timeout=10)
    a = MirrorController(ca, namespace, "a", writes).start()
    assert wait_for(a.elector.is_leader)
    b = MirrorController(cb, namespace, "b", writes).start()
    for i in range(3):
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"src{i}", "namespace": namespace, "labels": {"mirror": "yes"}},
                "data": {"v": str(i)},
            }
        )

    def mirror(i):
        return kube.get_or_none("v1", "ConfigMap", f"src{i}-mirror", namespace)

    assert wait_for(lambda: all(mirror(i) for i in range(3)))
    assert {w[0] for w in writes} == {"a"}, "only the leader writes"
    kube.patch("v1", "ConfigMap", "src0", namespace, {"data": {"v": "changed"}})
    assert wait_for(lambda: mirror(0)["data"] == {"v": "changed"})
    kube.delete("v1", "ConfigMap", "src1-mirror", namespace)
    assert wait_for(lambda: mirror(1) is not None)

    a.stop(release=False)  # the leader dies without handing over
    assert wait_for(b.elector.is_leader, timeout=8)
    kube.patch("v1", "ConfigMap", "src2", namespace, {"data": {"v": "after-failover"}})
    assert wait_for(lambda: mirror(2)["data"] == {"v": "after-failover"})
    assert wait_for(lambda: ("b", "src2", {"v": "after-failover"}) in writes), writes  # appended after the write
    per_change = {}
    for who, name, data in writes:
        per_change.setdefault((name, tuple(sorted(data.items()))), []).append(who)
    doubled = {k: v for k, v in per_change.items() if len(v) > 1 and k[0] != "src1"}
    assert doubled == {}, "no change was written twice (src1's mirror was deleted on purpose)"
    b.stop()
    mirrored = [e for e in kube.list("v1", "Event", namespace)["items"] if e["reason"] == "Mirrored"]
    assert mirrored and {e["source"]["component"] for e in mirrored} == {"mirror-controller"}
    for c in (ca, cb):
        c.close()
