"""CustomResourceDefinition contract: defining, serving and removing custom types.

Covers: ``kubectl apply`` of CRD files (ours in tests/emulator/data and every
file in the repository's crds/), the Established/NamesAccepted conditions
(``kubectl wait --for condition=established``), the new group/version/kind in
discovery with scope, short names and ``/status``; namespaced and
cluster-scoped custom resources; the status subresource (main-resource writes
ignore status, ``/status`` writes change only status, generation follows spec);
every served version reading the same objects; unknown-field pruning and the
Strict 400; printer columns in ``kubectl get``; deleting the CRD removing its
type and objects. Sources: "Extend the Kubernetes API with
CustomResourceDefinitions" (subresources, versions, pruning, field
validation). Runs on a real cluster too.
"""

import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.peer

DATA = Path(__file__).parent / "data"
CRD_FILE = DATA / "widgets-crd.yaml"
REPO_CRDS = sorted(
    p for p in (Path(__file__).parents[2] / "crds").glob("*.yaml") if "kind: CustomResourceDefinition" in p.read_text()
)
GROUP = "example.secretsync.io"


def _install(cluster):
    cluster.kubectl("apply", "-f", str(CRD_FILE))
    cluster.kubectl(
        "wait", "--for", "condition=established", "--timeout=60s", f"crd/widgets.{GROUP}", f"crd/gadgets.{GROUP}"
    )


def _widget(name, size=1, **extra):
    body = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": name}, "spec": {"size": size}}
    body.update(extra)
    return body


def _wpath(cluster, name="", version="v1"):
    base = f"/apis/{GROUP}/{version}/namespaces/{cluster.namespace}/widgets"
    return f"{base}/{name}" if name else base


def _cleanup(cluster):
    cluster.kubectl("delete", "-f", str(CRD_FILE), "--ignore-not-found", "--wait=true")


@pytest.fixture
def widgets(apiserver):
    _install(apiserver)
    yield apiserver
    _cleanup(apiserver)


def test_crd_appears_in_discovery(widgets):
    code, group, _ = widgets.raw("GET", f"/apis/{GROUP}")
    assert code == 200 and group["preferredVersion"]["version"] == "v1"
    assert {v["version"] for v in group["versions"]} == {"v1", "v1beta1"}
    _, resources, _ = widgets.raw("GET", f"/apis/{GROUP}/v1")
    by_name = {r["name"]: r for r in resources["resources"]}
    assert by_name["widgets"]["kind"] == "Widget" and by_name["widgets"]["namespaced"] is True
    assert by_name["widgets"]["shortNames"] == ["wd"] and "widgets/status" in by_name
    assert by_name["gadgets"]["namespaced"] is False and "gadgets/status" not in by_name
    found = widgets.dynamic().resources.get(api_version=f"{GROUP}/v1", kind="Widget")
    assert found.name == "widgets" and "status" in found.subresources


def test_crd_status_conditions(widgets):
    _, crd, _ = widgets.raw("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{GROUP}")
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions["Established"] == "True" and conditions["NamesAccepted"] == "True"
    assert crd["status"]["acceptedNames"]["kind"] == "Widget" and crd["status"]["storedVersions"] == ["v1"]


def test_namespaced_and_cluster_scoped_resources(widgets):
    assert widgets.raw("POST", _wpath(widgets), _widget("w1"))[0] == 201
    gadget = {"apiVersion": f"{GROUP}/v1", "kind": "Gadget", "metadata": {"name": "g1"}, "spec": {"any": "thing"}}
    code, obj, _ = widgets.raw("POST", f"/apis/{GROUP}/v1/gadgets", gadget)
    assert code == 201 and "namespace" not in obj["metadata"]
    assert widgets.raw("GET", f"/apis/{GROUP}/v1/gadgets/g1")[0] == 200
    widgets.raw("DELETE", f"/apis/{GROUP}/v1/gadgets/g1")


def test_status_subresource_splits_writes(widgets):
    code, obj, _ = widgets.raw("POST", _wpath(widgets), _widget("s1", status={"phase": "Bogus"}))
    assert code == 201 and "status" not in obj and obj["metadata"]["generation"] == 1
    obj["status"] = {"phase": "Ready"}
    code, obj, _ = widgets.raw("PUT", _wpath(widgets, "s1"), obj)
    assert code == 200 and "status" not in obj  # main resource ignores status
    obj["status"] = {"phase": "Ready", "observedGeneration": 1}
    obj["spec"]["size"] = 99
    code, obj, _ = widgets.raw("PUT", _wpath(widgets, "s1") + "/status", obj)
    assert code == 200 and obj["status"]["phase"] == "Ready"
    assert obj["spec"]["size"] == 1 and obj["metadata"]["generation"] == 1  # /status ignores spec
    obj["spec"]["size"] = 2
    code, obj, _ = widgets.raw("PUT", _wpath(widgets, "s1"), obj)
    assert obj["metadata"]["generation"] == 2 and obj["status"]["phase"] == "Ready"
    widgets.kubectl(
        "-n",
        widgets.namespace,
        "patch",
        "widget",
        "s1",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"phase":"Done"}}',
    )
    widgets.kubectl(
        "-n", widgets.namespace, "wait", "--for=jsonpath={.status.phase}=Done", "widget/s1", "--timeout=30s"
    )


def test_all_served_versions_read_the_same_objects(widgets):
    widgets.raw("POST", _wpath(widgets), _widget("v", size=5))
    code, old, _ = widgets.raw("GET", _wpath(widgets, "v", version="v1beta1"))
    assert code == 200 and old["apiVersion"] == f"{GROUP}/v1beta1" and old["spec"]["size"] == 5


def test_unknown_fields_pruned_or_refused(widgets):
    body = _widget("p", config={"free": {"form": True}})
    body["spec"]["config"] = {"free": {"form": True}}
    body["spec"]["unknown"] = "x"
    code, status, _ = widgets.raw("POST", _wpath(widgets) + "?fieldValidation=Strict", body)
    assert code == 400 and status["reason"] == "BadRequest"
    assert 'unknown field "spec.unknown"' in status["message"]
    code, obj, _ = widgets.raw("POST", _wpath(widgets) + "?fieldValidation=Ignore", body)
    assert code == 201 and "unknown" not in obj["spec"]
    assert obj["spec"]["config"] == {"free": {"form": True}}  # x-kubernetes-preserve-unknown-fields


def test_kubectl_get_uses_printer_columns(widgets):
    widgets.raw("POST", _wpath(widgets), _widget("col", size=7))
    lines = widgets.kubectl("-n", widgets.namespace, "get", "widgets").stdout.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "AGE"] and lines[1].split()[:2] == ["col", "7"]
    names = widgets.kubectl("-n", widgets.namespace, "get", "wd", "-o", "name").stdout.split()
    assert names == ["widget.example.secretsync.io/col"]


def test_deleting_the_crd_removes_type_and_objects(apiserver):
    _install(apiserver)
    apiserver.raw("POST", _wpath(apiserver), _widget("doomed"))
    _cleanup(apiserver)
    deadline = time.monotonic() + 60
    while apiserver.raw("GET", f"/apis/{GROUP}/v1")[0] != 404:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert apiserver.raw("GET", _wpath(apiserver, "doomed"))[0] == 404
    _install(apiserver)  # re-created: the old objects did not come back
    code, listing, _ = apiserver.raw("GET", _wpath(apiserver))
    assert code == 200 and listing["items"] == []
    _cleanup(apiserver)


@pytest.mark.parametrize("path", REPO_CRDS, ids=[p.name for p in REPO_CRDS])
def test_repository_crds_apply_and_serve(apiserver, path):
    apiserver.kubectl("apply", "-f", str(path))
    for doc in yaml.safe_load_all(path.read_text()):
        if not doc or doc.get("kind") != "CustomResourceDefinition":
            continue
        apiserver.kubectl("wait", "--for", "condition=established", "--timeout=60s", f"crd/{doc['metadata']['name']}")
        spec = doc["spec"]
        version = next(v["name"] for v in spec["versions"] if v.get("storage"))
        code, resources, _ = apiserver.raw("GET", f"/apis/{spec['group']}/{version}")
        assert code == 200
        assert spec["names"]["plural"] in {r["name"] for r in resources["resources"]}
    apiserver.kubectl("delete", "-f", str(path), "--wait=true")


def test_repository_crds_apply_as_a_kustomization(apiserver):
    """``kubectl apply -k crds/`` (the documented install) serves every CRD the kustomization lists."""
    crds_dir = Path(__file__).parents[2] / "crds"
    kustomization = yaml.safe_load((crds_dir / "kustomization.yaml").read_text())
    docs = [
        d
        for name in kustomization["resources"]
        for d in yaml.safe_load_all((crds_dir / name).read_text())
        if d and d.get("kind") == "CustomResourceDefinition"
    ]
    assert docs
    out = apiserver.kubectl("apply", "--server-side", "-k", str(crds_dir)).stdout
    for doc in docs:
        assert f"customresourcedefinition.apiextensions.k8s.io/{doc['metadata']['name']} serverside-applied" in out
        apiserver.kubectl("wait", "--for", "condition=established", "--timeout=60s", f"crd/{doc['metadata']['name']}")
        spec = doc["spec"]
        version = next(v["name"] for v in spec["versions"] if v.get("storage"))
        _, resources, _ = apiserver.raw("GET", f"/apis/{spec['group']}/{version}")
        assert spec["names"]["plural"] in {r["name"] for r in resources["resources"]}
    apiserver.kubectl("delete", "-k", str(crds_dir), "--wait=true")


def test_schema_defaults_and_validation(widgets):
    code, obj, _ = widgets.raw("POST", _wpath(widgets), _widget("dflt", size=1))
    assert code == 201 and obj["spec"]["mode"] == "auto"  # default from the schema
    code, status, _ = widgets.raw("POST", _wpath(widgets), _widget("bad", size="big"))
    assert code == 422 and status["reason"] == "Invalid"
    assert status["message"] == (
        'Widget.example.secretsync.io "bad" is invalid: spec.size: Invalid value: "big": '
        'spec.size in body must be of type integer: "big"'
    )
    body = _widget("pink", size=-1)
    body["spec"]["color"] = "pink"
    code, status, _ = widgets.raw("POST", _wpath(widgets), body)
    assert code == 422
    assert sorted(c["field"] for c in status["details"]["causes"]) == ["spec.color", "spec.size"]
    assert 'Unsupported value: "pink": supported values: "red", "blue"' in status["message"]


def test_defaulted_field_omitted_later_is_not_a_spec_change(widgets):
    _, obj, _ = widgets.raw("POST", _wpath(widgets), _widget("gen", size=1))
    assert obj["spec"]["mode"] == "auto" and obj["metadata"]["generation"] == 1
    again = _widget("gen", size=1)
    again["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"]
    code, obj2, _ = widgets.raw("PUT", _wpath(widgets, "gen"), again)
    assert code == 200 and obj2["metadata"]["generation"] == 1  # defaulting makes it the same spec
    assert obj2["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
