"""crds/sealedsecret.yaml: the facts upstream's CRD has (spec section 3), and our output fits it.

A small OpenAPI v3 subset checker (type, required, properties, additionalProperties,
nullable, format byte) validates SealedSecrets made by ``seal_secret`` against the
schema, and rejects objects that break it (so the checker can fail).
"""

import base64
from pathlib import Path

import pytest
import yaml

from secretsync.crypto.sealing import Scope
from secretsync.sealing.objects import seal_secret

CRD = yaml.safe_load((Path(__file__).parents[2] / "crds" / "sealedsecret.yaml").read_text())
TYPES = {"object": dict, "string": str, "boolean": bool, "integer": int, "array": list}


def check(schema, value, path="$"):
    if value is None:
        assert schema.get("nullable"), f"{path}: null not allowed"
        return
    expected = schema.get("type")
    if expected:
        assert isinstance(value, TYPES[expected]), f"{path}: expected {expected}"
    if schema.get("format") == "byte":
        base64.b64decode(value, validate=True)
    for name in schema.get("required", []):
        assert name in value, f"{path}: {name} is required"
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key, item in value.items():
            if key in props:
                check(props[key], item, f"{path}.{key}")
            elif "additionalProperties" in schema:
                check(schema["additionalProperties"], item, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            check(schema["items"], item, f"{path}[{i}]")


def test_crd_identity():
    assert CRD["metadata"]["name"] == "sealedsecrets.bitnami.com"
    spec = CRD["spec"]
    assert spec["group"] == "bitnami.com" and spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "SealedSecret",
        "listKind": "SealedSecretList",
        "plural": "sealedsecrets",
        "singular": "sealedsecret",
    }
    (version,) = spec["versions"]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    assert [(c["name"], c["jsonPath"]) for c in version["additionalPrinterColumns"]] == [
        ("Status", ".status.conditions[0].message"),
        ("Synced", ".status.conditions[0].status"),
        ("Age", ".metadata.creationTimestamp"),
    ]
    schema = version["schema"]["openAPIV3Schema"]
    assert schema["required"] == ["spec"] and schema["properties"]["spec"]["required"] == ["encryptedData"]
    enc = schema["properties"]["spec"]["properties"]["encryptedData"]
    assert enc["x-kubernetes-preserve-unknown-fields"] is True
    template = schema["properties"]["spec"]["properties"]["template"]["properties"]
    assert set(template) == {"metadata", "type", "immutable", "data"}
    assert template["metadata"]["nullable"] and template["data"]["nullable"]


@pytest.mark.parametrize("scope", list(Scope))
def test_sealed_output_fits_schema(key_pool, scope):
    secret = {
        "metadata": {"name": "s", "namespace": "n", "labels": {"a": "b"}, "finalizers": ["x"]},
        "type": "Opaque",
        "immutable": True,
        "stringData": {"k": "v"},
    }
    obj = seal_secret(secret, key_pool[0].certificate, scope)
    check(CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"], obj)


def test_checker_rejects_bad_objects():
    schema = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for bad in (
        {"kind": "SealedSecret"},
        {"spec": {}},
        {"spec": {"encryptedData": {"k": 1}}},
        {"spec": {"encryptedData": {}, "template": {"immutable": "yes"}}},
    ):
        with pytest.raises(AssertionError):
            check(schema, bad)
