"""kube.client without a server: HTTP status and Status reason → error classes (kopf's check_response rule:
only a Status body's reason/message, clipped to 256 chars; other bodies dropped), Retry-After, the
transient flag, SecretBytes ↔ wire conversion for Secrets (and only for Secrets; the one-pass request body
encoder gives the same JSON), and request paths."""

import base64
import json

import pytest

from secretsync import SecretBytes
from secretsync.kube.discovery import ResourceInfo
from secretsync.kube.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    KubeAPIError,
    NotFound,
    ServerError,
    Timeout,
    TooManyRequests,
    Unauthorized,
    error_from_status,
)
from secretsync.kube.wire import from_wire, to_wire

PLAINTEXT = "hunter2-do-not-log"


def status(code, reason, message, **details):
    return json.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "code": code,
            "reason": reason,
            "message": message,
            "details": details,
        }
    )


@pytest.mark.parametrize(
    "code,reason,cls",
    [
        (404, "NotFound", NotFound),
        (409, "AlreadyExists", AlreadyExists),
        (409, "Conflict", Conflict),
        (422, "Invalid", Invalid),
        (403, "Forbidden", Forbidden),
        (401, "Unauthorized", Unauthorized),
        (410, "Expired", Gone),
        (410, "Gone", Gone),
        (429, "TooManyRequests", TooManyRequests),
        (500, "InternalError", ServerError),
        (503, "ServiceUnavailable", ServerError),
        (504, "Timeout", Timeout),
        (500, "Timeout", Timeout),
        (418, "", KubeAPIError),
    ],
)
def test_status_mapping(code, reason, cls):
    err = error_from_status("get Secret ns/a", code, status(code, reason, "the message"))
    assert type(err) is cls
    assert err.status == code and err.reason == reason
    assert err.message == "get Secret ns/a: the message"


def test_already_exists_is_a_conflict_and_transient_flags():
    assert isinstance(error_from_status("c", 409, status(409, "AlreadyExists", "x")), Conflict)
    assert error_from_status("c", 503, status(503, "ServiceUnavailable", "x")).transient
    assert error_from_status("c", 429, status(429, "TooManyRequests", "x")).transient
    assert not error_from_status("c", 404, status(404, "NotFound", "x")).transient
    assert not error_from_status("c", 422, status(422, "Invalid", "x")).transient


def test_non_status_json_body_is_dropped():
    secret = {"kind": "Secret", "apiVersion": "v1", "data": {"p": base64.b64encode(PLAINTEXT.encode()).decode()}}
    err = error_from_status("create Secret ns/a", 500, json.dumps(secret), http_reason="Internal Server Error")
    text = f"{err} {err!r} {err.api_message} {err.details} {err.report()}"
    assert PLAINTEXT not in text and base64.b64encode(PLAINTEXT.encode()).decode() not in text
    assert err.reason == "Internal Server Error"


def test_long_messages_and_causes_are_clipped():
    long = "x" * 5000
    err = error_from_status(
        "apply ConfigMap ns/a",
        422,
        status(
            422,
            "Invalid",
            long,
            name="a",
            kind="ConfigMap",
            causes=[{"reason": "FieldValueInvalid", "field": "data.k", "message": long}],
        ),
    )
    assert len(err.api_message) == 256 and err.api_message.endswith("...")
    assert err.details["causes"][0]["field"] == "data.k"
    assert len(err.details["causes"][0]["message"]) == 256
    text = error_from_status("x", 502, "y" * 1000)
    assert len(text.api_message) == 256


def test_retry_after_from_header_or_details():
    err = error_from_status("list", 429, status(429, "TooManyRequests", "slow down"), {"Retry-After": "7"})
    assert err.retry_after == 7.0
    err = error_from_status("list", 500, status(500, "InternalError", "x", retryAfterSeconds=3))
    assert err.retry_after == 3.0


def test_exceptions_never_carry_the_raw_body_even_as_a_cause():
    err = error_from_status("get", 404, status(404, "NotFound", 'secrets "a" not found'))
    assert err.__cause__ is None and err.__context__ is None


def test_to_wire_encodes_secret_data_and_string_data():
    obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "a"},
        "data": {"bin": SecretBytes(b"\x00\xff"), "already": "YQ=="},
        "stringData": {"s": SecretBytes(PLAINTEXT)},
    }
    wire = to_wire(obj)
    assert wire["data"] == {"bin": "AP8=", "already": "YQ=="}
    assert wire["stringData"] == {"s": PLAINTEXT}
    json.dumps(wire)  # JSON-ready
    assert isinstance(obj["data"]["bin"], SecretBytes), "the caller's object is not modified"


def test_raw_bytes_are_refused_rather_than_guessed():
    with pytest.raises(TypeError):
        to_wire({"apiVersion": "v1", "kind": "Secret", "data": {"k": b"plain"}})
    with pytest.raises(TypeError):
        to_wire({"apiVersion": "v1", "kind": "ConfigMap", "binaryData": {"k": b"x"}})


def test_to_wire_outside_secret_data_gives_text():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": SecretBytes("v")}, "x": [SecretBytes("w")]}
    assert to_wire(cm) == {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}, "x": ["w"]}


def test_from_wire_turns_secret_values_into_secretbytes():
    obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "a", "namespace": "n"},
        "data": {"p": base64.b64encode(PLAINTEXT.encode()).decode(), "bad": "%%%"},
    }
    out = from_wire(obj)
    assert out["data"]["p"] == SecretBytes(PLAINTEXT)
    assert isinstance(out["data"]["bad"], SecretBytes)
    assert PLAINTEXT not in repr(out) and PLAINTEXT not in str(out)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"p": "plain"}}
    assert from_wire(cm)["data"]["p"] == "plain"
    other = {"apiVersion": "example.com/v1", "kind": "Secret", "data": {"p": "cGxhaW4="}}
    assert from_wire(other)["data"]["p"] == "cGxhaW4=", "only core v1 Secrets are Secrets"


def test_resource_paths():
    secret = ResourceInfo("", "v1", "Secret", "secrets", True)
    assert secret.path("a", "ns") == "/api/v1/namespaces/ns/secrets/a"
    assert secret.path(None, None) == "/api/v1/secrets"
    assert secret.api_version == "v1"
    ss = ResourceInfo("bitnami.com", "v1alpha1", "SealedSecret", "sealedsecrets", True)
    assert ss.path("s", "n", "status") == "/apis/bitnami.com/v1alpha1/namespaces/n/sealedsecrets/s/status"
    crd = ResourceInfo("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False)
    assert crd.path("x.y", "ignored-for-cluster-scope") == "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x.y"
    assert ss.api_version == "bitnami.com/v1alpha1"


def test_config_errors_name_the_file_and_context(tmp_path, monkeypatch):
    from secretsync.kube.client import KubeClient
    from secretsync.kube.errors import KubeConfigError

    with pytest.raises(KubeConfigError) as info:
        KubeClient.from_kubeconfig(str(tmp_path / "missing"))
    assert str(tmp_path / "missing") in info.value.message and info.value.hint
    cfg = tmp_path / "kubeconfig"
    cfg.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    with pytest.raises(KubeConfigError) as info:
        KubeClient.from_kubeconfig(str(cfg), context="nope")
    assert "nope" in info.value.message
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(KubeConfigError) as info:
        KubeClient.in_cluster()
    assert "--kubeconfig" in info.value.hint


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st


@given(data=st.dictionaries(st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True), st.binary(max_size=64), max_size=5))
def test_secret_data_round_trips_through_the_wire_form(data):
    obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {k: SecretBytes(v) for k, v in data.items()},
    }
    wire = json.loads(json.dumps(to_wire(obj)))
    assert wire["data"] == {k: base64.b64encode(v).decode() for k, v in data.items()}
    back = from_wire(wire)
    assert {k: v.reveal() for k, v in back["data"].items()} == data


@given(
    status_code=st.integers(min_value=400, max_value=599),
    body=st.one_of(st.text(max_size=2000), st.binary(max_size=300)),
)
def test_any_error_body_gives_a_short_message(status_code, body):
    err = error_from_status("get Secret ns/a", status_code, body)
    assert isinstance(err, KubeAPIError)
    assert len(err.api_message) <= 256
    assert err.message.startswith("get Secret ns/a: ")


def test_encode_body_is_to_wire_in_one_pass():
    from secretsync.kube.wire import encode_body, to_wire

    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "labels": {"a": "ü"}},
        "data": {"k": SecretBytes(b"\x00\xffbin")},
        "stringData": {"t": SecretBytes("text")},
    }
    other = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"v": SecretBytes("x")},
        "list": (1, 2),
    }
    for obj in (secret, other, {"kind": "List", "items": [secret, other]}):
        assert json.loads(encode_body(obj)) == json.loads(json.dumps(to_wire(obj)))
    assert isinstance(secret["data"]["k"], SecretBytes), "the caller's object is left alone"
    with pytest.raises(TypeError):
        encode_body({"kind": "ConfigMap", "data": {"v": b"raw"}})
