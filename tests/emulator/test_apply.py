"""Server-side apply contract: ownership, pruning, conflicts, force, managedFields.

Covers: apply of a missing object creates it (201) and later applies answer
200; ``fieldManager`` is required (422); managedFields entries per manager and
operation (Apply for appliers, Update for create/update/patch writers);
applying a config without a field the manager owned removes the field; a
field owned by another manager with a different value is a 409 Conflict
naming manager and field, unless ``force=true`` (ownership moves); an
identical re-apply is a no-op (same resourceVersion); ``dryRun=All``;
apply to the ``/status`` subresource; ``kubectl apply --server-side`` with and
without ``--force-conflicts``; the DynamicClient's ``server_side_apply``.
Sources: "Server-Side Apply" (field management, conflicts, merge strategy),
API concepts "Dry-run". Runs on a real cluster too.
"""

import json

import pytest

APPLY = "application/apply-patch+yaml"


def _path(cluster, name):
    return f"/api/v1/namespaces/{cluster.namespace}/configmaps/{name}"


def _cfg(name, data, labels=None):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    if labels:
        body["metadata"]["labels"] = labels
    return body


def _apply(cluster, name, body, manager, force=False, extra=""):
    query = f"?fieldManager={manager}" + ("&force=true" if force else "") + extra
    return cluster.raw("PATCH", _path(cluster, name) + query, json.dumps(body), content_type=APPLY)


def _managers(obj):
    return {(m["manager"], m["operation"]) for m in obj["metadata"].get("managedFields", [])}


def test_apply_creates_then_updates(apiserver):
    code, obj, _ = _apply(apiserver, "ssa", _cfg("ssa", {"a": "1"}), "alpha")
    assert code == 201 and obj["data"] == {"a": "1"}
    entry = next(m for m in obj["metadata"]["managedFields"] if m["manager"] == "alpha")
    assert entry["operation"] == "Apply" and entry["fieldsType"] == "FieldsV1"
    assert "f:a" in entry["fieldsV1"]["f:data"]
    code, obj, _ = _apply(apiserver, "ssa", _cfg("ssa", {"a": "2"}), "alpha")
    assert code == 200 and obj["data"] == {"a": "2"}


def test_field_manager_is_required(apiserver):
    code, status, _ = apiserver.raw(
        "PATCH", _path(apiserver, "nomgr"), json.dumps(_cfg("nomgr", {})), content_type=APPLY
    )
    assert code == 422 and status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "fieldManager"


def test_removed_field_is_pruned(apiserver):
    _apply(apiserver, "prune", _cfg("prune", {"a": "1", "b": "2"}), "alpha")
    code, obj, _ = _apply(apiserver, "prune", _cfg("prune", {"a": "1"}), "alpha")
    assert code == 200 and obj["data"] == {"a": "1"}


def test_field_kept_when_another_manager_shares_it(apiserver):
    _apply(apiserver, "shared", _cfg("shared", {"a": "1", "b": "2"}), "alpha")
    _apply(apiserver, "shared", _cfg("shared", {"b": "2"}), "beta")  # same value: shared ownership
    _, obj, _ = _apply(apiserver, "shared", _cfg("shared", {"a": "1"}), "alpha")
    assert obj["data"] == {"a": "1", "b": "2"}


def test_conflict_names_manager_and_field(apiserver):
    _apply(apiserver, "conf", _cfg("conf", {"a": "1"}), "alpha")
    code, status, _ = _apply(apiserver, "conf", _cfg("conf", {"a": "2"}), "beta")
    assert code == 409 and status["reason"] == "Conflict"
    assert status["message"] == 'Apply failed with 1 conflict: conflict with "alpha": .data.a'
    assert status["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "alpha"', "field": ".data.a"}
    ]
    code, obj, _ = _apply(apiserver, "conf", _cfg("conf", {"a": "2"}), "beta", force=True)
    assert code == 200 and obj["data"] == {"a": "2"}
    owners = {m["manager"]: m for m in obj["metadata"]["managedFields"]}
    assert "f:a" in owners["beta"]["fieldsV1"]["f:data"] and "alpha" not in owners


def test_conflict_with_an_update_manager(apiserver):
    code, _, _ = apiserver.raw(
        "POST", f"/api/v1/namespaces/{apiserver.namespace}/configmaps?fieldManager=editor", _cfg("upd", {"a": "1"})
    )
    assert code == 201
    _, obj, _ = apiserver.raw("GET", _path(apiserver, "upd"))
    assert ("editor", "Update") in _managers(obj)
    code, status, _ = _apply(apiserver, "upd", _cfg("upd", {"a": "2"}), "alpha")
    assert code == 409 and status["message"].startswith('Apply failed with 1 conflict: conflict with "editor" using v1')
    assert status["message"].endswith(": .data.a")


def test_identical_apply_is_a_no_op(apiserver):
    _, first, _ = _apply(apiserver, "same", _cfg("same", {"a": "1"}, {"l": "v"}), "alpha")
    _, second, _ = _apply(apiserver, "same", _cfg("same", {"a": "1"}, {"l": "v"}), "alpha")
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


def test_dry_run_apply_persists_nothing(apiserver):
    code, obj, _ = _apply(apiserver, "dry", _cfg("dry", {"a": "1"}), "alpha", extra="&dryRun=All")
    assert code == 201 and obj["data"] == {"a": "1"}
    assert apiserver.raw("GET", _path(apiserver, "dry"))[0] == 404


def test_apply_in_missing_namespace_is_404(apiserver):
    code, status, _ = apiserver.raw(
        "PATCH",
        "/api/v1/namespaces/no-such-ns-zz/configmaps/x?fieldManager=a",
        json.dumps(_cfg("x", {})),
        content_type=APPLY,
    )
    assert code == 404 and status["reason"] == "NotFound"


def test_apply_to_status_subresource(apiserver):
    base = f"/apis/apps/v1/namespaces/{apiserver.namespace}/deployments/sd"
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "sd"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
        },
        "status": {"replicas": 7},
    }
    code, obj, _ = apiserver.raw("PATCH", base + "?fieldManager=deployer", json.dumps(dep), content_type=APPLY)
    assert code == 201 and obj.get("status", {}).get("replicas") != 7  # main resource ignores status
    status_cfg = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "sd"},
        "status": {"observedGeneration": 1},
    }
    code, obj, _ = apiserver.raw(
        "PATCH", base + "/status?fieldManager=ctrl&force=true", json.dumps(status_cfg), content_type=APPLY
    )
    assert code == 200 and obj["status"]["observedGeneration"] == 1 and obj["spec"]["replicas"] == 1
    entry = next(m for m in obj["metadata"]["managedFields"] if m["manager"] == "ctrl")
    assert entry.get("subresource") == "status"


def test_updates_record_update_managers(apiserver):
    apiserver.raw(
        "POST", f"/api/v1/namespaces/{apiserver.namespace}/configmaps?fieldManager=creator", _cfg("rec", {"a": "1"})
    )
    code, obj, _ = apiserver.raw(
        "PATCH",
        _path(apiserver, "rec") + "?fieldManager=patcher",
        {"data": {"b": "2"}},
        content_type="application/merge-patch+json",
    )
    assert code == 200
    by_manager = {m["manager"]: m for m in obj["metadata"]["managedFields"]}
    assert by_manager["creator"]["operation"] == "Update" and by_manager["patcher"]["operation"] == "Update"
    assert "f:b" in by_manager["patcher"]["fieldsV1"]["f:data"]
    assert "f:b" not in by_manager["creator"]["fieldsV1"]["f:data"]


@pytest.mark.peer
def test_kubectl_apply_server_side(apiserver):
    ns = apiserver.namespace
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kssa\ndata:\n  a: '1'\n"
    out = apiserver.kubectl("-n", ns, "apply", "--server-side", "-f", "-", input=manifest).stdout
    assert out.strip() == "configmap/kssa serverside-applied"
    other = manifest.replace("'1'", "'2'")
    clash = apiserver.kubectl(
        "-n", ns, "apply", "--server-side", "--field-manager", "other", "-f", "-", input=other, check=False
    )
    assert clash.returncode == 1
    assert 'conflict with "kubectl"' in clash.stderr and ".data.a" in clash.stderr
    apiserver.kubectl(
        "-n", ns, "apply", "--server-side", "--field-manager", "other", "--force-conflicts", "-f", "-", input=other
    )
    obj = json.loads(apiserver.kubectl("-n", ns, "get", "cm", "kssa", "-o", "json").stdout)
    assert obj["data"] == {"a": "2"}


def test_dynamic_client_server_side_apply(apiserver):
    cms = apiserver.dynamic().resources.get(api_version="v1", kind="ConfigMap")
    obj = cms.server_side_apply(
        body=_cfg("dssa", {"x": "1"}), name="dssa", namespace=apiserver.namespace, field_manager="dyn"
    )
    assert obj.data.x == "1"
    assert any(m.manager == "dyn" and m.operation == "Apply" for m in obj.metadata.managedFields)


def _deployment(name, containers):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"a": name}},
            "template": {"metadata": {"labels": {"a": name}}, "spec": {"containers": containers}},
        },
    }


def test_conflicts_with_several_managers_list_each(apiserver):
    """Several conflicts: one ``conflicts with M:`` line per manager (sorted), then ``- path`` lines."""
    cms = f"/api/v1/namespaces/{apiserver.namespace}/configmaps"
    assert apiserver.raw("POST", cms + "?fieldManager=editor", _cfg("many", {"a": "1", "b": "1"}))[0] == 201
    _apply(apiserver, "many", _cfg("many", {"c": "1"}), "alpha")
    code, status, _ = _apply(apiserver, "many", _cfg("many", {"a": "2", "b": "2", "c": "2"}), "beta")
    assert code == 409 and status["reason"] == "Conflict"
    assert status["message"] == (
        'Apply failed with 3 conflicts: conflicts with "alpha":\n- .data.c\n'
        'conflicts with "editor" using v1:\n- .data.a\n- .data.b'
    )
    # causes come in the real server's map order (random across managers): compare as a set
    assert sorted(status["details"]["causes"], key=lambda c: c["field"]) == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "editor" using v1', "field": ".data.a"},
        {"reason": "FieldManagerConflict", "message": 'conflict with "editor" using v1', "field": ".data.b"},
        {"reason": "FieldManagerConflict", "message": 'conflict with "alpha"', "field": ".data.c"},
    ]


def test_conflict_with_a_status_writer_names_the_subresource(apiserver):
    base = f"/apis/apps/v1/namespaces/{apiserver.namespace}/deployments/sw"
    dep = _deployment("sw", [{"name": "c", "image": "i"}])
    assert apiserver.raw("PATCH", base + "?fieldManager=deployer", json.dumps(dep), content_type=APPLY)[0] == 201
    code, _, _ = apiserver.raw(
        "PATCH",
        base + "/status?fieldManager=kubelet",
        {"status": {"replicas": 2}},
        content_type="application/merge-patch+json",
    )
    assert code == 200
    status_cfg = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "sw"}, "status": {"replicas": 3}}
    code, status, _ = apiserver.raw(
        "PATCH", base + "/status?fieldManager=ctrl", json.dumps(status_cfg), content_type=APPLY
    )
    assert code == 409
    assert status["message"] == (
        'Apply failed with 1 conflict: conflict with "kubelet" with subresource "status" '
        "using apps/v1: .status.replicas"
    )


def test_status_writes_are_owned_through_the_subresource(apiserver):
    """PUT and patch of ``/status`` record Update managers with ``subresource: status`` owning only status."""
    from kubernetes import client

    apps = client.AppsV1Api(apiserver.api_client())
    ns = apiserver.namespace
    apps.create_namespaced_deployment(ns, _deployment("own", [{"name": "c", "image": "i"}]), field_manager="maker")
    apps.patch_namespaced_deployment_status("own", ns, {"status": {"replicas": 4}}, field_manager="kubelet")
    live = apps.read_namespaced_deployment("own", ns)
    live.status.observed_generation = 1
    apps.replace_namespaced_deployment_status("own", ns, live, field_manager="controller")
    _, obj, _ = apiserver.raw("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/own")
    entries = {m["manager"]: m for m in obj["metadata"]["managedFields"]}
    for manager in ("kubelet", "controller"):
        assert entries[manager]["subresource"] == "status" and list(entries[manager]["fieldsV1"]) == ["f:status"]
    assert "f:replicas" in entries["kubelet"]["fieldsV1"]["f:status"]
    assert "f:observedGeneration" in entries["controller"]["fieldsV1"]["f:status"]
    assert "subresource" not in entries["maker"] and "f:status" not in entries["maker"]["fieldsV1"]


def test_apply_of_a_list_item_without_its_key_is_a_bare_500(apiserver):
    """The typed-conversion error reaches the client untyped: code 500, no reason, the converter's text
    naming namespace/name as sent and the group/version/kind (kubernetes/kubernetes#122480)."""
    base = f"/apis/apps/v1/namespaces/{apiserver.namespace}/deployments/nokey"
    code, status, _ = apiserver.raw(
        "PATCH", base + "?fieldManager=m", json.dumps(_deployment("nokey", [{"image": "i"}])), content_type=APPLY
    )
    assert code == 500 and "reason" not in status and "details" not in status
    assert status["message"] == (
        "failed to create typed patch object (/nokey; apps/v1, Kind=Deployment): "
        ".spec.template.spec.containers: element 0: associative list with keys has an "
        'element that omits key field "name" (and doesn\'t have default value)'
    )
    assert apiserver.raw("GET", base)[0] == 404


def test_apply_configuration_must_not_carry_managed_fields(apiserver):
    body = _cfg("mf", {"a": "1"})
    body["metadata"]["managedFields"] = [{"manager": "someone", "operation": "Apply"}]
    code, status, _ = _apply(apiserver, "mf", body, "alpha")
    assert code == 400 and status["reason"] == "BadRequest"
    assert status["message"] == "metadata.managedFields must be nil"
