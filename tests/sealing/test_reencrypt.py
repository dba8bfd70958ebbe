"""``secretsync.sealing.reencrypt.re_encrypt``: the one re-encryption that reseal, ``seal --re-encrypt`` and /v1/rotate call.

Covers: in place, only items not on the newest key change (same label: they still open under
the newest key alone, and only for the same namespace/name), items already there keep their text
and count as kept, template metadata and ``template.data`` stay as written; flattened (the
controller's /v1/rotate), every item is sealed again and ``template.data`` becomes items; the
deprecated ``spec.data`` format and an item no key opens are refused naming the object;
``as_kubeseal_output`` clears what kubeseal's ``--re-encrypt`` clears. The CLI paths are covered
by test_reseal.py, test_cli_seal.py, test_cli_cluster.py and tests/sealedcontroller/test_endpoints.py.
"""

from __future__ import annotations

import pytest

from secretsync.crypto import sealing
from secretsync.sealing.keyring import Keyring
from secretsync.sealing.objects import UnsealError, seal_secret, unseal_sealed_secret
from secretsync.sealing.reencrypt import as_kubeseal_output, re_encrypt


def _sealed(key, data: dict[str, str], template_data: dict[str, str] | None = None) -> dict:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "app", "namespace": "ns", "labels": {"team": "a"}},
        "stringData": data,
    }
    obj = seal_secret(secret, key.certificate, sealing.Scope.STRICT)
    if template_data:
        obj["spec"]["template"]["data"] = template_data
    return obj


def _plain(obj: dict, keys) -> dict[str, bytes]:
    return {k: v.reveal() for k, v in unseal_sealed_secret(obj, Keyring(keys))["data"].items()}


def test_in_place_changes_only_items_off_the_newest_key(key_pool):
    old, new = key_pool[0], key_pool[1]
    obj = _sealed(old, {"a": "1"})
    on_newest = _sealed(new, {"b": "2"})["spec"]["encryptedData"]["b"]
    obj["spec"]["encryptedData"]["b"] = on_newest
    obj["spec"]["template"]["data"] = {"both": "{{ .a }}{{ .b }}"}
    done = re_encrypt(obj, Keyring([old, new]))
    assert set(done.changed) == {"a"} and done.kept == 1
    out = done.sealed_secret
    assert out["spec"]["encryptedData"]["b"] == on_newest
    assert out["spec"]["encryptedData"]["a"] == done.changed["a"] != obj["spec"]["encryptedData"]["a"]
    assert out["spec"]["template"] == obj["spec"]["template"]  # template kept as written
    assert _plain(out, [new]) == {"a": b"1", "b": b"2", "both": b"12"}
    moved = dict(out, metadata={"name": "other", "namespace": "ns"})
    with pytest.raises(UnsealError):
        unseal_sealed_secret(moved, Keyring([new]))  # same label: still bound to ns/app
    assert obj["spec"]["encryptedData"]["a"] != out["spec"]["encryptedData"]["a"]  # the input is not edited
    again = re_encrypt(out, Keyring([old, new]))
    assert again.changed == {} and again.kept == 2


def test_flattened_reseals_every_item_and_renders_template_data(key_pool):
    old, new = key_pool[0], key_pool[1]
    obj = _sealed(old, {"user": "u", "password": "p"}, {"dsn": "{{ .user }}:{{ .password }}"})
    done = re_encrypt(obj, Keyring([old, new]), flatten=True)
    assert set(done.changed) == {"user", "password", "dsn"}
    assert done.sealed_secret["spec"]["template"]["metadata"]["labels"] == {"team": "a"}
    assert _plain(done.sealed_secret, [new]) == {"user": b"u", "password": b"p", "dsn": b"u:p"}


def test_refusals_name_the_object(key_pool):
    obj = _sealed(key_pool[0], {"a": "1"})
    with pytest.raises(UnsealError, match="ns/app") as info:
        re_encrypt(obj, Keyring([key_pool[2]]))
    assert info.value.items == ["a"]
    legacy = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": obj["metadata"]}
    legacy["spec"] = {"data": "c2VhbGVk"}
    with pytest.raises(UnsealError, match="deprecated spec.data"):
        re_encrypt(legacy, Keyring([key_pool[0]]))


def test_kubeseal_output_clears_server_fields():
    obj = {"metadata": {"name": "n", "generation": 2, "creationTimestamp": "t", "deletionTimestamp": "t"}}
    out = as_kubeseal_output(obj)
    assert out["kind"] == "SealedSecret" and out["apiVersion"] == "bitnami.com/v1alpha1"
    assert out["metadata"] == {"name": "n"}
