"""Informer (list+watch) against an API server: initial list as ADDED, then watch events with the
previous object attached, store kept current, resourceVersion following events; a relist emits
ADDED/MODIFIED/DELETED against the store (nothing missed across a 410); callback mode in a thread;
stop() ends a blocked watch at once; with the emulator's fault injection, dropped watches and 410s
are survived without losing events; stop() racing start() is harmless."""

from __future__ import annotations

import threading
import time

from secretsync import SecretBytes
from secretsync.kube.watch import ADDED, DELETED, MODIFIED, Informer


def cm(name, ns, value="1"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": {"v": value}}


def collect(events, n, timeout=10):
    out = []
    deadline = time.monotonic() + timeout
    for ev in events:
        out.append(ev)
        if len(out) >= n or time.monotonic() > deadline:
            break
    return out


def test_initial_list_then_watch_events_with_old_object(kube, namespace):
    kube.create(cm("pre", namespace))
    inf = Informer(kube, "v1", "ConfigMap", namespace, watch_timeout=30)
    events = inf.events()
    first = collect(events, 1)
    assert [(e.type, e.object["metadata"]["name"]) for e in first] == [(ADDED, "pre")]
    assert inf.synced.is_set() and inf.get(namespace, "pre") is not None

    def writer():
        time.sleep(0.2)
        kube.create(cm("new", namespace))
        kube.patch("v1", "ConfigMap", "pre", namespace, {"data": {"v": "2"}})
        kube.delete("v1", "ConfigMap", "new", namespace)

    threading.Thread(target=writer, daemon=True).start()
    got = collect(events, 3)
    inf.stop()
    events.close()
    assert [(e.type, e.object["metadata"]["name"]) for e in got] == [
        (ADDED, "new"),
        (MODIFIED, "pre"),
        (DELETED, "new"),
    ]
    modified = got[1]
    assert modified.old["data"]["v"] == "1" and modified.object["data"]["v"] == "2"
    assert inf.get(namespace, "new") is None and inf.get(namespace, "pre")["data"]["v"] == "2"
    assert inf.resource_version == modified.object["metadata"]["resourceVersion"] or int(inf.resource_version) >= int(
        modified.object["metadata"]["resourceVersion"]
    )


def test_relist_reports_the_difference_against_the_store(kube, namespace):
    kube.create(cm("stays", namespace))
    kube.create(cm("changes", namespace))
    kube.create(cm("goes", namespace))
    inf = Informer(kube, "v1", "ConfigMap", namespace)
    assert len(list(inf._relist())) == 3
    kube.delete("v1", "ConfigMap", "goes", namespace)
    kube.patch("v1", "ConfigMap", "changes", namespace, {"data": {"v": "2"}})
    kube.create(cm("arrives", namespace))
    diff = {(e.type, e.object["metadata"]["name"]) for e in inf._relist()}
    assert diff == {(DELETED, "goes"), (MODIFIED, "changes"), (ADDED, "arrives")}
    assert sorted(o["metadata"]["name"] for o in inf.items()) == ["arrives", "changes", "stays"]
    assert inf.relists == 2


def test_callback_mode_and_stop_ends_a_blocked_watch(kube, namespace):
    seen = []
    got_two = threading.Event()

    def handler(ev):
        seen.append((ev.type, ev.object["metadata"]["name"]))
        if len(seen) >= 2:
            got_two.set()

    inf = Informer(kube, "v1", "Secret", namespace, handler=handler, watch_timeout=60).start()
    assert inf.wait_synced(10)
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "namespace": namespace},
            "data": {"k": SecretBytes(b"v")},
        }
    )
    kube.create(cm("not-a-secret", namespace))
    kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "t", "namespace": namespace}})
    assert got_two.wait(10)
    assert seen == [(ADDED, "s"), (ADDED, "t")]
    assert isinstance(inf.get(namespace, "s")["data"]["k"], SecretBytes)
    started = time.monotonic()
    inf.stop()
    assert not inf._thread.is_alive() and time.monotonic() - started < 5


def test_label_selector_limits_the_informer(kube, namespace):
    inf = Informer(kube, "v1", "ConfigMap", namespace, label_selector="app=mine")
    events = inf.events()
    mine = cm("mine", namespace)
    mine["metadata"]["labels"] = {"app": "mine"}
    kube.create(cm("other", namespace))
    kube.create(mine)
    got = collect(events, 1)
    inf.stop()
    events.close()
    assert [(e.type, e.object["metadata"]["name"]) for e in got] == [(ADDED, "mine")]


def test_bookmarks_move_the_resource_version_without_events(tmp_path):
    from tests.fixtures.apiserver import make_cluster
    from tests.kube.conftest import client_for

    cluster = make_cluster(tmp_path / "bookmarks", bookmark_interval=0.1)
    cluster.require_emulator("a bookmark interval short enough for a test")
    kube = client_for(cluster)
    try:
        for ns in ("quiet", "busy"):
            kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        seen = []
        inf = Informer(kube, "v1", "ConfigMap", "quiet", handler=seen.append).start()
        assert inf.wait_synced(5)
        assert cluster.faults.wait_for_watches(1, timeout=5)
        for i in range(3):
            kube.create(cm(f"b{i}", "busy"))  # moves the global resourceVersion only
        latest = int(kube.list("v1", "ConfigMap", "busy")["metadata"]["resourceVersion"])
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and int(inf.resource_version) < latest:
            time.sleep(0.05)
        assert int(inf.resource_version) >= latest, "bookmarks carry the resourceVersion forward"
        assert seen == [], "bookmarks are not reported as events"
        inf.stop()
    finally:
        kube.close()
        cluster.server.stop()


def test_a_failing_handler_is_logged_by_type_and_place_never_by_its_text(kube, namespace, caplog):
    import logging

    caplog.set_level(logging.DEBUG, logger="secretsync.kube.watch")
    failed = threading.Event()

    def handler(ev):
        failed.set()
        raise RuntimeError(f"value {ev.object['data']['k'].reveal()!r} rejected")  # a careless handler

    inf = Informer(kube, "v1", "Secret", namespace, handler=handler, watch_timeout=60).start()
    assert inf.wait_synced(10)
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "namespace": namespace},
            "data": {"k": SecretBytes(b"canary-watch-7c2e")},
        }
    )
    assert failed.wait(10)
    inf.stop()
    assert "canary-watch-7c2e" not in caplog.text
    assert "RuntimeError" in caplog.text and "test_watch.py" in caplog.text


def test_stop_racing_start_does_not_raise_and_the_late_thread_ends(kube, namespace):
    """A runtime may stop an informer while another thread is inside start(): the thread object exists but
    has not started yet. stop() must not fail on joining it, and the thread, once started, sees the stop."""
    inf = Informer(kube, "v1", "ConfigMap", namespace, handler=lambda ev: None)
    inf._thread = threading.Thread(target=inf.run, daemon=True)  # start() between its two statements
    inf.stop(timeout=1)
    inf._thread.start()
    inf._thread.join(5)
    assert not inf._thread.is_alive() and inf.watches == 0
