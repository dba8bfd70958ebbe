"""Go ``encoding/json`` text (``secretsync.gocompat.gojson``) against the two peers that write it.

Covers: every control character (``\\b``/``\\f`` short since Go 1.22, the rest ``\\u00XX``),
quotes, backslash, HTML characters, U+2028/U+2029, DEL and non-BMP characters, and float64
numbers (plain/exponent boundaries, -0) as ``sops -d`` (3.11) prints them from a JSON file,
compared byte for byte with the sops JSON store's output; the same strings, and floats both
as ``%v`` scalars and inside JSON, printed by ``kubectl ... -o jsonpath``, compared with
``secretsync.vault.jsonpath.go_json``/``go_text``; lone
surrogates become U+FFFD; NaN is refused with Go's message; ``%v`` style for the JSONPath
printer (``1e-05``, ``1e+21``, ``+Inf``).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from secretsync.crypto.sops.stores import json as json_store
from secretsync.gocompat import gojson, gostrconv
from secretsync.vault.jsonpath import go_json, go_text
from tests.fixtures.peers import peer_binary

pytestmark = pytest.mark.peer

STRINGS = ["".join(chr(c) for c in range(0x20)), 'q"b\\s/', "<a href='x'>&amp;</a>", "\u2028\u2029\x7f", "é€😀", ""]
NUMBERS = [
    "0.1",
    "1e-6",
    "1e-7",
    "123456789012345678901",
    "1e21",
    "1e20",
    "-2.5e-300",
    "1.7976931348623157e308",
    "5e-324",
    "-0.0",
    "100",
    "0.000001234",
]


def test_strings_and_numbers_as_sops_prints_them(age_keys, sops_run, workdir):
    key = age_keys[0]
    body = {f"s{i}": s for i, s in enumerate(STRINGS)}
    text = json.dumps(body)[:-1] + ", " + ", ".join(f'"n{i}": {n}' for i, n in enumerate(NUMBERS)) + "}"
    (workdir / "g.json").write_text(text)
    encrypted = sops_run("-e", "--age", key.recipient, "g.json").stdout
    (workdir / "g.enc.json").write_bytes(encrypted)
    theirs = sops_run("-d", "g.enc.json", env={"SOPS_AGE_KEY_FILE": str(key.path)}).stdout
    ours = json_store.dump(json_store.load(text.encode()))
    assert ours == theirs
    assert b"\\u0007\\b\\t" in theirs and b"\\u000b\\f\\r" in theirs


def test_strings_and_floats_as_kubectl_prints_them(tmp_path):
    data = {f"s{i}": s for i, s in enumerate(STRINGS)}
    # not whole numbers below 2^63 (kubectl turns those into integers first)
    floats = [1000000.5, 123456.5, 0.0001, 0.00001, 1.5e300, 99999.99, 1234567.25, 1e21, 1.5e20, 2.5e-7]
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "extra": {"m": data, "f": floats}}
    path = tmp_path / "o.json"
    path.write_text(json.dumps(obj))
    proc = subprocess.run(
        [
            peer_binary("kubectl"),
            "patch",
            "--local",
            "-f",
            str(path),
            "--type",
            "merge",
            "-p",
            "{}",
            "-o",
            "jsonpath={.extra.m}|{.extra.f[*]}|{.extra.f}",
        ],
        capture_output=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    strings, printed, as_json = proc.stdout.decode("utf-8").split("|")
    assert strings == go_json(data)
    assert printed == " ".join(go_text(f) for f in floats)  # fmt's %v
    assert as_json == go_json(floats)  # encoding/json


def test_lone_surrogates_and_special_floats():
    assert gojson.quote("a\udc80b\ud800") == '"a\ufffdb\ufffd"'
    with pytest.raises(ValueError, match="json: unsupported value: NaN"):
        gojson.format_float(float("nan"))
    assert [gostrconv.format_float(v, "g") for v in (1e-5, 1e21, 1e20, 123456.5, float("inf"), -0.0)] == [
        "1e-05",
        "1e+21",
        "1e+20",
        "123456.5",
        "+Inf",
        "-0",
    ]
    assert [gojson.format_float(v) for v in (1e-7, 1e21, -0.0)] == ["1e-7", "1e+21", "-0"]
