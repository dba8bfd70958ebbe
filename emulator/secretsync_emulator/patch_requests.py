"""PATCH requests: JSON patch, JSON merge patch, strategic merge patch and server-side apply.

This module is the HTTP-facing half: it decodes the patch, fetches the live
object, calls the algorithms (``patch_formats.py`` for the three patch formats,
``fieldmanager.py`` for apply and managedFields) and hands the result to the
ordinary update/create path, mapping their errors to the real server's Status
answers (400 for an undecodable patch, 422 for one that does not apply, 409
``Apply failed with N conflicts`` naming managers and fields).
"""

from __future__ import annotations

import json

import yaml

from secretsync_emulator import fieldmanager
from secretsync_emulator import patch_formats as patches
from secretsync_emulator import status as st
from secretsync_emulator.decoding import load_yaml_document

__all__ = ["apply_patch_request", "scale_request", "scale_of"]


def _unprocessable(message: str) -> st.APIError:
    return st.APIError(
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
        {"causes": [{"reason": "UnexpectedServerResponse", "message": message}]},
    )


def _patched(obj: dict, body: bytes, kind: str, schema):
    """``obj`` with the JSON, merge or strategic merge patch in ``body`` applied; Status errors otherwise."""
    try:
        patch = json.loads(body or b"null")
    except ValueError:
        raise st.bad_request("error decoding patch: invalid JSON") from None
    if kind == "json" and not isinstance(patch, list):
        raise st.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    if kind in ("merge", "strategic") and not isinstance(patch, dict):
        raise st.bad_request("error decoding patch: the patch is not a JSON object")
    try:
        if kind == "json":
            return patches.json_patch(obj, patch)
        if kind == "merge":
            return patches.json_merge_patch(obj, patch)
        return patches.strategic_merge_patch(obj, patch, schema)
    except patches.PatchError as exc:
        if exc.code == 400:
            raise st.bad_request(str(exc)) from None
        if exc.code == 422:
            raise _unprocessable(str(exc)) from None
        raise st.APIError(exc.code, "InternalError", str(exc)) from None


def apply_patch_request(rr, namespace: str, kind: str) -> tuple[int, dict]:
    """Handle one PATCH on ``rr`` (a ``server._ResourceRequest``); returns (code, object)."""
    req, rt, api = rr.req, rr.rt, rr.api
    force_given = "force" in req.query
    if kind == "apply":
        return _apply(rr, namespace)
    if force_given:
        raise st.invalid(
            "meta.k8s.io",
            "PatchOptions",
            "",
            [("FieldValueForbidden", "force", "Forbidden: may not be specified for non-apply patch")],
        )
    opts = rr.write_options()
    with api.store.lock:
        live = api.get(rt, namespace, req.name)
        new = _patched(live, req.body, kind, api._schema(rt))
        if not isinstance(new, dict):
            raise _unprocessable("the patched document is not an object")
        new.setdefault("apiVersion", rt.api_version)
        new.setdefault("kind", rt.kind)
        if not isinstance(new.get("metadata"), dict):
            new["metadata"] = {}
        new["metadata"].setdefault("name", req.name)
        if new["metadata"].get("resourceVersion") is None:
            new["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        rr.check_strict(new)
        out, _ = api.update(rt, namespace, req.name, new, opts)
        return 200, out


def _apply(rr, namespace: str) -> tuple[int, dict]:
    req, rt, api = rr.req, rr.rt, rr.api
    manager = req.query.get("fieldManager") or ""
    if not manager:
        raise st.invalid(
            "meta.k8s.io",
            "PatchOptions",
            "",
            [("FieldValueRequired", "fieldManager", "Required value: is required for apply requests")],
        )
    force_text = req.query.get("force", "false").lower()
    if force_text not in ("true", "false", ""):
        raise st.bad_request(f'invalid value for force: "{req.query.get("force")}"')
    force = force_text == "true"
    try:
        config = load_yaml_document(req.body) if req.body.strip() else None
    except (yaml.YAMLError, ValueError, RecursionError):
        raise st.bad_request("error decoding YAML: the apply configuration could not be parsed") from None
    if not isinstance(config, dict):
        raise st.bad_request("error decoding YAML: the apply configuration must be an object")
    sent_meta = config.get("metadata")
    body_namespace = sent_meta.get("namespace") if isinstance(sent_meta, dict) else None
    api.check_body_identity(rt, config, namespace, req.name)
    if config["metadata"].get("managedFields") is not None:
        raise st.bad_request("metadata.managedFields must be nil")
    opts = rr.write_options(operation="Apply")
    opts.manager = manager
    rr.check_strict(config)
    with api.store.lock:
        ns = namespace if rt.namespaced else ""
        live = api.store.get(rt.group_resource, ns, req.name)
        if live is not None:
            live = api._out(rt, live)
        if live is None and req.subresource:
            raise st.not_found(rt.group, rt.plural, req.name)
        sent_rv = config["metadata"].get("resourceVersion")
        if live is not None and sent_rv and sent_rv != live["metadata"]["resourceVersion"]:
            raise st.conflict(rt.group, rt.plural, req.name, st.STALE)
        try:
            new = fieldmanager.apply(
                live,
                _as_sent(config, body_namespace),
                manager,
                force,
                api._schema(rt),
                subresource=req.subresource or None,
            )
        except fieldmanager.ApplyConflict as exc:
            causes = [{"reason": c["type"], "message": c["message"], "field": c["field"]} for c in exc.causes()]
            raise st.APIError(409, "Conflict", exc.message(), {"causes": causes}) from None
        except fieldmanager.ApplyInvalid as exc:
            # The real server returns this as a plain error: its code, its text, no reason or details.
            raise st.APIError(exc.code, "" if exc.code == 500 else "BadRequest", str(exc)) from None
        if live is None:
            new["metadata"].pop("resourceVersion", None)
            return 201, api.create(rt, namespace, new, opts)
        new["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        out, _ = api.update(rt, namespace, req.name, new, opts)
        return 200, out


def _as_sent(config: dict, body_namespace: str | None) -> dict:
    """``config`` with the namespace the client sent (or none): the server's error texts name it as sent."""
    if body_namespace == config["metadata"].get("namespace"):
        return config
    out = dict(config)
    out["metadata"] = {k: v for k, v in config["metadata"].items() if k != "namespace"}
    if body_namespace:
        out["metadata"]["namespace"] = body_namespace
    return out


def scale_of(obj: dict) -> dict:
    """The ``autoscaling/v1 Scale`` view of an object with a scale subresource."""
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta
        },
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
        "status": {"replicas": (obj.get("status") or {}).get("replicas", 0)},
    }


def scale_request(rr, namespace: str, kind: str | None) -> dict:
    """PUT (``kind`` None) or PATCH of ``/scale``: only ``spec.replicas`` of the object changes."""
    req, rt, api = rr.req, rr.rt, rr.api
    with api.store.lock:
        live = api.get(rt, namespace, req.name)
        scale = scale_of(live)
        if kind is None:
            new_scale = rr.decode_body()
        else:
            new_scale = _patched(scale, req.body, kind, None)
        replicas = ((new_scale or {}).get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise st.invalid(
                "autoscaling",
                "Scale",
                req.name,
                [
                    (
                        "FieldValueInvalid",
                        "spec.replicas",
                        f"Invalid value: {json.dumps(replicas)}: must be greater than or equal to 0",
                    )
                ],
            )
        sent_rv = (new_scale.get("metadata") or {}).get("resourceVersion")
        live.setdefault("spec", {})["replicas"] = replicas
        live["metadata"]["resourceVersion"] = sent_rv or live["metadata"]["resourceVersion"]
        out, _ = api.update(rt, namespace, req.name, live, rr.write_options())
        return scale_of(out)
