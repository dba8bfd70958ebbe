"""AVP placeholder grammar, modifiers, annotations and kind rules, resolved against a real OpenBao.

Covers (spec vault-placeholders.md §2–§7): both modes (path annotation present/absent),
generic and inline references, versions (annotation, inline, KV v1 ignoring them), all
seven modifiers with their error texts, typed whole-field insertion (and our error for a
typed value inside a longer string), Secret rules (no auto-encoding, base64-wrapped
placeholders, values as SecretBytes), ConfigMap stringification, the annotations
(ignore, kv-version, secret-version, remove-missing) with Go boolean rules, the
reproduced upstream fixtures, and all-or-nothing failure. Expected values come from the
spec and AVP's published fixtures, never from running our own code.
Not here: backend auth/config (test_backend.py), faults, CLI output.
"""

from __future__ import annotations

import base64

import pytest

from secretsync.manifests.loader import load_manifests
from secretsync.secretvalue import SecretBytes
from secretsync.vault.errors import VaultReadError
from secretsync.vault.placeholders import PlaceholderError, fingerprints, parse, references, resolve

pytestmark = pytest.mark.peer  # real peers: OpenBao dev server, kubectl, bao CLI


def load(avp, text: str) -> list[dict]:
    return [doc for _, doc in load_manifests(avp.fmt(text).encode(), "test.yaml")]


def render(avp, text: str, backend=None, **env) -> list[dict]:
    return resolve(load(avp, text), backend or avp.backend(**env))


def one(avp, text: str, **env) -> dict:
    (obj,) = render(avp, text, **env)
    return obj


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def configmap(value: str, annotations: str = "", namespace: str = "") -> str:
    """A ConfigMap whose one data value is ``value`` (a placeholder expression)."""
    ns = f", namespace: {namespace}" if namespace else ""
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{ns}, annotations: {{{annotations}}}}}\n"
        f'data:\n  v: "{value}"\n'
    )


def revealed(section: dict) -> dict:
    return {k: v.reveal().decode() for k, v in section.items()}


# ---------------------------------------------------------------------------------------------- grammar


def test_generic_mode_replaces_every_span_in_every_string_including_metadata(avp_vault):
    obj = one(
        avp_vault,
        """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: <name>
  namespace: <namespace>
  labels: {version: <version>}
  annotations: {avp.kubernetes.io/path: "{v1}/testing", avp.kubernetes.io/kv-version: "1"}
spec:
  replicas: <replicas>
  template:
    spec:
      containers:
      - image: foo.com/<name>:<tag>
        args: ["<tag>", ["<tag>"], 5]
""",
    )
    assert obj["metadata"]["name"] == "test-name"
    assert obj["metadata"]["namespace"] == "test-namespace"
    assert obj["metadata"]["labels"] == {"version": "1.0"}
    assert obj["spec"]["replicas"] == "2"  # a string in Vault stays a string
    container = obj["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "foo.com/test-name:1.0"
    assert container["args"] == ["1.0", ["<tag>"], 5]  # a list inside a list is left alone


def test_without_path_annotation_only_inline_paths_count(avp_vault):
    obj = one(
        avp_vault,
        """
apiVersion: v1
kind: ConfigMap
metadata: {name: crd-text}
data:
  description: "set <KEY> to <path:{v2}/data/testing#name>"
  plain: "<name>"
""",
    )
    assert obj["data"] == {"description": "set <KEY> to test-kv-name", "plain": "<name>"}


def test_mapping_keys_are_never_substituted(avp_vault):
    obj = one(
        avp_vault,
        """
apiVersion: v1
kind: ConfigMap
metadata: {name: keys, annotations: {avp.kubernetes.io/path: "{v1}/testing", avp.kubernetes.io/kv-version: "1"}}
data:
  <name>: <tag>
""",
    )
    assert obj["data"] == {"<name>": "1.0"}


def test_spaces_anywhere_and_modifier_pipeline(avp_vault):
    obj = one(
        avp_vault,
        """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: m
  annotations: {avp.kubernetes.io/path: "{v1}/json", avp.kubernetes.io/kv-version: "1"}
spec:
  replicas: <  data |jsonPath  {.deployment.replicas}|  jsonParse >
  image: foo.com/<data | jsonPath {.deployment.image.name}>:<data | jsonPath {.deployment.image.tag}>
""",
    )
    assert obj["spec"]["replicas"] == 2 and isinstance(obj["spec"]["replicas"], int)
    assert obj["spec"]["image"] == "foo.com/json-test:latest"


def test_inline_reference_is_found_anywhere_in_the_reference(avp_vault):
    obj = one(
        avp_vault,
        """
apiVersion: v1
kind: ConfigMap
metadata: {name: c, annotations: {avp.kubernetes.io/path: "{v1}/testing", avp.kubernetes.io/kv-version: "1"}}
data:
  a: "<   path:{v1}/foo#secret   >"
  b: "<path:{v1}/foo# secret >"
""",
    )
    assert obj["data"] == {"a": "bar", "b": "bar"}


def test_stray_angle_bracket_starts_the_span_in_generic_mode(avp_vault):
    with pytest.raises(PlaceholderError) as err:
        render(
            avp_vault,
            """
apiVersion: v1
kind: ConfigMap
metadata: {name: c, annotations: {avp.kubernetes.io/path: "{v1}/testing", avp.kubernetes.io/kv-version: "1"}}
data:
  cmp: "a < b <name>"
""",
        )
    assert "missing Vault value for placeholder b <name in string cmp" in err.value.message


def test_span_never_crosses_a_newline():
    nodes = parse("<na\nme> and <tag>", generic=True)
    assert [n for n in nodes if not isinstance(n, str)][0].reference.key == "tag"
    assert len([n for n in nodes if not isinstance(n, str)]) == 1


def test_parse_splits_reference_and_modifiers():
    (ph,) = [
        n
        for n in parse("x<path:kv/data/a#k#3 | jsonPath {.a} {.b} |sha256sum>y", generic=False)
        if not isinstance(n, str)
    ]
    assert ph.reference.path == "kv/data/a" and ph.reference.key == "k" and ph.reference.version == "3"
    assert [(m.name, m.args) for m in ph.modifiers] == [("jsonPath", ("{.a}", "{.b}")), ("sha256sum", ())]


# ---------------------------------------------------------------------------------------------- versions


def test_versions_annotation_for_generic_latest_for_inline_without_version(avp_vault):
    obj = one(
        avp_vault,
        """
apiVersion: v1
kind: Secret
metadata:
  name: versioned
  annotations:
    avp.kubernetes.io/path: "{v2}/data/versioned"
    avp.kubernetes.io/secret-version: "1"
stringData:
  SECRET_VAR: <secret>
  SECRET_VAR_CURRENT: <path:{v2}/data/versioned#secret>
  SECRET_VAR_V1: <path:{v2}/data/versioned#secret#1>
  SECRET_VAR_V2: <path:{v2}/data/versioned#secret#2>
""",
    )
    assert revealed(obj["stringData"]) == {
        "SECRET_VAR": "version1",
        "SECRET_VAR_CURRENT": "version2",
        "SECRET_VAR_V1": "version1",
        "SECRET_VAR_V2": "version2",
    }


def test_kv_v1_ignores_versions(avp_vault):
    obj = one(
        avp_vault,
        """
apiVersion: v1
kind: ConfigMap
metadata:
  name: c
  annotations: {avp.kubernetes.io/path: "{v1}/foo", avp.kubernetes.io/kv-version: "1",
                avp.kubernetes.io/secret-version: "7"}
data:
  a: <secret>
  b: <path:{v1}/foo#secret#9>
""",
    )
    assert obj["data"] == {"a": "bar", "b": "bar"}


# ---------------------------------------------------------------------------------------------- typed values


def test_typed_value_fills_the_whole_field_and_string_stays_string(avp_vault):
    obj = one(
        avp_vault,
        """
apiVersion: v1
kind: Service
metadata: {name: s, annotations: {avp.kubernetes.io/path: "{v2}/data/testing"}}
spec:
  ports:
  - port: <target-port>
    name: <replicas>
""",
    )
    port = obj["spec"]["ports"][0]
    assert port["port"] == 80 and isinstance(port["port"], int)
    assert port["name"] == "3"


def test_typed_value_inside_a_longer_string_is_an_error_naming_the_placeholder(avp_vault):
    with pytest.raises(PlaceholderError) as err:
        render(
            avp_vault,
            """
apiVersion: v1
kind: Service
metadata: {name: s, annotations: {avp.kubernetes.io/path: "{v2}/data/testing"}}
spec:
  url: "http://host:<target-port>/x"
""",
        )
    assert "placeholder target-port in string url" in err.value.message
    assert "longer string" in err.value.message


def test_empty_string_is_a_value_and_null_is_missing(avp_vault, openbao):
    path = f"{avp_vault.v2}/data/empty-null"
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path="empty-null", secret={"e": "", "n": None}, mount_point=avp_vault.v2
    )
    obj = one(
        avp_vault,
        f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: c}}
data:
  e: "[<path:{path}#e>]"
""",
    )
    assert obj["data"]["e"] == "[]"
    with pytest.raises(PlaceholderError, match="missing Vault value for placeholder path:.*#n in string nul"):
        render(
            avp_vault,
            f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: c}}
data:
  nul: <path:{path}#n>
""",
        )


# ---------------------------------------------------------------------------------------------- modifiers

MODIFIER_DOC = lambda avp: (
    avp.fmt("""
apiVersion: v1
kind: Secret
metadata:
  name: modifiers-test
  annotations: {avp.kubernetes.io/kv-version: "1"}
type: Opaque
data:
  USER: <path:{v1}/jsonstring#secret | jsonParse | jsonPath {.credentials.user} | base64encode>
  PASSWORD: %s
  ESECRET: <path:{v1}/base64#encoded_secret | base64decode | jsonPath {.key2} | base64encode>
  YAML: <path:{v1}/yaml#secret | yamlParse | jsonPath {.key1} | base64encode>
  SHA256SUM: <path:{v1}/foo#secret | sha256sum | base64encode>
""")
    % b64(avp.fmt("<path:{v1}/jsonstring#secret | jsonParse | jsonPath {.credentials.pass}>"))
)


def test_upstream_modifier_chains(avp_vault):
    """AVP's fixtures/output/all.yaml, Secret modifiers-test (base64 values as published upstream)."""
    obj = one(avp_vault, MODIFIER_DOC(avp_vault))
    assert {k: v.to_base64() for k, v in obj["data"].items()} == {
        "USER": "dGVzdC11c2Vy",
        "PASSWORD": "dGVzdC1wYXNzd29yZA==",
        "ESECRET": "c2VjcmV0Mg==",
        "YAML": "c2VjcmV0MQ==",
        "SHA256SUM": "ZmNkZTJiMmVkYmE1NmJmNDA4NjAxZmI3MjFmZTliNWMzMzhkMTBlZTQyOWVhMDRmYWU1NTExYjY4ZmJmOGZiOQ==",
    }


def test_upstream_jsonpath_range_slice_to_a_ports_list(avp_vault):
    obj = one(
        avp_vault,
        """
apiVersion: v1
kind: Service
metadata:
  annotations: {avp.kubernetes.io/path: "{v1}/json", avp.kubernetes.io/kv-version: "1"}
  name: modifiers-test
spec:
  ports: >-
    <data | jsonPath
    {'['}
    {range .service.ports[0:-1:1]}
    {'{"protocol":"TCP",'}
    {'"port":'}{@}
    {',"targetPort":'}{@}
    {'},'}
    {end}
    {'{"protocol":"TCP",'}
    {'"port":'}{.service.ports[-1]}
    {',"targetPort":'}{.service.ports[-1]}
    {'}]'} | jsonParse >
""",
    )
    assert obj["spec"]["ports"] == [
        {"protocol": "TCP", "port": 80, "targetPort": 80},
        {"protocol": "TCP", "port": 8080, "targetPort": 8080},
    ]


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("<path:{v1}/foo#secret | base64encode>", "YmFy"),
        ("<path:{v1}/testing#secret-num | base64decode>", "1"),
        ("<path:{v1}/foo#secret | base64decode>", ""),  # bad input: what decoded before the error (nothing)
        ("<path:{v1}/foo#secret | sha256sum>", "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"),
        ("<path:{v1}/json#data | jsonPath {.service.ports}>", "[80,8080]"),
        ("<path:{v1}/json#data | jsonPath {.deployment.image}>", '{"name":"json-test","tag":"latest"}'),
        ("<path:{v1}/json#data | jsonPath {.service.ports[*]}>", "80 8080"),
        ("<path:{v1}/json#data | jsonPath {.service.enableTLS}>", "true"),
        ("<path:{v1}/jsonstring#secret | jsonPath {.credentials.user}>", "test-user"),
    ],
)
def test_string_modifiers(avp_vault, expr, expected):
    obj = one(avp_vault, configmap(expr, 'avp.kubernetes.io/kv-version: "1"'))
    assert obj["data"]["v"] == expected


def test_indent_modifier_rules(avp_vault, openbao):
    text = "first  \n    second\n\n  third\n"
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path="indent", secret={"cert": text}, mount_point=avp_vault.v2
    )
    obj = one(
        avp_vault,
        """
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data:
  v: <path:{v2}/data/indent#cert | indent 4>
""",
    )
    # line 1 trimmed; later non-empty lines trimmed and indented; empty lines dropped; trailing newline kept
    assert obj["data"]["v"] == "first\n    second\n    third\n"


def test_parse_modifiers_give_typed_values(avp_vault):
    obj = one(
        avp_vault,
        """
apiVersion: example.com/v1
kind: Thing
metadata: {name: t, annotations: {avp.kubernetes.io/kv-version: "1"}}
spec:
  creds: <path:{v1}/jsonstring#secret | jsonParse>
  yaml: <path:{v1}/yaml#secret | yamlParse>
""",
    )
    assert obj["spec"]["creds"] == {"credentials": {"user": "test-user", "pass": "test-password"}}
    assert obj["spec"]["yaml"] == {"key1": "secret1", "key2": "secret2", "key3": "secret3"}


@pytest.mark.parametrize(
    "expr, message",
    [
        ("<path:{v1}/foo#secret | upper>", "invalid modifier: upper for placeholder path:{v1}/foo#secret in string v"),
        ("<path:{v1}/foo#secret | indent>", "indent: invalid parameters for placeholder"),
        ("<path:{v1}/foo#secret | indent x>", "indent: invalid parameters"),
        ("<path:{v1}/foo#secret | base64encode x>", "base64encode: invalid parameters"),
        ("<path:{v1}/foo#secret | jsonPath>", "jsonPath: invalid parameters"),
        ("<path:{v1}/json#data | sha256sum>", "sha256sum: invalid datatype"),
        ("<path:{v1}/json#data | jsonPath {.nope}>", "jsonPath: nope is not found for placeholder"),
        ("<path:{v1}/foo#secret | jsonPath {.a}>", "jsonPath: invalid JSON"),
        ("<path:{v1}/foo#secret | jsonParse>", "jsonParse: invalid JSON"),
    ],
)
def test_modifier_errors(avp_vault, expr, message):
    with pytest.raises(PlaceholderError) as err:
        render(avp_vault, configmap(expr, 'avp.kubernetes.io/kv-version: "1"'))
    assert avp_vault.fmt(message) in err.value.message


# ---------------------------------------------------------------------------------------------- kinds


def test_secret_data_gets_raw_vault_value_no_automatic_encoding(avp_vault):
    obj = one(
        avp_vault,
        """
apiVersion: v1
kind: Secret
metadata: {name: s, annotations: {avp.kubernetes.io/path: "{v1}/testing", avp.kubernetes.io/kv-version: "1"}}
data:
  SECRET_VAR: <secret-var-value>
  SECRET_NUM: <secret-num>
  PLAIN: cGxhaW4=
stringData:
  CLEAR: <secret-var-clear>
""",
    )
    assert all(isinstance(v, SecretBytes) for v in obj["data"].values())
    assert {k: v.to_base64() for k, v in obj["data"].items()} == {
        "SECRET_VAR": "dGVzdC1wYXNzd29yZA==",
        "SECRET_NUM": "MQ==",
        "PLAIN": "cGxhaW4=",
    }
    assert obj["stringData"]["CLEAR"].reveal() == b"test-password"


def test_secret_data_with_plain_text_from_vault_is_a_clear_error(avp_vault):
    with pytest.raises(Exception) as err:
        render(
            avp_vault,
            """
apiVersion: v1
kind: Secret
metadata: {name: s, namespace: ns, annotations: {avp.kubernetes.io/path: "{v1}/foo", avp.kubernetes.io/kv-version: "1"}}
data:
  PW: <secret>
""",
        )
    assert "Secret ns/s" in str(err.value) and "data.PW is not valid base64" in str(err.value)
    assert "bar" not in str(err.value).replace("base64", "")


def test_secret_base64_wrapped_placeholders(avp_vault):
    obj = one(
        avp_vault,
        f"""
apiVersion: v1
kind: Secret
metadata: {{name: s, annotations: {{avp.kubernetes.io/path: "{{v1}}/testing", avp.kubernetes.io/kv-version: "1"}}}}
data:
  URL: {b64("postgres://<name>:<secret-var-clear>@h")}
  TWICE: {b64("<secret-var-clear | base64encode>")}
  FILE: {b64("password1: <secret-var-clear>" + chr(10) + "password2: <secret-var-clear>")}
""",
    )
    assert obj["data"]["URL"].reveal() == b"postgres://test-name:test-password@h"
    assert obj["data"]["TWICE"].reveal() == b"dGVzdC1wYXNzd29yZA=="  # encoded twice, as upstream's unit test
    # upstream fixture secret_path_base64_substring: the published output value
    assert obj["data"]["FILE"].to_base64() == "cGFzc3dvcmQxOiB0ZXN0LXBhc3N3b3JkCnBhc3N3b3JkMjogdGVzdC1wYXNzd29yZA=="


def test_secret_base64_mixed_with_literal_text_only_replaces_the_span(avp_vault):
    # AVP emits c29tZQ==dGVzdC1wYXNzd29yZA==dmFsdWU= (not base64 as a whole); we refuse it by name
    with pytest.raises(Exception, match=r"data\.secret\.yaml is not valid base64"):
        render(
            avp_vault,
            """
apiVersion: v1
kind: Secret
metadata: {name: embedded, annotations: {avp.kubernetes.io/path: "{v1}/testing", avp.kubernetes.io/kv-version: "1"}}
data:
  secret.yaml: c29tZQ==<secret-var-value>dmFsdWU=
""",
        )


def test_secret_values_already_decrypted_are_substituted_in_place(avp_vault):
    objs = load(
        avp_vault,
        """
apiVersion: v1
kind: Secret
metadata: {name: s, annotations: {avp.kubernetes.io/path: "{v1}/testing", avp.kubernetes.io/kv-version: "1"}}
""",
    )
    objs[0]["data"] = {"A": SecretBytes(b"user=<name>"), "B": SecretBytes(b"\x00\xffraw")}
    objs[0]["stringData"] = {"C": SecretBytes(b"<tag>")}
    (obj,) = resolve(objs, avp_vault.backend())
    assert obj["data"]["A"].reveal() == b"user=test-name"
    assert obj["data"]["B"].reveal() == b"\x00\xffraw"
    assert obj["stringData"]["C"].reveal() == b"1.0"


def test_errors_never_quote_text_from_inside_an_already_decrypted_value(avp_vault):
    """A sops/sealed value is secret: a placeholder-like span inside it is named by field only."""
    secret = "cnry-4e1d-decrypted"
    objs = load(
        avp_vault,
        """
apiVersion: v1
kind: Secret
metadata: {name: s, annotations: {avp.kubernetes.io/path: "{v1}/testing", avp.kubernetes.io/kv-version: "1"}}
""",
    )
    objs[0]["stringData"] = {"P": SecretBytes(f"pre<{secret}>post <name | {secret}> <path:{secret}#k>".encode())}
    with pytest.raises(PlaceholderError) as caught:
        resolve(objs, avp_vault.backend())
    text = f"{caught.value.report()} {caught.value!r} {caught.value.problems}"
    assert secret not in text
    assert "string P" in text and "Secret s" in text
    assert len(caught.value.problems) == 3


def test_configmap_stringification(avp_vault, openbao):
    # a raw JSON body, so that Vault itself decides how the numbers are kept
    import requests

    requests.post(
        f"{openbao.addr}/v1/{avp_vault.v2}/data/typed",
        headers={"X-Vault-Token": openbao.token},
        data='{"data": {"i": 80, "f": 1.50, "big": 12345678901234567890, "t": true, "m": {"b": [1, "x"], "a": null}}}',
        timeout=10,
    ).raise_for_status()
    obj = one(
        avp_vault,
        """
apiVersion: v1
kind: ConfigMap
metadata: {name: c, annotations: {avp.kubernetes.io/path: "{v2}/data/typed"}}
data:
  i: <i>
  f: <f>
  big: <big>
  t: <t>
  m: <m>
""",
    )
    # Vault keeps numbers as float64 (1.50 is stored as 1.5); the number text Vault sends is kept as is
    assert obj["data"] == {
        "i": "80",
        "f": "1.5",
        "big": "12345678901234567000",
        "t": "true",
        "m": '{"a":null,"b":[1,"x"]}',
    }


# ---------------------------------------------------------------------------------------------- annotations


@pytest.mark.parametrize(
    "value, ignored",
    [("True", True), ("1", True), ("t", True), ("TRUE", True), ("yes", False), ("on", False), ("false", False)],
)
def test_ignore_annotation_uses_go_boolean_rules(avp_vault, value, ignored):
    text = f"""
apiVersion: v1
kind: ConfigMap
metadata:
  name: c
  annotations: {{avp.kubernetes.io/path: "{{v1}}/testing", avp.kubernetes.io/kv-version: "1",
                avp.kubernetes.io/ignore: "{value}"}}
data:
  v: <name>
"""
    obj = one(avp_vault, text)
    assert obj["data"]["v"] == ("<name>" if ignored else "test-name")


def test_ignored_manifests_cause_no_reads(avp_vault):
    backend = avp_vault.backend()
    (obj,) = resolve(
        load(
            avp_vault,
            """
apiVersion: v1
kind: Secret
metadata:
  name: my-app
  annotations: {avp.kubernetes.io/path: "{v2}/data/does-not-exist", avp.kubernetes.io/ignore: "True"}
data:
  MY_SECRET_NUM: <num>
""",
        ),
        backend,
    )
    assert obj["data"]["MY_SECRET_NUM"] == "<num>"
    assert backend.requests_sent == 0


def test_kv_version_annotation_is_checked_only_when_reading(avp_vault):
    obj = one(
        avp_vault,
        """
apiVersion: v1
kind: ConfigMap
metadata: {name: c, annotations: {avp.kubernetes.io/kv-version: "3"}}
data: {v: plain}
""",
    )
    assert obj["data"] == {"v": "plain"}
    with pytest.raises(PlaceholderError, match="Unsupported kvVersion specified"):
        render(
            avp_vault,
            """
apiVersion: v1
kind: ConfigMap
metadata: {name: c, annotations: {avp.kubernetes.io/kv-version: "3"}}
data: {v: "<path:{v1}/foo#secret>"}
""",
        )


def test_avp_kv_version_variable_is_the_default(avp_vault):
    obj = one(
        avp_vault,
        """
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {v: "<path:{v1}/foo#secret>"}
""",
        AVP_KV_VERSION="1",
    )
    assert obj["data"] == {"v": "bar"}


def test_remove_missing_deletes_the_entry_in_secret_and_configmap(avp_vault):
    obj = one(
        avp_vault,
        """
apiVersion: v1
kind: ConfigMap
metadata:
  name: my-app
  annotations: {avp.kubernetes.io/path: "{v2}/data/testing", avp.kubernetes.io/remove-missing: "true"}
data:
  PORT: <target-port>
  GONE: prefix-<does-not-exist>
  ALSO: <path:{v2}/data/testing#nope>
""",
    )
    assert obj["data"] == {"PORT": "80"}


def test_remove_missing_keeps_other_errors_and_list_items(avp_vault):
    with pytest.raises(PlaceholderError, match="Could not find secrets at path"):
        render(
            avp_vault,
            """
apiVersion: v1
kind: Secret
metadata:
  name: my-app
  annotations: {avp.kubernetes.io/remove-missing: "true"}
stringData:
  X: <path:{v2}/data/no-such-path#k>
""",
        )
    with pytest.raises(PlaceholderError, match="missing Vault value for placeholder nope in string items"):
        render(
            avp_vault,
            """
apiVersion: v1
kind: ConfigMap
metadata:
  name: my-app
  annotations: {avp.kubernetes.io/path: "{v2}/data/testing", avp.kubernetes.io/remove-missing: "true"}
data:
  items: [<nope>]
""",
        )


def test_remove_missing_only_on_secret_or_configmap(avp_vault):
    with pytest.raises(PlaceholderError, match="can only be used on Secret or ConfigMap resources"):
        render(
            avp_vault,
            """
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, annotations: {avp.kubernetes.io/remove-missing: "true"}}
spec: {replicas: 1}
""",
        )


def test_present_but_empty_path_annotation_makes_generic_placeholders_missing(avp_vault):
    backend = avp_vault.backend()
    with pytest.raises(PlaceholderError, match="missing Vault value for placeholder name in string v"):
        resolve(
            load(
                avp_vault,
                """
apiVersion: v1
kind: ConfigMap
metadata: {name: c, annotations: {avp.kubernetes.io/path: ""}}
data: {v: <name>}
""",
            ),
            backend,
        )
    assert backend.requests_sent == 0


# ---------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "placeholder, message",
    [
        ("<path:{v2}/data/nothing-here#k>", "Could not find secrets at path {v2}/data/nothing-here"),
        ("<path:{v2}/data/versioned#secret#9>", "Could not find secrets at path {v2}/data/versioned with version 9"),
        (
            "<path:{v2}/testing#name>",
            "The Vault path: {v2}/testing is empty - did you forget to include /data/ in the Vault path for kv-v2?",
        ),
        ("<path:{v2}/metadata/testing#name>", "check that kv-v2 is the correct engine"),
    ],
)
def test_read_errors_use_avp_wording(avp_vault, placeholder, message):
    with pytest.raises(PlaceholderError) as err:
        render(avp_vault, configmap(placeholder, namespace="ns"))
    text = err.value.message
    assert text.startswith("Replace: could not replace all placeholders in Template:")
    assert avp_vault.fmt(message) in text
    assert "ConfigMap ns/c" in text
    assert avp_vault.addr in text and "auth token" in text


def test_deleted_version_is_nil(avp_vault, openbao):
    client = openbao.client()
    client.secrets.kv.v2.create_or_update_secret(path="deleted", secret={"k": "v1"}, mount_point=avp_vault.v2)
    client.secrets.kv.v2.create_or_update_secret(path="deleted", secret={"k": "v2"}, mount_point=avp_vault.v2)
    client.secrets.kv.v2.delete_secret_versions(path="deleted", versions=[2], mount_point=avp_vault.v2)
    with pytest.raises(PlaceholderError, match="is nil - is this version of the secret deleted"):
        render(
            avp_vault, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {v: "<path:{v2}/data/deleted#k>"}\n'
        )
    obj = one(
        avp_vault, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {v: "<path:{v2}/data/deleted#k#1>"}\n'
    )
    assert obj["data"]["v"] == "v1"


def test_unreadable_annotation_path_is_a_hard_error_naming_the_object(avp_vault):
    with pytest.raises(VaultReadError) as err:
        render(
            avp_vault,
            """
apiVersion: v1
kind: Secret
metadata: {name: s, namespace: ns, annotations: {avp.kubernetes.io/path: "{v2}/data/absent"}}
stringData: {a: <a>}
""",
        )
    assert "Could not find secrets at path" in err.value.message and "Secret ns/s" in err.value.message


def test_all_or_nothing(avp_vault):
    objs = load(
        avp_vault,
        """
apiVersion: v1
kind: ConfigMap
metadata: {name: good}
data: {v: "<path:{v1}/foo#secret>"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: bad}
data: {v: "<path:{v1}/foo#nope>", w: "<path:{v1}/foo#nope2>"}
""",
    )
    before = [dict(o["data"]) for o in objs]
    with pytest.raises(PlaceholderError) as err:
        resolve(objs, avp_vault.backend(AVP_KV_VERSION="1"))
    assert "ConfigMap bad" in err.value.message
    assert len(err.value.problems) == 2  # every problem of the manifest, one per line
    assert [o["data"] for o in objs] == before  # inputs untouched


# ---------------------------------------------------------------------------------------------- reads and fingerprints


def test_each_path_version_is_read_once_per_render(avp_vault):
    docs = "\n---\n".join(
        f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: c{i}, annotations: {{avp.kubernetes.io/path: "{{v2}}/data/testing"}}}}
data:
  a: "<name>-<path:{{v2}}/data/versioned#secret>-<path:{{v2}}/data/versioned#secret#1>"
  b: "<path:{{v2}}/data/versioned#secret#1>"
"""
        for i in range(40)
    )
    backend = avp_vault.backend()
    objs = render(avp_vault, docs, backend=backend)
    assert objs[39]["data"] == {"a": "test-kv-name-version2-version1", "b": "version1"}
    assert backend.requests_sent == 3  # testing, versioned@latest, versioned@1
    render(avp_vault, docs, backend=backend)  # a new render reads again
    assert backend.requests_sent == 6


def test_a_missing_path_is_read_once_too(avp_vault):
    docs = "\n---\n".join(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\ndata: {{v: '<path:{{v2}}/data/missing#k>'}}"
        for i in range(5)
    )
    backend = avp_vault.backend(AVP_KV_VERSION="2")
    reader = backend.reader()
    for obj in load(avp_vault, docs):
        with pytest.raises(PlaceholderError):
            resolve([obj], reader)
    assert backend.requests_sent == 1


def test_references_skip_ignored_and_include_base64_wrapped(avp_vault):
    objs = load(
        avp_vault,
        f"""
apiVersion: v1
kind: Secret
metadata: {{name: s}}
data: {{a: {b64("<path:kv/data/wrapped#k>")}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: c, annotations: {{avp.kubernetes.io/ignore: "true"}}}}
data: {{v: "<path:kv/data/ignored#k>"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: d, annotations: {{avp.kubernetes.io/path: kv/data/ann, avp.kubernetes.io/secret-version: "2"}}}}
data: {{v: "<path:kv/data/inline#k#3>"}}
""",
    )
    assert references(objs) == [
        ("kv/data/wrapped", None, None),
        ("kv/data/ann", "2", None),
        ("kv/data/inline", "3", None),
    ]


def test_fingerprints_change_when_vault_changes_without_reading_values(avp_vault, openbao):
    client = openbao.client()
    client.secrets.kv.v2.create_or_update_secret(path="fp", secret={"k": "one"}, mount_point=avp_vault.v2)
    client.write_data(f"{avp_vault.v1}/fp", data={"k": "one"})
    objs = load(
        avp_vault,
        """
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {a: "<path:{v2}/data/fp#k>", b: "<path:{v2}/data/fp#k#1>"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: d, annotations: {avp.kubernetes.io/kv-version: "1", avp.kubernetes.io/path: "{v1}/fp"}}
data: {a: <k>}
""",
    )
    backend = avp_vault.backend()
    first = fingerprints(objs, backend)
    assert first[f"kv2:{avp_vault.v2}/data/fp"] == "kv2:current_version=1"
    assert first[f"kv2:{avp_vault.v2}/data/fp?version=1"] == "kv2:version=1:present"
    assert first == fingerprints(objs, backend)  # stable while nothing changes
    assert not any("one" in v for v in first.values())
    client.secrets.kv.v2.create_or_update_secret(path="fp", secret={"k": "two"}, mount_point=avp_vault.v2)
    client.write_data(f"{avp_vault.v1}/fp", data={"k": "two"})
    second = fingerprints(objs, backend)
    assert second[f"kv2:{avp_vault.v2}/data/fp"] == "kv2:current_version=2"
    assert second[f"kv2:{avp_vault.v2}/data/fp?version=1"] == "kv2:version=1:present"
    assert second[f"kv1:{avp_vault.v1}/fp"] != first[f"kv1:{avp_vault.v1}/fp"]


# ---------------------------------------------------------------------------------------------- upstream fixtures


def test_upstream_nonempty_fixtures_reproduced(avp_vault):
    """AVP's fixtures/input/nonempty (deployment, full, secret, secret_path*, versioned) → output/all.yaml facts."""
    objs = render(
        avp_vault,
        """
apiVersion: apps/v1
kind: Deployment
metadata:
  annotations: {avp.kubernetes.io/path: "{v1}/testing", avp.kubernetes.io/kv-version: "1"}
  labels: {app: <name>, version: <version>}
  name: <name>
  namespace: <namespace>
spec:
  replicas: <replicas>
  template:
    spec:
      containers: [{image: "foo.com/<name>:<tag>", name: <name>}]
---
apiVersion: v1
kind: Service
metadata:
  annotations: {avp.kubernetes.io/path: "{v2}/data/testing"}
  name: <name>
spec:
  ports: [{name: http, port: <target-port>, protocol: TCP, targetPort: <target-port>}]
---
apiVersion: v1
kind: Secret
metadata:
  annotations: {avp.kubernetes.io/kv-version: "1"}
  name: example-secret-multi
data:
  SECRET_VAR: <path:{v1}/testing#secret-var-value>
  SECRET_VAR_VERSIONED: <path:{v1}/testing#secret-var-value#1>
""",
    )
    dep, svc, sec = objs
    assert dep["metadata"]["labels"] == {"app": "test-name", "version": "1.0"}
    assert dep["spec"]["replicas"] == "2"
    assert dep["spec"]["template"]["spec"]["containers"][0] == {"image": "foo.com/test-name:1.0", "name": "test-name"}
    assert svc["metadata"]["name"] == "test-kv-name"
    assert svc["spec"]["ports"] == [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}]
    assert {k: v.to_base64() for k, v in sec["data"].items()} == {
        "SECRET_VAR": "dGVzdC1wYXNzd29yZA==",
        "SECRET_VAR_VERSIONED": "dGVzdC1wYXNzd29yZA==",
    }


def test_fingerprints_through_a_reader_use_the_configured_kv_version(avp_vault):
    objs = load(avp_vault, configmap("<path:{v1}/foo#secret>"))
    backend = avp_vault.backend(AVP_KV_VERSION="1")
    result = fingerprints(objs, backend.reader())
    assert list(result) == [f"kv1:{avp_vault.v1}/foo"]
    assert result[f"kv1:{avp_vault.v1}/foo"].startswith("kv1:hmac-sha256=")
