"""One test per safety rule of the apply side; each fails if its rule is broken.

Covers: reconcile from a Source (cached documents) and a fetch failure that changes nothing; never
prune after an incomplete render; refuse an empty render's prune unless allow-empty; delete only
objects still carrying the owner label; ``secretsync.io/prune: disabled``; Namespaces and CRDs only
with their own opt-in (PVCs share that code path; the emulator serves no PVCs); ``max_prune`` as
count and percentage (a blocked prune is its own error and deletes nothing); failed deletes stay in
the inventory and are retried; a live ``last-applied-configuration`` is stripped on takeover and
kubectl's fields move to us; a hand edit is reverted once, then quiet, while a foreign field stays;
immutable fields recreate only with ``secretsync.io/force: enabled`` (never a Secret without it,
even with force); ignore rules hold for apply and diff alike; waves wait for health and fail fast
on a Failed object; CRDs are Established before their custom resources; ApplySet interop with
kubectl both ways; a namespaced object without a namespace is a named error; API errors about a
Secret carry no value; a namespace-bound identity (RBAC on) applies and prunes in its namespace
(lists fall back from cluster-wide) and gets AccessDenied outside it.
"""

from __future__ import annotations

import time

import pytest

from secretsync.api.conditions import Reason
from secretsync.kube.apply import ApplyOptions
from secretsync.kube.diff import diff_all
from secretsync.kube.inventory import ApplySet, applyset_id
from secretsync.kube.plan import IgnoreRule, LiveIndex
from secretsync.kube.prune import MaxPrune, PruneBlocked, PruneOptions, PruneRefused, prune
from secretsync.reconcile import ApplySetStore, ReconcileOptions, reconcile_rendered
from tests.reconcile.conftest import write

CANARY = "canary-7d1e4a-plaintext"


def render_dir(root):
    from secretsync.render.pipeline import render
    from secretsync.sources.local import LocalSource

    return render(LocalSource(str(root)))


def store(kube, name: str = "set") -> ApplySetStore:
    return ApplySetStore(ApplySet(kube.client, name, kube.cluster.namespace))


def sync(kube, root, name: str = "set", **kw):
    opts = ReconcileOptions(timeout=kw.pop("timeout", 20), poll_interval=0.05, **kw)
    return reconcile_rendered(render_dir(root), kube.client, store(kube, name), opts)


def ok(result):
    assert result.ok, (result.stage, result.error and result.error.report())
    return result


def cm(ns: str, name: str, annotations: str = "", data: str = "a: b") -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
        f"{'  annotations:' + annotations if annotations else ''}\ndata:\n  {data}\n"
    )


def get(kube, kind: str, name: str, api_version: str = "v1"):
    return kube.client.get_or_none(api_version, kind, name, kube.cluster.namespace)


def test_reconcile_from_a_source_and_fetch_failure(kube, tmp_path):
    """The agent's entry point: a Renderer over a Source; a source that cannot be fetched changes nothing."""
    from secretsync.reconcile import reconcile
    from secretsync.render.pipeline import Renderer
    from secretsync.sources.local import LocalSource

    ns = kube.cluster.namespace
    root = write(tmp_path / "src", {"a.yaml": cm(ns, "a")})
    renderer = Renderer()
    opts = ReconcileOptions(prune=True, timeout=10, poll_interval=0.05)
    first = ok(reconcile(LocalSource(str(root)), renderer, kube.client, store(kube), opts))
    second = ok(reconcile(LocalSource(str(root)), renderer, kube.client, store(kube), opts))
    assert renderer.builds == 1 and first.revision == second.revision
    assert second.changes.counts() == {"unchanged": 1} and second.stage == "done"
    kube.reset()
    gone = reconcile(LocalSource(str(tmp_path / "missing")), renderer, kube.client, store(kube), opts)
    assert gone.stage == "fetch" and gone.reason == Reason.ARTIFACT_FAILED and not gone.changes.entries
    assert get(kube, "ConfigMap", "a") is not None
    if kube.cluster.is_emulator:
        assert kube.writes() == {}


# --- prune guards -------------------------------------------------------------------------------


def test_no_prune_after_incomplete_render(kube, tmp_path):
    ns = kube.cluster.namespace
    root = write(tmp_path / "src", {"a.yaml": cm(ns, "a"), "b.yaml": cm(ns, "b")})
    ok(sync(kube, root, prune=True))
    (root / "b.yaml").unlink()
    (root / "broken.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n")
    result = sync(kube, root, prune=True)
    assert not result.ok and result.stage == "render" and result.reason == Reason.BUILD_FAILED
    assert get(kube, "ConfigMap", "b") is not None
    with pytest.raises(PruneRefused):
        prune(
            kube.client, [], PruneOptions(owner_labels={"x": "y"}), render_complete=False, new_count=1, previous_count=1
        )


def test_empty_render_needs_allow_empty(kube, tmp_path):
    ns = kube.cluster.namespace
    root = write(tmp_path / "src", {"a.yaml": cm(ns, "a")})
    ok(sync(kube, root, prune=True))
    (root / "a.yaml").unlink()
    result = sync(kube, root, prune=True)
    assert isinstance(result.error, PruneBlocked) and result.reason == Reason.PRUNE_BLOCKED
    assert "--allow-empty" in result.error.hint
    assert get(kube, "ConfigMap", "a") is not None
    result = sync(kube, root, prune=True, allow_empty=True)
    assert result.ok, result.error
    assert get(kube, "ConfigMap", "a") is None


def test_prune_only_objects_still_labelled_ours(kube, tmp_path):
    ns = kube.cluster.namespace
    root = write(tmp_path / "src", {"a.yaml": cm(ns, "a"), "b.yaml": cm(ns, "b")})
    ok(sync(kube, root))
    live = get(kube, "ConfigMap", "b")
    stale = [e for e in store(kube).load(LiveIndex(kube.client, None), {})[0] if e.id.name == "b"]
    kube.client.patch(
        "v1",
        "ConfigMap",
        "b",
        ns,
        {"metadata": {"labels": {"applyset.kubernetes.io/part-of": None}}},
        field_manager="someone-else",
    )
    result = prune(
        kube.client,
        stale,
        PruneOptions(owner_labels=store(kube).owner_labels),
        render_complete=True,
        new_count=1,
        previous_count=2,
    )
    assert [str(c) for c in result.changes] == [f"ConfigMap/{ns}/b skipped (no longer carries our owner labels)"]
    assert get(kube, "ConfigMap", "b")["metadata"]["uid"] == live["metadata"]["uid"]


def test_prune_disabled_annotation(kube, tmp_path):
    ns = kube.cluster.namespace
    root = write(
        tmp_path / "src", {"a.yaml": cm(ns, "a"), "b.yaml": cm(ns, "b", "\n    secretsync.io/prune: disabled")}
    )
    ok(sync(kube, root))
    (root / "b.yaml").unlink()
    result = sync(kube, root, prune=True)
    assert result.ok, result.error
    assert get(kube, "ConfigMap", "b") is not None
    assert any(c.action == "skipped" and "disabled" in c.detail for c in result.changes)


def crd_yaml(group: str, annotations: str = "") -> str:
    return (
        f"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: gadgets.{group}\n"
        f"{annotations}spec:\n  group: {group}\n  scope: Namespaced\n  names: {{kind: Gadget, plural: gadgets, "
        f"listKind: GadgetList, singular: gadget}}\n  versions:\n    - name: v1\n      served: true\n"
        f"      storage: true\n      schema:\n        openAPIV3Schema:\n          type: object\n"
        f"          x-kubernetes-preserve-unknown-fields: true\n"
    )


def test_guarded_kinds_need_their_own_opt_in(kube, tmp_path):
    # Namespaces and CRDs here; PersistentVolumeClaims follow the same rule (the emulator serves no PVCs)
    ns = kube.cluster.namespace
    group = f"guard{ns.replace('-', '')}.example.com"
    root = write(
        tmp_path / "src",
        {
            "keep.yaml": cm(ns, "keep"),
            "ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: guarded-" + ns,
            "crd.yaml": crd_yaml(group),
        },
    )
    ok(sync(kube, root))
    (root / "ns.yaml").unlink()
    (root / "crd.yaml").unlink()
    result = ok(sync(kube, root, prune=True))
    assert kube.client.get_or_none("v1", "Namespace", "guarded-" + ns) is not None
    assert kube.client.get_or_none("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"gadgets.{group}")
    assert sorted(c.detail for c in result.changes if c.action == "skipped") == [
        "CustomResourceDefinition is pruned only with secretsync.io/prune: enabled",
        "Namespace is pruned only with secretsync.io/prune: enabled",
    ]
    # opted in (the annotation reaches the live object through Git first): now pruned
    write(root, {"crd.yaml": crd_yaml(group, "  annotations:\n    secretsync.io/prune: enabled\n")})
    ok(sync(kube, root))
    (root / "crd.yaml").unlink()
    ok(sync(kube, root, prune=True))
    assert kube.client.get_or_none("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"gadgets.{group}") is None
    assert kube.client.get_or_none("v1", "Namespace", "guarded-" + ns) is not None


@pytest.mark.parametrize("limit", ["1", "40%"])
def test_max_prune_blocks_and_deletes_nothing(kube, tmp_path, limit):
    ns = kube.cluster.namespace
    root = write(tmp_path / "src", {f"c{i}.yaml": cm(ns, f"c{i}") for i in range(5)})
    ok(sync(kube, root))
    for i in (1, 2, 3):
        (root / f"c{i}.yaml").unlink()
    result = sync(kube, root, prune=True, max_prune=MaxPrune.parse(limit))
    assert isinstance(result.error, PruneBlocked) and result.reason == Reason.PRUNE_BLOCKED
    assert "3 object(s) would be deleted" in result.error.message
    assert all(get(kube, "ConfigMap", f"c{i}") is not None for i in range(5))
    assert sync(kube, root, prune=True, max_prune=MaxPrune.parse("60%")).ok
    assert [i for i in range(5) if get(kube, "ConfigMap", f"c{i}")] == [0, 4]


def test_failed_delete_stays_in_inventory(kube, tmp_path):
    kube.cluster.require_emulator("injects a failing DELETE")
    ns = kube.cluster.namespace
    root = write(
        tmp_path / "src",
        {
            "a.yaml": cm(ns, "a"),
            "s.yaml": f"apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n  namespace: "
            f"{ns}\nspec:\n  ports: [{{port: 80}}]\n",
        },
    )
    ok(sync(kube, root))
    (root / "s.yaml").unlink()
    kube.cluster.faults.fail_next(1, verb="delete", resource="services", code=500)
    result = sync(kube, root, prune=True)
    assert result.reason == Reason.PRUNE_FAILED
    assert get(kube, "Service", "svc") is not None
    parent = kube.client.get("v1", "Secret", "set", ns)
    assert "Service" in parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"]
    result = sync(kube, root, prune=True)
    assert result.ok, result.error
    assert get(kube, "Service", "svc") is None
    parent = kube.client.get("v1", "Secret", "set", ns)
    assert parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"] == "ConfigMap"


# --- takeover, immutable fields, ignore rules ---------------------------------------------------


def test_takeover_strips_last_applied_and_takes_kubectl_fields(kube, tmp_path):
    ns = kube.cluster.namespace
    manifest = (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: {ns}\n  labels:\n    extra: x\n"
        f"stringData:\n  password: {CANARY}\n"
    )
    (tmp_path / "kubectl-input.yaml").write_text(manifest)  # kubectl's own input file
    kube.cluster.kubectl("apply", "-f", str(tmp_path / "kubectl-input.yaml"))
    live = get(kube, "Secret", "s")
    assert CANARY in live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    root = write(tmp_path / "src", {"s.yaml": manifest.replace("  labels:\n    extra: x\n", "")})
    result = sync(kube, root)
    assert result.ok, result.error
    change = next(c for c in result.changes if c.id.name == "s")
    assert change.action == "configured" and "kubectl-client-side-apply" in change.takeover
    live = get(kube, "Secret", "s")
    assert "kubectl.kubernetes.io/last-applied-configuration" not in (live["metadata"].get("annotations") or {})
    assert "extra" not in live["metadata"]["labels"]  # the field kubectl owned was removed from Git
    assert live["data"]["password"].reveal() == CANARY.encode()
    assert {e["manager"] for e in live["metadata"]["managedFields"]} == {"secretsync"}
    kube.reset()
    assert sync(kube, root).changes.counts() == {"unchanged": 1}
    if kube.cluster.is_emulator:
        assert kube.writes() == {}


def test_drift_is_reverted_once_then_quiet(kube, tmp_path):
    ns = kube.cluster.namespace
    root = write(tmp_path / "src", {"a.yaml": cm(ns, "a")})
    ok(sync(kube, root))
    kube.cluster.kubectl(
        "patch",
        "configmap",
        "a",
        "-n",
        ns,
        "--type",
        "merge",
        "-p",
        '{"data": {"a": "edited", "extra": "added by hand"}}',
    )
    kube.client.patch(
        "v1", "ConfigMap", "a", ns, {"metadata": {"labels": {"team": "x"}}}, field_manager="some-controller"
    )
    result = ok(sync(kube, root))
    change = next(iter(result.changes))
    assert change.action == "configured" and "kubectl-patch" in change.takeover
    live = get(kube, "ConfigMap", "a")
    assert live["data"] == {"a": "b"}  # the hand edit is gone, Git wins
    assert live["metadata"]["labels"]["team"] == "x"  # a field we never declared stays
    kube.reset()
    assert ok(sync(kube, root)).changes.counts() == {"unchanged": 1}
    if kube.cluster.is_emulator:
        assert kube.writes() == {}


def test_immutable_secret_never_recreated_without_annotation(kube, tmp_path):
    ns = kube.cluster.namespace
    secret = (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: {ns}\n{{ann}}type: {{type}}\n"
        f"stringData:\n  password: {CANARY}\n"
    )
    root = write(tmp_path / "src", {"s.yaml": secret.format(ann="", type="Opaque")})
    ok(sync(kube, root))
    uid = get(kube, "Secret", "s")["metadata"]["uid"]
    write(root, {"s.yaml": secret.format(ann="", type="example.com/other")})
    for force in (False, True):
        result = sync(kube, root, force_recreate=force)
        assert result.error is not None and result.error.reference == "immutable-field"
        assert "secretsync.io/force: enabled" in result.error.hint
        assert CANARY not in result.error.message
        assert get(kube, "Secret", "s")["metadata"]["uid"] == uid
    write(
        root,
        {"s.yaml": secret.format(ann="  annotations:\n    secretsync.io/force: enabled\n", type="example.com/other")},
    )
    result = sync(kube, root)
    assert result.ok, result.error
    live = get(kube, "Secret", "s")
    assert live["metadata"]["uid"] != uid and live["type"] == "example.com/other"
    assert [c.detail for c in result.changes] == ["recreated"]


def test_immutable_configmap_recreated_with_force(kube, tmp_path):
    ns = kube.cluster.namespace
    root = write(tmp_path / "src", {"c.yaml": cm(ns, "c") + "immutable: true\n"})
    ok(sync(kube, root))
    uid = get(kube, "ConfigMap", "c")["metadata"]["uid"]
    write(root, {"c.yaml": cm(ns, "c", data="a: changed") + "immutable: true\n"})
    assert sync(kube, root).error.reference == "immutable-field"
    assert get(kube, "ConfigMap", "c")["data"] == {"a": "b"}
    result = sync(kube, root, force_recreate=True)
    assert result.ok, result.error
    live = get(kube, "ConfigMap", "c")
    assert live["data"] == {"a": "changed"} and live["metadata"]["uid"] != uid


def test_ignore_rules_hold_for_apply_and_diff(kube, tmp_path):
    ns = kube.cluster.namespace
    deployment = (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {ns}\nspec:\n"
        f"  replicas: 1\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n"
        f"      labels: {{app: web}}\n    spec:\n      containers:\n        - name: web\n          image: nginx\n"
    )
    root = write(tmp_path / "src", {"d.yaml": deployment})
    assert sync(kube, root, name="ign").ok

    def autoscale():  # another manager (an HPA, a webhook) owns replicas now
        kube.client.patch("apps/v1", "Deployment", "web", ns, {"spec": {"replicas": 5}}, field_manager="autoscaler")

    autoscale()
    rule = IgnoreRule.parse("Deployment.apps=/spec/replicas")
    result = sync(kube, root, name="ign", ignore=[rule])
    assert result.changes.counts() == {"unchanged": 1}
    assert get(kube, "Deployment", "web", "apps/v1")["spec"]["replicas"] == 5
    opts = ApplyOptions(client=kube.client, owner_labels=store(kube, "ign").owner_labels, ignore=[rule])
    objects = render_dir(root).objects()
    assert [d.action for d in diff_all(objects, opts)] == ["unchanged"]
    opts.ignore = []
    diffs = diff_all(objects, opts)
    assert [d.action for d in diffs] == ["update"] and "-  replicas: 5\n+  replicas: 1" in diffs[0].text
    assert sync(kube, root, name="ign").ok  # without the rule the Git value wins
    assert get(kube, "Deployment", "web", "apps/v1")["spec"]["replicas"] == 1


# --- order and health ---------------------------------------------------------------------------


def _wave_tree(tmp_path, ns: str, rollout: str) -> object:
    deployment = (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: db\n  namespace: {ns}\n  annotations:\n"
        f"    test.secretsync.io/rollout: {rollout}\nspec:\n  selector:\n    matchLabels: {{app: db}}\n"
        f"  template:\n    metadata:\n      labels: {{app: db}}\n    spec:\n      containers:\n"
        f"        - name: db\n          image: postgres\n"
    )
    return write(
        tmp_path / f"src-{rollout}",
        {"db.yaml": deployment, "app.yaml": cm(ns, "app", "\n    secretsync.io/sync-wave: '1'")},
    )


def test_next_wave_waits_for_health(kube, controllers, tmp_path):
    ns = kube.cluster.namespace
    result = sync(kube, _wave_tree(tmp_path, ns, "stuck"), timeout=1)
    assert result.error is not None and result.error.reference == "health-timeout"
    assert get(kube, "ConfigMap", "app") is None
    assert sync(kube, _wave_tree(tmp_path, ns, "fine"), timeout=20).ok
    assert get(kube, "ConfigMap", "app") is not None


def test_health_fails_fast_on_failed_object(kube, controllers, tmp_path):
    ns = kube.cluster.namespace
    start = time.monotonic()
    result = sync(kube, _wave_tree(tmp_path, ns, "deadline"), timeout=60)
    assert result.error is not None and result.error.reference == "health-check-failed"
    assert "progress deadline exceeded" in result.error.message
    assert time.monotonic() - start < 20
    assert get(kube, "ConfigMap", "app") is None


def test_crd_established_before_its_resources(kube, tmp_path):
    ns = kube.cluster.namespace
    group = f"g{ns.replace('-', '')}.example.com"
    crd = crd_yaml(group)
    gadget = f"apiVersion: {group}/v1\nkind: Gadget\nmetadata:\n  name: g\n  namespace: {ns}\nspec:\n  size: 2\n"
    root = write(tmp_path / "src", {"a-gadget.yaml": gadget, "b-crd.yaml": crd})
    result = sync(kube, root)
    assert result.ok, result.error
    assert [c.id.kind for c in result.changes] == ["CustomResourceDefinition", "Gadget"]
    assert kube.client.get(f"{group}/v1", "Gadget", "g", ns)["spec"] == {"size": 2}


# --- ApplySet interop, error hygiene ------------------------------------------------------------


def test_applyset_interop_with_kubectl(kube, tmp_path):
    ns = kube.cluster.namespace
    (tmp_path / "in.yaml").write_text(cm(ns, "from-kubectl"))
    _kubectl_applyset(kube, tmp_path, ns)
    parent = kube.client.get("v1", "Secret", "kset", ns)
    assert parent["metadata"]["labels"]["applyset.kubernetes.io/id"] == applyset_id("kset", ns)  # kubectl's id = ours
    # theirs -> ours: secretsync refuses to adopt (and so to prune) a set kubectl manages
    root = write(tmp_path / "src", {"a.yaml": cm(ns, "a")})
    result = sync(kube, root, name="kset", prune=True)
    assert result.error is not None and result.error.reference == "applyset" and "kubectl" in result.error.message
    assert get(kube, "ConfigMap", "a") is None and get(kube, "ConfigMap", "from-kubectl") is not None
    # ours -> theirs: kubectl reads our parent and members by its labels
    assert sync(kube, root, name="ours").ok
    sid = applyset_id("ours", ns)
    listed = kube.cluster.kubectl(
        "get", "configmaps", "-n", ns, "-l", f"applyset.kubernetes.io/part-of={sid}", "-o", "name"
    ).stdout.split()
    assert listed == ["configmap/a"]
    proc = _kubectl_applyset(kube, tmp_path, ns, name="ours", check=False)
    assert proc.returncode != 0 and "secretsync" in proc.stderr  # kubectl sees who manages it


def _kubectl_applyset(kube, tmp_path, ns, name="kset", check=True):
    """``kubectl apply --prune --applyset=secret/NAME`` (the ApplySet feature is behind KUBECTL_APPLYSET)."""
    import subprocess

    from tests.fixtures.peers import isolated_env, peer_binary

    env = isolated_env(kube.cluster.workdir, KUBECTL_APPLYSET="true")
    proc = subprocess.run(
        [
            peer_binary("kubectl"),
            "--kubeconfig",
            str(kube.cluster.kubeconfig),
            "apply",
            "--server-side",
            "--prune",
            f"--applyset=secret/{name}",
            "-n",
            ns,
            "-f",
            str(tmp_path / "in.yaml"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_namespaced_object_without_namespace(kube, tmp_path):
    root = write(
        tmp_path / "src", {"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: nons\ndata:\n  a: b\n"}
    )
    result = sync(kube, root)
    assert result.error is not None and result.error.reference == "apply-failed"
    assert "ConfigMap/nons" in result.error.message and "--target-namespace" in result.error.hint


def test_api_errors_about_secrets_hold_no_value(kube, tmp_path, caplog):
    ns = kube.cluster.namespace
    caplog.set_level("DEBUG")
    root = write(
        tmp_path / "src",
        {
            "s.yaml": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: {ns}\n"
            f"stringData:\n  'bad key!': {CANARY}\n"
        },
    )
    result = sync(kube, root)
    assert result.error is not None and result.error.reference == "apply-failed"
    assert "bad key!" in result.error.message
    assert CANARY not in result.error.message and CANARY not in caplog.text


def test_tenant_limited_to_one_namespace(tmp_path):
    """A namespace-bound identity (no cluster-wide list): lists fall back to its namespace, prune still works."""
    from secretsync.kube.client import KubeClient
    from tests.fixtures.apiserver import make_cluster

    cluster = make_cluster(tmp_path / "rbac", rbac=True)
    if not cluster.is_emulator:
        pytest.skip("builds its own RBAC emulator")
    try:
        admin = KubeClient.from_kubeconfig(str(cluster.kubeconfig))
        ns = "tenant-a"
        admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        admin.create(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "deployer", "namespace": ns},
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["configmaps", "secrets"],
                        "verbs": ["get", "list", "create", "patch", "update", "delete"],
                    }
                ],
            }
        )
        admin.create(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "deployer", "namespace": ns},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
                "subjects": [{"kind": "User", "name": "alice"}],
            }
        )
        token = cluster.server.add_user("alice", ["system:authenticated"])
        client = KubeClient.from_kubeconfig(
            str(cluster.server.write_kubeconfig(tmp_path / "alice", token=token, user="alice", namespace=ns))
        )
        root = write(tmp_path / "src", {"a.yaml": cm(ns, "a"), "b.yaml": cm(ns, "b")})
        tenant_store = ApplySetStore(ApplySet(client, "tenant", ns))
        opts = ReconcileOptions(prune=True, timeout=10, poll_interval=0.05)
        ok(reconcile_rendered(render_dir(root), client, tenant_store, opts))
        (root / "b.yaml").unlink()
        result = ok(reconcile_rendered(render_dir(root), client, tenant_store, opts))
        assert [str(c) for c in result.changes if c.action != "unchanged"] == [f"ConfigMap/{ns}/b deleted"]
        assert admin.get_or_none("v1", "ConfigMap", "b", ns) is None
        outside = write(tmp_path / "outside", {"x.yaml": cm("default", "x")})
        result = reconcile_rendered(render_dir(outside), client, ApplySetStore(ApplySet(client, "t2", ns)), opts)
        assert result.error is not None and "forbidden" in result.error.message.lower()
        assert result.reason == Reason.ACCESS_DENIED
        client.close()
        admin.close()
    finally:
        cluster.close()
        cluster.server.stop()
