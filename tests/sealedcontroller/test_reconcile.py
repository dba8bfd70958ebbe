"""The upstream controller's integration behaviours (bitnami-labs/sealed-secrets integration/controller_test.go,
specs/sealed-secrets.md §3-4), each asserting what the cluster holds afterwards: create with template metadata,
type and ownerReferences; update on spec change; no re-unseal on a metadata-only change; recreate after delete
(and not with skip_recreate); managed / patch rules; immutable Secrets; the not-managed refusal; status flips
with observedGeneration; events with upstream reasons and texts; tampered SealedSecrets leave the live Secret
alone; bounded retries; label selector and namespace scope; garbage collection through ownerReferences.
Runs on the emulator or, with SECRETSYNC_TEST_KUBECONFIG, a real cluster."""

from __future__ import annotations

import base64
import time

from secretsync.sealedcontroller.reconciler import ControllerOptions, immutable_message, not_managed_message
from secretsync.secretvalue import SecretBytes
from tests.sealedcontroller.conftest import (
    SS_API,
    events_for,
    get_secret,
    make_sealed,
    plain,
    synced_condition,
    wait_for,
)


def _settle(runtime, seconds=0.6):
    """Let watches deliver and the queue drain, then give stray work a chance to show up."""
    wait_for(lambda: runtime.controller.idle(), what="the work queue to drain")
    time.sleep(seconds)
    wait_for(lambda: runtime.controller.idle(), what="the work queue to drain")
    runtime.recorder.flush()


def _status(kube, ns, name, want):
    return wait_for(
        lambda: (c := synced_condition(kube, ns, name)) and c.get("status") == want and c,
        what=f"Synced={want} on {ns}/{name}",
    )


def _edit_spec(kube, ns, name, fn):
    obj = kube.get(SS_API, "SealedSecret", name, ns)
    fn(obj)
    return kube.update(obj)


def test_create_secret_with_template_metadata_owner_and_status(controller, sealed_kube, namespace):
    ss = make_sealed(
        controller,
        namespace,
        "app",
        {"password": "hunter2", "user": "admin"},
        type="kubernetes.io/basic-auth",
        metadata={"labels": {"team": "a"}, "annotations": {"note": "x"}},
    )
    created = sealed_kube.create(ss)
    secret = wait_for(lambda: get_secret(sealed_kube, namespace, "app"), what="the Secret")
    assert plain(secret) == {"password": b"hunter2", "user": b"admin"}
    assert secret["type"] == "kubernetes.io/basic-auth"
    assert secret["metadata"]["labels"] == {"team": "a"}
    assert secret["metadata"]["annotations"] == {"note": "x"}
    assert secret["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "bitnami.com/v1alpha1",
            "kind": "SealedSecret",
            "name": "app",
            "uid": created["metadata"]["uid"],
            "controller": True,
        }
    ]
    cond = _status(sealed_kube, namespace, "app", "True")
    assert "message" not in cond and cond["lastTransitionTime"] and cond["lastUpdateTime"]
    obj = sealed_kube.get(SS_API, "SealedSecret", "app", namespace)
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
    _settle(controller)
    [event] = events_for(sealed_kube, namespace, "app", "Unsealed")
    assert event["type"] == "Normal" and event["message"] == "SealedSecret unsealed successfully"
    assert event["source"] == {"component": "sealed-secrets"}
    assert (
        event["involvedObject"]["kind"] == "SealedSecret"
        and event["involvedObject"]["uid"] == created["metadata"]["uid"]
    )


def test_update_on_spec_change_only(controller, sealed_kube, namespace):
    sealed_kube.create(make_sealed(controller, namespace, "app", {"password": "one"}))
    wait_for(lambda: get_secret(sealed_kube, namespace, "app"), what="the Secret")
    _settle(controller)
    writes = controller.controller.writes

    # metadata-only change (a label on the SealedSecret): no re-unseal, no Secret write
    _edit_spec(sealed_kube, namespace, "app", lambda o: o["metadata"].setdefault("labels", {}).update(x="y"))
    _settle(controller)
    assert controller.controller.writes == writes

    # spec change: the Secret follows, status observes the new generation
    fresh = make_sealed(controller, namespace, "app", {"password": "two"})
    updated = _edit_spec(sealed_kube, namespace, "app", lambda o: o.__setitem__("spec", fresh["spec"]))
    wait_for(lambda: plain(get_secret(sealed_kube, namespace, "app")) == {"password": b"two"}, what="the new value")
    wait_for(
        lambda: (
            sealed_kube.get(SS_API, "SealedSecret", "app", namespace)["status"].get("observedGeneration")
            == updated["metadata"]["generation"]
        ),
        what="observedGeneration",
    )
    assert controller.controller.writes == writes + 1


def test_metadata_change_does_not_overwrite_a_hand_edit(controller, sealed_kube, namespace):
    sealed_kube.create(make_sealed(controller, namespace, "app", {"password": "sealed"}))
    secret = wait_for(lambda: get_secret(sealed_kube, namespace, "app"), what="the Secret")
    _settle(controller)
    secret["data"]["password"] = SecretBytes(b"edited")
    sealed_kube.update(secret)
    _edit_spec(
        sealed_kube,
        namespace,
        "app",
        lambda o: o["metadata"].setdefault("annotations", {}).update({"sealedsecrets.bitnami.com/x": "y"}),
    )
    _settle(controller)
    assert plain(get_secret(sealed_kube, namespace, "app")) == {"password": b"edited"}


def test_deleted_secret_is_recreated(controller, sealed_kube, namespace):
    sealed_kube.create(make_sealed(controller, namespace, "app", {"password": "p"}))
    first = wait_for(lambda: get_secret(sealed_kube, namespace, "app"), what="the Secret")
    sealed_kube.delete("v1", "Secret", "app", namespace)
    again = wait_for(
        lambda: (
            (s := get_secret(sealed_kube, namespace, "app")) and s["metadata"]["uid"] != first["metadata"]["uid"] and s
        ),
        what="the recreated Secret",
    )
    assert plain(again) == {"password": b"p"}
    # the Secret watch behind this keeps metadata only: no plaintext of the cluster's Secrets in memory
    cached = [s for i in controller.controller._secret_informers for s in i.items()]
    assert cached and all("data" not in s and "stringData" not in s for s in cached)


def test_skip_recreate_leaves_a_deleted_secret_deleted(start_controller, sealed_kube, namespace):
    runtime = start_controller(
        controller=ControllerOptions(namespaces=[namespace], skip_recreate=True, backoff_base=0.05)
    )
    runtime.keys.wait_for_key(20)
    wait_for(lambda: runtime.controller is not None and runtime.controller.synced(), what="sync")
    sealed_kube.create(make_sealed(runtime, namespace, "app", {"password": "p"}))
    wait_for(lambda: get_secret(sealed_kube, namespace, "app"), what="the Secret")
    sealed_kube.delete("v1", "Secret", "app", namespace)
    _settle(runtime, 1.0)
    assert get_secret(sealed_kube, namespace, "app") is None


def test_existing_unmanaged_secret_is_refused(controller, sealed_kube, namespace):
    sealed_kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "app", "namespace": namespace},
            "data": {"password": base64.b64encode(b"mine").decode()},
        }
    )
    sealed_kube.create(make_sealed(controller, namespace, "app", {"password": "sealed"}))
    cond = _status(sealed_kube, namespace, "app", "False")
    assert cond["message"] == f"failed update: {not_managed_message('app')}"
    assert not_managed_message("app") == 'Resource "app" already exists and is not managed by SealedSecret'
    _settle(controller)
    [event] = events_for(sealed_kube, namespace, "app", "ErrUpdateFailed")
    assert event["type"] == "Warning" and event["message"] == not_managed_message("app")
    secret = get_secret(sealed_kube, namespace, "app")
    assert plain(secret) == {"password": b"mine"} and "ownerReferences" not in secret["metadata"]


def test_managed_annotation_hands_the_secret_over(controller, sealed_kube, namespace):
    sealed_kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "app",
                "namespace": namespace,
                "labels": {"old": "1"},
                "annotations": {"sealedsecrets.bitnami.com/managed": "true"},
            },
            "data": {"old": base64.b64encode(b"x").decode()},
        }
    )
    created = sealed_kube.create(
        make_sealed(controller, namespace, "app", {"password": "sealed"}, metadata={"labels": {"new": "1"}})
    )
    secret = wait_for(
        lambda: (s := get_secret(sealed_kube, namespace, "app")) and "password" in s["data"] and s,
        what="the managed Secret to be replaced",
    )
    assert plain(secret) == {"password": b"sealed"}  # replaced, not merged
    assert secret["metadata"]["labels"] == {"new": "1"}
    assert "annotations" not in secret["metadata"]  # replaced by the template's (none)
    assert secret["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]


def test_patch_annotation_merges_and_keeps_owner_unless_managed(controller, sealed_kube, namespace):
    for name, extra in (("patched", {}), ("patched-managed", {"sealedsecrets.bitnami.com/managed": "true"})):
        sealed_kube.create(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": {"keep": "1"},
                    "annotations": {"sealedsecrets.bitnami.com/patch": "true", **extra},
                },
                "data": {"keep": base64.b64encode(b"k").decode(), "password": base64.b64encode(b"old").decode()},
            }
        )
        sealed_kube.create(
            make_sealed(controller, namespace, name, {"password": "new"}, metadata={"labels": {"added": "1"}})
        )
    for name in ("patched", "patched-managed"):
        secret = wait_for(
            lambda: (s := get_secret(sealed_kube, namespace, name)) and plain(s).get("password") == b"new" and s,
            what=f"{name} patched",
        )
        assert plain(secret) == {"keep": b"k", "password": b"new"}
        assert secret["metadata"]["labels"] == {"keep": "1", "added": "1"}
        assert secret["metadata"]["annotations"]["sealedsecrets.bitnami.com/patch"] == "true"
    assert "ownerReferences" not in get_secret(sealed_kube, namespace, "patched")["metadata"]
    assert (
        get_secret(sealed_kube, namespace, "patched-managed")["metadata"]["ownerReferences"][0]["name"]
        == "patched-managed"
    )


def test_immutable_secret_is_created_immutable_and_not_retried(controller, sealed_kube, namespace):
    sealed_kube.create(make_sealed(controller, namespace, "app", {"password": "one"}, immutable=True))
    secret = wait_for(lambda: get_secret(sealed_kube, namespace, "app"), what="the Secret")
    assert secret.get("immutable") is True
    _settle(controller)
    fresh = make_sealed(controller, namespace, "app", {"password": "two"}, immutable=True)
    _edit_spec(sealed_kube, namespace, "app", lambda o: o.__setitem__("spec", fresh["spec"]))
    cond = _status(sealed_kube, namespace, "app", "False")
    assert "field is immutable when `immutable` is set" in cond["message"]
    _settle(controller, 1.0)
    [event] = events_for(sealed_kube, namespace, "app", "ErrUpdateFailed")
    assert event["message"] == immutable_message(f"{namespace}/app")
    assert event.get("count", 1) == 1  # not retried
    assert plain(get_secret(sealed_kube, namespace, "app")) == {"password": b"one"}


def test_tampered_sealed_secret_fails_and_leaves_the_live_secret(controller, sealed_kube, namespace):
    sealed_kube.create(make_sealed(controller, namespace, "app", {"password": "good", "user": "u"}))
    wait_for(lambda: get_secret(sealed_kube, namespace, "app"), what="the Secret")
    first = _status(sealed_kube, namespace, "app", "True")
    _settle(controller)
    writes = controller.controller.writes

    def tamper(obj):
        raw = bytearray(base64.b64decode(obj["spec"]["encryptedData"]["password"]))
        raw[-1] ^= 1  # flip a GCM tag bit
        obj["spec"]["encryptedData"]["password"] = base64.b64encode(bytes(raw)).decode()

    _edit_spec(sealed_kube, namespace, "app", tamper)
    cond = _status(sealed_kube, namespace, "app", "False")
    assert cond["message"] == "no key could decrypt secret (password)"
    assert cond["lastTransitionTime"] >= first["lastTransitionTime"]
    _settle(controller)
    events = events_for(sealed_kube, namespace, "app", "ErrUnsealFailed")
    assert [e["message"] for e in events] == ["Failed to unseal: no key could decrypt secret (password)"]
    assert events[0]["type"] == "Warning"
    assert plain(get_secret(sealed_kube, namespace, "app")) == {"password": b"good", "user": b"u"}
    assert controller.controller.writes == writes

    # fixed again: the status flips back to True with a new transition time
    fresh = make_sealed(controller, namespace, "app", {"password": "better"})
    _edit_spec(sealed_kube, namespace, "app", lambda o: o.__setitem__("spec", fresh["spec"]))
    cond = _status(sealed_kube, namespace, "app", "True")
    assert "message" not in cond
    assert plain(get_secret(sealed_kube, namespace, "app")) == {"password": b"better"}


def test_unseal_retries_are_bounded(start_controller, sealed_kube, namespace):
    runtime = start_controller(
        controller=ControllerOptions(namespaces=[namespace], max_unseal_retries=2, backoff_base=0.02)
    )
    runtime.keys.wait_for_key(20)
    other = make_sealed(runtime, namespace, "app", {"password": "p"})
    other["metadata"]["name"] = "renamed"  # strict scope: wrong label now
    sealed_kube.create(other)
    _status(sealed_kube, namespace, "renamed", "False")
    _settle(runtime, 1.0)
    [event] = events_for(sealed_kube, namespace, "renamed", "ErrUnsealFailed")
    assert event["count"] == 3  # first try + 2 retries, then dropped
    assert get_secret(sealed_kube, namespace, "renamed") is None


def test_skip_owner_references_and_garbage_collection(controller, sealed_kube, namespace, apiserver):
    sealed_kube.create(
        make_sealed(
            controller,
            namespace,
            "free",
            {"a": "1"},
            metadata={"annotations": {"sealedsecrets.bitnami.com/skip-set-owner-references": "true"}},
        )
    )
    sealed_kube.create(make_sealed(controller, namespace, "owned", {"a": "1"}))
    free = wait_for(lambda: get_secret(sealed_kube, namespace, "free"), what="free")
    wait_for(lambda: get_secret(sealed_kube, namespace, "owned"), what="owned")
    assert "ownerReferences" not in free["metadata"]
    sealed_kube.delete(SS_API, "SealedSecret", "owned", namespace)
    sealed_kube.delete(SS_API, "SealedSecret", "free", namespace)
    wait_for(lambda: get_secret(sealed_kube, namespace, "owned") is None, what="garbage collection of owned")
    _settle(controller)
    assert get_secret(sealed_kube, namespace, "free") is not None


def test_label_selector_and_namespace_scope(start_controller, sealed_kube, namespace):
    runtime = start_controller(
        controller=ControllerOptions(namespaces=[namespace], label_selector="unseal=yes", backoff_base=0.05)
    )
    runtime.keys.wait_for_key(20)
    wait_for(lambda: runtime.controller is not None and runtime.controller.synced(), what="sync")
    picked = make_sealed(runtime, namespace, "picked", {"a": "1"}, metadata={"labels": {"unseal": "yes"}})
    picked["metadata"]["labels"] = {"unseal": "yes"}
    sealed_kube.create(picked)
    sealed_kube.create(make_sealed(runtime, namespace, "ignored", {"a": "1"}))
    wait_for(lambda: get_secret(sealed_kube, namespace, "picked"), what="the selected SealedSecret's Secret")
    _settle(runtime)
    assert get_secret(sealed_kube, namespace, "ignored") is None
    assert synced_condition(sealed_kube, namespace, "ignored") is None


def _started(start_controller, **options):
    runtime = start_controller(controller=ControllerOptions(backoff_base=0.05, **options))
    runtime.keys.wait_for_key(20)
    wait_for(lambda: runtime.controller is not None and runtime.controller.synced(), what="sync")
    return runtime


def test_old_gc_behavior_deletes_the_secret_itself(start_controller, sealed_kube, namespace):
    runtime = _started(start_controller, namespaces=[namespace], old_gc_behavior=True)
    sealed_kube.create(
        make_sealed(
            runtime,
            namespace,
            "app",
            {"a": "1"},
            metadata={"annotations": {"sealedsecrets.bitnami.com/skip-set-owner-references": "true"}},
        )
    )  # so garbage collection cannot do it
    wait_for(lambda: get_secret(sealed_kube, namespace, "app"), what="the Secret")
    sealed_kube.delete(SS_API, "SealedSecret", "app", namespace)
    wait_for(lambda: get_secret(sealed_kube, namespace, "app") is None, what="the controller to delete the Secret")


def test_update_status_false_writes_no_status(start_controller, sealed_kube, namespace):
    runtime = _started(start_controller, namespaces=[namespace], update_status=False)
    sealed_kube.create(make_sealed(runtime, namespace, "app", {"a": "1"}))
    wait_for(lambda: get_secret(sealed_kube, namespace, "app"), what="the Secret")
    _settle(runtime)
    assert "status" not in sealed_kube.get(SS_API, "SealedSecret", "app", namespace)


def test_additional_namespaces_bound_the_watch(apiserver, start_controller, sealed_kube, namespace):
    apiserver.require_emulator("creates extra namespaces")
    for ns in ("extra", "outside"):
        sealed_kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    runtime = _started(start_controller, namespaces=[namespace, "extra"])
    for ns in (namespace, "extra", "outside"):
        sealed_kube.create(make_sealed(runtime, ns, "app", {"a": ns}))
    assert plain(wait_for(lambda: get_secret(sealed_kube, "extra", "app"), what="extra")) == {"a": b"extra"}
    assert plain(wait_for(lambda: get_secret(sealed_kube, namespace, "app"), what="own")) == {"a": namespace.encode()}
    _settle(runtime)
    assert get_secret(sealed_kube, "outside", "app") is None


def _controller_threads() -> set[str]:
    import threading

    return {t.name for t in threading.enumerate() if t.is_alive() and t.name.startswith(("watch-", "sealedsecrets"))}


def test_a_stopped_controller_starts_nothing(sealed_kube, namespace):
    """A controller serves one leader term: stop() before (or while) start() leaves no thread behind."""
    import threading

    from secretsync.sealedcontroller.reconciler import SealedSecretController

    assert not _controller_threads()
    ctl = SealedSecretController(sealed_kube, lambda: None, ControllerOptions(namespaces=[namespace], workers=2))
    ctl.stop()
    ctl.start()
    assert not ctl._ss_informers and ctl._queue is None and not _controller_threads()

    # stop() racing start(): start returns, and once stop() has returned nothing keeps running
    ctl = SealedSecretController(sealed_kube, lambda: None, ControllerOptions(namespaces=[namespace], workers=2))
    starter = threading.Thread(target=ctl.start)
    starter.start()
    time.sleep(0.05)
    ctl.stop()
    starter.join(35)
    assert not starter.is_alive()
    ctl.stop()  # idempotent; joins whatever the racing start() may have begun
    assert wait_for(lambda: not _controller_threads(), what="the controller's threads to end")
