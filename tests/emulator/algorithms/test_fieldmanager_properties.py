"""Properties of server-side apply (secretsync_emulator.fieldmanager) over generated histories.

Hypothesis builds sequences of applies (by two managers, forced so that they never
conflict) and updates on a Deployment, and after every step checks what must always
hold on a real server: a forced apply leaves every value of its configuration in the
object; the applier owns exactly its configuration's fields (minus server-owned
metadata); every owned path exists in the object; no two managers' entries are
duplicates; re-applying the same configuration changes nothing (not even
managedFields); FieldsV1 round-trips. Empty granular lists and maps are left out of
the generated configurations: nobody owns an empty list (as in structured-merge-diff)
and Go's typed objects drop empty maps, so the properties do not hold for them on a
real server either.
"""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from secretsync_emulator.fieldmanager import apply, fields_to_set, managed_set, record_update, set_to_fields
from secretsync_emulator.schemas import schema_for

DEPLOY = schema_for("apps", "v1", "Deployment")
_names = st.sampled_from(["web", "side", "init"])
_container = st.fixed_dictionaries(
    {"name": _names},
    optional={
        "image": st.sampled_from(["a:1", "b:2"]),
        "env": st.lists(
            st.fixed_dictionaries({"name": st.sampled_from(["X", "Y"]), "value": st.sampled_from(["1", "2"])}),
            min_size=1,
            max_size=2,
            unique_by=lambda e: e["name"],
        ),
        "args": st.lists(st.sampled_from(["-v", "-q"]), max_size=2),
    },
)
_config = st.fixed_dictionaries(
    {},
    optional={
        "labels": st.dictionaries(
            st.sampled_from(["app", "tier", "team"]), st.sampled_from(["x", "y"]), min_size=1, max_size=2
        ),
        "finalizers": st.lists(st.sampled_from(["a.io/f", "b.io/f"]), min_size=1, max_size=2, unique=True),
        "replicas": st.integers(0, 3),
        # no empty granular lists or maps: nobody owns an empty list, and a typed object drops
        # empty maps (omitempty), so neither property holds for them on a real server either
        "containers": st.lists(_container, min_size=1, max_size=2, unique_by=lambda c: c["name"]),
    },
)


def _deployment(parts: dict) -> dict:
    meta = {"name": "d", "namespace": "default"}
    if "labels" in parts:
        meta["labels"] = parts["labels"]
    if "finalizers" in parts:
        meta["finalizers"] = parts["finalizers"]
    spec: dict = {}
    if "replicas" in parts:
        spec["replicas"] = parts["replicas"]
    if "containers" in parts:
        spec["template"] = {"spec": {"containers": parts["containers"]}}
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta}
    if spec:
        obj["spec"] = spec
    return obj


def _value_at(obj, path):
    node = obj
    for kind, data in path:
        if kind == "f":
            if not isinstance(node, dict) or data not in node:
                return False, None
            node = node[data]
        else:
            if not isinstance(node, list):
                return False, None
            found = [item for item in node if _matches(item, kind, data)]
            if not found:
                return False, None
            node = found[0]
    return True, node


def _matches(item, kind, data):
    import json

    if kind == "v":
        return json.dumps(item) == data
    return isinstance(item, dict) and all(
        json.dumps(item.get(k, "TCP" if k == "protocol" else None)) == v for k, v in data
    )


def _contains(big, small) -> bool:
    """Every value of ``small`` is in ``big`` (lists compared as sets of contained items)."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(k in big and _contains(big[k], v) for k, v in small.items())
    if isinstance(small, list):
        return isinstance(big, list) and all(any(_contains(b, s) for b in big) for s in small)
    return big == small


_step = st.one_of(
    st.tuples(st.just("apply"), st.sampled_from(["alice", "bob"]), _config),
    st.tuples(st.just("update"), st.just("editor"), _config),
)


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(_step, min_size=1, max_size=5))
def test_generated_histories_keep_invariants(steps):
    live = None
    for index, (kind, manager, parts) in enumerate(steps):
        now = f"2026-01-01T00:00:{index:02d}Z"
        config = _deployment(parts)
        if kind == "apply":
            live = apply(live, config, manager, True, DEPLOY, now=now)
            assert _contains(live, config), "a forced apply leaves its whole configuration in the object"
            again = apply(live, copy.deepcopy(config), manager, False, DEPLOY, now="2026-01-02T00:00:00Z")
            assert again == live, "re-applying the same configuration is a no-op"
        else:
            if live is None:
                continue
            new = copy.deepcopy(live)
            new["metadata"].update({k: v for k, v in config["metadata"].items() if k not in ("name", "namespace")})
            new.setdefault("spec", {}).update(config.get("spec", {}))
            new["metadata"]["managedFields"] = record_update(live, new, manager, "Update", DEPLOY, now=now)
            live = new
        entries = live["metadata"]["managedFields"]
        identities = [(e["manager"], e["operation"], e.get("subresource"), e["apiVersion"]) for e in entries]
        assert len(identities) == len(set(identities))
        for entry in entries:
            paths = fields_to_set(entry["fieldsV1"])
            assert set_to_fields(paths) == entry["fieldsV1"]
            for path in paths:
                present, _ = _value_at(live, path)
                assert present, f"{entry['manager']} owns {path} which is not in the object"
        if kind == "apply":
            owned = managed_set(live, manager)
            assert all(p[0] != ("f", "apiVersion") and p[:2] != (("f", "metadata"), ("f", "name")) for p in owned)
