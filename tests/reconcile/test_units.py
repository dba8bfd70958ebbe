"""Pure parts of the apply side, without a server.

Covers: kstatus rules per kind (Deployment rollout, Job, CRD, generic conditions, observedGeneration,
Terminating); the managedFields no-op proof (a value change, a field added or dropped, a list item
removed, a list key defaulted by the server all count as "not proven"); ``--max-prune`` and
``--ignore-differences`` parsing; ignore rules keeping a value only we own and dropping one another
manager owns; Secret masking in diffs (which keys changed, never values).
"""

from __future__ import annotations

import copy

import pytest

from secretsync.kube import health
from secretsync.kube.diff import mask_pair, render_diff
from secretsync.kube.plan import IgnoreRule, apply_ignore_rules, prepare, provably_unchanged
from secretsync.kube.prune import MaxPrune
from secretsync.objects import ObjectId
from secretsync.secretvalue import SecretBytes


def deployment(status: dict | None = None, generation: int = 2, replicas: int = 2) -> dict:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "d", "generation": generation},
        "spec": {"replicas": replicas},
    }
    if status is not None:
        obj["status"] = status
    return obj


@pytest.mark.parametrize(
    "status,expected",
    [
        (None, health.IN_PROGRESS),
        (
            {"observedGeneration": 1, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2, "replicas": 2},
            health.IN_PROGRESS,
        ),
        (
            {"observedGeneration": 2, "updatedReplicas": 1, "readyReplicas": 2, "availableReplicas": 2, "replicas": 3},
            health.IN_PROGRESS,
        ),
        (
            {"observedGeneration": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2, "replicas": 3},
            health.IN_PROGRESS,
        ),
        (
            {"observedGeneration": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2, "replicas": 2},
            health.CURRENT,
        ),
        (
            {
                "observedGeneration": 2,
                "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}],
            },
            health.FAILED,
        ),
    ],
)
def test_deployment_health(status, expected):
    assert health.compute(deployment(status)).status == expected


def test_other_kinds_health():
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}}
    assert health.compute(job).status == health.IN_PROGRESS
    assert health.compute({**job, "status": {"conditions": [{"type": "Complete", "status": "True"}]}}).current
    assert (
        health.compute({**job, "status": {"conditions": [{"type": "Failed", "status": "True"}]}}).status
        == health.FAILED
    )
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "x"}}
    assert health.compute(crd).status == health.IN_PROGRESS
    assert health.compute({**crd, "status": {"conditions": [{"type": "Established", "status": "True"}]}}).current
    cr = {"apiVersion": "x.io/v1", "kind": "Thing", "metadata": {"name": "t", "generation": 3}}
    assert health.compute(cr).current
    assert health.compute({**cr, "status": {"observedGeneration": 2}}).status == health.IN_PROGRESS
    assert (
        health.compute({**cr, "status": {"conditions": [{"type": "Stalled", "status": "True"}]}}).status
        == health.FAILED
    )
    assert (
        health.compute({**cr, "status": {"conditions": [{"type": "Ready", "status": "False"}]}}).status
        == health.IN_PROGRESS
    )
    assert (
        health.compute({**cr, "metadata": {**cr["metadata"], "deletionTimestamp": "now"}}).status == health.TERMINATING
    )
    assert health.compute(None).status == health.NOT_FOUND


def _live(desired: dict, fields: dict, extra: dict | None = None) -> dict:
    live = copy.deepcopy(desired)
    live.setdefault("metadata", {})["managedFields"] = [
        {
            "manager": "secretsync",
            "operation": "Apply",
            "apiVersion": desired["apiVersion"],
            "fieldsType": "FieldsV1",
            "fieldsV1": fields,
        }
    ]
    for key, value in (extra or {}).items():
        live[key] = value
    return live


POD_SPEC = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "namespace": "d", "labels": {"a": "1"}},
    "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}]},
}
POD_FIELDS = {
    "f:metadata": {"f:labels": {"f:a": {}}},
    "f:spec": {
        "f:containers": {
            'k:{"name":"c"}': {
                ".": {},
                "f:name": {},
                "f:image": {},
                "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
            }
        }
    },
}


def test_provably_unchanged():
    live = _live(POD_SPEC, POD_FIELDS)
    live["spec"]["containers"][0]["ports"][0]["protocol"] = "TCP"  # defaulted by the server
    live["spec"]["containers"][0]["imagePullPolicy"] = "Always"  # another default, not ours
    assert provably_unchanged(POD_SPEC, live)
    changed = copy.deepcopy(POD_SPEC)
    changed["spec"]["containers"][0]["image"] = "i2"
    assert not provably_unchanged(changed, live)
    added = copy.deepcopy(POD_SPEC)
    added["metadata"]["labels"]["b"] = "2"
    assert not provably_unchanged(added, live)
    dropped = copy.deepcopy(POD_SPEC)
    del dropped["metadata"]["labels"]
    assert not provably_unchanged(dropped, live)
    no_ports = copy.deepcopy(POD_SPEC)
    no_ports["spec"]["containers"][0]["ports"] = []
    assert not provably_unchanged(no_ports, live)
    other_manager = copy.deepcopy(live)
    other_manager["metadata"]["managedFields"][0]["manager"] = "kubectl"
    assert not provably_unchanged(POD_SPEC, other_manager)
    last_applied = copy.deepcopy(live)
    last_applied["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    assert not provably_unchanged(POD_SPEC, last_applied)


def test_secret_no_op_compares_decoded_values():
    desired = prepare(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "namespace": "d"},
            "stringData": {"k": SecretBytes("v1")},
        }
    )
    assert "stringData" not in desired and desired["data"]["k"] == SecretBytes("v1")
    live = _live(desired, {"f:data": {"f:k": {}}})
    assert provably_unchanged(desired, live)
    live["data"]["k"] = SecretBytes("v2")
    assert not provably_unchanged(desired, live)


def test_max_prune_parse():
    assert MaxPrune.parse("5").limit(100) == 5
    assert MaxPrune.parse("25%").limit(10) == 2
    for bad in ("-1", "x", "101%", ""):
        with pytest.raises(ValueError):
            MaxPrune.parse(bad)


def test_ignore_rule_parse_and_match():
    rule = IgnoreRule.parse("Deployment.apps/demo/web=/spec/replicas,/metadata/annotations/x~1y")
    assert rule.pointers == ("/spec/replicas", "/metadata/annotations/x~1y")
    assert rule.matches(ObjectId("apps", "Deployment", "demo", "web"))
    assert not rule.matches(ObjectId("apps", "Deployment", "demo", "api"))
    assert not rule.matches(ObjectId("", "Deployment", "demo", "web"))
    assert IgnoreRule.parse("*=/spec/x").matches(ObjectId("a", "B", "c", "d"))
    assert IgnoreRule.parse("ConfigMap=/data/x").matches(ObjectId("", "ConfigMap", "n", "m"))
    for bad in ("Deployment", "Deployment=spec/replicas", "=/x"):
        with pytest.raises(ValueError):
            IgnoreRule.parse(bad)


def test_ignore_rules_keep_own_value_and_drop_foreign_one():
    rule = IgnoreRule.parse("Deployment.apps=/spec/replicas")
    desired = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"}, "spec": {"replicas": 1}}
    live = {
        **copy.deepcopy(desired),
        "spec": {"replicas": 4},
        "metadata": {
            "name": "w",
            "managedFields": [
                {"manager": "secretsync", "operation": "Apply", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
            ],
        },
    }
    assert apply_ignore_rules(copy.deepcopy(desired), live, [rule])["spec"] == {"replicas": 4}
    live["metadata"]["managedFields"].append(
        {"manager": "hpa", "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
    )
    assert apply_ignore_rules(copy.deepcopy(desired), live, [rule])["spec"] == {}


def test_secret_masking_shows_keys_never_values():
    def sec(data):
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "namespace": "d"},
            "data": {k: SecretBytes(v) for k, v in data.items()},
        }

    before, after = mask_pair(
        sec({"same": "x", "changed": "old-value-1", "gone": "y"}),
        sec({"same": "x", "changed": "new-value-2", "new": "z"}),
    )
    assert before["data"] == {"same": "***", "changed": "*** (before)", "gone": "*** (removed)"}
    assert after["data"] == {"same": "***", "changed": "*** (after)", "new": "*** (added)"}
    text = render_diff(ObjectId("", "Secret", "d", "s"), sec({"k": "old-value-1"}), sec({"k": "new-value-2"}))
    assert "-  k: '*** (before)'" in text and "+  k: '*** (after)'" in text
    assert "value" not in text
