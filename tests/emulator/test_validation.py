"""Validation and bad-input contract: Secrets, names, kinds, content types, sizes.

Covers: ``stringData`` folded into base64 ``data`` on write (overriding the
same key, never returned); invalid base64 in ``data`` refused with the real
server's 400 "cannot be handled as a Secret" (the JSON decoder fails before
validation); invalid data keys (422); immutable Secrets and ConfigMaps refusing
data changes (422) and the ``type`` of a Secret being immutable; 422 Invalid for
a missing name and a name that is not DNS-1123; a kind or namespace that does
not match the endpoint (400); YAML bodies; 400 for malformed bodies; 413
RequestEntityTooLarge over 3 MiB; 415 for an unsupported content type;
``dryRun=All`` persisting nothing. The server keeps answering after every bad
request. Sources: API reference for Secret/ConfigMap ("immutable",
"stringData"), "Object Names and IDs", API concepts ("Dry-run", request
size limits: etcd's 1.5 MiB value default and the API server's 3 MiB body
limit). Runs on a real cluster too.
"""

import base64

import pytest


def _path(cluster, plural="secrets", name=""):
    base = f"/api/v1/namespaces/{cluster.namespace}/{plural}"
    return f"{base}/{name}" if name else base


def _secret(name, **fields):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, **fields}


def test_string_data_is_folded_into_data(apiserver):
    body = _secret(
        "sd",
        data={"a": base64.b64encode(b"old").decode(), "b": base64.b64encode(b"keep").decode()},
        stringData={"a": "new", "c": "plain"},
    )
    code, obj, _ = apiserver.raw("POST", _path(apiserver), body)
    assert code == 201
    assert "stringData" not in obj
    assert {k: base64.b64decode(v) for k, v in obj["data"].items()} == {"a": b"new", "b": b"keep", "c": b"plain"}
    assert obj["type"] == "Opaque"
    _, again, _ = apiserver.raw("GET", _path(apiserver, name="sd"))
    assert "stringData" not in again and again["data"] == obj["data"]


def test_invalid_base64_is_refused_without_echoing_the_value(apiserver):
    code, status, _ = apiserver.raw("POST", _path(apiserver), _secret("b64", data={"k": "not base64!"}))
    assert code == 400 and status["reason"] == "BadRequest"
    assert "illegal base64 data at input byte" in status["message"]
    assert "not base64" not in status["message"]
    assert apiserver.raw("GET", _path(apiserver, name="b64"))[0] == 404


def test_invalid_data_key_is_422(apiserver):
    code, status, _ = apiserver.raw("POST", _path(apiserver), _secret("key", stringData={"bad key!": "v"}))
    assert code == 422 and status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "data[bad key!]"


@pytest.mark.parametrize(
    "plural,body",
    [
        ("secrets", _secret("imm", data={"k": "dg=="}, immutable=True)),
        (
            "configmaps",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "imm"},
                "data": {"k": "v"},
                "immutable": True,
            },
        ),
    ],
)
def test_immutable_objects_refuse_data_changes(apiserver, plural, body):
    code, obj, _ = apiserver.raw("POST", _path(apiserver, plural), body)
    assert code == 201
    changed = {**obj, "data": {"k": "eA==" if plural == "secrets" else "x"}}
    code, status, _ = apiserver.raw("PUT", _path(apiserver, plural, "imm"), changed)
    assert code == 422 and status["reason"] == "Invalid"
    assert any(c["field"] == "data" for c in status["details"]["causes"])
    unfrozen = {**obj, "immutable": False}
    code, status, _ = apiserver.raw("PUT", _path(apiserver, plural, "imm"), unfrozen)
    assert code == 422 and any(c["field"] == "immutable" for c in status["details"]["causes"])
    relabeled = {**obj, "metadata": {**obj["metadata"], "labels": {"ok": "yes"}}}
    assert apiserver.raw("PUT", _path(apiserver, plural, "imm"), relabeled)[0] == 200


def test_secret_type_is_immutable(apiserver):
    _, obj, _ = apiserver.raw("POST", _path(apiserver), _secret("typ", type="Opaque"))
    code, status, _ = apiserver.raw("PUT", _path(apiserver, name="typ"), {**obj, "type": "example.com/other"})
    assert code == 422 and any(c["field"] == "type" for c in status["details"]["causes"])


def test_missing_name_is_422(apiserver):
    code, status, _ = apiserver.raw(
        "POST", _path(apiserver, "configmaps"), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}
    )
    assert code == 422 and status["reason"] == "Invalid"
    assert status["message"] == (
        'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueRequired",
            "field": "metadata.name",
            "message": "Required value: name or generateName is required",
        }
    ]


@pytest.mark.parametrize("name", ["Upper", "under_score", "-dash", "a" * 254])
def test_invalid_dns1123_name_is_422(apiserver, name):
    code, status, _ = apiserver.raw(
        "POST", _path(apiserver, "configmaps"), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    )
    assert code == 422 and status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "metadata.name"
    assert status["message"].startswith(f'ConfigMap "{name}" is invalid: metadata.name: Invalid value: "{name}"')


def test_namespace_names_are_dns1123_labels(apiserver):
    code, status, _ = apiserver.raw(
        "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "has.dot"}}
    )
    assert code == 422 and "RFC 1123 label" in status["message"]


def test_kind_sent_to_the_wrong_endpoint_is_refused(apiserver):
    code, status, _ = apiserver.raw(
        "POST", _path(apiserver, "secrets"), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "wrong"}}
    )
    assert code == 400 and status["reason"] == "BadRequest"
    assert "cannot be handled as a Secret" in status["message"]


def test_namespace_mismatch_is_400(apiserver):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "elsewhere"}}
    code, status, _ = apiserver.raw("POST", _path(apiserver, "configmaps"), body)
    assert code == 400 and "does not match the namespace" in status["message"]


def test_yaml_body_is_accepted(apiserver):
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n"
    code, obj, _ = apiserver.raw("POST", _path(apiserver, "configmaps"), text, content_type="application/yaml")
    assert code == 201 and obj["data"] == {"k": "v"}


@pytest.mark.parametrize(
    "body,ctype",
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"key: [unclosed", "application/yaml"),
        (b"", "application/json"),
    ],
)
def test_malformed_bodies_are_400(apiserver, body, ctype):
    code, status, _ = apiserver.raw("POST", _path(apiserver, "configmaps"), body, content_type=ctype)
    assert code == 400 and status["kind"] == "Status" and status["reason"] == "BadRequest"


def test_unsupported_content_type_is_415(apiserver):
    code, status, _ = apiserver.raw("POST", _path(apiserver, "configmaps"), b"<xml/>", content_type="text/xml")
    assert code == 415 and status["reason"] == "UnsupportedMediaType"


def test_oversized_body_is_413(apiserver):
    big = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"k": "x" * (3 * 1024 * 1024)}}
    code, status, _ = apiserver.raw("POST", _path(apiserver, "configmaps"), big)
    assert code == 413 and status["reason"] == "RequestEntityTooLarge"
    assert apiserver.raw("GET", "/version")[0] == 200


def test_dry_run_persists_nothing(apiserver):
    code, obj, _ = apiserver.raw(
        "POST",
        _path(apiserver, "configmaps") + "?dryRun=All",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}},
    )
    assert code == 201 and obj["metadata"]["name"] == "dry" and obj["metadata"]["uid"]
    assert apiserver.raw("GET", _path(apiserver, "configmaps", "dry"))[0] == 404
    code, status, _ = apiserver.raw(
        "POST",
        _path(apiserver, "configmaps") + "?dryRun=Sometimes",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}},
    )
    assert code == 422


def test_server_survives_garbage(apiserver):
    import random

    rng = random.Random(5)
    for _i in range(40):
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        ctype = rng.choice(
            [
                "application/json",
                "application/yaml",
                "application/merge-patch+json",
                "application/apply-patch+yaml",
                "application/json-patch+json",
            ]
        )
        method = rng.choice(["POST", "PUT", "PATCH"])
        path = _path(apiserver, "configmaps", "" if method == "POST" else "g")
        code, status, _ = apiserver.raw(method, path + "?fieldManager=fuzz", body, content_type=ctype)
        assert 400 <= code < 500, (method, ctype, code)
        assert isinstance(status, dict) and status["kind"] == "Status"
    assert apiserver.raw("GET", "/version")[0] == 200


def test_yaml_alias_bomb_is_refused(apiserver):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n" + "\n".join(lines) + "\n"
    for method, path, ctype in (
        ("POST", "", "application/yaml"),
        ("PATCH", "/bomb?fieldManager=x", "application/apply-patch+yaml"),
    ):
        code, status, _ = apiserver.raw(
            method, _path(apiserver, "configmaps") + path, bomb, content_type=ctype, timeout=30
        )
        assert code == 400 and status["reason"] == "BadRequest"
    assert apiserver.raw("GET", "/version")[0] == 200
