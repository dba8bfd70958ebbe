"""``secretsync.gocompat.gojson``: the one ``encoding/json`` writer, without peers (the peer
comparisons with sops and kubectl live in tests/sops/test_gojson.py and
tests/sealing/test_go_json_writer.py).

Covers: ``json.Number`` text kept with ``number_text`` (kubectl JSONPath prints numbers as read),
floats as Go's ``floatEncoder`` writes them (cases from ``TestMarshalFloat`` in golang/go
``src/encoding/json/encode_test.go``: ``1e-7``, ``1e+21``, plain in between), HTML escaping,
sorted keys and ``MarshalIndent``.
"""

from __future__ import annotations

import json

import pytest

from secretsync.gocompat import gojson


def test_number_text() -> None:
    data = json.loads('{"b": 1.50, "a": [1e2, 0.1]}', parse_float=gojson.Number)
    assert gojson.dumps(data, number_text=True) == '{"a":[1e2,0.1],"b":1.50}'
    assert gojson.dumps(data) == '{"a":[100,0.1],"b":1.5}'


@pytest.mark.parametrize(
    ("value", "want"),
    [
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (-0.0, "-0"),
        (5e-324, "5e-324"),
    ],
)
def test_float_encoder(value: float, want: str) -> None:
    assert gojson.format_float(value) == want


def test_marshal_and_indent() -> None:
    assert gojson.dumps({"b": "<&>", "a": [True, None]}) == '{"a":[true,null],"b":"\\u003c\\u0026\\u003e"}'
    assert gojson.dumps({"a": {}}, indent=2) == '{\n  "a": {}\n}'
    with pytest.raises(ValueError, match="json: unsupported value: NaN"):
        gojson.dumps(float("nan"))
