"""Key groups with Shamir (3 groups, threshold 2) and the GF(2^8) split/combine, against the real sops.

Covers: a sops-written 3-group/threshold-2 file opens with secretsync for every
pair of identities and fails (exit 128, per-group report) with any single one;
the same for a secretsync-written file opened by the real sops; split/combine
round trips for any threshold-sized subset of shares; a PGP-only group is
reported as unsupported by name and ignored when other groups reach the threshold.
"""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secretsync.crypto.sops import shamir
from secretsync.crypto.sops.errors import DataKeyUnavailable
from secretsync.crypto.sops.keys.age import AgeKey
from secretsync.sops import files as sopsfiles
from secretsync.sops.files import EncryptSettings

DATA = b'{"password": "correct horse", "n": 3}'


def _config(workdir, recipients, threshold=2):
    groups = "\n".join(f"      - age: [{r}]" for r in recipients)
    (workdir / ".sops.yaml").write_text(
        f"creation_rules:\n  - shamir_threshold: {threshold}\n    key_groups:\n{groups}\n"
    )


def test_sops_shamir_file_opens_with_any_two_identities(age_keys, sops_run, workdir, keys_for):
    three = age_keys[:3]
    _config(workdir, [k.recipient for k in three])
    (workdir / "s.json").write_bytes(DATA)
    encrypted = sops_run("-e", "s.json").stdout
    meta = json.loads(encrypted)["sops"]
    assert meta["shamir_threshold"] == 2 and len(meta["key_groups"]) == 3
    expected = b'{\n\t"password": "correct horse",\n\t"n": 3\n}\n'
    for pair in itertools.combinations(three, 2):
        assert sopsfiles.decrypt_bytes(encrypted, "s.json", keys_for(*pair)) == expected
    for single in three:
        with pytest.raises(DataKeyUnavailable) as info:
            sopsfiles.decrypt_bytes(encrypted, "s.json", keys_for(single))
        assert info.value.exit_code == 128 and "Group 2" in info.value.report()


def test_secretsync_shamir_file_opens_with_sops_for_any_two(age_keys, sops_run, workdir, keys_for):
    three = age_keys[:3]
    ours = sopsfiles.encrypt_bytes(
        DATA,
        "s.json",
        keys_for(three[0]),
        EncryptSettings(key_groups=[[AgeKey(k.recipient)] for k in three], shamir_threshold=2),
    )
    meta = json.loads(ours)["sops"]
    assert meta["shamir_threshold"] == 2 and [g["age"][0]["recipient"] for g in meta["key_groups"]] == [
        k.recipient for k in three
    ]
    (workdir / "ours.json").write_bytes(ours)
    for pair in itertools.combinations(three, 2):
        out = sops_run("-d", "ours.json", env={"SOPS_AGE_KEY": "\n".join(k.secret for k in pair)})
        assert out.stdout == b'{\n\t"password": "correct horse",\n\t"n": 3\n}\n'
    for single in three:
        proc = sops_run("-d", "ours.json", env={"SOPS_AGE_KEY": single.secret}, check=False)
        assert proc.returncode == 128


def test_threshold_defaults_to_group_count(age_keys, keys_for):
    ours = sopsfiles.encrypt_bytes(
        DATA,
        "s.json",
        keys_for(age_keys[0]),
        EncryptSettings(key_groups=[[AgeKey(age_keys[0].recipient)], [AgeKey(age_keys[1].recipient)]]),
    )
    assert json.loads(ours)["sops"]["shamir_threshold"] == 2
    with pytest.raises(DataKeyUnavailable):
        sopsfiles.decrypt_bytes(ours, "s.json", keys_for(age_keys[0]))
    assert b"correct horse" in sopsfiles.decrypt_bytes(ours, "s.json", keys_for(age_keys[0], age_keys[1]))


def test_unsupported_group_is_named_and_skipped(age_keys, keys_for):
    ours = json.loads(
        sopsfiles.encrypt_bytes(
            DATA,
            "s.json",
            keys_for(age_keys[0]),
            EncryptSettings(key_groups=[[AgeKey(k.recipient)] for k in age_keys[:3]], shamir_threshold=2),
        )
    )
    # Replace group 0 by a PGP key (as a file shared with a PGP user would have).
    ours["sops"]["key_groups"][0] = {
        "hc_vault": [],
        "pgp": [{"fp": "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4", "created_at": "2026-01-01T00:00:00Z", "enc": "x"}],
    }
    blob = json.dumps(ours).encode()
    assert b"correct horse" in sopsfiles.decrypt_bytes(blob, "s.json", keys_for(age_keys[1], age_keys[2]))
    with pytest.raises(DataKeyUnavailable) as info:
        sopsfiles.decrypt_bytes(blob, "s.json", keys_for(age_keys[1]))
    assert "PGP FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4" in info.value.report()
    assert "not supported" in info.value.report()


@given(secret=st.binary(min_size=1, max_size=40), parts=st.integers(2, 6), data=st.data())
def test_shamir_any_threshold_subset_recovers(secret, parts, data):
    threshold = data.draw(st.integers(2, parts))
    shares = shamir.split(secret, parts, threshold)
    assert all(len(s) == len(secret) + 1 for s in shares) and [s[-1] for s in shares] == list(range(1, parts + 1))
    subset = data.draw(st.permutations(shares).map(lambda p: p[:threshold]))
    assert shamir.combine(list(subset)) == secret


def test_shamir_rejects_bad_parameters():
    with pytest.raises(ValueError):
        shamir.split(b"k", 2, 3)
    with pytest.raises(ValueError):
        shamir.split(b"k", 3, 1)
    with pytest.raises(ValueError):
        shamir.combine([b"ab\x01"])
    with pytest.raises(ValueError):
        shamir.combine([b"ab\x01", b"cd\x01"])
