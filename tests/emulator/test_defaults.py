"""Defaulting of built-in kinds and who owns the defaults.

Covers: Deployment (replicas, strategy with rollingUpdate 25%/25%,
revisionHistoryLimit, progressDeadlineSeconds), its pod template (restartPolicy,
dnsPolicy, schedulerName, securityContext, terminationGracePeriodSeconds) and
containers (terminationMessagePath/Policy, imagePullPolicy by tag, port protocol,
probe timings); Service (type, sessionAffinity, port protocol, targetPort = port,
internalTrafficPolicy, an allocated cluster IP that an update may leave out);
Secret type; Job (backoffLimit, completions, parallelism, completionMode, suspend,
the generated selector and pod labels); ownership: a server-side applier owns
none of the defaults, so re-applying is a no-op, while a create (an Update
writer) owns what its decoded body received, as on a real server.
Sources: pkg/apis/{core,apps,batch}/v1/defaults.go (v1.32); "Server-Side Apply"
(field management); ``kubectl create`` managedFields seen on real clusters.
Runs on a real cluster too (no emulator hooks).
"""

import json

from kubernetes import client

APPLY = "application/apply-patch+yaml"


def _deployment(name, containers):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}},
        },
    }


def _fields(obj, manager):
    return next(m["fieldsV1"] for m in obj["metadata"]["managedFields"] if m["manager"] == manager)


def test_deployment_defaults(apiserver):
    ns = apiserver.namespace
    containers = [
        {"name": "a", "image": "nginx", "ports": [{"containerPort": 80}], "readinessProbe": {"httpGet": {"port": 80}}},
        {"name": "b", "image": "nginx:latest"},
        {"name": "c", "image": "nginx:1.27"},
        {"name": "d", "image": "localhost:5000/tools"},
        {"name": "e", "image": "registry.local:5000/tools:2@sha256:" + "0" * 64},
        {
            "name": "f",
            "image": "nginx",
            "imagePullPolicy": "Never",
            "terminationMessagePolicy": "FallbackToLogsOnError",
        },
    ]
    apps = client.AppsV1Api(apiserver.api_client())
    apps.create_namespaced_deployment(ns, _deployment("web", containers))
    _, obj, _ = apiserver.raw("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    spec = obj["spec"]
    assert spec["replicas"] == 1 and spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    pod = spec["template"]["spec"]
    assert {
        k: pod[k]
        for k in ("restartPolicy", "dnsPolicy", "schedulerName", "securityContext", "terminationGracePeriodSeconds")
    } == {
        "restartPolicy": "Always",
        "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "terminationGracePeriodSeconds": 30,
    }
    by_name = {c["name"]: c for c in pod["containers"]}
    assert {n: c["imagePullPolicy"] for n, c in by_name.items()} == {
        "a": "Always",
        "b": "Always",
        "c": "IfNotPresent",
        "d": "Always",
        "e": "IfNotPresent",
        "f": "Never",
    }
    assert by_name["a"]["terminationMessagePath"] == "/dev/termination-log"
    assert by_name["a"]["terminationMessagePolicy"] == "File"
    assert by_name["f"]["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert by_name["a"]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert by_name["a"]["readinessProbe"] == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }


def test_a_recreate_strategy_gets_no_rolling_update(apiserver):
    body = _deployment("rc", [{"name": "a", "image": "i:1"}])
    body["spec"]["strategy"] = {"type": "Recreate"}
    code, obj, _ = apiserver.raw("POST", f"/apis/apps/v1/namespaces/{apiserver.namespace}/deployments", body)
    assert code == 201 and obj["spec"]["strategy"] == {"type": "Recreate"}


def test_applier_owns_no_defaults_and_reapply_is_a_no_op(apiserver):
    base = f"/apis/apps/v1/namespaces/{apiserver.namespace}/deployments/ssa"
    config = json.dumps(_deployment("ssa", [{"name": "a", "image": "i:1", "ports": [{"containerPort": 8080}]}]))
    code, first, _ = apiserver.raw("PATCH", base + "?fieldManager=agent", config, content_type=APPLY)
    assert code == 201 and first["spec"]["replicas"] == 1
    owned = _fields(first, "agent")
    assert set(owned["f:spec"]) == {"f:selector", "f:template"}  # no replicas, strategy, ...
    container = owned["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"a"}']
    assert set(container) == {".", "f:image", "f:name", "f:ports"}
    assert len(first["metadata"]["managedFields"]) == 1
    code, second, _ = apiserver.raw("PATCH", base + "?fieldManager=agent", config, content_type=APPLY)
    assert code == 200 and second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert second["metadata"]["generation"] == 1


def test_update_writer_owns_the_defaults_its_body_received(apiserver):
    ns = apiserver.namespace
    code, obj, _ = apiserver.raw(
        "POST",
        f"/apis/apps/v1/namespaces/{ns}/deployments?fieldManager=maker",
        _deployment("upd", [{"name": "a", "image": "i:1"}]),
    )
    assert code == 201
    owned = _fields(obj, "maker")["f:spec"]
    assert {"f:replicas", "f:strategy", "f:revisionHistoryLimit", "f:progressDeadlineSeconds"} <= set(owned)
    container = owned["f:template"]["f:spec"]["f:containers"]['k:{"name":"a"}']
    assert {"f:imagePullPolicy", "f:terminationMessagePath", "f:terminationMessagePolicy"} <= set(container)


def test_service_defaults_and_cluster_ip(apiserver):
    ns = apiserver.namespace
    base = f"/api/v1/namespaces/{ns}/services"
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "svc"},
        "spec": {
            "selector": {"app": "x"},
            "ports": [
                {"name": "http", "port": 80},
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"},
            ],
        },
    }
    code, obj, _ = apiserver.raw("POST", base + "?fieldManager=maker", body)
    assert code == 201
    spec = obj["spec"]
    assert spec["type"] == "ClusterIP" and spec["sessionAffinity"] == "None"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert spec["ports"] == [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80},
        {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"},
    ]
    ip = spec["clusterIP"]
    assert spec["clusterIPs"] == [ip] and spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
    assert "f:clusterIP" not in _fields(obj, "maker")["f:spec"]  # allocated, owned by nobody
    body["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"]
    body["metadata"]["labels"] = {"changed": "yes"}
    code, updated, _ = apiserver.raw("PUT", f"{base}/svc", body)  # leaves the cluster IP out
    assert code == 200 and updated["spec"]["clusterIP"] == ip


def test_secret_type_defaults_to_opaque(apiserver):
    code, obj, _ = apiserver.raw(
        "POST",
        f"/api/v1/namespaces/{apiserver.namespace}/secrets",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}},
    )
    assert code == 201 and obj["type"] == "Opaque"


def test_job_defaults_and_generated_selector(apiserver):
    batch = client.BatchV1Api(apiserver.api_client())
    ns = apiserver.namespace
    body = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once"},
        "spec": {
            "template": {
                "metadata": {"labels": {"team": "a"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1"}]},
            }
        },
    }
    batch.create_namespaced_job(ns, body)
    _, obj, _ = apiserver.raw("GET", f"/apis/batch/v1/namespaces/{ns}/jobs/once")
    spec, uid = obj["spec"], obj["metadata"]["uid"]
    assert {k: spec[k] for k in ("backoffLimit", "completions", "parallelism", "completionMode", "suspend")} == {
        "backoffLimit": 6,
        "completions": 1,
        "parallelism": 1,
        "completionMode": "NonIndexed",
        "suspend": False,
    }
    assert obj["metadata"]["labels"] == {"team": "a"}
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert spec["template"]["metadata"]["labels"] == {
        "team": "a",
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "once",
        "controller-uid": uid,
        "job-name": "once",
    }
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert spec["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
