"""Label and field selectors (secretsync_emulator.selectors) as the API server parses them.

Covers: the grammar of ``labels.Parse`` (=, ==, !=, in, notin, exists, !key, gt/lt,
commas, whitespace, empty values, ``in`` as a value), matching rules from the Kubernetes
docs ("Labels and Selectors": != and notin also match objects without the key), key and
value validation with the server's messages, ``matchLabels``/``matchExpressions``, field
selectors (metadata.name/namespace, per-kind fields, escapes, ``field label not
supported``). Hypothesis: any generated selector printed and parsed again selects the
same label sets, and matching agrees with a direct model of each operator.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secretsync_emulator.selectors import (
    SelectorError,
    label_selector_from_dict,
    parse_field_selector,
    parse_label_selector,
)

# --- matching (docs: "Labels and Selectors") ----------------------------------------------------

MATCHES = [
    ("environment = production", {"environment": "production"}, True),
    ("environment = production", {"environment": "qa"}, False),
    ("environment == production", {"environment": "production"}, True),
    ("tier != frontend", {"tier": "backend"}, True),
    ("tier != frontend", {}, True),
    ("tier != frontend", {"tier": "frontend"}, False),
    ("environment=production,tier!=frontend", {"environment": "production", "tier": "backend"}, True),
    ("environment=production,tier!=frontend", {"environment": "production", "tier": "frontend"}, False),
    ("environment in (production, qa)", {"environment": "qa"}, True),
    ("environment in (production, qa)", {"environment": "dev"}, False),
    ("environment in (production, qa)", {}, False),
    ("tier notin (frontend, backend)", {"tier": "cache"}, True),
    ("tier notin (frontend, backend)", {}, True),
    ("tier notin (frontend, backend)", {"tier": "backend"}, False),
    ("partition", {"partition": ""}, True),
    ("partition", {}, False),
    ("!partition", {}, True),
    ("!partition", {"partition": "x"}, False),
    ("partition in (customerA, customerB),environment!=qa", {"partition": "customerA", "environment": "dev"}, True),
    ("x in (foo,,baz),y,z notin ()", {"x": "", "y": "1"}, True),
    ("x in (foo,,baz),y,z notin ()", {"x": "", "y": "1", "z": ""}, False),
    ("k=", {"k": ""}, True),
    ("k=", {"k": "v"}, False),
    ("value in (in, notin)", {"value": "notin"}, True),
    ("replicas>2", {"replicas": "3"}, True),
    ("replicas>2", {"replicas": "2"}, False),
    ("replicas<2", {"replicas": "x"}, False),
    ("example.com/owner=team-a", {"example.com/owner": "team-a"}, True),
    ("", {"anything": "x"}, True),
    ("  a  =  b  ,  c  ", {"a": "b", "c": "1"}, True),
]


@pytest.mark.parametrize("text,labels,expected", MATCHES)
def test_label_selector_matches(text, labels, expected):
    assert parse_label_selector(text).matches(labels) is expected


def test_label_selector_matches_none_labels():
    assert parse_label_selector("!a").matches(None)
    assert not parse_label_selector("a").matches(None)


def test_label_selector_string_form_is_sorted_by_key():
    assert str(parse_label_selector("b in (y,x),a=1,!c")) == "a=1,b in (x,y),!c"


# --- errors: the server's texts ----------------------------------------------------------------

_QNAME_RULE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation "
    "is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_VALUE_RULE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
    "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)

ERRORS = [
    ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
    ("a=b c", "found 'c', expected: ',' or 'end of string'"),
    ("a in x", "unable to parse requirement: found 'x' expected: '('"),
    ("a in (x", "unable to parse requirement: found '', expected: ',' or ')'"),
    (",", "found ',', expected: !, identifier, or 'end of string'"),
    ("a,", "found '', expected: identifier after ','"),
    ("!a=b", "found '=', expected: ',' or 'end of string'"),
    ("a=(", "unable to parse requirement: found '(', expected: identifier"),
    (
        "a>x",
        "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, "
        "the value must be an integer",
    ),
    ("-bad", f'unable to parse requirement: <nil>: Invalid value: "-bad": name part {_QNAME_RULE}'),
    ("a=-bad-", f'unable to parse requirement: values[0][a]: Invalid value: "-bad-": {_VALUE_RULE}'),
    (
        "a=" + "x" * 64,
        'unable to parse requirement: values[0][a]: Invalid value: "'
        + "x" * 64
        + '": must be no more than 63 characters',
    ),
    ("/a", 'unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be non-empty'),
    ("a in (,,)", "unable to parse requirement: found ')', expected: ',', or identifier"),
]


@pytest.mark.parametrize("text,message", ERRORS)
def test_label_selector_errors(text, message):
    with pytest.raises(SelectorError) as caught:
        parse_label_selector(text)
    assert str(caught.value) == message


# --- matchLabels / matchExpressions --------------------------------------------------------------


def test_label_selector_from_dict():
    selector = label_selector_from_dict(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "Exists"},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
            ],
        }
    )
    assert selector.matches({"app": "web", "tier": "a", "zone": "z"})
    assert not selector.matches({"app": "web", "tier": "a", "zone": "z", "canary": "1"})
    assert not selector.matches({"app": "web", "tier": "c", "zone": "z"})
    assert not selector.matches({"app": "web", "tier": "a", "zone": "z", "env": "dev"})


def test_label_selector_from_dict_empty_and_none():
    assert label_selector_from_dict({}).matches({"x": "y"})
    assert not label_selector_from_dict(None).matches({})


def test_label_selector_from_dict_errors():
    with pytest.raises(SelectorError, match='"Bogus" is not a valid label selector operator'):
        label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "Bogus"}]})
    with pytest.raises(SelectorError, match="values set can't be empty"):
        label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]})


# --- field selectors ---------------------------------------------------------------------------

OBJ = {"metadata": {"name": "web", "namespace": "prod"}, "type": "Opaque"}


@pytest.mark.parametrize(
    "text,expected",
    [
        ("metadata.name=web", True),
        ("metadata.name==web", True),
        ("metadata.name!=web", False),
        ("metadata.name=web,metadata.namespace=prod", True),
        ("metadata.name=web,metadata.namespace=dev", False),
        ("metadata.namespace!=dev", True),
        ("", True),
    ],
)
def test_field_selector_matches(text, expected):
    assert parse_field_selector(text).matches(OBJ) is expected


def test_field_selector_per_kind_fields():
    assert parse_field_selector("type=Opaque", kind="Secret").matches(OBJ)
    with pytest.raises(SelectorError) as caught:
        parse_field_selector("type=Opaque", kind="ConfigMap")
    assert str(caught.value) == "field label not supported: type"


def test_field_selector_escapes():
    obj = {"metadata": {"name": "a,b=c", "namespace": ""}}
    assert parse_field_selector(r"metadata.name=a\,b\=c").matches(obj)


@pytest.mark.parametrize(
    "text,message",
    [
        ("spec.replicas=1", "field label not supported: spec.replicas"),
        ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
        ("metadata.name=a=b", "invalid field selector: unescaped character '='"),
        (r"metadata.name=a\x", r"invalid field selector: invalid escape sequence: \x"),
    ],
)
def test_field_selector_errors(text, message):
    with pytest.raises(SelectorError) as caught:
        parse_field_selector(text)
    assert str(caught.value) == message


# --- properties ---------------------------------------------------------------------------------

_keys = st.sampled_from(["app", "tier", "example.com/team", "a.b_c-d"])
_values = st.sampled_from(["", "web", "db", "v1.2", "x_y"])
_requirement = st.one_of(
    st.tuples(_keys, st.sampled_from(["=", "==", "!="]), st.lists(_values, min_size=1, max_size=1)),
    # empty values inside (...) have their own grammar quirks (Go refuses "(,,)"): see MATCHES/ERRORS
    st.tuples(_keys, st.sampled_from(["in", "notin"]), st.lists(_values.filter(bool), min_size=1, max_size=3)),
    st.tuples(_keys, st.sampled_from(["exists", "!"]), st.just([])),
)
_label_sets = st.dictionaries(_keys, _values, max_size=4)


def _render(req) -> str:
    key, op, values = req
    if op == "exists":
        return key
    if op == "!":
        return "!" + key
    if op in ("in", "notin"):
        return f"{key} {op} ({', '.join(values)})"
    return f"{key}{op}{values[0]}"


def _model(req, labels) -> bool:
    key, op, values = req
    if op in ("=", "==", "in"):
        return key in labels and labels[key] in values
    if op in ("!=", "notin"):
        return key not in labels or labels[key] not in values
    if op == "exists":
        return key in labels
    return key not in labels


@given(reqs=st.lists(_requirement, min_size=1, max_size=4), labels=_label_sets)
def test_selector_matches_model_and_round_trips(reqs, labels):
    selector = parse_label_selector(",".join(_render(r) for r in reqs))
    expected = all(_model(r, labels) for r in reqs)
    assert selector.matches(labels) is expected
    assert parse_label_selector(str(selector)).matches(labels) is expected


@given(text=st.text(alphabet="ab=!(), in", max_size=12))
def test_arbitrary_text_parses_or_raises_selector_error(text):
    try:
        parse_label_selector(text)
    except SelectorError as exc:
        assert str(exc)
