"""Local mode as a user runs it: `secretsync agent --source DIR --kubeconfig F` in a real process against the
emulator. Covers: the folder (a plain ConfigMap and a sops-encrypted Secret, decrypted with
--age-key-file) is applied; a saved file is applied in under a second (watchdog); a removed file is
pruned with --prune; SIGTERM stops it with exit code 0; no value in its output; bad flags are usage
errors (exit 2)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.agent.conftest import configmap, sops_secret, wait_for, write_tree
from tests.render.conftest import age_key  # noqa: F401 - session fixture (real age-keygen)

pytestmark = [pytest.mark.timeout(120), pytest.mark.peer]


def test_local_mode_applies_saved_files_fast(apiserver, tmp_path, age_key):  # noqa: F811
    from secretsync.kube.client import KubeClient

    ns = apiserver.namespace
    client = KubeClient.from_kubeconfig(str(apiserver.kubeconfig))
    root = write_tree(
        tmp_path / "src", {"cm.yaml": configmap("app", ns, {"v": "1"}), "gone.yaml": configmap("gone", ns, {"v": "1"})}
    )
    (root / "db.sops.yaml").write_bytes(
        sops_secret(tmp_path, age_key.recipient, ns, "db", {"password": "local-mode-test-value"})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPS_", "VAULT_", "AVP_"))}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "secretsync",
            "agent",
            "--source",
            str(root),
            "--kubeconfig",
            str(apiserver.kubeconfig),
            "--prune",
            "--interval",
            "1h",
            "--metrics-addr",
            "127.0.0.1:0",
            "--age-key-file",
            str(age_key.identity_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert wait_for(lambda: client.get_or_none("v1", "Secret", "db", ns) is not None, 30), "first apply"
        assert client.get("v1", "Secret", "db", ns)["data"]["password"].reveal() == b"local-mode-test-value"
        latencies = []
        for i in range(2, 5):
            time.sleep(0.3)
            started = time.monotonic()
            write_tree(root, {"cm.yaml": configmap("app", ns, {"v": str(i)})})
            assert wait_for(lambda: client.get("v1", "ConfigMap", "app", ns)["data"] == {"v": str(i)}, 5)
            latencies.append(time.monotonic() - started)
        assert min(latencies) < 1.0, latencies
        write_tree(root, {"gone.yaml": None})
        assert wait_for(lambda: client.get_or_none("v1", "ConfigMap", "gone", ns) is None, 5)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        client.close()
    assert proc.returncode == 0, err.decode()
    assert b"local-mode-test-value" not in out + err
    assert b"watching for changes" in err


@pytest.mark.parametrize(
    "flags,text",
    [
        (["--source", "/nonexistent-dir"], "not a folder"),
        (["--shard-index", "2", "--shard-count", "2"], "--shard-index"),
        (["--concurrent", "0"], "--concurrent"),
    ],
)
def test_bad_flags_are_usage_errors(tmp_path, flags, text):
    proc = subprocess.run(
        [sys.executable, "-m", "secretsync", "agent", "--kubeconfig", str(tmp_path / "none"), *flags],
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 2 and text in proc.stderr.decode()
