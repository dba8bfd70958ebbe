"""The emulator against a real cluster: the same requests must get the same answers.

Skipped unless ``SECRETSYNC_TEST_KUBECONFIG`` names a real cluster. Each probe
runs against that cluster and against a fresh emulator, each in its own new
namespace, and compares status code, ``reason``, the ``Status`` message (with
namespace names, resourceVersions and uids normalised) and the fields named in
``details.causes``. A difference is an emulator bug (or a documented
divergence to add to docs/apiserver.md). All other modules in tests/emulator/
also run on the real cluster through the same fixtures; this one compares.
"""

from __future__ import annotations

import json
import os
import re
import uuid

import pytest

from tests.fixtures.apiserver import REAL_KUBECONFIG_ENV, _emulator_cluster, _real_cluster, _with_namespace

pytestmark = pytest.mark.skipif(
    not os.environ.get(REAL_KUBECONFIG_ENV), reason=f"set {REAL_KUBECONFIG_ENV} to compare with a real cluster"
)

APPLY = "application/apply-patch+yaml"


def _cm(name, **extra):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **extra}


def _setup_existing(c):
    c.raw("POST", f"/api/v1/namespaces/{c.namespace}/configmaps", _cm("exists", data={"a": "1"}))


def _setup_immutable(c):
    c.raw("POST", f"/api/v1/namespaces/{c.namespace}/configmaps", _cm("frozen", data={"a": "1"}, immutable=True))


def _setup_applied(c):
    c.raw(
        "PATCH",
        f"/api/v1/namespaces/{c.namespace}/configmaps/owned?fieldManager=first",
        json.dumps(_cm("owned", data={"a": "1"})),
        content_type=APPLY,
    )


# (id, setup, method, path under /api/v1/namespaces/NS, body, content type)
PROBES = [
    ("get-missing", None, "GET", "/configmaps/missing", None, None),
    ("create-duplicate", _setup_existing, "POST", "/configmaps", _cm("exists"), None),
    ("create-without-name", None, "POST", "/configmaps", _cm(""), None),
    ("create-invalid-name", None, "POST", "/configmaps", _cm("Bad_Name"), None),
    (
        "put-stale",
        _setup_existing,
        "PUT",
        "/configmaps/exists",
        _cm("exists", metadata={"name": "exists", "resourceVersion": "1"}),
        None,
    ),
    ("patch-unknown-type", _setup_existing, "PATCH", "/configmaps/exists", {"data": {}}, "text/plain"),
    ("bad-label-selector", None, "GET", "/configmaps?labelSelector=a%20in%20(b", None, None),
    ("bad-field-selector", None, "GET", "/configmaps?fieldSelector=spec.x%3D1", None, None),
    (
        "secret-bad-base64",
        None,
        "POST",
        "/secrets",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "!!"}},
        None,
    ),
    ("wrong-kind", None, "POST", "/secrets", _cm("x"), None),
    (
        "namespace-mismatch",
        None,
        "POST",
        "/configmaps",
        _cm("x", metadata={"name": "x", "namespace": "elsewhere"}),
        None,
    ),
    ("strict-unknown-field", None, "POST", "/configmaps?fieldValidation=Strict", _cm("x", spec={}), None),
    (
        "immutable-change",
        _setup_immutable,
        "PATCH",
        "/configmaps/frozen",
        {"data": {"a": "2"}},
        "application/merge-patch+json",
    ),
    ("apply-without-manager", None, "PATCH", "/configmaps/x", json.dumps(_cm("x")), APPLY),
    (
        "apply-conflict",
        _setup_applied,
        "PATCH",
        "/configmaps/owned?fieldManager=second",
        json.dumps(_cm("owned", data={"a": "2"})),
        APPLY,
    ),
    (
        "json-patch-test-fails",
        _setup_existing,
        "PATCH",
        "/configmaps/exists",
        [{"op": "test", "path": "/data/a", "value": "9"}],
        "application/json-patch+json",
    ),
    ("delete-missing", None, "DELETE", "/configmaps/missing", None, None),
    ("missing-namespace", None, "POST", "MISSING-NS/configmaps", _cm("x"), None),
]


def _normalise(text, namespaces):
    for ns in namespaces:
        text = text.replace(ns, "NS")
    text = re.sub(r"resource version: \d+ \(\d+\)", "resource version: N (M)", text)
    text = re.sub(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "UID", text)
    return re.sub(r"using v1 at \S+", "using v1 at TIME", text)


def _answer(cluster, probe):
    _id, setup, method, path, body, ctype = probe
    if setup:
        setup(cluster)
    if path.startswith("MISSING-NS"):
        full = f"/api/v1/namespaces/missing-{uuid.uuid4().hex[:6]}" + path[len("MISSING-NS") :]
    else:
        full = f"/api/v1/namespaces/{cluster.namespace}{path}"
    kwargs = {"content_type": ctype} if ctype else {}
    code, status, _ = cluster.raw(method, full, body, **kwargs)
    if not isinstance(status, dict):
        return code, None, str(status)[:200], []
    causes = sorted(c.get("field", "") for c in (status.get("details") or {}).get("causes") or [])
    message = status.get("message", "")
    if path.startswith("MISSING-NS"):
        message = re.sub(r'"missing-[0-9a-f]{6}"', '"MISSING"', message)
    return code, status.get("reason"), message, causes


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    real = _real_cluster(tmp_path_factory.mktemp("real"))
    emu = _emulator_cluster(tmp_path_factory.mktemp("emu"))
    yield real, emu
    from tests.fixtures.apiserver import _drop_namespace

    real.close()
    emu.close()
    emu.server.stop()
    _ = _drop_namespace


@pytest.mark.parametrize("probe", PROBES, ids=[p[0] for p in PROBES])
def test_same_answer_as_the_real_cluster(pair, probe):
    real, emu = pair
    answers = []
    for cluster in (real, emu):
        _with_namespace(cluster)
        try:
            code, reason, message, causes = _answer(cluster, probe)
        finally:
            if not cluster.is_emulator:
                from tests.fixtures.apiserver import _drop_namespace

                _drop_namespace(cluster, cluster.namespace)
        answers.append((code, reason, _normalise(message, [real.namespace, emu.namespace]), causes))
    assert answers[1] == answers[0], f"emulator {answers[1]} != real {answers[0]}"
