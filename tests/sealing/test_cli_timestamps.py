"""``secretsync seal`` with files that hold unquoted YAML timestamps (PyYAML would read a datetime).

Covers: ``--merge-into`` a SealedSecret file whose ``metadata.creationTimestamp`` (and a
``managedFields`` time) is an unquoted ``2024-01-01T00:00:00Z``, written back as JSON and as YAML,
run as a process (exit 0, clean stderr, every item still unseals, the timestamp kept as the file
has it); the YAML output compared byte for byte with the real kubectl's (sigs.k8s.io/yaml, the
encoder kubeseal uses) and the JSON output value for value; the same merge into a JSON file;
``load_documents`` keeping date and timestamp text exactly as written.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from secretsync.sealing.objects import load_documents
from tests.fixtures.peers import isolated_env, peer_binary
from tests.sealing.test_cli_seal import SECRET, unsealed

STAMP = "2024-01-01T00:00:00Z"
ADDITION = "kind: Secret\nmetadata:\n  name: whatever\nstringData:\n  new: added\n"


def sealed_file_with_timestamps(cli, cert_file) -> str:
    """A SealedSecret as YAML, with an unquoted creationTimestamp and managedFields time."""
    text = cli("seal", "--cert", str(cert_file), "-o", "yaml", input=SECRET).stdout_text
    head, rest = text.split("metadata:\n", 1)
    extra = (
        f"  creationTimestamp: {STAMP}\n  managedFields:\n  - manager: kubectl\n    operation: Update\n"
        f"    time: {STAMP}\n"
    )
    text = head + "metadata:\n" + extra + rest
    assert f"creationTimestamp: {STAMP}\n" in text and f'"{STAMP}"' not in text  # unquoted: a YAML timestamp
    return text


def kubectl_prints(tmp_path, path, fmt: str) -> str:
    args = ["patch", "--local", "-f", str(path), "--type", "merge", "-p", "{}", "-o", fmt, "--show-managed-fields"]
    proc = subprocess.run(
        [peer_binary("kubectl"), *args], capture_output=True, text=True, env=isolated_env(tmp_path), timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.peer
@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_merge_into_a_file_with_unquoted_timestamps(cli, cert_file, key_dir, tmp_path, fmt):
    target = tmp_path / "sealed.yaml"
    target.write_text(sealed_file_with_timestamps(cli, cert_file))
    r = cli("seal", "--cert", str(cert_file), "--merge-into", str(target), "-o", fmt, input=ADDITION)
    assert r.returncode == 0 and r.stderr_text == "", r.stderr_text
    text = target.read_text()
    merged = json.loads(text) if fmt == "json" else yaml.safe_load(text.replace(f'"{STAMP}"', f"'{STAMP}'"))
    assert merged["metadata"]["creationTimestamp"] == STAMP
    assert merged["metadata"]["managedFields"][0]["time"] == STAMP
    assert unsealed(merged, key_dir) == {"k": b"value", "new": b"added"}
    if fmt == "yaml":
        # sigs.k8s.io/yaml writes the string quoted, keys sorted: the same bytes as kubectl's -o yaml
        assert f'  creationTimestamp: "{STAMP}"\n' in text
        assert text == "---\n" + kubectl_prints(tmp_path, target, "yaml")
    else:
        assert text.index('"namespace"') < text.index('"creationTimestamp"') < text.index('"managedFields"')
        assert merged == json.loads(kubectl_prints(tmp_path, target, "json"))


def test_merge_into_a_json_file_keeps_its_timestamp(cli, cert_file, key_dir, tmp_path):
    obj = json.loads(cli("seal", "--cert", str(cert_file), input=SECRET).stdout)
    obj["metadata"]["creationTimestamp"] = STAMP
    target = tmp_path / "sealed.json"
    target.write_text(json.dumps(obj))
    for fmt in ("yaml", "json"):
        r = cli("seal", "--cert", str(cert_file), "--merge-into", str(target), "-o", fmt, input=ADDITION)
        assert r.returncode == 0 and r.stderr_text == "", r.stderr_text
        assert (
            f'creationTimestamp": "{STAMP}"' in target.read_text()
            or f'creationTimestamp: "{STAMP}"' in target.read_text()
        )
    assert unsealed(json.loads(target.read_text()), key_dir) == {"k": b"value", "new": b"added"}


def test_load_documents_keeps_timestamps_as_written():
    text = (
        b"kind: SealedSecret\nmetadata:\n  name: x\n  creationTimestamp: 2024-01-01T02:00:00+02:00\n"
        b"  annotations: {day: 2024-01-01, spaced: 2001-12-14 21:59:43.10 -5, quoted: '2024-01-01'}\n"
    )
    (doc,) = load_documents(text, "t.yaml")
    assert doc["metadata"]["creationTimestamp"] == "2024-01-01T02:00:00+02:00"
    assert doc["metadata"]["annotations"] == {
        "day": "2024-01-01",
        "spaced": "2001-12-14 21:59:43.10 -5",
        "quoted": "2024-01-01",
    }
