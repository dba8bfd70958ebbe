"""api: condition helpers keep lastTransitionTime honest (changes only on a status flip), report whether
anything changed, keep Ready first, and the kstatus polarity helpers (ready / reconciling / stalled)."""

import pytest

from secretsync.api.conditions import (
    ConditionStatus,
    ConditionType,
    Reason,
    get_condition,
    is_condition_true,
    mark_failed,
    mark_ready,
    mark_reconciling,
    mark_stalled,
    now_rfc3339,
    remove_condition,
    set_condition,
)

T1, T2, T3 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"


def obj(generation=3):
    return {"metadata": {"name": "x", "generation": generation}}


def test_new_condition_gets_transition_time_and_observed_generation():
    o = obj()
    assert set_condition(o, "Ready", "True", Reason.RECONCILIATION_SUCCEEDED, "ok", now=T1)
    c = get_condition(o, "Ready")
    assert c == {
        "type": "Ready",
        "status": "True",
        "reason": "ReconciliationSucceeded",
        "message": "ok",
        "observedGeneration": 3,
        "lastTransitionTime": T1,
    }


def test_same_state_is_no_change_and_keeps_time():
    o = obj()
    set_condition(o, "Ready", "True", "A", "m", now=T1)
    assert not set_condition(o, "Ready", "True", "A", "m", now=T2)
    assert get_condition(o, "Ready")["lastTransitionTime"] == T1


def test_reason_or_message_change_keeps_transition_time_status_flip_moves_it():
    o = obj()
    set_condition(o, "Ready", "False", Reason.BUILD_FAILED, "one", now=T1)
    assert set_condition(o, "Ready", "False", Reason.DECRYPTION_FAILED, "two", now=T2)
    c = get_condition(o, "Ready")
    assert (c["reason"], c["message"], c["lastTransitionTime"]) == ("DecryptionFailed", "two", T1)
    assert set_condition(o, "Ready", "True", Reason.RECONCILIATION_SUCCEEDED, "", now=T3)
    assert get_condition(o, "Ready")["lastTransitionTime"] == T3


def test_generation_change_updates_observed_generation():
    o = obj(generation=1)
    set_condition(o, "Synced", "True", now=T1)
    o["metadata"]["generation"] = 2
    assert set_condition(o, "Synced", "True", now=T2)
    c = get_condition(o, "Synced")
    assert c["observedGeneration"] == 2 and c["lastTransitionTime"] == T1


def test_update_time_field_for_sealedsecret_style_conditions():
    o = obj()
    set_condition(o, "Synced", "True", now=T1, update_time_field="lastUpdateTime")
    set_condition(o, "Synced", "True", message="m", now=T2, update_time_field="lastUpdateTime")
    c = get_condition(o, "Synced")
    assert c["lastUpdateTime"] == T2 and c["lastTransitionTime"] == T1


def test_ready_is_kept_first():
    o = obj()
    set_condition(o, "Stalled", "True", now=T1)
    set_condition(o, "Reconciling", "True", now=T1)
    set_condition(o, "Ready", "False", now=T1)
    assert [c["type"] for c in o["status"]["conditions"]] == ["Ready", "Reconciling", "Stalled"]


def test_bad_status_is_refused():
    with pytest.raises(ValueError):
        set_condition(obj(), "Ready", "yes")


def test_polarity_helpers():
    o = obj()
    mark_reconciling(o, message="Building revision main@sha1:abc", now=T1)
    assert is_condition_true(o, ConditionType.RECONCILING)
    assert get_condition(o, "Ready")["status"] == ConditionStatus.UNKNOWN
    mark_failed(o, Reason.DECRYPTION_FAILED, "secret.enc.yaml: no key could decrypt the data key", now=T2)
    mark_reconciling(o, Reason.PROGRESSING_WITH_RETRY, now=T2)
    assert get_condition(o, "Ready")["status"] == "False", "a failure stays visible while retrying"
    mark_stalled(o, Reason.INVALID_SPEC, "spec.path is absolute", now=T3)
    assert is_condition_true(o, "Stalled") and get_condition(o, "Reconciling") is None
    assert mark_ready(o, now=T3)
    assert is_condition_true(o, "Ready")
    assert get_condition(o, "Stalled") is None and get_condition(o, "Reconciling") is None
    assert not remove_condition(o, "Stalled")


def test_now_format():
    text = now_rfc3339()
    assert len(text) == 20 and text.endswith("Z") and text[10] == "T"
