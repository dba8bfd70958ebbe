"""secretsync.render.substitute: Flux postBuild variables over objects.

Covers: the parser (text / variables / defaults / nesting / ``$${`` escape / refusals), strict
evaluation (undefined without default is an error naming the variable, empty value counts as
unset for ``:=``), object walking (keys and values, plain scalars re-typed as Flux's re-parse
does, quoted ones kept as strings, Secret values kept as strings for later normalisation,
SecretBytes never rewritten), the disable annotation/label, variable precedence and sources.
``collect_variables``, the one postBuild.substituteFrom implementation: a missing ``optional``
source is skipped, a missing required one is refused by name, variable names are checked; and the
CLI entry point (``secretsync apply --substitute-from``) refusing a bad name and a missing object
(the agent entry point: ``tests/agent/test_substitute_from.py``).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secretsync import SecretBytes
from secretsync.manifests.loader import load_manifests
from secretsync.render.substitute import (
    SubstitutionError,
    Text,
    Var,
    VariableSource,
    VariableSourceNotFound,
    collect_variables,
    evaluate,
    merge_variables,
    parse,
    substitute_object,
    variables_from_object,
)


def test_parse_nodes():
    assert parse("a ${X} b ${Y:=d-${Z}} $${E}") == (
        Text("a "),
        Var("X"),
        Text(" b "),
        Var("Y", (Text("d-"), Var("Z"))),
        Text(" ${E}"),
    )
    assert parse("no vars $ or {x}") == (Text("no vars $ or {x}"),)


@pytest.mark.parametrize(
    "text, message",
    [
        ("${X:-d}", "only ${VAR} and ${VAR:=default}"),
        ("${X/a/b}", "invalid variable name"),
        ("${1X}", "invalid variable name"),
        ("${}", "invalid variable name"),
        ("${X", "not closed"),
        ("${X:=abc", "not closed"),
    ],
)
def test_parse_refusals(text, message):
    with pytest.raises(SubstitutionError, match=message.replace("$", r"\$").replace("{", r"\{").replace("}", r"\}")):
        parse(text)


def test_evaluate_strict():
    lookup = {"A": "1", "EMPTY": "", "S": SecretBytes(b"sec")}.get
    assert evaluate(parse("${A}-${B:=2}-${EMPTY:=3}-${EMPTY}"), lookup) == ("1-2-3-", False)
    assert evaluate(parse("${S}"), lookup) == ("sec", True)
    with pytest.raises(SubstitutionError, match="variable 'B' is not defined") as info:
        evaluate(parse("x ${B}"), lookup)
    assert "--substitute B=" in info.value.hint


def load(text: str) -> dict:
    return load_manifests(text.encode(), "t.yaml")[0][1]


DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${APP}
  labels:
    ${LABEL_KEY:=tier}: web
spec:
  replicas: ${REPLICAS}
  paused: ${PAUSED:=false}
  quoted: "${REPLICAS}"
  mixed: v${REPLICAS}
  list: ["${APP}", plain]
"""


def test_object_substitution_and_retyping():
    out = substitute_object(load(DEPLOY), {"APP": "shop", "REPLICAS": "3"})
    assert out["metadata"] == {"name": "shop", "labels": {"tier": "web"}}
    assert out["spec"] == {"replicas": 3, "paused": False, "quoted": "3", "mixed": "v3", "list": ["shop", "plain"]}


def test_errors_name_object_and_field_not_value():
    with pytest.raises(SubstitutionError) as info:
        substitute_object(load(DEPLOY), {"APP": "canary-app-name"})
    assert str(info.value).startswith("Deployment.apps/${APP}: spec.replicas: variable 'REPLICAS' is not defined")


@pytest.mark.parametrize("where", ["annotations", "labels"])
@pytest.mark.parametrize("name", ["secretsync.io/substitute", "kustomize.toolkit.fluxcd.io/substitute"])
def test_disabled(where, name):
    obj = load(DEPLOY)
    obj["metadata"][where] = {name: "disabled"}
    assert substitute_object(obj, {}) is obj


def test_secret_values_stay_strings_and_secretbytes_are_untouched():
    obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": {"plain": load("a: ${N}")["a"], "decrypted": SecretBytes(b"p@ss${N}word")},
    }
    out = substitute_object(obj, {"N": "7"})
    assert out["stringData"]["plain"] == "7" and isinstance(out["stringData"]["plain"], str)
    assert out["stringData"]["decrypted"].reveal() == b"p@ss${N}word"


@pytest.mark.parametrize("value", ["pw${cnry-1a2b}", "pw${cnry_1a2b", "pw${cnry_1a2b:-x}", "x${cnry_1a2b}"])
def test_errors_in_a_secret_value_never_quote_it(value):
    """A Secret value in the clear is still a secret: a malformed or unknown ${...} in it is named by field."""
    obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": {"password": value},
        "data": {},
    }
    with pytest.raises(SubstitutionError) as info:
        substitute_object(obj, {})
    text = f"{info.value.report()} {info.value!r}"
    assert "cnry" not in text and "Secret/s" in text and "stringData.password" in text


def test_variables_from_objects_and_precedence():
    cm = {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"A": "cm", "B": "cm"}}
    secret = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"B": SecretBytes(b"sec")}, "stringData": {"C": "x"}}
    merged = merge_variables({"A": "inline"}, [variables_from_object(cm), variables_from_object(secret)])
    assert merged["A"] == "inline" and merged["B"].reveal() == b"sec" and merged["C"].reveal() == b"x"
    with pytest.raises(SubstitutionError):
        variables_from_object({"kind": "Deployment", "metadata": {"name": "d"}})
    with pytest.raises(SubstitutionError, match="invalid variable name"):
        merge_variables({"bad-name": "x"})


def test_collect_variables_optional_missing_and_names():
    objects = {
        ("ConfigMap", "n", "vars"): {"metadata": {"name": "vars"}, "data": {"A": "cm", "B": "cm"}},
        ("ConfigMap", "n", "bad"): {"kind": "ConfigMap", "metadata": {"name": "bad"}, "data": {"bad-name": "x"}},
    }
    read = lambda s: objects.get((s.kind, s.namespace, s.name))  # noqa: E731
    merged = collect_variables(
        {"B": "inline"},
        [VariableSource("ConfigMap", "n", "vars"), VariableSource("Secret", "n", "absent", optional=True)],
        read,
    )
    assert merged == {"A": "cm", "B": "inline"}
    with pytest.raises(VariableSourceNotFound, match=r"^postBuild.substituteFrom: Secret n/absent not found$"):
        collect_variables(None, [VariableSource("Secret", "n", "absent")], read)
    with pytest.raises(VariableSourceNotFound, match=r"^--substitute-from: Secret n/absent not found$"):
        collect_variables(None, [VariableSource("Secret", "n", "absent")], read, what="--substitute-from")
    with pytest.raises(SubstitutionError, match="invalid variable name 'bad-name'"):
        collect_variables(None, [VariableSource("ConfigMap", "n", "bad")], read)
    with pytest.raises(SubstitutionError, match="invalid variable name 'bad name'"):
        collect_variables({"bad name": "x"}, [], read)


def test_cli_substitute_from_checks_names_and_refuses_a_missing_object(apiserver, tmp_path, capsys):
    from secretsync.cli.main import main
    from secretsync.kube.client import KubeClient

    ns = apiserver.namespace
    client = KubeClient.from_kubeconfig(str(apiserver.kubeconfig))
    try:
        client.apply(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "vars", "namespace": ns},
                "data": {"GREETING": "hi", "bad-name": "x"},
            },
            field_manager="test",
        )
        root = tmp_path / "src"
        root.mkdir()
        (root / "cm.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: {ns}\ndata:\n  a: ${{GREETING}}\n"
        )
        flags = ["--kubeconfig", str(apiserver.kubeconfig), "--applyset", "subst", "--applyset-namespace", ns]
        capsys.readouterr()
        rc = main(["apply", str(root), *flags, "--substitute-from", f"configmap/{ns}/vars"])
        err = capsys.readouterr().err
        assert rc != 0 and "invalid variable name 'bad-name'" in err
        rc = main(["apply", str(root), *flags, "--substitute-from", f"configmap/{ns}/absent"])
        err = capsys.readouterr().err
        assert rc == 2 and f"--substitute-from: ConfigMap {ns}/absent not found" in err
        assert client.get_or_none("v1", "ConfigMap", "app", ns) is None
    finally:
        client.close()


@given(st.text(max_size=60))
def test_escaped_text_round_trips_and_parser_never_crashes(text):
    escaped = text.replace("${", "$${")
    assert evaluate(parse(escaped), {}.get) == (text, False)
    try:
        parse(text)
    except SubstitutionError:
        pass
