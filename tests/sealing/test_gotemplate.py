"""The Go template subset for ``template.data``: template → output fixtures and fail-closed errors.

Expected outputs follow Go text/template + Sprig 3 semantics as documented (map field
access, ``<no value>`` for a missing field, ``index`` zero value, ``toJson`` HTML
escaping, ``%q`` quoting, trim markers); anything unsupported must fail with Go's
wording, never render something else.
"""

import pytest

from secretsync.sealing.template import TemplateError, render

DATA = {"user": b"admin", "password": b'p<&>"w', "raw": b"\xff\x00a", "spaced": b"  x  ", "empty": b""}

FIXTURES = [
    ('{{ index . "user" }}', b"admin"),
    ("{{ .user }}", b"admin"),
    ("{{.user}}:{{.password}}", b'admin:p<&>"w'),
    ("{{ toJson .password }}", b'"p\\u003c\\u0026\\u003e\\"w"'),
    ("{{ .password | toJson }}", b'"p\\u003c\\u0026\\u003e\\"w"'),
    ("{{ .user | b64enc }}", b"YWRtaW4="),
    ('{{ "YWRtaW4=" | b64dec }}', b"admin"),
    ("{{ quote .user }}", b'"admin"'),
    ("{{ quote .raw }}", b'"\\xff\\x00a"'),
    ("{{ squote .user }}", b"'admin'"),
    ('{{ printf "%s:%s" .user .password }}', b'admin:p<&>"w'),
    ('{{ printf "%d" .user }}', b"%!d(string=admin)"),
    ("{{ .spaced | trim }}", b"x"),
    ("{{ .user | upper }}", b"ADMIN"),
    ('{{ .empty | default "fallback" }}', b"fallback"),
    ('{{ default "fallback" .user }}', b"admin"),
    ("{{ .missing }}", b"<no value>"),
    ('[{{ index . "missing" }}]', b"[]"),
    ("a  {{- .user -}}  b", b"aadminb"),
    ("{{/* a comment */}}x", b"x"),
    ('{{ (index . "user") | b64enc | b64dec }}', b"admin"),
    ("{{ .raw }}", b"\xff\x00a"),
    ("{{ len .user }}", b"5"),
    ("no actions at all\n", b"no actions at all\n"),
    ("{{ `raw {{ string }}` }}", b"raw {{ string }}"),
    ('{"u": {{ toJson .user }}, "p": {{ toJson .password }}}', b'{"u": "admin", "p": "p\\u003c\\u0026\\u003e\\"w"}'),
]


@pytest.mark.parametrize("source,expected", FIXTURES)
def test_fixture(source, expected):
    assert render("item", source, DATA) == expected


@pytest.mark.parametrize(
    "source,message",
    [
        ("{{ sha256sum .user }}", 'template: item:1: function "sha256sum" not defined'),
        ('line1\n{{ env "HOME" }}', 'template: item:2: function "env" not defined'),
        ('{{ getHostByName "x" }}', 'template: item:1: function "getHostByName" not defined'),
        ("{{ if .user }}x{{ end }}", 'template: item:1: unsupported action "if"'),
        ("{{ range . }}x{{ end }}", 'template: item:1: unsupported action "range"'),
        ("{{ .user", "template: item:1: unclosed action"),
        ('{{ .user "x" }}', "template: item:1: can't give argument to non-function .user"),
        ("{{ .user.name }}", 'template: item: executing "item": can\'t evaluate field name in type string'),
    ],
)
def test_fails_closed(source, message):
    with pytest.raises(TemplateError) as info:
        render("item", source, DATA)
    assert str(info.value).startswith(message)


def test_errors_never_contain_values():
    for source in ("{{ .password.x }}", "{{ index .password 99 }}", "{{ nope .password }}"):
        with pytest.raises(TemplateError) as info:
            render("item", source, DATA)
        assert "p<&>" not in str(info.value)
