"""``secretsync.gocompat.gojson.dumps``: the one Go ``encoding/json`` writer behind kubeseal-style
output (``sealedsecret.dump``) and Sprig's ``toJson`` (``gotemplate``), against Go itself.

Covers: ``MarshalIndent`` text (sorted maps, nested and empty containers, control characters,
HTML-safe escapes, U+2028/U+2029, non-BMP text, ints, non-whole floats, bools, nulls) compared
byte for byte with the real kubectl's ``-o json`` (``json.MarshalIndent(obj, "", "    ")``), and the
compact ``Marshal`` text with kubectl's JSONPath map printing; invalid UTF-8 bytes written as the
escape ``\\ufffd``, one per byte, compared with what the real ``sops`` (Go) prints for a dotenv
value holding such bytes (tab indent, file order); ``toJson`` in a SealedSecret template doing
the same; unsupported values and NaN refused; kubeseal's JSON layout of ``dump`` unchanged.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from secretsync.gocompat import gojson
from secretsync.manifests.dump import dump_kubeseal as dump
from secretsync.sealing.template import render
from tests.fixtures.peers import isolated_env, peer_binary

STRINGS = {
    "ctl": "".join(chr(c) for c in range(0x20)) + "\x7f",
    "html": "<a href='x'>&amp;</a>",
    "quote": 'q"b\\s/',
    "sep": "a\u2028b\u2029c",
    "wide": "é€😀",
    "empty": "",
}
EXTRA = {
    "strings": STRINGS,
    "numbers": [0, -7, 9007199254740993, 1.5, 0.1, 2.5e-7, 1.5e300, -0.25],
    "flags": [True, False, None],
    "empty_map": {},
    "empty_list": [],
    "nested": {"b": [{"z": 1, "a": [[]]}], "a": {"k10": "x", "k2": "y", "K": "z", "é": "w"}},
}


def kubectl(tmp_path, obj: dict, *output: str) -> str:
    path = tmp_path / "obj.json"
    path.write_text(json.dumps(obj))
    proc = subprocess.run(
        [peer_binary("kubectl"), "patch", "--local", "-f", str(path), "--type", "merge", "-p", "{}", *output],
        capture_output=True,
        env=isolated_env(tmp_path),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode("utf-8")


@pytest.mark.peer
def test_marshal_indent_and_marshal_as_kubectl_writes_them(tmp_path):
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "extra": EXTRA}
    assert gojson.dumps(obj, indent=4) + "\n" == kubectl(tmp_path, obj, "-o", "json")
    assert gojson.dumps(EXTRA) == kubectl(tmp_path, obj, "-o", "jsonpath={.extra}")
    assert '"\\u003ca href=' in gojson.dumps(STRINGS) and "\\u2028" in gojson.dumps(STRINGS)


@pytest.mark.peer
def test_invalid_utf8_as_go_writes_it(tmp_path):
    """sops keeps a dotenv value as bytes; its JSON output is Go's encoder on an invalid Go string."""
    env = isolated_env(tmp_path)
    keys = tmp_path / "age.txt"
    subprocess.run([peer_binary("age-keygen"), "-o", str(keys)], check=True, capture_output=True, env=env, timeout=60)
    recipient = next(line.split(": ", 1)[1] for line in keys.read_text().splitlines() if "public key:" in line)
    raw = {"A": b"x\xffy\xe2\x82z<&>\xed\xa0\x80", "B": b"ok \xc3\xa9", "C": b"\xc0\xaf"}
    (tmp_path / "in.env").write_bytes(b"".join(k.encode() + b"=" + v + b"\n" for k, v in raw.items()))
    sops = [peer_binary("sops"), "--disable-version-check"]
    encrypted = subprocess.run(
        [*sops, "-e", "--age", recipient, "in.env"], cwd=tmp_path, capture_output=True, env=env, timeout=60, check=True
    ).stdout
    (tmp_path / "enc.env").write_bytes(encrypted)
    theirs = subprocess.run(
        [*sops, "-d", "--output-type", "json", "enc.env"],
        cwd=tmp_path,
        capture_output=True,
        env=dict(env, SOPS_AGE_KEY_FILE=str(keys)),
        timeout=60,
        check=True,
    ).stdout
    values = {k: v.decode("utf-8", "surrogateescape") for k, v in raw.items()}
    ours = gojson.dumps(values, indent="\t", sort_keys=False, surrogateescape=True) + "\n"
    assert ours.encode("utf-8") == theirs
    assert theirs.count(b"\\ufffd") == 8  # one per invalid byte, as the escape text


def test_to_json_in_a_template_writes_invalid_bytes_as_go():
    data = {"raw": b"\xe2\x82<", "ok": b"\xc3\xa9"}
    out = render("t", "{{ toJson . }}|{{ toJson .raw }}|{{ toJson .missing }}", data)
    assert out == '{"ok":"é","raw":"\\ufffd\\ufffd\\u003c"}|"\\ufffd\\ufffd\\u003c"|null'.encode()


def test_refusals():
    with pytest.raises(ValueError, match="json: unsupported value: NaN"):
        gojson.dumps({"a": [float("nan")]})
    with pytest.raises(TypeError, match="unsupported type: set"):
        gojson.dumps({"a": {1}})
    assert gojson.dumps({"a": {1}}, default=sorted) == '{"a":[1]}'
    assert gojson.dumps({2: "b", 10: "a", True: "t"}) == '{"10":"a","2":"b","true":"t"}'  # Go sorts text


def test_kubeseal_json_layout_of_dump():
    obj = {
        "kind": "SealedSecret",
        "apiVersion": "bitnami.com/v1alpha1",
        "metadata": {"name": "n", "namespace": "d", "annotations": {"b": "x<y", "a": "\u2028"}},
        "spec": {"encryptedData": {}, "template": {"metadata": {"name": "n"}, "type": "Opaque"}},
    }
    assert dump([obj]) == (
        '{\n  "kind": "SealedSecret",\n  "apiVersion": "bitnami.com/v1alpha1",\n  "metadata": {\n'
        '    "name": "n",\n    "namespace": "d",\n    "annotations": {\n      "a": "\\u2028",\n'
        '      "b": "x\\u003cy"\n    }\n  },\n  "spec": {\n    "template": {\n      "metadata": {\n'
        '        "name": "n"\n      },\n      "type": "Opaque"\n    },\n    "encryptedData": {}\n  }\n}\n'
    )
