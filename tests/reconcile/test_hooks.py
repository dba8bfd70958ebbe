"""Sync hooks against the emulator (its Jobs are moved along by the ``controllers`` fixture).

Covers: a failed PreSync hook stops the sync before anything else is applied and the SyncFail
hook runs; hooks run in phase order around the apply (PreSync before, PostSync after the objects
are healthy); ``HookSucceeded`` deletes a hook after success; ``BeforeHookCreation`` (the default)
replaces the previous run; a hook that never finishes fails at the timeout; Argo CD's annotations
are read too; an unknown phase is a clear error; hooks are neither in the inventory nor pruned.
"""

from __future__ import annotations

import time

import pytest

from secretsync.api.conditions import Reason
from tests.reconcile.conftest import write
from tests.reconcile.test_safety import cm, ok, sync

pytestmark = pytest.mark.usefixtures("controllers")


def job(
    ns: str, name: str, phase: str, outcome: str = "succeed", policy: str | None = None, prefix: str = "secretsync.io"
) -> str:
    policy_line = f"    {prefix}/hook-delete-policy: {policy}\n" if policy else ""
    return (
        f"apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n  namespace: {ns}\n  annotations:\n"
        f"    {prefix}/hook: {phase}\n{policy_line}    test.secretsync.io/outcome: {outcome}\nspec:\n  template:\n"
        f"    spec:\n      restartPolicy: Never\n      containers:\n        - name: migrate\n"
        f"          image: migrate:1\n"
    )


def get_job(kube, name: str):
    return kube.client.get_or_none("batch/v1", "Job", name, kube.cluster.namespace)


def test_failed_presync_stops_the_sync(kube, tmp_path):
    ns = kube.cluster.namespace
    root = write(
        tmp_path / "src",
        {
            "app.yaml": cm(ns, "app"),
            "migrate.yaml": job(ns, "migrate", "PreSync", "fail"),
            "cleanup.yaml": job(ns, "on-fail", "SyncFail"),
        },
    )
    result = sync(kube, root)
    assert result.error is not None and result.error.reference == "hook-failed"
    assert "PreSync hook Job.batch" in result.error.message and result.reason == Reason.RECONCILIATION_FAILED
    assert kube.client.get_or_none("v1", "ConfigMap", "app", ns) is None  # nothing else applied
    assert get_job(kube, "on-fail") is not None  # SyncFail ran


def test_phases_in_order_and_delete_policies(kube, tmp_path):
    ns = kube.cluster.namespace
    root = write(
        tmp_path / "src",
        {
            "app.yaml": cm(ns, "app"),
            "pre.yaml": job(ns, "pre", "PreSync", policy="HookSucceeded"),
            "post.yaml": job(ns, "post", "PostSync", prefix="argocd.argoproj.io"),
            "sync.yaml": job(ns, "during", "Sync", policy="HookSucceeded,HookFailed"),
        },
    )
    result = ok(sync(kube, root, prune=True))
    lines = [str(c) for c in result.changes]
    assert lines == [
        f"Job.batch/{ns}/pre created (PreSync hook)",
        f"Job.batch/{ns}/pre deleted (PreSync hook delete policy)",
        f"ConfigMap/{ns}/app created",
        f"Job.batch/{ns}/during created (Sync hook)",
        f"Job.batch/{ns}/during deleted (Sync hook delete policy)",
        f"Job.batch/{ns}/post created (PostSync hook)",
    ]
    assert get_job(kube, "pre") is None
    first = get_job(kube, "post")["metadata"]["uid"]
    assert "part-of" not in str(get_job(kube, "post")["metadata"].get("labels"))  # not in the inventory
    result = ok(sync(kube, root, prune=True))
    assert get_job(kube, "post")["metadata"]["uid"] != first  # BeforeHookCreation: a fresh run
    assert not any(c.action == "deleted" and c.id.name == "post" for c in result.changes)


def test_hook_that_never_finishes_times_out(kube, tmp_path):
    ns = kube.cluster.namespace
    root = write(tmp_path / "src", {"app.yaml": cm(ns, "app"), "hang.yaml": job(ns, "hang", "PreSync", "hang")})
    start = time.monotonic()
    result = sync(kube, root, timeout=1)
    assert result.error is not None and "did not finish in time" in result.error.message
    assert time.monotonic() - start < 15
    assert kube.client.get_or_none("v1", "ConfigMap", "app", ns) is None


def test_unknown_hook_phase_is_an_error(kube, tmp_path):
    ns = kube.cluster.namespace
    root = write(tmp_path / "src", {"x.yaml": job(ns, "x", "BeforeSync")})
    result = sync(kube, root)
    assert result.reason == Reason.INVALID_SPEC and "unknown hook phase 'BeforeSync'" in result.error.message
    assert get_job(kube, "x") is None
