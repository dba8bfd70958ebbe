"""``secretsync apply`` and ``secretsync diff`` as commands: exit codes, stdout, clean stderr.

Covers: apply prints one line per change and a summary, stderr clean on success; ``--dry-run``
prints the same lines and writes nothing; ``--wait`` waits for rollout; a failed step exits non-zero
with the step and reason on stderr; usage errors (``--max-prune``, ``--ignore-differences``,
``--timeout``, ``--applyset``) exit 2; ``--substitute-from`` reads ConfigMap and Secret variables from the
cluster under ``--substitute``; diff exits 0 / 1 / 2 like ``kubectl diff``, and 2 on a
render failure; the ``secretsync`` process itself (``python -m secretsync``) behaves the same.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from secretsync.cli.main import main
from tests.reconcile.conftest import ROOT, write
from tests.reconcile.test_safety import cm


def run(capsys, *args):
    capsys.readouterr()
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def setup(kube, tmp_path):
    ns = kube.cluster.namespace
    root = write(tmp_path / "src", {"a.yaml": cm(ns, "a"), "b.yaml": cm(ns, "b")})
    flags = ["--kubeconfig", str(kube.cluster.kubeconfig), "--applyset", "cli", "--applyset-namespace", ns]
    return kube, ns, root, flags


def test_apply_output_dry_run_and_summary(setup, capsys):
    kube, ns, root, flags = setup
    kube.reset()
    rc, out, err = run(capsys, "apply", str(root), *flags, "--dry-run")
    assert rc == 0 and err == ""
    assert out.splitlines() == [
        f"ConfigMap/{ns}/a created (dry run)",
        f"ConfigMap/{ns}/b created (dry run)",
        out.splitlines()[-1],
    ]
    assert out.splitlines()[-1].endswith("2 created, 0 configured, 0 unchanged, 0 deleted, 0 skipped (dry run)")
    if kube.cluster.is_emulator:
        assert kube.writes() == {}
    assert kube.client.get_or_none("v1", "ConfigMap", "a", ns) is None
    rc, out, err = run(capsys, "apply", str(root), *flags)
    assert rc == 0 and err == ""
    assert out.splitlines()[:2] == [f"ConfigMap/{ns}/a created", f"ConfigMap/{ns}/b created"]
    rc, out, err = run(capsys, "diff", str(root), *flags)
    assert (rc, out, err) == (0, "", "")
    write(root, {"b.yaml": cm(ns, "b", data="a: changed")})
    rc, out, err = run(capsys, "diff", str(root), *flags)
    assert rc == 1 and f"# ConfigMap/{ns}/b: update" in out and "-  a: b\n+  a: changed" in out


def test_apply_wait(setup, controllers, capsys):
    kube, ns, root, flags = setup
    write(
        root,
        {
            "d.yaml": f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {ns}\n"
            f"spec:\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n"
            f"      labels: {{app: web}}\n    spec:\n      containers: [{{name: web, image: nginx}}]\n"
        },
    )
    rc, out, err = run(capsys, "apply", str(root), *flags, "--wait", "--timeout", "20s")
    assert rc == 0, err
    status = kube.client.get("apps/v1", "Deployment", "web", ns)["status"]
    assert status["availableReplicas"] == 1  # --wait returned only after the rollout


def test_apply_failure_exit_code(setup, capsys):
    kube, ns, root, flags = setup
    assert run(capsys, "apply", str(root), *flags)[0] == 0
    for name in ("a", "b"):
        (root / f"{name}.yaml").unlink()
    rc, out, err = run(capsys, "apply", str(root), *flags, "--prune")
    assert rc == 1
    assert "failed at prune (PruneBlocked)" in err and "--allow-empty" in err
    assert kube.client.get_or_none("v1", "ConfigMap", "a", ns) is not None


@pytest.mark.parametrize(
    "flag",
    [
        ["--max-prune", "lots"],
        ["--ignore-differences", "Deployment"],
        ["--timeout", "5 minutes"],
        ["--applyset", "deployment/x"],
    ],
)
def test_usage_errors(setup, capsys, flag):
    kube, ns, root, flags = setup
    rc, out, err = run(capsys, "apply", str(root), *flags, *flag)
    assert rc == 2 and out == "" and err.startswith("error: ")


def test_diff_render_failure_is_exit_2(setup, capsys):
    kube, ns, root, flags = setup
    (root / "bad.yaml").write_text("kind: ConfigMap\n")
    rc, out, err = run(capsys, "diff", str(root), *flags)
    assert rc == 2 and out == "" and "bad.yaml" in err


def test_as_a_process(setup):
    kube, ns, root, flags = setup
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(root.parent), "LANG": "C.UTF-8"}
    proc = subprocess.run(
        [sys.executable, "-m", "secretsync", "apply", str(root), *flags],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "secretsync", "diff", str(root), *flags],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_substitute_from_cluster(setup, capsys):
    kube, ns, root, flags = setup
    kube.client.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "vars", "namespace": ns},
            "data": {"GREETING": "hello", "CLUSTER": "from-configmap"},
        },
        field_manager="test",
    )
    from secretsync.secretvalue import SecretBytes

    kube.client.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "vars", "namespace": ns},
            "data": {"TOKEN": SecretBytes("s3cret-from-secret")},
        },
        field_manager="test",
    )
    write(root, {"b.yaml": cm(ns, "b", data="a: ${GREETING} ${CLUSTER} ${TOKEN}")})
    rc, out, err = run(
        capsys,
        "apply",
        str(root),
        *flags,
        "--substitute-from",
        f"configmap/{ns}/vars",
        "--substitute-from",
        f"secret/{ns}/vars",
        "--substitute",
        "CLUSTER=inline",
    )
    assert rc == 0, err
    assert kube.client.get("v1", "ConfigMap", "b", ns)["data"]["a"] == "hello inline s3cret-from-secret"
    rc, out, err = run(
        capsys,
        "diff",
        str(root),
        *flags,
        "--substitute-from",
        f"configmap/{ns}/vars",
        "--substitute-from",
        f"secret/{ns}/vars",
        "--substitute",
        "CLUSTER=inline",
    )
    assert (rc, out, err) == (0, "", "")
    rc, out, err = run(capsys, "apply", str(root), *flags, "--substitute-from", f"configmap/{ns}/missing")
    assert rc == 2 and f"ConfigMap {ns}/missing not found" in err
