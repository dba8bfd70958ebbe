"""Plaintext canary over a whole apply cycle: apply, change, diff, dry-run, takeover, prune, with DEBUG logs.

After the run, the canary value (and its base64 form) must appear in no log record, no CLI output,
no file written under the test's directory except the manifest the test itself wrote, and no
annotation or label of any live object (a live ``last-applied-configuration`` held it before the
takeover).
"""

from __future__ import annotations

import base64
import logging

from secretsync.cli.main import main
from tests.reconcile.conftest import write

CANARY = "canary-41b9e2-applyside"
NEW = "canary-41b9e2-rotated"


def secret(ns: str, value: str) -> str:
    return (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: {ns}\nstringData:\n"
        f"  password: {value}\n  user: app\n"
    )


def test_no_plaintext_anywhere(kube, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    ns = kube.cluster.namespace
    (tmp_path / "kubectl-input.yaml").write_text(secret(ns, CANARY))
    kube.cluster.kubectl("apply", "-f", str(tmp_path / "kubectl-input.yaml"))  # leaves last-applied behind
    (tmp_path / "kubectl-input.yaml").unlink()
    root = write(
        tmp_path / "src",
        {
            "db.yaml": secret(ns, CANARY),
            "other.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: o\n  namespace: {ns}\ndata:\n  a: b\n",
        },
    )
    base = ["--kubeconfig", str(kube.cluster.kubeconfig), "--applyset", "canary", "--applyset-namespace", ns]
    outputs = []

    def cli(*args):
        rc = main(list(args))
        out, err = capsys.readouterr()
        outputs.append(out + err)
        return rc, out

    assert cli("--log-level", "debug", "apply", str(root), *base)[0] == 0
    write(root, {"db.yaml": secret(ns, NEW)})
    rc, out = cli("--log-level", "debug", "diff", str(root), *base)
    assert rc == 1 and "password: '*** (before)'" in out and "user: '***'" in out
    assert cli("--log-level", "debug", "apply", str(root), *base, "--dry-run")[0] == 0
    assert cli("--log-level", "debug", "apply", str(root), *base)[0] == 0
    (root / "other.yaml").unlink()
    assert cli("--log-level", "debug", "apply", str(root), *base, "--prune")[0] == 0
    assert kube.client.get("v1", "Secret", "db", ns)["data"]["password"].reveal() == NEW.encode()

    needles = [v for text in (CANARY, NEW) for v in (text, base64.b64encode(text.encode()).decode())]
    for needle in needles:
        assert needle not in caplog.text
        assert all(needle not in o for o in outputs)
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != root / "db.yaml":
            data = path.read_bytes()
            assert not any(n.encode() in data for n in needles), path
    for api_version, kind in (("v1", "Secret"), ("v1", "ConfigMap"), ("v1", "Namespace")):
        for obj in kube.client.list(api_version, kind)["items"]:
            meta = obj["metadata"]
            text = repr(meta.get("annotations")) + repr(meta.get("labels"))
            assert not any(n in text for n in needles), (kind, meta.get("name"))
