"""The real kubectl as an offline oracle: ``kubectl patch --local`` runs the Go patch code.

kubectl applies strategic merge, JSON merge and JSON patches client-side with the
same libraries the API server uses (k8s.io/apimachinery strategicpatch,
evanphx/json-patch), so its output is the reference our patches module is compared to.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.fixtures.peers import isolated_env, peer_binary


class KubectlError(Exception):
    """kubectl refused the patch; str() is its message without the ``error: `` prefix."""


def kubectl_patch(tmp_path: Path, obj: dict, patch: Any, patch_type: str) -> dict:
    """The object kubectl produces for ``patch`` of ``patch_type`` (strategic, merge, json)."""
    kubectl = peer_binary("kubectl")
    source = tmp_path / "object.json"
    source.write_text(json.dumps(obj))
    env = isolated_env(tmp_path, KUBECONFIG=str(tmp_path / "no-kubeconfig"))
    result = subprocess.run(
        [kubectl, "patch", "--local", "-f", str(source), "--type", patch_type, "-p", json.dumps(patch), "-o", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        raise KubectlError(result.stderr.strip().removeprefix("error: "))
    return json.loads(result.stdout)
