"""Server-side apply and managedFields (secretsync_emulator.fieldmanager), from the Kubernetes docs.

Cases follow "Server-Side Apply" (kubernetes.io/docs/reference/using-api/server-side-apply):
the field-management example (a ConfigMap's exact managedFields), conflicts and their 409
message, ``force`` moving ownership, shared ownership of equal values, removal of fields
an applier stops sending (and only the ownership when someone else owns them too), the
"transferring ownership" hand-over between appliers, associative lists whose items two
managers own, set and atomic lists, atomic maps, status subresource ownership,
``before-first-apply``, clearing managedFields with ``[{}]``; plus the FieldsV1 format
(round trip of the docs' and a real Deployment's managedFields) and CRD schemas
(x-kubernetes-list-type/-map-keys, untyped lists atomic).
Not covered: managed fields across API versions (not modelled, see the module docstring).
"""

from __future__ import annotations

import copy

import pytest

from secretsync_emulator.fieldmanager import (
    ApplyConflict,
    ApplyInvalid,
    apply,
    fields_to_set,
    managed_set,
    path_string,
    record_update,
    set_to_fields,
)
from secretsync_emulator.schemas import schema_for

T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"
CM = schema_for("", "v1", "ConfigMap")
DEPLOY = schema_for("apps", "v1", "Deployment")


def _cm(data=None, labels=None, **extra):
    meta = {"name": "test-cm", "namespace": "default"}
    if labels is not None:
        meta["labels"] = labels
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    if data is not None:
        obj["data"] = data
    obj.update(extra)
    return obj


def _deployment(replicas=3, containers=None, **spec_extra):
    spec = {
        "selector": {"matchLabels": {"app": "nginx"}},
        "template": {
            "metadata": {"labels": {"app": "nginx"}},
            "spec": {
                "containers": containers if containers is not None else [{"name": "nginx", "image": "nginx:1.14.2"}]
            },
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    spec.update(spec_extra)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default"},
        "spec": spec,
    }


def _update(live, mutate, manager, schema, now=T1, subresource=None):
    """A non-apply write by ``manager``: the server stores ``new`` with record_update's managedFields."""
    new = copy.deepcopy(live)
    mutate(new)
    new["metadata"]["managedFields"] = record_update(
        live, new, manager, "Update", schema, subresource=subresource, now=now
    )
    return new


def _managers(obj):
    return [(e["manager"], e["operation"]) for e in obj["metadata"].get("managedFields", [])]


# --- the docs' field management example ------------------------------------------------------------


def test_docs_field_management_example():
    applied = apply(
        None,
        _cm(data={"key": "some value"}, labels={"test-label": "test"}),
        "kubectl",
        False,
        CM,
        now="2010-10-10T00:00:00Z",
    )
    assert applied["metadata"]["managedFields"] == [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": "2010-10-10T00:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:key": {}}, "f:metadata": {"f:labels": {"f:test-label": {}}}},
        }
    ]
    assert applied["data"] == {"key": "some value"}


def test_apply_to_missing_object_creates_it():
    applied = apply(None, _deployment(), "kubectl", False, DEPLOY, now=T0)
    assert applied["spec"]["replicas"] == 3
    assert applied["metadata"]["name"] == "nginx"
    assert _managers(applied) == [("kubectl", "Apply")]


# --- conflicts, force, sharing ------------------------------------------------------------------


def test_conflict_with_updater_names_manager_and_field():
    live = apply(None, _deployment(), "kubectl", False, DEPLOY, now=T0)
    live = _update(live, lambda o: o["spec"].__setitem__("replicas", 5), "kube-controller-manager", DEPLOY)
    with pytest.raises(ApplyConflict) as caught:
        apply(live, _deployment(replicas=3), "kubectl", False, DEPLOY, now=T2)
    exc = caught.value
    assert exc.conflicts == [("kube-controller-manager", ".spec.replicas")]
    assert exc.message() == (
        'Apply failed with 1 conflict: conflict with "kube-controller-manager" using apps/v1: .spec.replicas'
    )
    assert exc.causes() == [
        {
            "type": "FieldManagerConflict",
            "field": ".spec.replicas",
            "message": 'conflict with "kube-controller-manager" using apps/v1',
        }
    ]


def test_conflict_between_appliers_lists_every_field():
    live = apply(None, _cm(data={"a": "1", "b": "2"}), "alice", False, CM, now=T0)
    with pytest.raises(ApplyConflict) as caught:
        apply(live, _cm(data={"a": "x", "b": "y"}), "bob", False, CM, now=T1)
    assert caught.value.conflicts == [("alice", ".data.a"), ("alice", ".data.b")]
    assert caught.value.message() == 'Apply failed with 2 conflicts: conflicts with "alice":\n- .data.a\n- .data.b'


def test_conflicts_with_several_managers_are_grouped_by_sorted_manager():
    live = apply(None, _cm(data={"a": "1"}), "zed", False, CM, now=T0)
    live = apply(live, _cm(data={"b": "2"}), "amy", False, CM, now=T1)
    with pytest.raises(ApplyConflict) as caught:
        apply(live, _cm(data={"a": "x", "b": "y"}), "bob", False, CM, now=T2)
    assert caught.value.message() == (
        'Apply failed with 2 conflicts: conflicts with "amy":\n- .data.b\nconflicts with "zed":\n- .data.a'
    )


def test_force_moves_ownership():
    live = apply(None, _deployment(), "kubectl", False, DEPLOY, now=T0)
    live = _update(live, lambda o: o["spec"].__setitem__("replicas", 5), "kube-controller-manager", DEPLOY)
    forced = apply(live, _deployment(replicas=3), "kubectl", True, DEPLOY, now=T2)
    assert forced["spec"]["replicas"] == 3
    assert (("f", "spec"), ("f", "replicas")) in managed_set(forced, "kubectl")
    assert _managers(forced) == [("kubectl", "Apply")]  # the updater owned nothing else and disappears


def test_equal_value_gives_shared_ownership_and_drop_keeps_value():
    live = apply(None, _cm(data={"k": "v", "mine": "1"}), "alice", False, CM, now=T0)
    shared = apply(live, _cm(data={"k": "v"}), "bob", False, CM, now=T1)
    path = (("f", "data"), ("f", "k"))
    assert path in managed_set(shared, "alice") and path in managed_set(shared, "bob")
    # alice stops sending "k": bob still owns it, so it stays and only alice's ownership goes
    after = apply(shared, _cm(data={"mine": "1"}), "alice", False, CM, now=T2)
    assert after["data"] == {"k": "v", "mine": "1"}
    assert path not in managed_set(after, "alice") and path in managed_set(after, "bob")


def test_same_manager_reapplying_changes_without_conflict():
    live = apply(None, _cm(data={"k": "v"}), "alice", False, CM, now=T0)
    again = apply(live, _cm(data={"k": "w"}), "alice", False, CM, now=T1)
    assert again["data"] == {"k": "w"}
    assert again["metadata"]["managedFields"][0]["time"] == T1


def test_no_op_apply_keeps_the_time():
    live = apply(None, _cm(data={"k": "v"}), "alice", False, CM, now=T0)
    again = apply(live, _cm(data={"k": "v"}), "alice", False, CM, now=T2)
    assert again == live


# --- removal of omitted fields ----------------------------------------------------------------------


def test_omitted_field_is_removed():
    live = apply(None, _cm(data={"a": "1", "b": "2"}, labels={"x": "1"}), "kubectl", False, CM, now=T0)
    after = apply(live, _cm(data={"a": "1"}), "kubectl", False, CM, now=T1)
    assert after["data"] == {"a": "1"}
    assert "labels" not in after["metadata"]
    assert managed_set(after, "kubectl") == {(("f", "data"), ("f", "a"))}


def test_omitted_whole_map_is_removed():
    live = apply(None, _cm(data={"a": "1"}), "kubectl", False, CM, now=T0)
    after = apply(live, _cm(), "kubectl", False, CM, now=T1)
    assert "data" not in after


def test_field_owned_by_updater_survives_applier_dropping_it():
    live = apply(None, _cm(data={"a": "1"}), "kubectl", False, CM, now=T0)
    live = _update(live, lambda o: o["data"].__setitem__("a", "2"), "editor", CM)
    # the editor took "a"; kubectl re-applies without "a": nothing of kubectl's to prune
    after = apply(live, _cm(data={"b": "3"}), "kubectl", False, CM, now=T2)
    assert after["data"] == {"a": "2", "b": "3"}


def test_fields_set_by_others_are_never_pruned():
    live = apply(None, _cm(data={"a": "1"}), "kubectl", False, CM, now=T0)
    live = _update(live, lambda o: o["metadata"].setdefault("annotations", {}).__setitem__("note", "x"), "editor", CM)
    after = apply(live, _cm(data={"a": "1"}), "kubectl", False, CM, now=T2)
    assert after["metadata"]["annotations"] == {"note": "x"}


def test_docs_transferring_ownership_between_appliers():
    # main config owns replicas; a second applier ("handover-to-hpa") applies the same
    # replicas, then the main config drops them: the field stays and changes hands.
    live = apply(None, _deployment(replicas=3), "kubectl", False, DEPLOY, now=T0)
    replicas_only = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default"},
        "spec": {"replicas": 3},
    }
    live = apply(live, replicas_only, "handover-to-hpa", False, DEPLOY, now=T1)
    after = apply(live, _deployment(replicas=None), "kubectl", False, DEPLOY, now=T2)
    replicas = (("f", "spec"), ("f", "replicas"))
    assert after["spec"]["replicas"] == 3
    assert replicas in managed_set(after, "handover-to-hpa")
    assert replicas not in managed_set(after, "kubectl")


# --- lists and maps -------------------------------------------------------------------------------


def test_associative_list_items_owned_by_different_managers():
    live = apply(None, _deployment(containers=[{"name": "web", "image": "nginx"}]), "alice", False, DEPLOY, now=T0)
    both = apply(
        live,
        _deployment(replicas=None, containers=[{"name": "sidecar", "image": "envoy"}]),
        "bob",
        False,
        DEPLOY,
        now=T1,
    )
    containers = both["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web", "sidecar"]
    web = (("f", "spec"), ("f", "template"), ("f", "spec"), ("f", "containers"), ("k", (("name", '"web"'),)))
    sidecar = web[:-1] + (("k", (("name", '"sidecar"'),)),)
    assert web in managed_set(both, "alice") and sidecar in managed_set(both, "bob")
    # alice drops her container: only hers goes
    after = apply(both, _deployment(containers=[]), "alice", False, DEPLOY, now=T2)
    assert [c["name"] for c in after["spec"]["template"]["spec"]["containers"]] == ["sidecar"]
    # bob changing alice's image conflicts, with the key in the path
    with pytest.raises(ApplyConflict) as caught:
        apply(
            both,
            _deployment(replicas=None, containers=[{"name": "web", "image": "httpd"}]),
            "bob",
            False,
            DEPLOY,
            now=T2,
        )
    assert caught.value.conflicts == [("alice", '.spec.template.spec.containers[name="web"].image')]


def test_merged_list_keeps_config_order_for_shared_items():
    live = apply(
        None,
        _deployment(containers=[{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]),
        "alice",
        False,
        DEPLOY,
        now=T0,
    )
    after = apply(
        live,
        _deployment(containers=[{"name": "b", "image": "2"}, {"name": "a", "image": "1"}]),
        "alice",
        False,
        DEPLOY,
        now=T1,
    )
    assert [c["name"] for c in after["spec"]["template"]["spec"]["containers"]] == ["b", "a"]


def test_ports_keyed_by_container_port_and_defaulted_protocol():
    ports = [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]
    applied = apply(
        None, _deployment(containers=[{"name": "web", "image": "x", "ports": ports}]), "kubectl", False, DEPLOY, now=T0
    )
    fields = applied["metadata"]["managedFields"][0]["fieldsV1"]
    port_fields = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']["f:ports"]
    assert list(port_fields) == ['k:{"containerPort":53,"protocol":"UDP"}', 'k:{"containerPort":80,"protocol":"TCP"}']


def test_set_list_finalizers_items_per_manager():
    def with_finalizers(values):
        obj = _cm(data={"a": "1"})
        obj["metadata"]["finalizers"] = values
        return obj

    live = apply(None, with_finalizers(["example.com/a"]), "alice", False, CM, now=T0)
    both = apply(live, with_finalizers(["example.com/b"]), "bob", False, CM, now=T1)
    assert both["metadata"]["finalizers"] == ["example.com/a", "example.com/b"]
    assert (("f", "metadata"), ("f", "finalizers"), ("v", '"example.com/b"')) in managed_set(both, "bob")
    after = apply(both, with_finalizers([]), "bob", False, CM, now=T2)
    assert after["metadata"]["finalizers"] == ["example.com/a"]


def test_atomic_list_is_replaced_and_owned_whole():
    live = apply(
        None,
        _deployment(containers=[{"name": "web", "image": "x", "args": ["a", "b"]}]),
        "alice",
        False,
        DEPLOY,
        now=T0,
    )
    args = (
        ("f", "spec"),
        ("f", "template"),
        ("f", "spec"),
        ("f", "containers"),
        ("k", (("name", '"web"'),)),
        ("f", "args"),
    )
    assert args in managed_set(live, "alice")
    with pytest.raises(ApplyConflict) as caught:
        apply(
            live, _deployment(replicas=None, containers=[{"name": "web", "args": ["c"]}]), "bob", False, DEPLOY, now=T1
        )
    assert caught.value.conflicts == [("alice", '.spec.template.spec.containers[name="web"].args')]
    again = apply(
        live, _deployment(containers=[{"name": "web", "image": "x", "args": ["c"]}]), "alice", False, DEPLOY, now=T1
    )
    assert again["spec"]["template"]["spec"]["containers"][0]["args"] == ["c"]


def test_atomic_map_and_struct_are_owned_whole():
    live = apply(None, _deployment(), "alice", False, DEPLOY, now=T0)
    assert (("f", "spec"), ("f", "selector")) in managed_set(live, "alice")
    with pytest.raises(ApplyConflict) as caught:
        apply(
            live,
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "nginx"},
                "spec": {"selector": {"matchLabels": {"app": "other"}}},
            },
            "bob",
            False,
            DEPLOY,
            now=T1,
        )
    assert caught.value.conflicts == [("alice", ".spec.selector")]


def test_granular_map_keys_owned_separately():
    live = apply(None, _cm(labels={"a": "1"}), "alice", False, CM, now=T0)
    both = apply(live, _cm(labels={"b": "2"}), "bob", False, CM, now=T1)
    assert both["metadata"]["labels"] == {"a": "1", "b": "2"}


def test_invalid_configs_are_refused():
    with pytest.raises(ApplyInvalid, match='omits key field "name"'):
        apply(None, _deployment(containers=[{"image": "x"}]), "kubectl", False, DEPLOY, now=T0)
    with pytest.raises(ApplyInvalid, match="duplicate entries"):
        apply(None, _deployment(containers=[{"name": "a"}, {"name": "a"}]), "kubectl", False, DEPLOY, now=T0)


# --- status subresource ---------------------------------------------------------------------------


def test_status_subresource_ownership_is_separate():
    live = apply(None, _deployment(), "kubectl", False, DEPLOY, now=T0)
    status_cfg = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx"},
        "spec": {"replicas": 99},
        "status": {"replicas": 3, "conditions": [{"type": "Available", "status": "True"}]},
    }
    with_status = apply(live, status_cfg, "controller", False, DEPLOY, subresource="status", now=T1)
    assert with_status["spec"]["replicas"] == 3, "a status write must not change spec"
    assert with_status["status"]["replicas"] == 3
    entry = [e for e in with_status["metadata"]["managedFields"] if e["manager"] == "controller"][0]
    assert entry["subresource"] == "status"
    assert set(entry["fieldsV1"]) == {"f:status"}
    # a main-resource apply ignores status and does not prune it
    main_cfg = _deployment()
    main_cfg["status"] = {"replicas": 0}
    after = apply(with_status, main_cfg, "kubectl", False, DEPLOY, now=T2)
    assert after["status"]["replicas"] == 3
    assert not any(p[0] == ("f", "status") for p in managed_set(after, "kubectl"))


def test_status_update_records_subresource_entry():
    live = apply(None, _deployment(), "kubectl", False, DEPLOY, now=T0)
    updated = _update(
        live,
        lambda o: o.__setitem__("status", {"readyReplicas": 3}),
        "kube-controller-manager",
        DEPLOY,
        subresource="status",
    )
    entry = [e for e in updated["metadata"]["managedFields"] if e["manager"] == "kube-controller-manager"][0]
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {".": {}, "f:readyReplicas": {}}}


# --- record_update ------------------------------------------------------------------------------------


def test_create_records_added_maps_with_dot():
    new = _cm(data={"key": "v"}, labels={"app": "x"})
    new["metadata"].update({"uid": "u", "resourceVersion": "1", "creationTimestamp": T0})
    entries = record_update(None, new, "kubectl-create", "Update", CM, now=T0)
    assert entries == [
        {
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": "v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {".": {}, "f:key": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
        }
    ]


def test_update_moves_changed_fields_and_removed_fields_leave_everyone():
    live = apply(None, _cm(data={"a": "1", "b": "2"}), "alice", False, CM, now=T0)

    def edit(obj):
        obj["data"]["a"] = "changed"
        del obj["data"]["b"]

    edited = _update(live, edit, "editor", CM)
    assert managed_set(edited, "alice") == set()
    assert managed_set(edited, "editor", "Update") == {(("f", "data"), ("f", "a"))}
    assert _managers(edited) == [("editor", "Update")]


def test_update_that_changes_nothing_records_nothing():
    live = apply(None, _cm(data={"a": "1"}), "alice", False, CM, now=T0)
    same = _update(live, lambda o: None, "editor", CM)
    assert same["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_server_owned_metadata_is_never_tracked():
    live = apply(None, _cm(data={"a": "1"}), "alice", False, CM, now=T0)

    def server_side(obj):
        obj["metadata"].update(
            {"resourceVersion": "7", "generation": 2, "uid": "abc", "creationTimestamp": T1, "deletionTimestamp": T1}
        )

    updated = _update(live, server_side, "apiserver", CM)
    assert _managers(updated) == [("alice", "Apply")]


def test_managed_fields_sent_as_list_with_empty_entry_are_cleared():
    live = apply(None, _cm(data={"a": "1"}), "alice", False, CM, now=T0)
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = [{}]
    assert record_update(live, new, "editor", "Update", CM, now=T1) == []
    new["metadata"]["managedFields"] = []
    assert record_update(live, new, "editor", "Update", CM, now=T1) == live["metadata"]["managedFields"]


def test_apply_to_object_without_managed_fields_adds_before_first_apply():
    live = _cm(data={"a": "1", "b": "2"})
    after = apply(live, _cm(data={"a": "1"}), "kubectl", False, CM, now=T1)
    assert _managers(after) == [("kubectl", "Apply"), ("before-first-apply", "Update")]
    assert after["data"] == {"a": "1", "b": "2"}


# --- FieldsV1 ----------------------------------------------------------------------------------------

REAL_DEPLOYMENT_FIELDS = {  # shape of a real kubectl-client-side-apply entry of apps/v1 Deployment
    "f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}},
    "f:spec": {
        "f:progressDeadlineSeconds": {},
        "f:replicas": {},
        "f:revisionHistoryLimit": {},
        "f:selector": {},
        "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}}, "f:type": {}},
        "f:template": {
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:containers": {
                    'k:{"name":"nginx"}': {
                        ".": {},
                        "f:image": {},
                        "f:imagePullPolicy": {},
                        "f:name": {},
                        "f:ports": {
                            ".": {},
                            'k:{"containerPort":80,"protocol":"TCP"}': {
                                ".": {},
                                "f:containerPort": {},
                                "f:protocol": {},
                            },
                        },
                        "f:resources": {},
                        "f:terminationMessagePath": {},
                        "f:terminationMessagePolicy": {},
                    }
                },
                "f:dnsPolicy": {},
                "f:restartPolicy": {},
                "f:schedulerName": {},
                "f:securityContext": {},
                "f:terminationGracePeriodSeconds": {},
            },
        },
    },
}


def test_fields_v1_round_trip_of_real_entry():
    paths = fields_to_set(REAL_DEPLOYMENT_FIELDS)
    assert set_to_fields(paths) == REAL_DEPLOYMENT_FIELDS
    port = [p for p in paths if len(p) == 8 and p[-1] == ("f", "containerPort")][0]
    assert path_string(port) == (
        '.spec.template.spec.containers[name="nginx"].ports[containerPort=80,protocol="TCP"].containerPort'
    )


def test_create_of_that_deployment_records_the_real_entry():
    container = {
        "name": "nginx",
        "image": "nginx:1.14.2",
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }
    obj = _deployment(
        containers=[container],
        progressDeadlineSeconds=600,
        revisionHistoryLimit=10,
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
    )
    obj["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    obj["spec"]["template"]["spec"].update(
        {
            "dnsPolicy": "ClusterFirst",
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "terminationGracePeriodSeconds": 30,
        }
    )
    entries = record_update(None, obj, "kubectl-client-side-apply", "Update", DEPLOY, now=T0)
    assert entries[0]["fieldsV1"] == REAL_DEPLOYMENT_FIELDS


# --- CRDs ------------------------------------------------------------------------------------------------

CRD = {
    "spec": {
        "group": "example.com",
        "names": {"kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "items": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "map",
                                        "x-kubernetes-list-map-keys": ["id"],
                                        "items": {
                                            "type": "object",
                                            "properties": {"id": {"type": "string"}, "size": {"type": "integer"}},
                                        },
                                    },
                                    "tags": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "set",
                                        "items": {"type": "string"},
                                    },
                                    "plain": {"type": "array", "items": {"type": "string"}},
                                    "settings": {
                                        "type": "object",
                                        "x-kubernetes-map-type": "atomic",
                                        "additionalProperties": {"type": "string"},
                                    },
                                },
                            },
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    }
}
WIDGET = schema_for("example.com", "v1", "Widget", crd=CRD)


def _widget(**spec):
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}


def test_crd_schema_answers_structure_questions():
    assert WIDGET.status_subresource
    assert WIDGET.list_type(["spec", "items"]) == "map"
    assert WIDGET.list_keys(["spec", "items"]) == ("id",)
    assert WIDGET.list_type(["spec", "tags"]) == "set"
    assert WIDGET.list_type(["spec", "plain"]) == "atomic"
    assert WIDGET.map_type(["spec", "settings"]) == "atomic"
    assert WIDGET.map_type(["metadata", "labels"]) == "granular"
    assert WIDGET.patch_strategy(["spec", "items"]) is None


def test_crd_lists_follow_their_declared_types():
    live = apply(None, _widget(items=[{"id": "a", "size": 1}], tags=["x"], plain=["p"]), "alice", False, WIDGET, now=T0)
    both = apply(live, _widget(items=[{"id": "b", "size": 2}], tags=["y"]), "bob", False, WIDGET, now=T1)
    assert [i["id"] for i in both["spec"]["items"]] == ["a", "b"]
    assert both["spec"]["tags"] == ["x", "y"]
    with pytest.raises(ApplyConflict) as caught:
        apply(both, _widget(plain=["q"]), "bob", False, WIDGET, now=T2)
    assert caught.value.conflicts == [("alice", ".spec.plain")]


def test_builtin_schema_answers_structure_questions():
    assert DEPLOY.status_subresource and not CM.status_subresource
    containers = ["spec", "template", "spec", "containers"]
    assert DEPLOY.list_type(containers) == "map" and DEPLOY.list_keys(containers) == ("name",)
    assert DEPLOY.patch_merge_key(containers) == "name" and DEPLOY.patch_strategy(containers) == "merge"
    assert DEPLOY.list_keys(containers + [0, "ports"]) == ("containerPort", "protocol")
    assert DEPLOY.patch_merge_key(containers + [0, "ports"]) == "containerPort"
    assert DEPLOY.patch_strategy(["spec", "template", "spec", "volumes"]) == "merge,retainKeys"
    assert DEPLOY.list_type(["spec", "template", "spec", "tolerations"]) == "atomic"
    assert DEPLOY.list_type(["metadata", "finalizers"]) == "set"
    assert DEPLOY.list_keys(["metadata", "ownerReferences"]) == ("uid",)
    assert DEPLOY.map_type(["spec", "template", "spec", "nodeSelector"]) == "atomic"
    rules = schema_for("rbac.authorization.k8s.io", "v1", "Role")
    assert rules.list_type(["rules"]) == "atomic"
    assert schema_for("rbac.authorization.k8s.io", "v1", "RoleBinding").list_type(["subjects"]) == "atomic"


def test_invalid_config_message_is_the_servers():
    service = schema_for("", "v1", "Service")
    config = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"name": "a"}]}}
    with pytest.raises(ApplyInvalid) as caught:
        apply(None, config, "kubectl", False, service, now=T0)
    # objectGVKNN: "namespace/name; group/version, Kind=K" of the configuration as sent
    # (kubernetes/kubernetes#122480 shows "(general/admin-api; /v1, Kind=Service)")
    assert str(caught.value) == (
        "failed to create typed patch object (/s; /v1, Kind=Service): .spec.ports: "
        'element 0: associative list with keys has an element that omits key field "port" '
        "(and doesn't have default value)"
    )
    assert caught.value.code == 500


def test_service_ports_default_protocol_in_keys():
    service = schema_for("", "v1", "Service")
    config = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80}, {"port": 80, "protocol": "UDP"}]},
    }
    applied = apply(None, config, "kubectl", False, service, now=T0)
    ports = applied["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:ports"]
    assert set(ports) == {'k:{"port":80,"protocol":"TCP"}', 'k:{"port":80,"protocol":"UDP"}'}


def test_without_schema_everything_is_deduced():
    live = apply(None, _cm(data={"a": "1"}), "alice", False, None, now=T0)
    # untyped maps: every key is owned itself, so alice owns .data as well as .data.a
    assert managed_set(live, "alice") == {(("f", "data"),), (("f", "data"), ("f", "a"))}
    new = {**live, "data": {"a": "2"}}
    new["metadata"] = {**live["metadata"], "managedFields": record_update(live, new, "bob", "Update", None, now=T1)}
    assert managed_set(new, "alice") == {(("f", "data"),)}
    assert managed_set(new, "bob", "Update") == {(("f", "data"), ("f", "a"))}


def test_project_sealedsecret_crd_schema():
    import pathlib

    import yaml

    crd = yaml.safe_load((pathlib.Path(__file__).parents[3] / "crds" / "sealedsecret.yaml").read_text())
    schema = schema_for("bitnami.com", "v1alpha1", "SealedSecret", crd=crd)
    assert schema.status_subresource and not schema.builtin
    assert schema.map_type(["spec", "encryptedData"]) == "granular"
    assert schema.list_type(["status", "conditions"]) == "atomic"
    assert schema.list_type(["metadata", "finalizers"]) == "set"

    def sealed(items):
        return {
            "apiVersion": "bitnami.com/v1alpha1",
            "kind": "SealedSecret",
            "metadata": {"name": "s", "namespace": "default"},
            "spec": {"encryptedData": items},
        }

    live = apply(None, sealed({"user": "AgB1"}), "secretsync", False, schema, now=T0)
    both = apply(live, sealed({"password": "AgB2"}), "kubeseal", False, schema, now=T1)
    assert both["spec"]["encryptedData"] == {"user": "AgB1", "password": "AgB2"}
    after = apply(both, sealed({}), "secretsync", False, schema, now=T2)
    assert after["spec"]["encryptedData"] == {"password": "AgB2"}
    # the status subresource is the controller's alone
    status = {
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": {"name": "s"},
        "status": {"conditions": [{"type": "Synced", "status": "True"}], "observedGeneration": 1},
    }
    synced = apply(after, status, "sealed-secrets-controller", False, schema, subresource="status", now=T2)
    assert synced["status"]["observedGeneration"] == 1
    assert synced["spec"] == after["spec"]


def test_fields_v1_orders_keys_like_structured_merge_diff():
    # fields by name, then keyed items with numbers compared as numbers, then set values
    paths = {
        (("f", "ports"), ("k", (("containerPort", "443"), ("protocol", '"TCP"')))),
        (("f", "ports"), ("k", (("containerPort", "80"), ("protocol", '"TCP"')))),
        (("f", "ports"), ("k", (("containerPort", "9"), ("protocol", '"UDP"')))),
        (("f", "finalizers"), ("v", '"b"')),
        (("f", "finalizers"), ("v", '"a"')),
        (("f", "a"),),
    }
    fields = set_to_fields(paths)
    assert list(fields) == ["f:a", "f:finalizers", "f:ports"]
    assert list(fields["f:ports"]) == [
        'k:{"containerPort":9,"protocol":"UDP"}',
        'k:{"containerPort":80,"protocol":"TCP"}',
        'k:{"containerPort":443,"protocol":"TCP"}',
    ]
    assert list(fields["f:finalizers"]) == ['v:"a"', 'v:"b"']
